"""Mixing source pools into the train / val / val300 splits, and the per-source accounting.

Selection is a seeded permutation of each pool *sorted by id*, so the input row order never
matters, and each (role, source) has its own random stream, so adding or resizing one source
never changes what another source contributes. val300 takes the first ``val300`` rows of the
same permutation that chose val, so it is a subset of val by construction.

Budgets are "up to N": a source with fewer rows than its budget gives what it has, with a
:class:`BudgetShortfall` warning, and the shortfall shows in :func:`split_report`. Only a source
below its stated floor (``min_rows``) stops the build. BeyondAIME has exactly 100 rows and the
real val budget asks for 100: one dropped row must cost one prompt, not the run.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections import Counter
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ssdlib.data.base import LoadResult, problems_frame
from ssdlib.schema import PROBLEM_COLUMNS, require_columns

SPLITS = ("train", "val", "val300")


class BudgetShortfall(UserWarning):
    """A source has fewer rows than its budget (but not fewer than its floor)."""


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
    if total == 0 and not mix:
        return {}  # a val-only build
    if any(w < 0 for w in mix.values()) or not math.isclose(sum(mix.values()), 1.0, abs_tol=1e-6):
        raise ValueError(f"train mix fractions must be >= 0 and sum to 1, got {dict(mix)}")
    raw = {k: total * w for k, w in mix.items()}
    counts = {k: math.floor(v) for k, v in raw.items()}
    left = total - sum(counts.values())
    for k in sorted(raw, key=lambda k: (-(raw[k] - counts[k]), k))[:left]:
        counts[k] += 1
    return counts


def take(what: str, source: str, wanted: int, have: int, floor: int = 0) -> int:
    """Rows to take from a source: ``min(wanted, have)``; warn on a shortfall, raise below ``floor``.

    Raises ValueError naming the split, source, budget, rows available and floor.
    """
    if wanted < 0:
        raise ValueError(f"{what} budget for {source!r} is negative ({wanted})")
    got = min(int(wanted), int(have))
    if got < floor:
        raise ValueError(
            f"{what} budget for {source!r} is {wanted} but only {have} rows are available, "
            f"below its floor of {floor} ({what}.min_rows.{source})"
        )
    if got < wanted:
        warnings.warn(
            f"{what}: {source!r} gives {got} of its budget {wanted} rows "
            f"(short by {wanted - got}; floor {floor})",
            BudgetShortfall,
            stacklevel=3,
        )
    return got


def val300_subset_problems(
    val_budgets: Mapping[str, int], val300_budgets: Mapping[str, int]
) -> list[tuple[str, str]]:
    """Why the val300 budgets are not a subset of the val budgets: ``[(source, message), ...]``
    (empty when they are). The one statement of the rule: the typed params check it before any
    data is loaded (naming file and key), :func:`build_splits` again on what it is given."""
    out = []
    for name, b in val300_budgets.items():
        have = int(val_budgets.get(name, 0))
        if int(b) > have:
            out.append(
                (
                    name,
                    f"val300 takes {int(b)} rows but val has only {have} from this source {name!r}"
                    + ("" if name in val_budgets else " (val300 must be a subset of val)"),
                )
            )
    return out


def wanted_counts(
    train_size: int,
    train_mix: Mapping[str, float],
    val_budgets: Mapping[str, int],
    val300_budgets: Mapping[str, int],
) -> dict[str, dict[str, int]]:
    """What each split asks of each source: {split: {source: rows}} (before any shortfall)."""
    return {
        "train": mix_counts(int(train_size), train_mix),
        "val": {k: int(v) for k, v in val_budgets.items()},
        "val300": {k: int(v) for k, v in val300_budgets.items()},
    }


def build_splits(
    train_pools: Mapping[str, pd.DataFrame],
    val_pools: Mapping[str, pd.DataFrame],
    train_size: int,
    train_mix: Mapping[str, float],
    val_budgets: Mapping[str, int],
    val300_budgets: Mapping[str, int],
    seed: int,
    floors: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Select train (up to ``train_size`` rows mixed by ``train_mix``), val (up to ``val_budgets``
    rows per source) and val300 (up to ``val300_budgets`` rows per source, a subset of val).

    ``floors`` = {split: {source: minimum rows}} (missing: 0). Val is chosen first; a row chosen
    for val is never put in train even if the same id sits in a train pool. Each split is
    returned sorted by id. A source short of its budget warns (:class:`BudgetShortfall`);
    ValueError (naming the source) when a source falls below its floor, a val300 budget exceeds
    its val budget (:func:`val300_subset_problems`), or a named pool is missing.
    """
    floors = {k: dict(v) for k, v in (floors or {}).items()}
    val_parts, val300_parts = [], []
    for name in sorted(val_budgets):
        if name not in val_pools:
            raise ValueError(f"val budget names {name!r} but there is no val pool of that name")
        pool = _sorted_pool(name, val_pools[name])
        budget = int(val_budgets[name])
        n300 = int(val300_budgets.get(name, 0))
        n_val = take("val", name, budget, len(pool), floors.get("val", {}).get(name, 0))
        perm = _rng(seed, "val", name).permutation(len(pool))
        val_parts.append(pool.iloc[perm[:n_val]])
        n_val300 = take("val300", name, n300, n_val, floors.get("val300", {}).get(name, 0))
        val300_parts.append(pool.iloc[perm[:n_val300]])
    problems = val300_subset_problems(val_budgets, val300_budgets)
    if problems:
        raise ValueError(problems[0][1])

    val = _finish(val_parts)
    val_ids = set(val["id"])
    train_parts = []
    for name, n in sorted(mix_counts(int(train_size), train_mix).items()):
        if name not in train_pools:
            raise ValueError(f"train mix names {name!r} but there is no train pool of that name")
        pool = _sorted_pool(name, train_pools[name])
        pool = pool[~pool["id"].isin(val_ids)].reset_index(drop=True)
        n_take = take("train", name, n, len(pool), floors.get("train", {}).get(name, 0))
        perm = _rng(seed, "train", name).permutation(len(pool))
        train_parts.append(pool.iloc[perm[:n_take]])
    return {"train": _finish(train_parts), "val": val, "val300": _finish(val300_parts)}


