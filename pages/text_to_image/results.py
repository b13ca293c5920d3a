"""Results: every trained model of a dataset next to the two baselines, on the same held-out split."""

import pandas as pd
import streamlit as st

from core import store
from core.figures import confusion_figure, learning_curves_figure
from core.text_to_image import datasets, results, training
from ui import charts, links, state, tables
from ui.reproductions import latest_table
from ui.text_to_image import calibration, panels
from ui.text_to_image.route import route_panel
from ui.text_to_image.seeds import over_seeds_panel

st.title("Results")
links.sync({"dataset": "rs-dataset"})
st.caption(
    "Held-out accuracy, F1, precision and recall (scikit-learn, on the whole held-out split) of every model trained on "
    "a dataset, with two baselines on the same split: logistic regression on the raw embedding vectors the images were "
    "made from, and the same architecture with a randomly initialised slice (train one with 'random init'). A model's "
    "figures are those of its best epoch, chosen on a validation share of the training split, never on the held-out "
    "split."
)

latest_table("text-to-image", "rs-reproduction")

built = sorted(datasets.list_datasets(), key=lambda a: not results.has_results(a))  # newest with results first
dataset_id = panels.choose_dataset(
    "rs-dataset", "Build an image dataset first (Image Dataset page), then train models on it (Train page).", built
)
dataset = store.load(datasets.DATASETS, dataset_id)

if st.button(
    "Compute the logistic-regression baseline",
    key="rs-baseline",
    help="Standardised embedding features, scikit-learn LogisticRegression (C = 1). Seconds on a CPU.",
):
    with state.user_errors(), st.spinner("Fitting logistic regression on the embeddings…"):
        training.logistic_baseline(dataset)

calibration.fitted(results.list_models(dataset))  # an older model's temperature is fitted once, with a spinner
rows = results.results_table(dataset)
if not rows:
    st.info("Nothing measured on this dataset yet: train a model on the Train page, or compute the baseline above.")
    over_seeds_panel(dataset)
    st.stop()
table = pd.DataFrame(rows)
shown_table, number_config = tables.number_columns(
    table,
    dict.fromkeys(("accuracy", "f1", "precision", "recall"), ("%.3f", None))
    | {"train seconds": ("%.1f", None)}
    | calibration.COLUMNS,
)
st.dataframe(shown_table, hide_index=True, width="stretch", column_config=number_config)
st.caption(
    f"Accuracy's 95% interval: a bootstrap over the {len(results.held_out_labels(dataset)):,} held-out texts. Two "
    f"models of one seed each whose accuracies differ by less than {100 * results.detectable(dataset):.1f} points "
    "cannot be told apart on this split (80% power); the seed sweep below says whether a gap holds over seeds."
)
calibration.results_notes(results.list_models(dataset))
st.download_button("Table (CSV)", table.to_csv(index=False), f"results-{dataset_id}.csv", "text/csv", key="rs-csv")
flagged = table[table["flag"].str.startswith("degenerate")]
if len(flagged):
    st.warning(
        f"{len(flagged)} model(s) answer one class for nearly every held-out text (see 'flag'): their accuracy is the "
        "majority-class rate, not something learned.",
        icon=":material/warning:",
    )

over_seeds_panel(dataset)
route_panel(dataset)

models = {a.id: a for a in results.list_models(dataset)}
baselines = results.reference_lines(dataset)
if not models:
    st.stop()
st.subheader("Learning curves")
shown = st.multiselect(
    "Models",
    list(models),
    default=list(models)[:5],
    format_func=lambda i: results.model_label(models[i]),
    key=f"rs-curves-{dataset_id}",  # per dataset: another dataset's models are other options
)
if shown:
    histories = {results.model_key(models[i]): models[i].config["history"] for i in shown}
    charts.show(learning_curves_figure(histories, baselines), key="rs-curves-fig")
st.subheader("Confusion matrix")
picked = st.selectbox(
    "Model", list(models), format_func=lambda i: results.model_label(models[i]), key=f"rs-confusion-{dataset_id}"
)
config = models[picked].config
left, right = st.columns([2, 3])
charts.show(
    confusion_figure(config["confusion"], config["label_names"]),
    key="rs-confusion-fig",
    width="content",
    config=panels.PLAIN,
    where=left,
)
right.markdown(
    f"**{results.model_label(models[picked])}**\n\n"
    f"- best epoch {config['best_epoch']} of {len(config['history'])} run ({config['status']}; chosen on "
    f"{config['training'].get('best_epoch_chosen_on', 'the held-out split')}), {config['seconds']:.1f} s on "
    f"{config['device']}\n"
    f"- feature map after the cut: {' × '.join(map(str, config['architecture']['feature_map']))}; head kernel "
    f"{config['architecture']['head']['kernel']}, pool {config['architecture']['head']['pool']}\n"
    f"- batch {config['training']['batch_size']}, seed {config['training']['seed']}, Adam, cross-entropy"
)
calibration.model_details(models[picked], right)
