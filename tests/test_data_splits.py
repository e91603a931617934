"""build_splits (determinism, budgets, val300 subset of val), mix_counts, report tables, stable parquet."""

from collections import Counter

import pandas as pd
import pytest

from ssdlib.data.base import LoadResult, problems_frame
from ssdlib.data.io import read_problems, write_parquet
from ssdlib.data.splits import (
    BudgetShortfall,
    build_splits,
    drops_table,
    mix_counts,
    split_report,
    wanted_counts,
)


def pool(source: str, n: int) -> pd.DataFrame:
    return problems_frame(
        [
            {
                "id": f"{source}/{i}",
                "source": source,
                "problem": f"{source} problem {i}",
                "answer": str(i),
                "difficulty": float(i % 5 + 1),
                "meta": "{}",
            }
            for i in range(n)
        ]
    )


TRAIN = {"a": pool("a", 200), "b": pool("b", 100)}
VAL = {"x": pool("x", 50), "y": pool("y", 30)}
ARGS = dict(
    train_size=150,
    train_mix={"a": 0.6, "b": 0.4},
    val_budgets={"x": 40, "y": 20},
    val300_budgets={"x": 10, "y": 5},
    seed=3,
)


def test_sizes_budgets_and_subset():
    s = build_splits(TRAIN, VAL, **ARGS)
    assert len(s["train"]) == 150
    assert Counter(s["train"]["source"]) == {"a": 90, "b": 60}
    assert Counter(s["val"]["source"]) == {"x": 40, "y": 20}
    assert Counter(s["val300"]["source"]) == {"x": 10, "y": 5}
    assert set(s["val300"]["id"]) <= set(s["val"]["id"])
    for df in s.values():
        assert df["id"].is_unique and list(df["id"]) == sorted(df["id"])


def test_input_row_order_does_not_matter():
    a = build_splits(TRAIN, VAL, **ARGS)
    shuffled = {k: v.sample(frac=1.0, random_state=9) for k, v in TRAIN.items()}
    shuffled_val = {k: v.sample(frac=1.0, random_state=8) for k, v in VAL.items()}
    b = build_splits(shuffled, shuffled_val, **ARGS)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    c = build_splits(TRAIN, VAL, **{**ARGS, "seed": 4})
    assert set(c["val"]["id"]) != set(a["val"]["id"])


def test_other_sources_do_not_shift_a_selection():
    a = build_splits(TRAIN, VAL, **ARGS)
    more_val = {**VAL, "z": pool("z", 10)}
    b = build_splits(TRAIN, more_val, **{**ARGS, "val_budgets": {"x": 40, "y": 20, "z": 10}})
    assert set(a["val"]["id"]) <= set(b["val"]["id"])
    # growing one budget keeps every earlier pick (a permutation prefix)
    c = build_splits(TRAIN, VAL, **{**ARGS, "val_budgets": {"x": 45, "y": 20}})
    assert set(a["val"]["id"]) <= set(c["val"]["id"])


def test_val_rows_never_enter_train_from_a_shared_pool():
    shared = pool("s", 60)
    s = build_splits(
        {"s": shared},
        {"s": shared},
        train_size=40,
        train_mix={"s": 1.0},
        val_budgets={"s": 20},
        val300_budgets={},
        seed=0,
    )
    assert not set(s["train"]["id"]) & set(s["val"]["id"])
    with pytest.warns(BudgetShortfall, match=r"train: 's' gives 40 of its budget 41"):
        s = build_splits(
            {"s": shared},
            {"s": shared},
            train_size=41,
            train_mix={"s": 1.0},
            val_budgets={"s": 20},
            val300_budgets={},
            seed=0,
        )
    assert len(s["train"]) == 40 and not set(s["train"]["id"]) & set(s["val"]["id"])
    with pytest.raises(
        ValueError, match=r"'s' is 41 but only 40 rows are available, below its floor of 41"
    ):
        build_splits(
            {"s": shared},
            {"s": shared},
            train_size=41,
            train_mix={"s": 1.0},
            val_budgets={"s": 20},
            val300_budgets={},
            seed=0,
            floors={"train": {"s": 41}},
        )


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"val_budgets": {"x": 51, "y": 20}, "floors": {"val": {"x": 51}}},
            r"val budget for 'x' is 51 but only 50 rows are available, below its floor of 51 \(val.min_rows.x\)",
        ),
        (
            {"train_size": 300, "train_mix": {"a": 0.5, "b": 0.5}, "floors": {"train": {"b": 120}}},
            r"train budget for 'b' is 150 but only 100 rows .* floor of 120",
        ),
        (
            {
                "val300_budgets": {"x": 10, "y": 5},
                "val_budgets": {"x": 60, "y": 20},
                "floors": {"val300": {"x": 10}},
            },
            None,
        ),  # val300 floor met: no error
        (
            {"val300_budgets": {"x": 41, "y": 5}},
            r"val300 takes 41 rows but val has only 40 from this source 'x'",
        ),
        (
            {"val300_budgets": {"q": 3}},
            r"val300 takes 3 rows but val has only 0 from this source 'q' \(val300 must be a subset of val\)",
        ),
        ({"train_mix": {"a": 0.6, "b": 0.3}}, r"sum to 1"),
        ({"train_mix": {"a": 0.5, "c": 0.5}}, r"no train pool .*'c'|'c'.*no train pool"),
        ({"val_budgets": {"nope": 1}}, r"'nope'"),
    ],
)
def test_budget_validation(change, message):
    if message is None:
        with pytest.warns(BudgetShortfall):
            build_splits(TRAIN, VAL, **{**ARGS, **change})
        return
    with pytest.raises(ValueError, match=message):
        build_splits(TRAIN, VAL, **{**ARGS, **change})


