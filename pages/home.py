"""Home: what the lab does, what is available on this machine, and which device computes."""

import pandas as pd
import streamlit as st

from core import store
from core.corpora import available_corpora
from core.device import describe_device
from core.encoders import available_encoders
from core.hybrid.vision import available_vision_models
from core.imagesets import available_imagesets
from core.nontext.tasks import available_tasks
from core.text_to_image.backbones import available_backbones
from core.wordvectors import available_word_vectors

st.title("Crossmodal Lab")
st.markdown(
    """
Explore **cross-modality transfer learning**: models trained on one kind of data put to work on another.

- **Text → image → vision model** (Benarab 2021): the hidden states of a language model are laid out on a
  2-D pixel grid (a DeepInsight-style feature layout), so every sentence becomes a grayscale image that an
  ImageNet CNN can read.
- **Images → word vectors** (Baughman 2021): a CNN learns to output the GloVe vector of each image's class
  name; each class in turn is left out of training, to see whether its images still move toward their word.
- **BERT on non-text tokens** (Kao & Lee 2021): a BERT pretrained on English, fine-tuned on DNA, peptides or
  music, against the same architecture randomly initialised.
- **BERT + vision transformer** (Liu, Chui & Lee 2023): a text model's encoder layers read a vision
  transformer's image tokens inside an image classifier, tuned by a cross-validated grid search, against the
  vision model alone and the same hybrid with random text layers.

Start with **Sentence → Image** to watch layer embeddings become images, **Sentence Map** to see a corpus's
sentences (and yours) on a map at every layer, and **Feature Layout** to inspect and refit the map that places
each feature on a pixel. Then turn a labelled corpus into an **Image Dataset**,
**Train** classifiers made of early layers of ImageNet CNNs on it, compare them with two baselines in
**Results**, **Classify** new sentences live (and see which words pushed the prediction), and pack a dataset
with its models into a **Portable Demo** for another machine. **A Sentence's Path** walks one sentence through
every step, for teaching. **Images → Words** runs and browses leave-one-out studies.
**BERT on DNA, proteins, music** shows how symbols become token ids and fine-tunes the encoders side by side.
**BERT + vision transformer** runs the hybrid's grid search and its ablation.
Each method's page shows its latest reproduction table (`python -m core reproduce …`): the paper's figure, its
settings and the lab's, with the baselines and controls.
"""
)

device = describe_device()
if device["kind"] == "cuda":
    st.success(
        f"Computing on **CUDA**: {device['name']} ({device['memory_gib']} GiB, bf16 "
        f"{'yes' if device['bf16'] else 'no'})."
    )
else:
    st.info(f"Computing on the **CPU** ({device['threads']} threads); a CUDA GPU is used automatically when present.")


def availability(rows: list[dict], caption: str) -> None:
    frame = pd.DataFrame(rows)
    frame["offline"] = frame["offline"].map({True: "packaged (offline)", False: "needs internet"})
    shown = [
        c for c in ("name", "title", "available", "offline", "layers", "hidden", "paper slice", "note") if c in frame
    ]
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_order=shown,
        column_config={
            "available": st.column_config.CheckboxColumn("ready here", help="Usable on this machine right now."),
            "offline": st.column_config.TextColumn("source"),
            "note": st.column_config.TextColumn("note", width="large"),
        },
    )
    st.caption(caption)


st.subheader("Text encoders")
availability(available_encoders(), "Packaged encoders load from installed packages with no hub access.")
st.subheader("Corpora")
availability(available_corpora(), "Layouts are always fitted on a corpus, never on the sentences you type.")
st.subheader("ImageNet backbones")
availability(available_backbones(), "Backbones are sliced at an early layer for the text-as-image classifiers.")
st.subheader("Image sets and word vectors")
availability(
    available_imagesets() + available_word_vectors(), "For Images → Words: images whose class names map to GloVe words."
)
st.subheader("Non-text sequence tasks")
availability(
    [{**row, "offline": True} for row in available_tasks()],
    "For BERT on non-text tokens; any CSV of (sequence, label) works too.",
)
st.subheader("Vision transformers")
availability(available_vision_models(), "For the BERT + vision-transformer hybrid; their tokens feed the text layers.")
st.caption(f"Artifacts (embeddings, layouts) are stored under `{store.home()}` (set `CROSSMODAL_HOME` to move them).")
