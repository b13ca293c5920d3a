"""A Sentence's Path from a notebook: one sentence through the whole text-as-image chain (tokens, every layer, the
pooled vectors, the image, the vision model's slice, the prediction and its saliency), written to one HTML file.

    python docs/examples/sentence_path.py [out.html]

Builds what it needs on small data: 120 Rotten Tomatoes snippets imaged on a 24 px layout, and a SqueezeNet slice
trained for two epochs on them (a model this small is near chance: the point is the path, and its held-out
accuracy is printed beside the majority class). Uses only ``core`` (no Streamlit). Artifacts go to
$CROSSMODAL_HOME when it is set, else to a temporary store removed at the end. About 15 s on two CPU cores.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the lab's folder, so `core` imports from anywhere
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "sentence_path.html")
TEXT = "A tender, funny and beautifully acted film."


def main() -> None:
    import pandas as pd

    from core import corpora, export, store
    from core.encoders import TextEncoder
    from core.figures import image_figure
    from core.layout import FeatureLayout
    from core.text_to_image import classify, datasets, imaging, results, sentence_path, training
    from core.text_to_image import figures as fig

    encoder = TextEncoder.from_name()  # the packaged all-MiniLM-L6-v2
    corpus = corpora.load_corpus("rotten_tomatoes", n=120, seed=0)
    settings = datasets.DatasetSettings(layout={"pixels": 24, "random_state": 0})
    dataset = datasets.build_dataset(encoder, corpus, settings)
    model = training.train_model(dataset, training.TrainSettings("squeezenet1_1", epochs=2, batch_size=16))

    # the per-layer grid: one layout of the encoder's hidden dimensions, fitted on every layer's vectors
    embeddings = imaging.load_embeddings(store.load(imaging.EMBEDDINGS, dataset.config["embeddings"]))
    layers = imaging.stack_layers(embeddings, len(dataset.config["layers"]))
    per_layer = FeatureLayout(pixels=imaging.default_layer_pixels(encoder.hidden_size), random_state=0).fit(layers)

    imager = classify.dataset_imager(dataset, encoder)
    path = sentence_path.trace(imager, per_layer, classify.load_model(model.path), TEXT)
    layout = FeatureLayout.load(dataset.file("layout"))
    hover = fig.pixel_feature_text(layout, imaging.feature_names(dataset.config, "combined"))
    names = datasets.label_names(dataset)
    reference = results.reference(dataset)
    accuracy = model.config["metrics"]["accuracy"]
    check = results.check_predictions(model)  # a model that answers one class for nearly every text is flagged
    titles = ["emb. (0)", *[f"layer {i}" for i in range(1, len(path.layer_images))]]
    export.write_html(
        OUT,
        f"A Sentence's Path: «{TEXT}»",
        [
            f"Dataset {dataset.id} (120 snippets, 24 px), model {model.id}: held-out accuracy {accuracy:.3f}; "
            f"always answering the majority class '{reference.majority_class}' scores {reference.majority_rate:.3f}. "
            + (f"**Warning:** {check.message()}" if check.degenerate else ""),
            "### 1. Tokens",
            pd.DataFrame({"token": path.tokens, "id": path.ids}).T,
            "### 2. Every layer (pooled over the tokens, each on the same per-layer grid)",
            fig.layer_strip_figure(path.layer_images, titles),
            f"### 3. The pooled vectors of layers {', '.join(map(str, imager.layers))}",
            fig.pooled_vectors_figure(path.features, imager.layers, encoder.hidden_size),
            "### 4. The layout, 5. the image",
            image_figure(path.image, hover, size=300),
            pd.DataFrame(path.strongest),
            "### 6. The vision model's slice (its most active feature maps, each scaled to its own maximum)",
            fig.slice_maps_figure(path.slice_maps),
            "### 7. The prediction (raw probabilities, softmax(logits)) and the saliency map",
            fig.probabilities_figure({"model (raw)": path.probabilities}, names),
            fig.saliency_figure(path.saliency, hover, size=300),
        ],
    )
    print(f"wrote {OUT}; held-out accuracy {accuracy:.3f}, majority class {reference.majority_rate:.3f}")


if __name__ == "__main__":
    from core import store

    with store.scratch_home(unless_set=True):
        main()
