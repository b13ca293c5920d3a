"""The Sentence Map from a notebook: 240 Rotten Tomatoes snippets on a t-SNE map of the packaged encoder's last
layer, two typed sentences placed into it with their nearest corpus sentences, written to one HTML file.

    python docs/examples/sentence_map.py [out.html]

Uses only ``core`` (no Streamlit). Artifacts go to $CROSSMODAL_HOME when it is set, else to a temporary store
removed at the end. About 12 s on two CPU cores.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the lab's folder, so `core` imports from anywhere
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "sentence_map.html")
TYPED = ["a tender, funny and beautifully acted film", "a dull, lifeless mess"]


def main() -> None:
    import pandas as pd

    from core import export
    from core.encoders import TextEncoder
    from core.text_to_image import sentence_map
    from core.text_to_image.figures import sentence_map_figure

    encoder = TextEncoder.from_name()  # the packaged all-MiniLM-L6-v2
    settings = sentence_map.MapSettings(n=240, perplexity=10.0)  # a small map: 240 sentences, t-SNE
    layer = encoder.num_layers
    found = sentence_map.SentenceMap(sentence_map.fit_map(settings, encoder, layer))
    vectors = sentence_map.sentence_vectors(encoder, TYPED, layer, settings.pooling)
    placed = found.place(vectors)  # into the frozen map: the corpus points do not move
    labels = [found.label_names[int(v)] for v in found.labels]
    title = f"{settings.corpus}, {len(found.texts)} sentences · {encoder.name} layer {layer} · {settings.method}"
    fig = sentence_map_figure(found.coords, found.texts, labels, None, placed, TYPED, title)
    neighbours = pd.DataFrame(
        [
            {"sentence": text, "rank": rank, "cosine": round(similarity, 3), "neighbour": found.texts[row]}
            for text, near in zip(TYPED, found.neighbours(vectors, k=3), strict=True)
            for rank, (row, similarity) in enumerate(near, start=1)
        ]
    )
    export.write_html(
        OUT,
        "Sentence Map",
        [
            "Each point is one sentence's mean-pooled hidden state, laid out with openTSNE (cosine distance); "
            "the stars are the typed sentences, placed into the frozen map.",
            fig,
            "**Nearest corpus sentences** (cosine similarity of the embeddings, not of the 2-D positions):",
            neighbours,
        ],
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    from core import store

    with store.scratch_home(unless_set=True):
        main()
