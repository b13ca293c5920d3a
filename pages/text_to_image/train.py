"""Train: a frozen slice of an ImageNet CNN, four new conv layers and a head, learning from text images."""

import streamlit as st

from core import store
from core.device import describe_device
from core.text_to_image import datasets, training
from core.text_to_image.backbones import BACKBONES, available_backbones
from core.text_to_image.training import DEFAULTS, TrainSettings
from ui import inputs, state
from ui.text_to_image import panels
from ui.text_to_image import training as live_training

st.title("Train")
st.caption(
    "As in the paper: the grey image copied to 3 channels (an image of one layer per channel, the workshop's, "
    "keeps its own three), upsampled ×3 and z-normalised; a frozen backbone slice, four new conv layers, adaptive "
    "pooling and a fully connected head; Adam, cross-entropy. The lab's defaults differ where docs/presets.md says "
    "(normalisation, the new layers' style, the best epoch chosen on a validation share of the training split, "
    "never on the held-out split); the paper's way is one choice away below."
)
with st.expander("Presets: a whole run in one click", expanded=not datasets.list_datasets()):
    live_training.preset_panel()

dataset_id = panels.choose_dataset("tr-dataset", "Build an image dataset first (Image Dataset page).")
live_training.resume_panel(store.load(datasets.DATASETS, dataset_id))

ready = {row["name"]: row for row in available_backbones()}
titles = {
    info.name: f"{info.title} — {'ready' if ready[info.name]['available'] else 'needs internet'}"
    f"{'' if info.paper_node else ' (offline, not in the paper)'}"
    for info in BACKBONES
}
first_ready = next((i for i, info in enumerate(BACKBONES) if ready[info.name]["available"]), 0)
left, right = st.columns(2)
backbone = left.selectbox("Backbone", list(titles), index=first_ready, format_func=titles.get, key="tr-backbone")
info = next(i for i in BACKBONES if i.name == backbone)
init = left.radio(
    "Slice weights",
    ["imagenet", "random"],
    horizontal=True,
    key="tr-init",
    format_func={"imagenet": "ImageNet (transfer)", "random": "random init (baseline)"}.get,
    help="A randomly initialised slice of the same architecture shows what ImageNet pretraining adds.",
)
finetune = left.toggle(
    "Fine-tune the slice", key="tr-finetune", help="Off (the paper): the slice stays frozen; only the new layers learn."
)
node = panels.cut_point_picker(backbone, info, right)
cols = st.columns(4)
epochs = inputs.number(cols[0], "Epochs", 1, 200, DEFAULTS.epochs, key="tr-epochs")
batch = inputs.number(cols[1], "Batch size", 2, 1024, DEFAULTS.batch_size, key="tr-batch")
seed = inputs.number(cols[2], "Seed", 0, 2**31 - 1, DEFAULTS.seed, key="tr-seed")
validation = inputs.number(
    cols[3],
    "Validation share",
    0.0,
    0.45,
    DEFAULTS.validation,
    0.05,
    key="tr-validation",
    help="The part of the training split set aside (stratified, seeded) to choose the best epoch. 0: none is set "
    "aside and the last epoch is kept (the paper's code).",
)
device = describe_device()
runs_on = f"CUDA: {device['name']} (bf16 autocast, channels_last)" if device["kind"] == "cuda" else "the CPU"
st.caption(
    f"Runs on {runs_on}. "
    "Stop (top right) or any click ends training after the current epoch and keeps its best epoch; "
    "training the same settings again resumes where it stopped."
)

normalise = st.radio(
    "Normalise images with",
    ["split", "batch"],
    horizontal=True,
    key="tr-normalise",
    format_func={"split": "the training split's mean and std (ours)", "batch": "each batch's own (the paper)"}.get,
    help="With the training split's statistics a frozen slice's outputs are computed once and reused every epoch "
    "(about 5x faster per epoch here), and a prediction does not depend on its batch.",
)
style = st.radio(
    "New layers",
    ["lab", "paper"],
    horizontal=True,
    key="tr-style",
    format_func={
        "lab": "the lab's (Conv → BatchNorm → ReLU, slice in eval mode)",
        "paper": "the paper code's (Conv → ReLU → BatchNorm, its dropout, Xavier init, slice BatchNorm on batch "
        "statistics, torchvision V1 weights)",
    }.get,
    help="The paper's style cannot reuse the slice's outputs across epochs (its BatchNorm follows each batch).",
)
settings = TrainSettings(
    backbone=backbone,
    node=node,
    pretrained=init == "imagenet",
    finetune=finetune,
    epochs=int(epochs),
    batch_size=int(batch),
    seed=int(seed),
    validation=float(validation),
    device=None,
    normalise=normalise,
    style=style,
)
if inputs.button(st, "Train", type="primary", key="tr-go"):
    with state.user_errors():
        artifact = live_training.train_live(store.load(datasets.DATASETS, dataset_id), settings)
        st.session_state["tr-last"] = artifact.id

last = store.load(training.MODELS, st.session_state.get("tr-last", "")) if st.session_state.get("tr-last") else None
if last is not None:
    panels.model_outcome(last, store.load(datasets.DATASETS, last.config["dataset"]), "tr-curves")
panels.baseline_button(store.load(datasets.DATASETS, dataset_id))
