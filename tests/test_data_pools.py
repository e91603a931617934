"""make_pools: disjoint train/val pools, planted near-duplicates of the declared kind, determinism."""

import json

import pandas as pd
import pytest

from ssdlib.data.synthetic import FAMILY_BY_NAME, make_pools, params_key
from ssdlib.schema import PROBLEM_COLUMNS


@pytest.fixture(scope="module")
def pools():
    return make_pools(300, 120, seed=4, n_planted=10)


def _keys(df):
    return {
        params_key(m["family"], m["params"]): i
        for i, m in zip(df["id"], map(json.loads, df["meta"]))
    }


def test_sizes_and_schema(pools):
    train, val, planted = pools
    assert len(train) == 300 and len(val) == 120 and len(planted) == 10
    for df in (train, val):
        assert tuple(df.columns) == PROBLEM_COLUMNS and df["id"].is_unique
    assert list(planted.columns) == ["train_id", "val_id", "kind"]
    assert set(planted["kind"]) == {"reworded", "renumbered"}
    assert planted["train_id"].isin(train["id"]).all() and planted["val_id"].isin(val["id"]).all()
    assert planted["val_id"].is_unique and planted["train_id"].is_unique


def test_only_planted_rows_link_the_pools(pools):
    train, val, planted = pools
    shared_keys = set(_keys(train)) & set(_keys(val))
    reworded = planted[planted["kind"] == "reworded"]
    # the only (family, params) draws in both pools are the reworded copies, by design
    assert shared_keys == {k for k, i in _keys(val).items() if i in set(reworded["val_id"])}
    assert not set(train["problem"]) & set(val["problem"])  # no exact duplicate text at all


def test_planted_pairs_have_declared_kind(pools):
    train, val, planted = pools
    t = train.set_index("id")
    v = val.set_index("id")
    for row in planted.itertuples():
        tm, vm = json.loads(t.loc[row.train_id, "meta"]), json.loads(v.loc[row.val_id, "meta"])
        assert tm["family"] == vm["family"]
        assert t.loc[row.train_id, "problem"] != v.loc[row.val_id, "problem"]
        if row.kind == "reworded":
            # the same statement, lightly edited (header or lead verb), same numbers and answer
            assert tm["params"] == vm["params"] and tm["template"] == vm["template"]
            assert tm["edit"] == "reworded"
            assert t.loc[row.train_id, "answer"] == v.loc[row.val_id, "answer"]
            tw, vw = (
                set(t.loc[row.train_id, "problem"].split()),
                set(v.loc[row.val_id, "problem"].split()),
            )
            assert len(tw & vw) >= 0.6 * len(vw)  # mostly the same words: a near-duplicate
        else:
            assert tm["template"] == vm["template"]
            assert t.loc[row.train_id, "answer"] != v.loc[row.val_id, "answer"]
            changed = [k for k in vm["params"] if tm["params"][k] != vm["params"][k]]
            assert len(changed) == 1  # exactly one number changed
            fam = FAMILY_BY_NAME[tm["family"]]
            assert fam.valid(tm["params"])


def test_pools_are_deterministic(pools):
    again = make_pools(300, 120, seed=4, n_planted=10)
    for a, b in zip(pools, again):
        pd.testing.assert_frame_equal(a, b)
    other = make_pools(300, 120, seed=5, n_planted=10)
    assert not other[0]["problem"].equals(pools[0]["problem"])


def test_planted_rows_are_not_at_a_fixed_position(pools):
    train, _, planted = pools
    pos = sorted(train.index[train["id"].isin(planted["train_id"])])
    assert pos != list(range(len(train) - 10, len(train)))


def test_bad_planted_count_rejected():
    with pytest.raises(ValueError, match="n_planted"):
        make_pools(5, 3, seed=0, n_planted=4)


def test_exhausted_parameter_space_is_an_error_not_a_hang():
    # word arrangements at level 1 have only a handful of distinct parameter draws
    with pytest.raises(ValueError, match="unique problems"):
        make_pools(200, 10, seed=0, families=["word_arrangements"], levels=[1])
