"""The commands of BERT on non-text tokens: tokens-tasks, tokens-map, tokens-compare, tokens-results (each also
answers to its former name, token-tasks and so on), tokens-similarity and tokens-scrambled (text with its token
ids scrambled, against the same text as it is)."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace

from core.nontext import models, runs, scrambled, similarity, tasks, text, tokens
from core.nontext.runs import PRESETS, TokenSettings
from core.progress import progress_bar


def register(commands: argparse._SubParsersAction) -> None:
    """Add the non-text token commands to the lab's command line."""
    listed = commands.add_parser(
        "tokens-tasks", aliases=["token-tasks"], help="the non-text sequence tasks available here"
    )
    listed.set_defaults(run=lambda args: tasks.available_tasks())

    mapped = commands.add_parser(
        "tokens-map", aliases=["token-map"], help="how a task's symbols become the ids the model reads"
    )
    _add_task(mapped)
    _add_mapping(mapped)
    mapped.add_argument("--encoder", default=TokenSettings.encoder)
    mapped.set_defaults(run=_map)

    compare = commands.add_parser(
        "tokens-compare",
        aliases=["token-compare"],
        help="fine-tune pretrained vs randomly initialised BERT (and more) on a non-text task, side by side",
    )
    compare.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="laptop",
        help="laptop: the lab's choices, ~10 min on 2 CPU cores; full: the lab's reading of the paper's code, a GPU's "
        "(docs/presets.md: what still differs)",
    )
    _add_task(compare)
    _add_mapping(compare)
    _add_training(compare)
    music = compare.add_argument_group("music tasks")
    music.add_argument(
        "--music-notes",
        choices=tasks.MUSIC_NOTES,
        default=None,
        help="maestro: paper: the first instrument's notes as the paper's code read them; lab: through music21",
    )
    music.add_argument(
        "--music-frame",
        choices=runs.MUSIC_FRAMES,
        default=None,
        help="paper: a window's notes alone; lab: between [CLS] and [SEP]",
    )
    music.add_argument(
        "--vote",
        choices=runs.VOTES,
        default=None,
        help="a held-out piece's vote: soft (the lab's: mean probability), majority (the paper's description), "
        "first (the paper's code as written: the first window)",
    )
    compare.set_defaults(run=_compare)

    scrambled_text = commands.add_parser(
        "tokens-scrambled",
        help="Kao & Lee's text experiment: fine-tune on text with its token ids scrambled (permuted or shifted, "
        "special tokens included) and on the same text as it is, each encoder paired with itself",
    )
    scrambled_text.add_argument(
        "--preset",
        choices=list(scrambled.PRESETS),
        default="laptop",
        help="laptop: the lab's choices (Rotten Tomatoes, MiniLM, two CPU cores); full: the paper's GLUE trainer's "
        "settings on the lab's choice of task (SST-2, bert-base-uncased, online, a GPU's)",
    )
    scrambled_text.add_argument(
        "--scramble",
        choices=scrambled.SCRAMBLES,
        default="permute",
        help="permute: a seeded permutation of the whole vocabulary (the paper's random shift); shift: (id + c) mod "
        "vocabulary on every id (the paper's shift c, see --shift)",
    )
    group = scrambled_text.add_argument_group("text task")
    group.add_argument(
        "--task", default=None, help="; ".join(f"{k}: {v}" for k, v in text.TEXT_TASKS.items()) + " (default: laptop's)"
    )
    group.add_argument("--path", default=None, help="text-csv: a CSV with columns text and label")
    group.add_argument("--texts", type=int, default=None, help="texts sampled (class-stratified, seeded)")
    group.add_argument("--max-length", type=int, default=None, help="model positions per text, [CLS] and [SEP] in")
    group.add_argument("--shift", type=int, default=None, help="the offset c of the shift scramble")
    group.add_argument(
        "--mapping-seed", type=int, default=None, help="one permutation for every run (default: each run's own seed)"
    )
    _add_training(scrambled_text)
    scrambled_text.set_defaults(run=_scrambled)

    shown = commands.add_parser(
        "tokens-results", aliases=["token-results"], help="comparisons run so far, or one comparison's table"
    )
    shown.add_argument("--comparison", default=None, help="a comparison id (see: tokens-results)")
    shown.add_argument("--threshold", type=float, default=0.8, help="validation accuracy for 'steps to reach'")
    shown.set_defaults(run=_results)

    similar = commands.add_parser(
        "tokens-similarity",
        help="layer x layer similarity (linear CKA or PWCCA) of two encoders on a task's test sequences, and the "
        "matching of their attention heads",
    )
    similar.add_argument(
        "--comparison",
        default=None,
        help="a comparison id (see: tokens-results): its task, split, mapping and fine-tuned runs; without it, the "
        "task and encoder given here (the encoders before fine-tuning and a domain model only)",
    )
    _add_task(similar)
    _add_mapping(similar)
    similar.add_argument("--encoder", default=None, help="without --comparison: packaged name, folder or hub id")
    defaults = similarity.SimilaritySettings()
    for side in ("a", "b"):
        similar.add_argument(
            f"--{side}",
            choices=similarity.SOURCES,
            default=getattr(defaults, side),
            help="rows of the matrix (PWCCA's weights come from it)" if side == "a" else "columns of the matrix",
        )
    similar.add_argument("--measure", choices=similarity.MEASURES, default="pwcca")
    similar.add_argument(
        "--examples", type=int, default=defaults.examples, help="test sequences both encoders read (the first)"
    )
    similar.add_argument(
        "--max-tokens", type=int, default=defaults.max_tokens, help="token vectors kept at most (a seeded sample)"
    )
    similar.add_argument(
        "--regularisation", type=float, default=defaults.regularisation, help="PWCCA's ridge, a share of the variance"
    )
    similar.add_argument("--seed", type=int, default=None, help="the seed whose runs are compared (default: smallest)")
    similar.add_argument("--domain", default=None, help="the domain model (source 'domain'): hub id or folder")
    similar.add_argument("--device", default=None)
    similar.add_argument("--csv", default=None, metavar="PATH", help="also write the matrix as CSV")
    similar.set_defaults(run=_similarity)


