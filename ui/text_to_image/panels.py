"""Reusable page sections: choosing a fitted layout, fitting one, showing a sentence's images."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import streamlit as st

from core import corpora, store
from core.encoders import DEFAULTS as ENCODER_DEFAULTS
from core.figures import image_figure
from core.layout import DEFAULTS as LAYOUT_DEFAULTS
from core.text_to_image import imaging
from core.text_to_image.figures import layer_strip_figure
from ui import charts, state
from ui.text_to_image import cache


def fit_imager(corpus, encoder_name: str, pooling: str, layout_params: dict) -> str:
    """Embed a corpus (cached, resumable) and fit both layouts with progress; returns the imager id."""
    from core.text_to_image import jobs

    settings = imaging.LayoutFitSettings(pooling=pooling, layout=dict(layout_params))
    artifact = jobs.fit_layout(corpus, lambda: state.encoder(encoder_name), settings, progress=state.progress_callback)
    return artifact.id


def fit_default_imager(pooling: str) -> str:
    """The default imager: Rotten Tomatoes snippets, the packaged encoder, default layout settings."""
    corpus = corpora.load_corpus(corpora.DEFAULTS.name, n=corpora.DEFAULTS.n, seed=corpora.DEFAULTS.seed)
    return fit_imager(corpus, ENCODER_DEFAULTS.name, pooling, asdict(LAYOUT_DEFAULTS))


def choose_imager(pooling: str, key: str) -> str | None:
    """A select box of the fitted imagers with this pooling; offers to fit the default when none exists."""
    found = [a for a in imaging.list_imagers() if a.config.get("pooling") == pooling]
    if not found:
        st.info(
            f"No layout is fitted yet for **{pooling}** pooling. The default fits on "
            f"{corpora.DEFAULTS.n:,} Rotten Tomatoes snippets with {ENCODER_DEFAULTS.name} "
            "(about 40 seconds on two CPU cores, once; then cached on disk)."
        )
        st.caption(
            "You can stop at any time (the Stop button at the top right, or leave the page): finished "
            "embedding shards are kept and the next fit resumes from them."
        )
        if st.button("Fit the default layout", key=f"{key}-fit", type="primary"):
            with state.user_errors():
                fit_default_imager(pooling)
                st.rerun()
        return None
    labels = {a.id: imaging.imager_label(a) + (" · ⚠ degenerate" if imaging.imager_problem(a) else "") for a in found}
    recommended = imaging.recommended_imager(found)
    ids = list(labels)
    chosen = st.selectbox(
        "Fitted layout",
        ids,
        index=ids.index(recommended.id),
        format_func=labels.get,
        key=key,
        help="A new session starts on the layout fitted with the default settings (or the most trustworthy one).",
    )
    problem = imaging.imager_problem(next(a for a in found if a.id == chosen))
    if problem:
        st.warning(problem, icon=":material/warning:")
    return chosen


UNREADABLE_SHARE = 0.3
"""Above this share of unknown tokens a sentence is flagged as one the encoder cannot read."""


def unreadable_warning(encoder, text: str, consequence: str, which: str = "this sentence") -> bool:
    """Warns when the tokenizer cannot read more than ``UNREADABLE_SHARE`` of ``text`` (its [UNK] share, special
    tokens aside), saying what follows for the page (``consequence``); True when it warned."""
    unknown = float(encoder.unknown_share([text])[0])
    if unknown <= UNREADABLE_SHARE:
        return False
    st.warning(
        f"The tokenizer cannot read {100 * unknown:.0f} % of {which} (unknown tokens: other scripts or "
        f"symbols {encoder.name} never saw), {consequence}.",
        icon=":material/translate:",
    )
    return True


PLAIN = {"modeBarButtons": [["toImage"]]}
"""Plotly config for small images: of the toolbar only the camera button (shown on hover), so no row of buttons
covers the panel titles and the image still saves at print resolution."""


def sentence_images(ref: tuple[str, str], index: int, text: str, result: dict, contrast: str) -> None:
    """The six layer images, the combined image and downloads for one sentence (``ref``: imager id, stamp)."""
    fitted = cache.imager(*ref)
    relative = contrast == "relative" and result.get("relative_combined") is not None
    layers = result["relative_layers" if relative else "layers"][index]
    combined = result["relative_combined" if relative else "combined"][index]
    st.markdown(f"**{index + 1}.** {shorten(text, 300)}")
    unreadable_warning(fitted.encoder, text, "so its images say little about its meaning")
    if result["truncated"][index]:
        st.warning(
            f"This text is longer than {fitted.encoder.max_length} tokens; only the first {fitted.encoder.max_length} "
            "were read."
        )
    titles = [f"layer {layer}" for layer in fitted.layers]
    charts.show(
        layer_strip_figure(layers, titles, cache.hover_text(*ref, "per_layer"), contrast=contrast),
        key=f"strip-{index}",
        config=PLAIN,
    )
    left, right = st.columns([2, 3], vertical_alignment="center")
    with left:
        charts.show(
            image_figure(combined, cache.hover_text(*ref, "combined"), contrast=contrast),
            key=f"combined-{index}",
            config=PLAIN,
            width="content",
        )
    with right:
        st.caption(
            f"All {len(fitted.layers)} layers on one {combined.shape[0]}×{combined.shape[1]} grid, as in the paper."
            + (
                " Relative to the corpus: each pixel is the mean of its features' deviations from their corpus "
                "means, in corpus standard deviations (red above, blue below); the model reads the 0–1 image."
                if relative
                else ""
            )
        )
        choices = ["combined", *titles]
        which = st.selectbox("Image to download", choices, key=f"pick-{index}")
        image = combined if which == "combined" else layers[choices.index(which) - 1]
        name = f"sentence{index + 1}-{which.replace(' ', '')}"
        buttons = st.columns([1, 1, 3])
        buttons[0].download_button("PNG", imaging.to_png(image), f"{name}.png", "image/png", key=f"png-{index}")
        buttons[1].download_button("NPY", imaging.to_npy(image), f"{name}.npy", key=f"npy-{index}")


def difference(ref: tuple[str, str], texts: list[str], result: dict) -> None:
    """Difference images between two of the sentences."""
    fitted = cache.imager(*ref)
    labels = [f"{i + 1}. {shorten(t)}" for i, t in enumerate(texts)]
    left, right = st.columns(2)
    first = left.selectbox("Sentence A", labels, key="diff-a")
    second = right.selectbox("Sentence B", labels, index=1, key="diff-b")
    a, b = labels.index(first), labels.index(second)
    layers = result["layers"][a] - result["layers"][b]
    combined = result["combined"][a] - result["combined"][b]
    titles = [f"layer {layer}" for layer in fitted.layers]
    charts.show(
        layer_strip_figure(layers, titles, cache.hover_text(*ref, "per_layer"), diverging=True),
        key="diff-strip",
        config=PLAIN,
    )
    left, right = st.columns([2, 3], vertical_alignment="center")
    charts.show(
        image_figure(combined, cache.hover_text(*ref, "combined"), diverging=True),
        key="diff-combined",
        config=PLAIN,
        width="content",
        where=left,
    )
    right.caption(
        f"A − B. Red: higher in A; blue: higher in B. Each image has its own symmetric scale; the largest "
        f"absolute difference on the combined grid is {np.abs(combined).max():.3f}."
    )
    right.download_button(
        "Difference (NPY, combined grid)", imaging.to_npy(combined), "difference-combined.npy", key="diff-npy"
    )


def layout_quality(artifact: store.Artifact, which: str, where=st, columns: int = 4) -> None:
    """The figures that judge a layout, each with how it was computed; a warning when it is degenerate."""
    quality = artifact.config["quality"][which]
    config = artifact.config
    n_features = config["encoder"]["hidden_size"] * (len(config["layers"]) if which == "combined" else 1)
    problem = imaging.layout_problem(quality, n_features)
    if problem:
        where.warning(problem, icon=":material/warning:")
    cols = where.columns(columns) * (4 // columns)  # two columns: two rows of two, so no name is cut off
    cols[0].metric(
        "Occupied pixels",
        f"{quality['occupied_pct']:.1f} %",
        help="Pixels that hold at least one feature, as a share of the grid.",
    )
    cols[1].metric(
        "Max collisions",
        quality["max_collisions"],
        help="Most features that share one pixel (their values are averaged).",
    )
    cols[2].metric(
        "Mean collisions", f"{quality['mean_collisions']:.2f}", help="Mean number of features per occupied pixel."
    )
    cols[3].metric(
        "Trustworthiness",
        f"{quality['trustworthiness']:.3f}",
        help="sklearn.manifold.trustworthiness (k=5) of the 2-D feature positions against the scaled features "
        "(each feature a point over the corpus samples), with the layout's metric. 1 = no false neighbours.",
    )


def image_places(count: int, stacked: bool) -> list:
    """``count`` places for images: columns side by side, or containers one under another when each image is
    itself a row of panels (``stacked``: an image of one layer per channel)."""
    return [st.container() for _ in range(count)] if stacked else list(st.columns(count))


def choose_dataset(key: str, missing: str, found: list[store.Artifact] | None = None) -> str:
    """A select box of image datasets (``found``, or every built one); stops the page with ``missing`` when there
    are none."""
    from core.text_to_image import datasets

    found = datasets.list_datasets() if found is None else found
    if not found:
        st.info(missing)
        st.stop()
    labels = {a.id: datasets.dataset_label(a) for a in found}
    return st.selectbox("Dataset", list(labels), format_func=labels.get, key=key)


def datasets_with_models() -> list[store.Artifact]:
    """The image datasets that have at least one trained model."""
    from core.text_to_image import datasets, results

    return [a for a in datasets.list_datasets() if results.list_models(a)]


def choose_trained_dataset(
    key: str, found: list[store.Artifact] | None = None
) -> tuple[store.Artifact, dict[str, store.Artifact]]:
    """A select box of the datasets with trained models (stops the page with what to do when there are none);
    returns the chosen dataset and its models by id."""
    from core.text_to_image import datasets, results

    dataset_id = choose_dataset(
        key, "Train a model first (Image Dataset page, then Train page).", found or datasets_with_models()
    )
    dataset = store.load(datasets.DATASETS, dataset_id)
    return dataset, {a.id: a for a in results.list_models(dataset)}


def model_outcome(model: store.Artifact, dataset: store.Artifact, key: str) -> None:
    """A trained model's result read against its references: the majority class, chance, the baselines;
    a warning when it answers one class for nearly every text; its calibration (and a warning when it is
    over-confident); its learning curves."""
    from core.figures import learning_curves_figure
    from core.text_to_image import results
    from ui.text_to_image import calibration

    metrics, ref = model.config["metrics"], results.reference(dataset)
    status = "finished" if model.config["status"] == "finished" else "stopped early (train again to resume)"
    summary = (
        f"Model {model.id} {status}: best epoch {model.config['best_epoch']} of {len(model.config['history'])}, "
        f"held-out accuracy **{metrics['accuracy']:.3f}** {results.accuracy_interval(dataset, model)} (95% interval "
        f"over the held-out texts; majority class '{ref.majority_class}': "
        f"{ref.majority_rate:.3f}; chance {ref.chance:.3f}), F1 {metrics['f1']:.3f}."
    )
    check = results.check_predictions(model)
    if check.degenerate:
        st.warning(f"{summary} {check.message()}", icon=":material/warning:")
    elif metrics["accuracy"] <= ref.majority_rate + 0.01:
        st.warning(f"{summary} It does no better than always answering the majority class.", icon=":material/warning:")
    else:
        st.success(f"{summary} Compare it on the Results page.")
    calibration.outcome_notes(model)
    curves = learning_curves_figure(
        {results.model_label(model): model.config["history"]}, results.reference_lines(dataset)
    )
    charts.show(curves, key=key)


def baseline_button(dataset: store.Artifact) -> None:
    """A button that fits logistic regression on the dataset's raw embeddings and says its held-out accuracy with its
    interval."""
    from core.text_to_image import results, training
    from ui import inputs, state

    if inputs.button(st, "Fit the logistic-regression baseline on this dataset", key="tr-baseline"):
        with state.user_errors(), st.spinner("Fitting logistic regression on the embeddings…"):
            baseline = training.logistic_baseline(dataset)
            accuracy = baseline.config["metrics"]["accuracy"]
            interval = results.accuracy_interval(dataset, baseline)
            st.info(
                f"Logistic regression on the raw embeddings: held-out accuracy {accuracy:.3f} {interval} (95% "
                "interval over the held-out texts)."
            )


def reference_caption(models: list[store.Artifact], dataset: store.Artifact) -> None:
    """The chosen models' held-out accuracies beside the majority-class rate and chance, and a warning for
    each model that answers one class for nearly every text."""
    from core.text_to_image import results

    ref = results.reference(dataset)
    accuracies = ", ".join(
        f"{results.model_name(m)}: {m.config['metrics']['accuracy']:.3f} {results.accuracy_interval(dataset, m)}"
        for m in models
    )
    charts.caption(
        f"Held-out accuracy (95% interval over the held-out texts) {accuracies}; always answering the majority class "
        f"'{ref.majority_class}' scores {ref.majority_rate:.3f}, a uniform guess {ref.chance:.3f}."
    )
    for model in models:
        check = results.check_predictions(model)
        if check.degenerate:
            charts.warning(f"{results.model_name(model)} ({model.id}): {check.message()}", icon=":material/warning:")


MAX_SENTENCES = 8
"""Sentences drawn at once on the Sentence page; more are behind a switch (each is eight images)."""


def shorten(text: str, width: int = 70) -> str:
    """``text`` on one line, cut at a word and ended with an ellipsis when longer than ``width``."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    cut = flat[: width - 1].rsplit(" ", 1)[0] or flat[: width - 1]
    return cut + "…"


