"""02's summaries on hand-written rows: flagged share per source and planted-pair recall."""

from __future__ import annotations

import pandas as pd

from ssdlib.contamination.summary import flagged_by_source, planted_recall


def test_flagged_by_source_counts_distinct_rows_per_split():
    train = pd.DataFrame(
        {"id": ["t1", "t2", "t3", "t4"], "source": ["numina", "numina", "numina", "dapo"]}
    )
    val = pd.DataFrame({"id": ["v1", "v2"], "source": ["aime", "hmmt"]})
    # t1 is flagged against two val rows: it counts once
    flagged = pd.DataFrame(
        {
            "train_id": ["t1", "t1", "t4"],
            "val_id": ["v1", "v2", "v1"],
            "train_source": ["numina", "numina", "dapo"],
            "val_source": ["aime", "hmmt", "aime"],
        }
    )
    s = flagged_by_source(train, val, flagged).set_index(["split", "source"])
    assert (
        s.loc[("train", "numina"), "flagged_rows"] == 1 and s.loc[("train", "numina"), "rows"] == 3
    )
    assert s.loc[("train", "dapo"), "flagged_share"] == 1.0
    assert (
        s.loc[("val", "aime"), "flagged_rows"] == 1 and s.loc[("val", "hmmt"), "flagged_rows"] == 1
    )
    assert list(s.reset_index().columns) == [
        "split",
        "source",
        "rows",
        "flagged_rows",
        "flagged_share",
    ]


def test_flagged_by_source_keeps_sources_without_flags():
    train = pd.DataFrame({"id": ["t1"], "source": ["numina"]})
    val = pd.DataFrame({"id": ["v1"], "source": ["aime"]})
    empty = pd.DataFrame(columns=["train_id", "val_id", "train_source", "val_source"])
    s = flagged_by_source(train, val, empty)
    assert (s.flagged_rows == 0).all() and (s.flagged_share == 0).all() and len(s) == 2


def test_planted_recall_separates_found_from_flagged():
    planted = pd.DataFrame(
        {
            "train_id": ["t1", "t2", "t3"],
            "val_id": ["v1", "v2", "v3"],
            "kind": ["reworded", "renumbered", "reworded"],
        }
    )
    best = pd.DataFrame(
        {
            "val_id": ["v1", "v2", "v3"],
            "train_id": ["t1", "t2", "t9"],
            "jaccard": [0.9, 0.8, 0.3],
            "answers_agree": [True, False, False],
        }
    )
    flagged = pd.DataFrame({"train_id": ["t1"], "val_id": ["v1"]})
    r = planted_recall(planted, best, flagged).set_index("val_id")
    assert r.found.tolist() == [True, True, False]
    assert r.flagged.tolist() == [True, False, False]
    assert r.loc["v3", "best_train_id"] == "t9"
