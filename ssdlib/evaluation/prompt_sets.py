"""The prompt sets a notebook evaluates: each named set (a budget, or a tier of 06) kept apart for
its tables, and their union generated once (val300 is a subset of val, so one generation over
the union serves every set without drawing a prompt twice)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from ssdlib.data.io import read_problems
from ssdlib.files import check_budget


def read_budgets(paths, budgets: Iterable[str]) -> dict[str, pd.DataFrame]:
    """``{budget: problems}`` from 01's hand-off files (FileNotFoundError names 01 when missing)."""
    return {b: read_problems(paths.require(check_budget(b))) for b in budgets}


def limit_each(sets: Mapping[str, pd.DataFrame], limit: int | None) -> dict[str, pd.DataFrame]:
    """The first ``limit`` rows of every set (all rows when ``limit`` is None or 0): a quick run
    keeps every set represented instead of truncating their union."""
    return {
        name: (df.head(limit) if limit else df).reset_index(drop=True) for name, df in sets.items()
    }


def union(sets: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every prompt of the sets once (first occurrence kept, order of the sets)."""
    return (
        pd.concat(list(sets.values()), ignore_index=True)
        .drop_duplicates("id")
        .reset_index(drop=True)
    )
