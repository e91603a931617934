"""Train/val duplicate search: rules, bad input, recall against brute force (ssdlib.contamination)."""

import numpy as np
import pandas as pd
import pytest

from ssdlib.contamination import (
    best_matches,
    contamination_report,
    decontaminate,
    find_duplicates,
    find_internal_duplicates,
    jaccard_exact,
)
from ssdlib.contamination.index import scan, self_join
from ssdlib.contamination.lsh import lsh_scan
from ssdlib.contamination.ngrams import ngram_set, shingle
from ssdlib.contamination.synthetic import plant_near_duplicates, synthetic_problems

# Thresholds used throughout (explicit, so the tests do not drift with the recommended defaults).
P = {"ngram": 5, "threshold_same_answer": 0.4, "threshold_diff_answer": 0.7}
# The pre-#13 rule (word n-grams + two answer-aware thresholds), still selectable as rule="v1".
V1 = {**P, "rule": "v1"}

BASE = (
    "A bag contains 5 red marbles, 4 blue marbles and 3 green marbles. Two marbles are drawn at "
    "random without replacement. What is the probability that both marbles are the same color? "
    "Express your answer as a common fraction."
)
# Same problem, scraper edits: J(5-grams) with BASE is between the two thresholds.
EDITED = (
    "Problem 4. A bag contains 5 red marbles, 4 blue marbles and 3 green marbles. Two marbles are "
    "drawn at random, without replacement. What is the probability that both marbles have the same color?"
)
UNRELATED = "How many positive divisors does $360$ have?"


def frame(problems, answers, prefix, source="src"):
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(len(problems))],
            "source": source,
            "problem": problems,
            "answer": answers,
            "difficulty": np.nan,
            "meta": "{}",
        }
    )


def test_borderline_pair_is_between_the_thresholds():
    j = jaccard_exact(BASE, EDITED, 5)
    assert P["threshold_same_answer"] <= j < P["threshold_diff_answer"], j


def test_answer_aware_rule_flips_a_borderline_pair():
    val = frame([BASE], ["19/66"], "v")
    same = find_duplicates(frame([EDITED, UNRELATED], [r"\frac{19}{66}", "24"], "t"), val, **V1)
    assert same[["train_id", "val_id", "rule"]].values.tolist() == [
        ["t0", "v0", "fuzzy_same_answer"]
    ]
    assert bool(same["answers_agree"].iloc[0]) is True
    # The same text with a different answer needs the higher threshold: not flagged.
    diff = find_duplicates(frame([EDITED, UNRELATED], ["47/66", "24"], "t"), val, **V1)
    assert len(diff) == 0
    # ... and a train answer that is missing counts as "not known to agree".
    unknown = find_duplicates(frame([EDITED], [""], "t"), val, **V1)
    assert len(unknown) == 0
    # Lowering the high threshold below J flags it whatever the answers.
    low = find_duplicates(
        frame([EDITED], ["47/66"], "t"),
        val,
        rule="v1",
        ngram=5,
        threshold_same_answer=0.4,
        threshold_diff_answer=0.45,
    )
    assert low["rule"].tolist() == ["fuzzy_diff_answer"]


def test_exact_match_after_normalisation_is_flagged_whatever_the_answers():
    latex = BASE.replace("5 red", "$5$ red").replace("common fraction", r"\text{common fraction}")
    out = find_duplicates(frame([latex], ["1/2"], "t"), frame([BASE], ["19/66"], "v"), **P)
    assert out["rule"].tolist() == ["exact"]
    assert out["jaccard"].iloc[0] == 1.0
    assert bool(out["answers_agree"].iloc[0]) is False


def test_output_columns_and_sources():
    out = find_duplicates(
        frame([BASE], ["19/66"], "t", "numinamath"), frame([BASE], ["19/66"], "v", "aime"), **V1
    )
    for col in [
        "train_id",
        "val_id",
        "jaccard",
        "answers_agree",
        "rule",
        "train_problem",
        "val_problem",
        "train_source",
        "val_source",
    ]:
        assert col in out.columns
    assert out[["train_source", "val_source"]].values.tolist() == [["numinamath", "aime"]]
    assert out.attrs["skipped"] == {"train": 0, "val": 0}


def test_bad_problems_are_skipped_and_counted():
    train = frame([BASE, None, "", 17, "$$ $$", EDITED], ["19/66"] * 6, "t")
    val = frame([BASE, float("nan"), "   "], ["19/66"] * 3, "v")
    flagged, best = contamination_report(train, val, **P)
    assert flagged.attrs["skipped"] == {"train": 4, "val": 2}
    assert flagged.attrs["skipped_ids"]["train"] == ["t1", "t2", "t3", "t4"]
    assert sorted(flagged["train_id"]) == ["t0", "t5"]
    assert best["val_id"].tolist() == ["v0"]


def test_empty_frames_do_not_crash():
    empty = frame([], [], "t")
    assert len(find_duplicates(empty, frame([BASE], ["1"], "v"), **P)) == 0
    assert len(find_duplicates(frame([BASE], ["1"], "t"), empty, **P)) == 0
    b = best_matches(empty, frame([BASE], ["1"], "v"), **P)
    assert b["train_id"].isna().all() and (b["jaccard"] == 0).all()


