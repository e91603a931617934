"""Mixing source pools into the train / val / val300 splits, and the per-source accounting.

Selection is a seeded permutation of each pool *sorted by id*, so the input row order never
matters, and each (role, source) has its own random stream, so adding or resizing one source
never changes what another source contributes. val300 takes the first ``quick`` rows of the
same permutation that chose val, so it is a subset of val by construction.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from typing import Mapping

import numpy as np
import pandas as pd

from ssdlib.data.base import LoadResult, problems_frame
from ssdlib.schema import PROBLEM_COLUMNS, require_columns

SPLITS = ("train", "val", "val300")


def _rng(seed: int, role: str, source: str) -> np.random.Generator:
    """Independent, stable stream per (seed, role, source); crc32 is stable across processes."""
    return np.random.default_rng([int(seed), zlib.crc32(f"{role}:{source}".encode())])


def _sorted_pool(name: str, df: pd.DataFrame) -> pd.DataFrame:
    require_columns(df, PROBLEM_COLUMNS, f"pool {name!r}")
    if df["id"].duplicated().any():
        dup = df.loc[df["id"].duplicated(), "id"].iloc[0]
        raise ValueError(f"pool {name!r} has duplicate id {dup!r}")
    return df.sort_values("id", kind="stable").reset_index(drop=True)


def mix_counts(total: int, mix: Mapping[str, float]) -> dict[str, int]:
    """Split ``total`` rows by the fractions in ``mix`` (largest remainder; sums to ``total``).

    Fractions must be >= 0 and sum to 1 (within 1e-6); ties in remainders go to the name first
    in sorted order so the result does not depend on dict order.
    """
    if any(w < 0 for w in mix.values()) or not math.isclose(sum(mix.values()), 1.0, abs_tol=1e-6):
        raise ValueError(f"train mix fractions must be >= 0 and sum to 1, got {dict(mix)}")
    raw = {k: total * w for k, w in mix.items()}
    counts = {k: math.floor(v) for k, v in raw.items()}
    left = total - sum(counts.values())
    for k in sorted(raw, key=lambda k: (-(raw[k] - counts[k]), k))[:left]:
        counts[k] += 1
    return counts


def _check_budget(what: str, source: str, wanted: int, have: int) -> None:
    if wanted < 0:
        raise ValueError(f"{what} budget for {source!r} is negative ({wanted})")
    if wanted > have:
        raise ValueError(f"{what} budget for {source!r} is {wanted} but only {have} rows are available")


def build_splits(
    train_pools: Mapping[str, pd.DataFrame],
    val_pools: Mapping[str, pd.DataFrame],
    train_size: int,
    train_mix: Mapping[str, float],
    val_budgets: Mapping[str, int],
    quick_budgets: Mapping[str, int],
    seed: int,
) -> dict[str, pd.DataFrame]:
    """Select train (``train_size`` rows mixed by ``train_mix``), val (``val_budgets`` rows per
    source) and val300 (``quick_budgets`` rows per source, a subset of val).

    Val is chosen first; a row chosen for val is never put in train even if the same id sits in
    a train pool. Each split is returned sorted by id. Raises ValueError naming the source when a
    budget exceeds its pool, a quick budget exceeds its val budget, or a named pool is missing.
    """
    val_parts, quick_parts = [], []
    for name in sorted(val_budgets):
        if name not in val_pools:
            raise ValueError(f"val budget names {name!r} but there is no val pool of that name")
        pool = _sorted_pool(name, val_pools[name])
        budget = int(val_budgets[name])
        _check_budget("val", name, budget, len(pool))
        perm = _rng(seed, "val", name).permutation(len(pool))
        val_parts.append(pool.iloc[perm[:budget]])
        quick = int(quick_budgets.get(name, 0))
        if quick > budget:
            raise ValueError(f"val300 budget for {name!r} is {quick} but its val budget is only {budget}")
        quick_parts.append(pool.iloc[perm[:quick]])
    extra = sorted(set(quick_budgets) - set(val_budgets))
    if extra and any(quick_budgets[k] > 0 for k in extra):
        raise ValueError(f"val300 budget for {extra[0]!r} but it has no val budget (val300 must be a subset of val)")

    val = _finish(val_parts)
    val_ids = set(val["id"])
    train_parts = []
    for name, n in sorted(mix_counts(int(train_size), train_mix).items()):
        if name not in train_pools:
            raise ValueError(f"train mix names {name!r} but there is no train pool of that name")
        pool = _sorted_pool(name, train_pools[name])
        pool = pool[~pool["id"].isin(val_ids)].reset_index(drop=True)
        _check_budget("train", name, n, len(pool))
        perm = _rng(seed, "train", name).permutation(len(pool))
        train_parts.append(pool.iloc[perm[:n]])
    return {"train": _finish(train_parts), "val": val, "val300": _finish(quick_parts)}


def _finish(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return problems_frame([])
    df = pd.concat(parts, ignore_index=True)
    if df["id"].duplicated().any():
        raise ValueError(f"id {df.loc[df['id'].duplicated(), 'id'].iloc[0]!r} is selected from two pools")
    return problems_frame(df.sort_values("id", kind="stable"))


def split_report(
    loads: Mapping[str, LoadResult],
    splits: Mapping[str, pd.DataFrame],
    roles: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per source: n_raw, n_dropped, n_available, n_train, n_val, n_val300 (+ role).

    ``loads`` maps the source name used in the pools to what its loader returned; selected
    counts are found by id, so they are right even if two names share a ``source`` value.
    """
    rows = []
    for name in sorted(loads):
        res = loads[name]
        ids = set(res.frame["id"])
        row = {
            "source": name,
            "role": (roles or {}).get(name, ""),
            "n_raw": int(res.n_raw),
            "n_dropped": int(sum(res.drops.values())),
            "n_available": int(len(res.frame)),
        }
        for split in SPLITS:
            df = splits.get(split)
            row[f"n_{split}"] = int(df["id"].isin(ids).sum()) if df is not None else 0
        rows.append(row)
    return pd.DataFrame(rows, columns=["source", "role", "n_raw", "n_dropped", "n_available",
                                       *(f"n_{s}" for s in SPLITS)])


def drops_table(loads: Mapping[str, LoadResult]) -> pd.DataFrame:
    """Tidy drop counts: one row per (source, reason), sorted by source then count descending."""
    rows = [
        {"source": name, "reason": reason, "count": int(n)}
        for name in sorted(loads)
        for reason, n in sorted(Counter(loads[name].drops).items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return pd.DataFrame(rows, columns=["source", "reason", "count"])
