"""Portable demos: a dataset's layout and imager settings and chosen models in one archive, for another machine."""

import tempfile
from pathlib import Path

import streamlit as st

from core.text_to_image import demos, results
from ui import state
from ui.text_to_image import panels

st.title("Portable Demos")
st.caption(
    "Prepare a demo at home and open it in the room, offline: a dataset (its fitted layout and how it images a "
    "sentence) and the models trained on it go into one archive of JSON and safetensors files, each with its SHA-256, "
    "and the provenance of the export. Importing checks every hash, that every model's dataset comes with it, that "
    "the layouts load and the weights fit their architectures, and never reads pickle; a damaged or mismatched "
    "archive is refused and nothing of it is written."
)

st.subheader("Export")
with_models = panels.datasets_with_models()
if not with_models:
    st.info("No dataset with a trained model yet: build one on Image Dataset and train a model on Train.")
else:
    dataset, models = panels.choose_trained_dataset("dm-dataset", with_models)
    dataset_id = dataset.id
    chosen = st.multiselect(
        "Models",
        list(models),
        default=list(models),
        format_func=lambda i: results.model_label(models[i]),
        key="dm-models",
    )
    if st.button("Prepare the archive", disabled=not chosen, key="dm-export"):
        with state.user_errors(), tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"crossmodal-demo-{dataset_id}.zip"
            manifest = demos.export_demo(path, dataset_id, chosen)
            st.session_state["dm-archive"] = (
                (dataset_id, tuple(chosen)),
                path.name,
                path.read_bytes(),
                len(manifest["artifacts"]),
                demos.contents_line(manifest),
            )
    prepared = st.session_state.get("dm-archive")
    if prepared and prepared[0] == (dataset_id, tuple(chosen)):  # the archive of what is chosen now
        _, name, data, count, contents = prepared
        st.caption(contents)
        st.download_button(
            f"Download {name} ({len(data) / 2**20:.1f} MB, {count} artifacts)", data, name, "application/zip",
            key="dm-download",
        )  # fmt: skip

st.subheader("Import")
uploaded = st.file_uploader("A demo archive (.zip written by Export or `python -m core t2i-demo-export`)", type="zip")
if uploaded is not None and st.button("Import it", type="primary", key="dm-import"):
    with state.user_errors():
        found = demos.import_demo(uploaded.getvalue())
        new, here = (", ".join(f"{k[:-1]} {i}" for k, i, fresh in found if fresh is wanted) for wanted in (True, False))
        if new:
            also = f" Already here, identical and left as they were: {here}." if here else ""
            st.success(
                f"Imported: {new}.{also} The models are on the Classify and Results pages.",
                icon=":material/check_circle:",
            )
        else:
            st.info(f"Everything in this archive is already here, identical: {here}. Nothing was changed.")