@pytest.mark.parametrize("side", ["train", "val"])
@pytest.mark.parametrize("column", ["id", "problem", "answer", "source"])
def test_missing_column_raises_naming_it(side, column):
    train, val = frame([BASE], ["1"], "t"), frame([BASE], ["1"], "v")
    if side == "train":
        train = train.drop(columns=[column])
    else:
        val = val.drop(columns=[column])
    with pytest.raises(ValueError, match=rf"{side} is missing required column '{column}'"):
        find_duplicates(train, val, **P)


def test_bad_parameters_raise():
    t, v = frame([BASE], ["1"], "t"), frame([BASE], ["1"], "v")
    with pytest.raises(ValueError, match="threshold"):
        find_duplicates(
            t, v, rule="v1", ngram=5, threshold_same_answer=0.8, threshold_diff_answer=0.5
        )
    with pytest.raises(ValueError, match="method"):
        find_duplicates(t, v, method="bogus", rule="v1")


def test_decontaminate_removes_flagged_train_rows_only():
    train = frame([EDITED, UNRELATED, BASE], ["19/66", "24", "x"], "t")
    val = frame([BASE], ["19/66"], "v")
    flagged = find_duplicates(train, val, **P)
    clean = decontaminate(train, flagged)
    assert clean["id"].tolist() == ["t1"]
    assert clean.attrs["removed"] == 2
    assert len(train) == 3  # input untouched


@pytest.fixture(scope="module")
def corpus():
    val = synthetic_problems(150, seed=2, prefix="val")
    train = plant_near_duplicates(synthetic_problems(2500, seed=1), val, n_planted=300, seed=3)
    return train, val


def brute_force(train, val, n):
    """All (train pos, val pos) -> Jaccard > 0 with Python string n-gram sets."""
    ts = [ngram_set(t, n) for t in train["problem"]]
    vs = [ngram_set(v, n) for v in val["problem"]]
    out = {}
    for i, a in enumerate(ts):
        for j, b in enumerate(vs):
            inter = len(a & b)
            if inter:
                out[(i, j)] = inter / (len(a) + len(b) - inter)
    return out


def test_inverted_index_is_exact_and_lsh_recall_is_high(corpus):
    train, val = corpus
    truth = brute_force(train, val, 5)
    above = {k for k, j in truth.items() if j >= 0.4}
    assert len(above) > 30  # the planted pairs give a real test
    val_sh = shingle(val["problem"].tolist(), 5)
    inv = scan(train["problem"].tolist(), val_sh, 5, 0.4, chunk_rows=700)  # several chunks
    got = dict(
        zip(zip(inv.pairs_train.tolist(), inv.pairs_val.tolist()), inv.pairs_jaccard.tolist())
    )
    assert set(got) == above
    assert all(abs(got[k] - truth[k]) < 1e-12 for k in got)
    # Best match per val row equals the brute-force maximum.
    for j in range(len(val)):
        col = [v for (t, vv), v in truth.items() if vv == j]
        assert inv.best_jaccard[j] == pytest.approx(max(col, default=0.0))
    lsh = lsh_scan(train["problem"].tolist(), val_sh, 5, 0.4, num_perm=128)
    found = set(zip(lsh.pairs_train.tolist(), lsh.pairs_val.tolist()))
    assert found <= above  # every LSH candidate is re-checked exactly: no false pairs
    assert len(found & above) / len(above) >= 0.95


def test_find_duplicates_methods_agree_on_planted_pairs(corpus):
    train, val = corpus
    inv = find_duplicates(train, val, method="inverted", **V1)
    lsh = find_duplicates(train, val, method="lsh", **V1)
    key = ["train_id", "val_id"]
    assert len(inv) > 20
    assert set(map(tuple, lsh[key].values)) <= set(map(tuple, inv[key].values))
    assert len(lsh) >= 0.95 * len(inv)
    planted = train["meta"].str.contains("planted_from")
    assert set(inv["train_id"]) <= set(train.loc[planted, "id"])  # only planted rows are flagged


def test_internal_duplicates_across_sources():
    df = pd.concat(
        [
            frame([BASE, UNRELATED], ["19/66", "24"], "omni/", "omni"),
            frame(
                [EDITED, "Compute $2+2$."], ["\\frac{19}{66}", "4"], "olympiad/", "olympiadbench"
            ),
        ],
        ignore_index=True,
    )
    out = find_internal_duplicates(df, **P)
    assert out[["id_a", "id_b", "rule", "source_a", "source_b"]].values.tolist() == [
        ["omni/0", "olympiad/0", "fuzzy_same_answer", "omni", "olympiadbench"]
    ]


def test_capped_self_join_finds_the_same_pairs(corpus):
    train, val = corpus
    # Planted rows are near-copies of val rows: the union has internal duplicates.
    sh = shingle(pd.concat([train, val])["problem"].tolist(), 5)
    a0, b0, j0 = self_join(sh, 0.4, max_df=None)
    a1, b1, j1 = self_join(sh, 0.4, max_df=5)
    assert len(a0) > 10
    assert set(zip(a1.tolist(), b1.tolist())) == set(zip(a0.tolist(), b0.tolist()))
    assert np.allclose(np.sort(j0), np.sort(j1))