def test_budgets_are_up_to_n_with_the_shortfall_reported():
    """One source short of its budget (BeyondAIME: 100 asked, 99 left) costs rows, not the run."""
    val_budgets = {"x": 55, "y": 20}
    with pytest.warns(
        BudgetShortfall, match=r"val: 'x' gives 50 of its budget 55 rows \(short by 5; floor 0\)"
    ):
        s = build_splits(
            TRAIN, VAL, **{**ARGS, "val_budgets": val_budgets, "val300_budgets": {"x": 10, "y": 5}}
        )
    assert Counter(s["val"]["source"]) == {"x": 50, "y": 20}
    assert set(s["val300"]["id"]) <= set(s["val"]["id"]) and len(s["val300"]) == 15
    loads = {k: LoadResult(v, Counter(), len(v)) for k, v in {**TRAIN, **VAL}.items()}
    wanted = wanted_counts(150, {"a": 0.6, "b": 0.4}, val_budgets, {"x": 10, "y": 5})
    rep = split_report(loads, s, wanted=wanted).set_index("source")
    assert (
        rep.loc["x", "want_val"] == 55
        and rep.loc["x", "n_val"] == 50
        and rep.loc["x", "shortfall"] == "val 50/55"
    )
    assert rep.loc["y", "shortfall"] == "" and rep.loc["a", "want_train"] == 90


def test_duplicate_ids_in_a_pool_rejected():
    bad = pd.concat([pool("a", 5), pool("a", 5)], ignore_index=True)
    with pytest.raises(ValueError, match="duplicate id"):
        build_splits({"a": bad}, VAL, **{**ARGS, "train_size": 3, "train_mix": {"a": 1.0}})


@pytest.mark.parametrize("total", [0, 1, 7, 100, 9999])
def test_mix_counts_sum_and_proportions(total):
    mix = {"a": 0.3, "b": 0.7 - 1e-9, "c": 1e-9}
    counts = mix_counts(total, mix)
    assert sum(counts.values()) == total
    for k, w in mix.items():
        assert abs(counts[k] - total * w) < 1


def test_split_report_and_drops_table():
    s = build_splits(TRAIN, VAL, **ARGS)
    loads = {
        "a": LoadResult(TRAIN["a"], Counter({"proof": 7, "no_boxed_answer": 3}), 210),
        "b": LoadResult(TRAIN["b"], Counter(), 100),
        "x": LoadResult(VAL["x"], Counter({"empty_answer": 1}), 51),
        "y": LoadResult(VAL["y"], Counter(), 30),
    }
    rep = split_report(
        loads, s, roles={"a": "train", "b": "train", "x": "val", "y": "val"}
    ).set_index("source")
    assert (
        rep.loc["a", "n_raw"] == 210
        and rep.loc["a", "n_dropped"] == 10
        and rep.loc["a", "n_available"] == 200
    )
    assert rep.loc["a", "n_train"] == 90 and rep.loc["a", "n_val"] == 0
    assert (
        rep.loc["x", "n_val"] == 40
        and rep.loc["x", "n_val300"] == 10
        and rep.loc["x", "role"] == "val"
    )
    assert rep["n_train"].sum() == len(s["train"]) and rep["n_val"].sum() == len(s["val"])
    drops = drops_table(loads)
    assert list(drops.itertuples(index=False, name=None)) == [
        ("a", "proof", 7),
        ("a", "no_boxed_answer", 3),
        ("x", "empty_answer", 1),
    ]


def test_write_parquet_is_byte_identical(tmp_path):
    df = build_splits(TRAIN, VAL, **ARGS)["train"]
    p1 = write_parquet(df, tmp_path / "one.parquet")
    first = p1.read_bytes()
    # a different index (as after a filter) must not leak into the file
    p2 = write_parquet(df.set_axis(range(100, 100 + len(df))), tmp_path / "sub" / "two.parquet")
    assert p1.read_bytes() == p2.read_bytes()
    assert write_parquet(df, tmp_path / "one.parquet").read_bytes() == first  # rewrite in place
    back = read_problems(p1)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert back["difficulty"].dtype == "float64"
    changed = df.copy()
    changed.loc[0, "answer"] = "different"
    assert write_parquet(changed, tmp_path / "three.parquet").read_bytes() != p1.read_bytes()
    assert not list(tmp_path.glob("*.tmp"))  # the temporary file was renamed into place
