"""Problem data: one loader per source -> one schema (``ssdlib.schema.PROBLEM_COLUMNS``).

- ``answers``       last ``\\boxed{}`` extraction (dependency-free; reused by grading)
- ``base``          LoadResult, the shared open/map/count-drops machinery (shared drop reasons)
- ``jsonfile``      local JSON Lines read line by line: a bad line is skipped, counted, named
- ``length``        drop problems whose rendered prompt cannot fit the context (prompt_too_long)
- ``filters``       proof / multiple-choice / multiple-answer / restated-claim / prose rules
- ``loaders_train`` MATH, NuminaMath-CoT;  ``loaders_eval``: BeyondAIME, Omni-MATH(-2),
                    OlympiadBench, AIME archives, HMMT;  ``registry``: SOURCES, load_source
- ``synthetic``     offline seeded problem generator and train/val pools with planted pairs
- ``dedup``         exact + near-duplicate removal inside train (the contamination engine)
- ``hub``           what each source asks of the hub (repo, config, split, columns); ``ssd doctor``
- ``splits``        train/val/val300 mixing ("up to N" budgets, floors), the per-source report and
                    train mix;  ``io``: stable parquet
- ``prepare``       prepare_data (what notebook 01 calls);  ``figures``: plot_source_counts

Only the boxed-answer helpers (``ssdlib.boxed``) are imported eagerly; ``datasets`` is
imported only when a source is opened.
"""

from importlib import import_module

from ssdlib.boxed import all_boxed, count_boxed, last_boxed

# Everything else is imported on first use (PEP 562), so ``from ssdlib.boxed import
# last_boxed`` in a grading worker does not pull in pandas / pyarrow.
_LAZY = {
    "LoadResult": "ssdlib.data.base",
    "read_problems": "ssdlib.data.io",
    "write_parquet": "ssdlib.data.io",
    "DataReport": "ssdlib.data.prepare",
    "prepare_data": "ssdlib.data.prepare",
    "SOURCES": "ssdlib.data.registry",
    "load_source": "ssdlib.data.registry",
    "build_splits": "ssdlib.data.splits",
    "drops_table": "ssdlib.data.splits",
    "split_report": "ssdlib.data.splits",
    "plot_source_counts": "ssdlib.data.figures",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ssdlib.data' has no attribute {name!r}")


__all__ = ["all_boxed", "count_boxed", "last_boxed", *sorted(_LAZY)]
