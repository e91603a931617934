"""02's two summaries: how much of each source the rule flagged, and whether it found the
near-duplicates planted on purpose (the smoke profile's known positives)."""

from __future__ import annotations

import pandas as pd


def flagged_by_source(
    train: pd.DataFrame, val: pd.DataFrame, flagged: pd.DataFrame
) -> pd.DataFrame:
    """One row per (split, source): rows, distinct rows in a flagged pair, and their share."""
    parts = []
    for split, frame, side in (("train", train, "train"), ("val", val, "val")):
        rows = frame.groupby("source").size().rename("rows").to_frame()
        hit = flagged.groupby(f"{side}_source")[f"{side}_id"].nunique().rename("flagged_rows")
        parts.append(rows.join(hit).assign(split=split))
    out = pd.concat(parts).fillna({"flagged_rows": 0}).rename_axis("source").reset_index()
    out["flagged_share"] = out["flagged_rows"] / out["rows"]
    return out[["split", "source", "rows", "flagged_rows", "flagged_share"]]


def planted_recall(
    planted: pd.DataFrame, best: pd.DataFrame, flagged: pd.DataFrame
) -> pd.DataFrame:
    """Each planted (train_id, val_id) pair with ``found`` (its train row is the val row's
    closest train problem: retrieval works) and ``flagged`` (the rule removes it). Reworded
    copies keep their answer and must be flagged; renumbered ones have another answer and are
    flagged only when nearly identical."""
    best = best[["val_id", "train_id", "jaccard", "answers_agree"]].rename(
        columns={"train_id": "best_train_id"}
    )
    found = planted.merge(best, on="val_id", how="left")
    found["found"] = found["best_train_id"] == found["train_id"]
    pairs = set(zip(flagged["train_id"], flagged["val_id"]))
    found["flagged"] = [(t, v) in pairs for t, v in zip(found["train_id"], found["val_id"])]
    return found
