"""What passes between notebooks, defined once: the folders of a profile's outputs, the two
validation budgets, and every file one notebook writes for another (name -> folder/file,
producer).

Notebooks and modules ask for a hand-off by name (``paths.file("graded03")``), so a file is
renamed in one place, and a typo fails with the list of names instead of reading or creating
the wrong path.
"""

from __future__ import annotations

from dataclasses import dataclass

# Sub-folders of outputs/<profile>/ (see ssdlib.runs).
FOLDERS: tuple[str, ...] = (
    "notebooks",
    "figures",
    "tables",
    "data",
    "generations",
    "checkpoints",
    "manifests",
    "logs",
    "report",
)

# The two validation budgets, never pooled: the fixed 300-row quick subset and the ~1k full set
# (val300 is a subset of val). Order: quick first.
QUICK_BUDGET = "val300"
FULL_BUDGET = "val"
BUDGETS: tuple[str, ...] = (QUICK_BUDGET, FULL_BUDGET)
SPLITS: tuple[str, ...] = ("train", FULL_BUDGET, QUICK_BUDGET)


@dataclass(frozen=True)
class Handoff:
    """A file one notebook writes and later notebooks read."""

    folder: str
    filename: str
    producer: str  # the notebook that writes it
    what: str


HANDOFFS: dict[str, Handoff] = {
    "train": Handoff("data", "train.parquet", "01_data", "training pool (before decontamination)"),
    "val": Handoff("data", "val.parquet", "01_data", "validation set, full budget"),
    "val300": Handoff("data", "val300.parquet", "01_data", "validation quick subset (rows of val)"),
    "train_duplicates": Handoff(
        "data", "train_duplicates.parquet", "01_data", "within-train duplicates removed"
    ),
    "planted_pairs": Handoff(
        "data", "planted_pairs.parquet", "01_data", "synthetic near-duplicates planted in train"
    ),
    "train_clean": Handoff(
        "data", "train_clean.parquet", "02_contamination", "train minus validation look-alikes"
    ),
    "flagged_pairs": Handoff(
        "data", "02_flagged_pairs.parquet", "02_contamination", "train/val pairs removed"
    ),
    "graded03": Handoff(
        "data", "03_graded.parquet", "03_baselines", "graded samples of every decode"
    ),
    "ssd_dataset": Handoff(
        "data", "05_ssd_dataset.parquet", "05_train", "tokenized SSD training set"
    ),
    "control_dataset": Handoff(
        "data", "05_control_dataset.parquet", "05_train", "tokenized control training set"
    ),
    "ssd_report": Handoff("data", "05_ssd_report.json", "05_train", "SSD set build report"),
    "control_report": Handoff(
        "data", "05_control_report.json", "05_train", "control set build report"
    ),
    "graded06": Handoff(
        "data", "06_graded.parquet", "06_eval", "graded samples of base and checkpoints"
    ),
    "control_graded06": Handoff(
        "data", "06_control_graded.parquet", "06_eval", "graded samples of the control"
    ),
}


def handoff(name: str) -> Handoff:
    """The registry entry for ``name``; KeyError lists the known names."""
    try:
        return HANDOFFS[name]
    except KeyError:
        raise KeyError(f"no hand-off file named {name!r}; known: {', '.join(HANDOFFS)}") from None


def check_budget(budget: str) -> str:
    """``budget`` if it is one of :data:`BUDGETS`, else ValueError naming them."""
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}: one of {', '.join(BUDGETS)}")
    return budget
