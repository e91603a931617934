"""Exact and near-duplicate removal *inside* the train pools, before sampling.

NuminaMath's ``math`` source is MATH train reformatted, its ``synthetic_*`` sources rewrite
other problems, and scraped competition archives repeat problems across years and sites: without
this step the same problem can be drawn twice into train (and trained on twice). The pairs come
from the contamination engine (``ssdlib.contamination.find_internal_duplicates``: normalised
exact match + answer-aware word n-gram Jaccard), so train-vs-train and train-vs-val use one rule.

Which copy survives: pairs are joined into groups (a duplicate of a duplicate is one group) and
the row of the pool listed first in ``priority`` is kept (the order of ``train.mix`` in the
profile: MATH before NuminaMath, so the clean MATH row with its level wins), ties broken by the
smallest id. Deterministic: same pools, same result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

REMOVED_COLUMNS = [
    "id",
    "pool",
    "kept_id",
    "kept_pool",
    "rule",
    "jaccard",
    "problem",
    "kept_problem",
]


def _groups(n: int, a: Sequence[int], b: Sequence[int]) -> list[int]:
    """Union-find over row positions: the group root of every row."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a, b):
        rx, ry = find(int(x)), find(int(y))
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    return [find(i) for i in range(n)]


def dedup_pools(
    pools: Mapping[str, pd.DataFrame],
    *,
    priority: Sequence[str] | None = None,
    ngram: int = 5,
    threshold_same_answer: float = 0.4,
    threshold_diff_answer: float = 0.7,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Remove exact and near-duplicates across and within ``pools`` (name -> problems frame).

    Returns (pools without the removed rows, removed table with ``REMOVED_COLUMNS``: each removed
    row, the row kept in its place, the rule and Jaccard of the pair that linked them, or of the
    group's first link when the two met through a third row).
    """
    from ssdlib.contamination import find_internal_duplicates

    names = [n for n in (priority or []) if n in pools] + sorted(
        n for n in pools if n not in (priority or [])
    )
    rank = {n: i for i, n in enumerate(names)}
    frames = [pools[n].assign(_pool=n) for n in names if len(pools[n])]
    if not frames:
        return dict(pools), pd.DataFrame(columns=REMOVED_COLUMNS)
    allp = pd.concat(frames, ignore_index=True)
    if allp["id"].duplicated().any():
        dup = allp.loc[allp["id"].duplicated(), "id"].iloc[0]
        raise ValueError(f"train pools share id {dup!r}: two sources load the same rows")
    # Rows in preference order: the first row of a group is the one kept.
    allp = allp.assign(_rank=allp["_pool"].map(rank)).sort_values(["_rank", "id"], kind="stable")
    allp = allp.reset_index(drop=True)
    pairs = find_internal_duplicates(
        allp,
        ngram=ngram,
        threshold_same_answer=threshold_same_answer,
        threshold_diff_answer=threshold_diff_answer,
        what="train pools",
    )
    pos = pd.Series(range(len(allp)), index=allp["id"].to_numpy())
    a = pos.loc[pairs["id_a"]].to_numpy()
    b = pos.loc[pairs["id_b"]].to_numpy()
    root = _groups(len(allp), a, b)
    link = {}
    for x, y, rule, jac in zip(a.tolist(), b.tolist(), pairs["rule"], pairs["jaccard"]):
        link.setdefault(max(x, y), (rule, float(jac)))
    removed = [i for i, r in enumerate(root) if r != i]
    table = (
        pd.DataFrame(
            {
                "id": allp["id"].to_numpy()[removed] if removed else [],
                "pool": allp["_pool"].to_numpy()[removed] if removed else [],
                "kept_id": [allp["id"].iat[root[i]] for i in removed],
                "kept_pool": [allp["_pool"].iat[root[i]] for i in removed],
                "rule": [link.get(i, ("linked", float("nan")))[0] for i in removed],
                "jaccard": [link.get(i, ("linked", float("nan")))[1] for i in removed],
                "problem": allp["problem"].to_numpy()[removed] if removed else [],
                "kept_problem": [allp["problem"].iat[root[i]] for i in removed],
            },
            columns=REMOVED_COLUMNS,
        )
        .sort_values("id", kind="stable")
        .reset_index(drop=True)
    )
    gone = set(table["id"])
    out = {n: df[~df["id"].isin(gone)].reset_index(drop=True) for n, df in pools.items()}
    return out, table


def dedup_summary(removed: pd.DataFrame) -> pd.DataFrame:
    """Removed rows counted by (pool, kept_pool, rule): what the within-train dedup took out."""
    if removed.empty:
        return pd.DataFrame(columns=["pool", "kept_pool", "rule", "removed"])
    return (
        removed.groupby(["pool", "kept_pool", "rule"], sort=True)
        .size()
        .rename("removed")
        .reset_index()
        .sort_values(["removed", "pool"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )
