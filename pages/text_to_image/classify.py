"""Classify: type a sentence, see its image, every model's prediction, the ensemble vote and a saliency map."""

import pandas as pd
import streamlit as st

from core.figures import image_figure
from core.text_to_image import classify, datasets, results, training
from core.text_to_image.figures import probabilities_figure, saliency_figure
from ui import charts, links, state
from ui.text_to_image import attribution, cache, calibration, counterfactual, panels

st.title("Classify")
links.sync({"dataset": "cl-dataset", "text": "cl-text", "raw": ("cl-raw", bool)})
st.caption(
    "The sentence is embedded and laid out exactly as the dataset's texts were, then read by every chosen model. "
    "The saliency map is the gradient of the predicted class's logit with respect to each pixel; through the layout "
    "each salient pixel names the (layer, dimension) features it holds."
)

dataset, models = panels.choose_trained_dataset("cl-dataset")
dataset_id = dataset.id
chosen = st.multiselect(
    "Models",
    list(models),
    default=list(models),
    format_func=lambda i: results.model_label(models[i]),
    key=f"cl-models-{dataset_id}",  # per dataset: another dataset's models are other options
)
text = st.text_input(
    "Sentence", "A tender, funny and beautifully acted film.", key="cl-text", persist_state="session"
).strip()
raw = st.toggle("Raw probabilities", key="cl-raw", help="Uncalibrated softmax(logits) instead of softmax(logits / T).")
if not chosen or not text:
    st.warning("Choose at least one model and type a sentence.")
    st.stop()

with state.user_errors(), charts.view(f"Classify: «{text}»", "cl-html"):
    ref = (dataset_id, state.artifact_stamp(datasets.DATASETS, dataset_id))
    imager = cache.dataset_imager(*ref)
    consequence = "so the prediction below is not meaningful for it: the models read mostly unknown tokens"
    panels.unreadable_warning(imager.encoder, text, consequence)
    features, images = imager.images([text])
    # keyed by name and id: two models of one architecture (other seeds or epochs) both vote
    loaded = {results.model_key(models[i]): cache.model(i, state.artifact_stamp(training.MODELS, i)) for i in chosen}
    by_name = {results.model_key(models[i]): models[i] for i in chosen}
    temperatures = calibration.temperatures(by_name, raw)
    result = classify.classify(loaded, images[0], temperatures)
    names = datasets.label_names(dataset)
    hover = cache.dataset_hover(*ref)
    vote = names[result["vote"]]
    counts = ", ".join(f"{n} {c}" for n, c in zip(names, result["votes"], strict=True))
    kind, mean = "raw" if raw else "calibrated", result["mean"][result["vote"]]
    charts.subheader(f"Ensemble: **{vote}** ({mean:.2f} mean {kind} probability; votes {counts})")
    charts.show(probabilities_figure(result["per_model"], names, result["mean"]), key="cl-probs")
    calibration.classify_caption([models[i] for i in chosen], raw)
    panels.reference_caption([models[i] for i in chosen], dataset)
    if imager.encoder.truncated([text])[0]:
        charts.warning(f"Only the first {imager.encoder.max_length} tokens were read.")

    explained = st.selectbox("Saliency of", list(loaded), key="cl-explain")
    target = st.radio("for the class", ["predicted", *names], horizontal=True, key="cl-target")
    saliency, probabilities = classify.saliency(
        loaded[explained], images[0], None if target == "predicted" else names.index(target)
    )
    charts.add(f"Saliency of {explained} for the {target} class.")
    titles = datasets.channel_titles(dataset.config)
    size = 320 if titles is None else 150  # one layer per channel: three panels side by side
    left, right = panels.image_places(2, titles is not None)
    charts.caption("The sentence's image (as the model sees it)", left)
    charts.show(
        image_figure(images[0], hover, contrast="model", size=size, titles=titles),
        key="cl-image",
        config=panels.PLAIN,
        width="content",
        where=left,
    )
    overlay = right.toggle("Over the sentence's image", key="cl-overlay")
    charts.show(
        saliency_figure(saliency, hover, size=size, image=images[0] if overlay else None, titles=titles),
        key="cl-saliency",
        config=panels.PLAIN,
        width="content",
        where=right,
    )
    k = st.slider("Most salient pixels", 3, 30, 10, key="cl-k")
    rows = classify.influential_features(
        imager.layout, saliency, imager.layers, imager.encoder.hidden_size, features[0], k
    )
    charts.dataframe(
        pd.DataFrame(rows).drop(columns="feature"),
        hide_index=True,
        width="stretch",
        column_config={
            "saliency": st.column_config.NumberColumn(format="%.4f"),
            "value": st.column_config.NumberColumn("embedding value", format="%.4f"),
        },
    )
    charts.caption(
        "Features that share a pixel share its saliency: the map cannot tell them apart (see the collisions on the "
        "Feature Layout page)."
    )

    charts.subheader("Which words pushed the prediction" + (f" of {explained}" if len(loaded) > 1 else ""))
    if st.toggle("Explain by words (through the whole chain)", key="cl-attr"):
        attribution.panel(
            imager, loaded[explained], text, names, (*ref, explained), temperature=(temperatures or {}).get(explained)
        )

    counterfactual.panel(imager, loaded, text, names, temperatures, hover, explained, (*ref, explained))