def _add_task(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group("task")
    group.add_argument(
        "--task",
        default=None,
        help=f"{', '.join(tasks.TASKS)} (offline; splice is Debian's DNA.rda, 3,186 records, close to but not the "
        f"paper's 3,190), csv, hilbert, plus or maestro (default: splice); text, read as its wordpiece ids: "
        f"{', '.join(text.TEXT_TASKS)}",
    )
    group.add_argument(
        "--path",
        default=None,
        help="a csv task's file (columns sequence, label); a hilbert task's file (H3.txt ..., or splice.txt: the "
        "paper's splice records); a plus task's .fa file or folder; a MAESTRO v1 folder; a text-csv task's file "
        "(columns text, label)",
    )
    group.add_argument("--texts", type=int, default=None, help="text tasks: texts sampled (class-stratified)")
    group.add_argument("--max-length", type=int, default=None, help="text tasks: positions, [CLS] and [SEP] in")
    group.add_argument(
        "--values", action="store_true", default=None, help="csv: the labels are values to regress (Spearman)"
    )
    group.add_argument("--pieces", type=int, default=None, help="composers: pieces per composer")
    group.add_argument("--window", type=int, default=None, help="composers, maestro: notes per window")


def _add_training(command: argparse.ArgumentParser) -> None:
    command.add_argument("--encoder", default=None, help="packaged name, folder or hub id")
    command.add_argument("--variants", nargs="+", choices=models.VARIANTS, default=None)
    command.add_argument("--seeds", nargs="+", type=int, default=None)
    command.add_argument("--steps", type=int, default=None)
    command.add_argument("--eval-every", type=int, default=None)
    command.add_argument("--batch-size", type=int, default=None)
    command.add_argument("--lr", type=float, default=None)
    command.add_argument("--optimizer", choices=runs.OPTIMIZERS, default=None)
    command.add_argument("--schedule", choices=runs.SCHEDULES, default=None)
    command.add_argument(
        "--split-method",
        choices=runs.SPLIT_METHODS,
        default=None,
        help="paper: Python's random.seed(seed) + shuffle, cut at int(0.9 n) and int(0.95 n), the paper's rows; "
        "lab: the lab's NumPy shuffle (the laptop preset's)",
    )
    command.add_argument(
        "--head",
        choices=models.HEADS,
        default=None,
        help="paper: the encoder's pooler + dropout + linear (BertForSequenceClassification); lab: dropout + "
        "linear on the [CLS] vector (the laptop preset's)",
    )
    command.add_argument("--device", default=None)


def _add_mapping(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group("token mapping")
    group.add_argument(
        "--mapping",
        choices=tokens.KINDS,
        default=None,
        help="random: a seeded table of the paper's kind (default); shift-all: the paper's shift, (id + c) mod "
        "vocabulary; shift: the lab's shift, within the ids from 1000 up; wordpiece: the symbols' own wordpieces",
    )
    group.add_argument("--mapping-seed", type=int, default=None)
    group.add_argument("--shift", type=int, default=None, help="the offset c of shift and shift-all")
    specials = group.add_mutually_exclusive_group()
    specials.add_argument(
        "--remap-specials",
        action="store_true",
        help="send [CLS], [SEP] and [PAD] through the mapping too, as the paper's code did (the full preset's)",
    )
    specials.add_argument(  # default None: a given flag replaces the preset's setting, an absent one leaves it
        "--keep-specials",
        action="store_true",
        default=None,
        help="keep [CLS], [SEP] and [PAD] (the lab's choice, the laptop preset's)",
    )


def _settings(args: argparse.Namespace, base: TokenSettings) -> TokenSettings:
    given = {f.name: getattr(args, f.name) for f in fields(TokenSettings) if getattr(args, f.name, None) is not None}
    for name in ("variants", "seeds"):
        if name in given:
            given[name] = tuple(given[name])
    if getattr(args, "remap_specials", False):
        given["keep_specials"] = False
    settings = replace(base, **given)
    settings.check()
    return settings


def _map(args: argparse.Namespace) -> dict:
    from core.hub import load_text_model

    settings = _settings(args, TokenSettings())
    loaded = load_text_model(settings.encoder)
    task = runs.load(settings, tokenizer=loaded.tokenizer)
    mapping = runs.task_mapping(settings, task, loaded.tokenizer)
    first = task.sequences[0]
    return {
        "task": task.name,
        "sequences": len(task.sequences),
        "classes": task.counts(),
        "mapping": mapping.record(),
        "table": mapping.preview(),
        "first_sequence": "".join(first) if all(len(s) == 1 for s in first) else " ".join(first),
        "first_ids": mapping.encode(first, 10**6),
    }


def _compare(args: argparse.Namespace) -> dict:
    settings = _settings(args, PRESETS[args.preset])
    bars: list = []

    def callback(step: int, steps: int, metrics: dict) -> None:
        if not bars or bars[-1][0] != metrics["run"]:
            bars.append((metrics["run"], progress_bar(metrics["run"])))
        bars[-1][1](step, steps, {k: v for k, v in metrics.items() if k in ("train_loss", "val_accuracy")})

    found = runs.run_comparison(settings, callback, progress_bar("loading the task"))
    evidence = runs.comparison_evidence(found)
    return {
        "comparison": settings.comparison_id,
        "runs": [r.id for r in found],
        "table": runs.results_table(found, 0.8, evidence),
        "evidence": evidence,
        "tokens_per_second": {
            f"{r.config['variant']}/{r.config['seed']}": r.config["tokens_per_second"] for r in found
        },
    }


def _scrambled(args: argparse.Namespace) -> dict:
    settings = _settings(args, scrambled.PRESETS[args.preset])
    scrambled.arm(settings, args.scramble)  # a task that is not text: one line before any work
    bars: list = []

    def callback(step: int, steps: int, metrics: dict) -> None:
        if not bars or bars[-1][0] != metrics["run"]:
            bars.append((metrics["run"], progress_bar(metrics["run"])))
        bars[-1][1](step, steps, {k: v for k, v in metrics.items() if k in ("train_loss", "val_accuracy")})

    found = scrambled.run(settings, args.scramble, callback, progress_bar("loading the texts"))
    report = scrambled.evidence(found["reference"], found["scrambled"])
    return {
        "reference": found["reference"][0].config["comparison"],
        "scrambled": found["scrambled"][0].config["comparison"],
        "scramble": args.scramble,
        "verdicts": report["sentences"],
        "table": scrambled.table(report),
        "evidence": report,
    }


def _results(args: argparse.Namespace) -> dict | list:
    grouped = runs.comparisons()
    if args.comparison is None:
        return [{"comparison": key, "label": runs.comparison_label(found)} for key, found in grouped.items()]
    if args.comparison not in grouped:
        raise ValueError(f"no comparison {args.comparison!r}; run: python -m core tokens-results")
    chosen = grouped[args.comparison]
    evidence = runs.comparison_evidence(chosen)
    return {
        "label": runs.comparison_label(chosen),
        "verdicts": evidence["sentences"],
        "table": runs.results_table(chosen, args.threshold, evidence),
        "evidence": evidence,
    }


def _similarity(args: argparse.Namespace) -> dict:
    """The matrix of the chosen measure (rows: --a's layers, columns: --b's), its reference and the head matching."""
    import csv
    import math
    from pathlib import Path

    given = ["--" + name.replace("_", "-") for name in _TASK_OPTIONS if getattr(args, name, None) not in (None, False)]
    if args.comparison is not None and given:
        raise ValueError(f"a comparison fixes the task, encoder and mapping; leave out {', '.join(given)}.")
    choice = similarity.SimilaritySettings(
        a=args.a,
        b=args.b,
        examples=args.examples,
        max_tokens=args.max_tokens,
        regularisation=args.regularisation,
        seed=args.seed,
        domain=args.domain,
        device=args.device,
    )
    choice.check()
    base = None if args.comparison is not None else _settings(args, TokenSettings())
    bars: dict = {}

    def callback(step: int, total: int, metrics: dict) -> None:  # a bar per stage, drawn once work starts
        bars.setdefault(metrics["stage"], progress_bar(metrics["stage"]))(step, total, {})

    found = similarity.compare(choice, args.comparison, base, callback=callback)
    matrix = [[None if math.isnan(v) else v for v in row] for row in found[args.measure]]
    if args.csv:
        path = Path(args.csv)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([f"{args.a} layer (rows) / {args.b} layer (columns)", *found["layers_b"]])
            for name, row in zip(found["layers_a"], matrix, strict=True):
                writer.writerow([name, *("" if v is None else f"{v:.6f}" for v in row)])
    keep = ("a", "b", "comparison", "task", "seed", "inputs", "layers_a", "layers_b", "regularisation", "heads", "note")
    return {
        "measure": similarity.MEASURE_TITLES[args.measure],
        **{k: found[k] for k in keep},
        "matrix": matrix,
        "reference": {
            "value": found["reference"][args.measure],
            "what": "the highest value of a layer against the other encoder's same-index layer, token pairing shuffled",
        },
        "seconds": found["seconds"],
    }


_TASK_OPTIONS = (
    *("task", "path", "values", "pieces", "window", "texts", "max_length", "encoder"),
    *("mapping", "mapping_seed", "shift", "remap_specials", "keep_specials"),
)


def available() -> dict:
    """What ``python -m core info`` says of non-text tokens: each offline task and whether its data is here."""
    return {"token_tasks": tasks.available_tasks()}
