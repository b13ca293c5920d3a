"""BERT on non-text tokens' section of docs/presets.md (:mod:`core.paper_differences`): the lab's ``laptop`` presets
against its ``full`` ones (:data:`core.nontext.runs.PRESETS` for the tasks that are not language,
:data:`core.nontext.scrambled.PRESETS` for text with its token ids scrambled), read from the presets, then what still
differs between each ``full`` preset and Kao & Lee's code (commit 25c6bea, as the lab read it), and the lab's offline
data against the paper's."""

from __future__ import annotations

import math

from core.nontext import reproduce as reproduction
from core.nontext import runs, scrambled
from core.nontext.runs import TokenSettings
from core.paper_differences import NOT_STATED, Section, Table, setting_rows, show

SPLICE_RECORDS = 3186
"""The offline splice task's records (DNA.rda), to say the ``full`` preset's steps in epochs."""
CODE = "its public code"

WHY = {
    "encoder": "bert-base-uncased needs the hub; all-MiniLM-L6-v2 ships in a package, a BertModel with bert-base's "
    "30,522-token vocabulary, so the token tables apply to it unchanged",
    "variants": "the claim is pretrained against randomly initialised; the random-embeddings ablation would add half "
    "as much time again",
    "seeds": "one seed keeps the preset at about ten minutes on two CPU cores (the reproduction runs several)",
    "steps": "a few hundred steps fit a laptop; a quick offline check (MiniLM, splice, batch 32, AdamW 1e-4) reached "
    "77 % test accuracy at step 200",
    "eval_every": "enough points on a short curve",
    "batch_size": "with AdamW 1e-4, batch 32 learns within a few hundred steps on two CPU cores",
    "lr": "a few hundred steps need a larger learning rate than the paper's",
    "optimizer": "AdamW (weight decay 0.01), the lab's usual choice for a short fine-tune",
    "schedule": "a short run keeps its learning rate; the paper decays it linearly to 0",
    "keep_specials": "[CLS], [SEP] and [PAD] keep what the model learnt them to mean; the paper's code sends them "
    "through the table too",
    "window": "64-note windows halve a music sequence's length on a CPU (the paper's code: 128)",
    "split_method": "the lab's seeded NumPy shuffle (of the groups, where a task has them); `paper` is the paper's "
    "`random.seed(100); random.shuffle`, its rows exactly given its file",
    "head": "the packaged MiniLM's pooler was never trained for classification, so the lab's head reads the [CLS] "
    "vector",
    "music_notes": "music21 reads every offline score the same way; `paper` reads MAESTRO's MIDI as the paper's code "
    "did (pretty_midi's first instrument)",
    "music_frame": "[CLS] + notes + [SEP], how the model was pretrained to read a sequence; the paper's code read the "
    "notes alone",
    "vote": "a soft vote (the mean of the windows' probabilities) uses every window's confidence; `majority` is what "
    "the paper describes",
}
"""Why the lab's ``laptop`` comparison differs from its ``full`` one, setting by setting."""

WHY_SCRAMBLED = {
    "task": "SST-2 is a download; the Rotten Tomatoes snippets (binary sentiment too) ship with the lab",
    "texts": "3,000 snippets keep the four runs within a laptop's time",
    "shares": "Rotten Tomatoes has no split of its own (the laptop's shares give it 600 test snippets); SST-2 keeps "
    "GLUE's (its dev split scores it), so the full preset's shares are unused",
    "encoder": WHY["encoder"],
    "variants": WHY["variants"],
    "seeds": "one seed on a laptop; each run's permutation is its own seed's, as the paper's",
    "steps": "a few passes over the training snippets, within a laptop's time",
    "eval_every": WHY["eval_every"],
    "lr": WHY["lr"],
    "optimizer": WHY["optimizer"],
    "schedule": WHY["schedule"],
    "head": WHY["head"],
}
"""Why the lab's ``laptop`` scrambled-text comparison differs from its ``full`` one."""


def _presets_table(kind: str, full: TokenSettings, laptop: TokenSettings, why: dict[str, str]) -> Table:
    return Table(
        f"The lab's `laptop` preset against its `full` one ({kind}), setting by setting (read from the presets):",
        ("setting", "the lab's `full` preset (its reading of the paper's code)", "the lab's `laptop` preset", "why"),
        setting_rows(
            {"full": full, "laptop": laptop},
            why,
            none={"mapping_seed": "each run's own seed", "texts": "all", "path": "none"},
            skip=("device",),
        ),
    )


def _epochs(settings: TokenSettings) -> str:
    """The settings' steps in epochs of the offline splice task's training split."""
    epochs = round(settings.steps / math.ceil(int(settings.shares[0] * SPLICE_RECORDS) / settings.batch_size))
    return f"{epochs} epoch{'s' if epochs != 1 else ''}"