def sentences_to_show(texts: list[str]) -> list[str]:
    """The first :data:`MAX_SENTENCES` of a long paste, with a switch that shows them all."""
    if len(texts) <= MAX_SENTENCES:
        return texts
    every = st.toggle(
        f"Show all {len(texts)} sentences (the first {MAX_SENTENCES} are shown)", key="s2i-all", value=False
    )
    return texts if every else texts[:MAX_SENTENCES]


def gallery_titles(arrays: dict, rows) -> list[str]:
    """Each gallery image's title: its row and the start of the text behind it (the full text in a caption)."""
    texts = arrays.get("texts")
    if texts is None or not len(texts):
        return [f"#{r}" for r in rows]
    width = max(8, 90 // max(len(rows), 1))  # the titles of a row of small images must not run into each other
    return [f"#{r}: {shorten(str(texts[r]), width)}" for r in rows]


def cut_point_picker(backbone: str, info, where) -> str | None:
    """The node to cut the backbone after: its default, or (on request) any node of its feature-extraction
    graph with channels, stride and the slice's size (listing them builds the backbone once: seconds)."""
    import pandas as pd

    paper = " (the paper's cut)" if info.cut == info.paper_node else ""
    if not where.toggle("Choose the cut point", key="tr-choose-cut", help="Lists every node of the backbone."):
        where.caption(f"Cut after {info.cut}{paper}, the default for this backbone.")
        return info.cut
    with state.user_errors():
        points = pd.DataFrame(cache.cut_points(backbone))
        nodes = list(points["node"])
        node = where.selectbox(
            "Cut after",
            nodes,
            index=nodes.index(info.cut) if info.cut in nodes else 0,
            key=f"tr-cut-{backbone}",
            format_func=lambda n: (
                f"{n}{' (the paper)' if n == info.paper_node else ' (default)' if n == info.cut else ''}"
            ),
        )
        row = points.set_index("node").loc[node]
        where.caption(
            f"{node}: {row['channels']} channels, stride {row['stride']}, {row['params']:,} parameters in the slice."
        )
        with where.expander("All cut points"):
            st.dataframe(points, hide_index=True, width="stretch")
        return node
    return info.cut


def resume_fits() -> None:
    """Layout fits that were stopped (or cut off by a reload) before they finished, each with Resume."""
    from core.text_to_image import jobs

    for index, (key, s) in enumerate(jobs.pending_fits()[:2]):
        corpus, layout = s["corpus"], s["layout"]
        texts = "all" if corpus["n"] is None else f"{corpus['n']:,}"
        st.info(
            f"A layout fit stopped before it finished: {corpus['name']} ({texts} texts, seed {corpus['seed']}), "
            f"{s['encoder']}, {s['pooling']} pooling, {layout.get('method', 'tsne')} {layout.get('pixels', 50)} px. "
            "Its finished embedding shards are kept; Resume goes on from them with the same settings.",
            icon=":material/pause_circle:",
        )
        if st.button("Resume it", key=f"fl-resume-{index}"):
            with state.user_errors():
                artifact = jobs.resume_fit(key, state.progress_callback, lambda s=s: state.encoder(s["encoder"]))
                st.session_state["fl-fitted"] = artifact.id
                st.rerun()