def _finish(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return problems_frame([])
    df = pd.concat(parts, ignore_index=True)
    if df["id"].duplicated().any():
        raise ValueError(
            f"id {df.loc[df['id'].duplicated(), 'id'].iloc[0]!r} is selected from two pools"
        )
    return problems_frame(df.sort_values("id", kind="stable"))


def split_report(
    loads: Mapping[str, LoadResult],
    splits: Mapping[str, pd.DataFrame],
    roles: Mapping[str, str] | None = None,
    wanted: Mapping[str, Mapping[str, int]] | None = None,
    removed: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """One row per source: n_raw, n_dropped, n_dedup, n_available, then per split the budget
    (``want_<split>``, from ``wanted``; 0 when the source is not asked) and the rows selected
    (``n_<split>``), and ``shortfall``: "" or e.g. "val 99/100" for every split that got less.

    ``loads`` maps the source name used in the pools to what its loader returned; ``removed``
    the rows the within-train dedup removed per source (n_available is after it). Selected
    counts are found by id, so they are right even if two names share a ``source`` value.
    """
    rows = []
    wanted = wanted or {}
    for name in sorted(loads):
        res = loads[name]
        ids = set(res.frame["id"])
        n_dedup = int((removed or {}).get(name, 0))
        row = {
            "source": name,
            "role": (roles or {}).get(name, ""),
            "n_raw": int(res.n_raw),
            "n_dropped": int(sum(res.drops.values())),
            "n_dedup": n_dedup,
            "n_available": int(len(res.frame)) - n_dedup,
        }
        short = []
        for split in SPLITS:
            df = splits.get(split)
            got = int(df["id"].isin(ids).sum()) if df is not None else 0
            want = int(wanted.get(split, {}).get(name, 0))
            row[f"want_{split}"], row[f"n_{split}"] = want, got
            if got < want:
                short.append(f"{split} {got}/{want}")
        row["shortfall"] = ", ".join(short)
        rows.append(row)
    cols = [
        "source",
        "role",
        "n_raw",
        "n_dropped",
        "n_dedup",
        "n_available",
        *(c for s in SPLITS for c in (f"want_{s}", f"n_{s}")),
        "shortfall",
    ]
    return pd.DataFrame(rows, columns=cols)


def _origin(meta: str) -> str:
    """Where inside its source a row comes from: Numina's ``source``, MATH's subject, the family."""
    import json

    m = json.loads(meta) if meta else {}
    for key in ("numina_source", "type", "family", "origin"):
        if m.get(key):
            return str(m[key])
    return ""


def mix_table(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of a split by (source, origin) with their share: the per-source mix notebook 01 shows.

    ``origin`` is Numina's own ``source`` column (olympiads, aops_forum, ...), MATH's subject, or
    the synthetic family. Sorted by source, then count descending.
    """
    if df.empty:
        return pd.DataFrame(columns=["source", "origin", "n", "share"])
    t = (
        df.assign(origin=[_origin(m) for m in df["meta"]])
        .groupby(["source", "origin"], sort=True)
        .size()
        .rename("n")
        .reset_index()
    )
    t["share"] = t["n"] / len(df)
    return t.sort_values(
        ["source", "n", "origin"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)


def drops_table(loads: Mapping[str, LoadResult]) -> pd.DataFrame:
    """Tidy drop counts: one row per (source, reason), sorted by source then count descending."""
    rows = [
        {"source": name, "reason": reason, "count": int(n)}
        for name in sorted(loads)
        for reason, n in sorted(Counter(loads[name].drops).items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return pd.DataFrame(rows, columns=["source", "reason", "count"])