def section(
    full: TokenSettings = runs.FULL,
    laptop: TokenSettings = runs.LAPTOP,
    text_full: TokenSettings = scrambled.FULL,
    text_laptop: TokenSettings = scrambled.LAPTOP,
) -> Section:
    """The section, its lab values read from the four presets."""
    table = (
        f"`{full.mapping}` with seed {full.mapping_seed}: one table for every run seed"
        if full.mapping_seed is not None
        else f"`{full.mapping}`: each run's own seed's table"
    )
    against = Table(
        "What still differs between the lab's `full` preset (non-text tasks) and the paper's public code:",
        ("setting", f"the paper ({CODE})", "the lab's `full` preset", "why / what it means"),
        (
            (
                "token table",
                "a seeded random table: ids from 1000 up shuffled, 0-999 moved to the end; the tables of seeds "
                "100-109 ship as pickles, shuffled by Python's `random`, which the code never seeds",
                f"a table of the same kind from a seeded NumPy generator ({table})",
                "the paper's tables cannot be regenerated from their seed, and the lab loads no pickles",
            ),
            (
                "table per run",
                "the run scripts take the table's seed = the run's seed",
                table,
                "the lab's choice: the runs of one comparison differ by their seed only",
            ),
            (
                "run seeds",
                f"{NOT_STATED} (the code ships tables for seeds 100-109)",
                show(full.seeds),
                "the lab's choice",
            ),
            (
                "training length",
                "the run scripts train 1 epoch; the code's default is 20",
                f"{full.steps:,} steps of batch {full.batch_size} (about {_epochs(full)} of the splice training split)",
                "the code's default, the lab's reading",
            ),
            (
                "batch",
                "8 x 2 accumulated (DNA), 16 x 2 (protein), 32 (music)",
                f"{full.batch_size} for every task, no accumulation",
                "the DNA runs' 8 x 2; for protein and music, half the paper's",
            ),
            (
                "protein ids",
                "amino acids coded 1-21 (unused slots) before the table",
                "each residue starts from its own wordpiece before the table",
                "the lab's one rule for every task's symbols",
            ),
            (
                "MAESTRO's composers",
                "numbered in the order its index first names them",
                "numbered in sorted order",
                "which output unit stands for which composer, nothing more",
            ),
            (
                "music vote per piece",
                "a majority vote (as described); the code computes the first window's class "
                "(`torch.mode(argmax(logits[0]))`)",
                f"`{full.vote}`",
                "what the paper describes; `vote=first` gives what its code computes",
            ),
            (
                "encoders compared",
                "pretrained, from scratch, random word embeddings; also ALBERT / BERT-large variants and "
                "task-specific models",
                show(full.variants),
                "ALBERT, BERT-large and the task-specific models are not in the lab",
            ),
        ),
    )
    text_against = Table(
        "What still differs between the lab's `full` scrambled-text preset and the paper's public code (its GLUE "
        "trainer):",
        ("setting", f"the paper ({CODE})", "the lab's `full` scrambled-text preset", "why / what it means"),
        (
            (
                "batches",
                "epoch by epoch (transformers 3.1's trainer)",
                f"every evaluation round ({text_full.eval_every} steps) draws a fresh permutation of the training "
                "rows, grouped by length",
                "the lab's one trainer",
            ),
            ("tokenizer", "transformers 3.1's", "the installed transformers'", "the version installed"),
            (
                "task",
                "one GLUE task per run script (STS-B in the version published)",
                text_full.task,
                "the lab's choice of one GLUE task, binary like the offline stand-in",
            ),
            (
                "shift c",
                "from the command line",
                f"c = {text_full.shift} (the `shift` scramble)",
                "the lab's choice",
            ),
        ),
    )
    data = Table(
        "The lab's offline data against the paper's:",
        ("data", "the paper's", "the lab offline", "what it changes"),
        (
            (
                "splice junctions",
                "Hilbert-CNN's `data/splice.txt`: 3,190 records (767 / 768 / 1,655), 15 with the ambiguity codes N, "
                "D, R or S (8 symbols)",
                "Debian `r-cran-mlbench`'s `DNA.rda`: 3,186 UCI records (767 / 765 / 1,654), A, C, G, T only, in "
                "another order; 3,175 sequences identical to the paper's, 11 differ",
                "close, not the same: the paper's split picks other rows from this file; give its splice.txt as a "
                "`hilbert` task to train on the paper's records",
            ),
            (
                "histone marks (H3, H4, H3K9ac)",
                "Hilbert-CNN's files, 500 bases",
                "none offline (a `hilbert` task reads the files); the lab adds `promoters` (106 x 57 nt, a demo)",
                "not run offline",
            ),
            (
                "proteins",
                "PLUS: localisation (10 classes), fluorescence and stability (regression)",
                "`amp`: antimicrobial peptides against UniProt (5,200, binary, from `modlamp`); a `plus` task reads "
                "the PLUS files",
                "another task: the paper's protein figures are not reproduced offline",
            ),
            (
                "music",
                "MAESTRO v1, composer per piece, its official split",
                "`composers`: music21's corpus (Bach, Palestrina, Monteverdi by default), pieces kept on one side of "
                "the split; a `maestro` task reads a MAESTRO folder",
                "another corpus: scores, not performances",
            ),
            (
                "text (scrambled ids)",
                "GLUE",
                "Rotten Tomatoes snippets (the `laptop` preset); SST-2 online (the `full` one)",
                "another binary sentiment set",
            ),
        ),
    )
    return Section(
        "BERT on non-text tokens (Kao & Lee 2021)",
        "The lab's presets: `core/nontext/runs.py` (`PRESETS`: `laptop`, `full`) for DNA, proteins and music, "
        "`core/nontext/scrambled.py` (`PRESETS`) for text with scrambled token ids; the reproduction runs the "
        f"`laptop` comparison with seeds {show(reproduction.SEEDS)}.",
        (
            _presets_table("DNA, proteins, music", full, laptop, WHY),
            against,
            _presets_table("scrambled text", text_full, text_laptop, WHY_SCRAMBLED),
            text_against,
            data,
        ),
        notes=(
            "The paper's result tables were not found in a readable copy, so no figure of theirs is compared here.",
        ),
    )
