"""Every source loader on its fixture (tests/fixtures/sources, built by make_fixtures.py).

Expected counts come from the fixture design: make_fixtures.py marks every bad row with the
rule that must drop it.
"""

import json
from collections import Counter
from pathlib import Path

import datasets
import pandas as pd
import pytest

from ssdlib.data import base
from ssdlib.data.base import SkipRow, map_dataset
from ssdlib.data.registry import SOURCES, load_source
from ssdlib.schema import PROBLEM_COLUMNS

FIX = Path(__file__).parent / "fixtures" / "sources"

CASES = [
    # source, file, opts, kept, drops
    (
        "math",
        "math_algebra.parquet",
        {},
        11,
        {
            "level_filtered": 3,
            "unknown_level": 1,
            "no_boxed_answer": 2,
            "empty_problem": 2,
            "multiple_choice": 1,
            "multiple_answers": 2,
        },
    ),
    (
        "math",
        "math_algebra.parquet",
        {"levels": [3]},
        2,
        {"level_filtered": 17, "unknown_level": 1, "empty_problem": 2},
    ),
    # default: Numina's competition sources only (olympiads, aops_forum, amc_aime), never its `math`
    (
        "numinamath",
        "numinamath.parquet",
        {},
        5,
        {
            "source_filtered": 7,
            "proof": 3,
            "no_boxed_answer": 1,
            "multiple_choice": 1,
            "multiple_answers": 2,
            "empty_problem": 1,
        },
    ),
    (
        "numinamath",
        "numinamath.parquet",
        {"sources": None},
        11,
        {
            "proof": 3,
            "no_boxed_answer": 1,
            "multiple_choice": 2,
            "multiple_answers": 2,
            "empty_problem": 1,
        },
    ),
    (
        "numinamath",
        "numinamath.parquet",
        {"sources": None, "exclude_sources": ["synthetic_math"]},
        9,
        {
            "source_filtered": 2,
            "proof": 3,
            "no_boxed_answer": 1,
            "multiple_choice": 2,
            "multiple_answers": 2,
            "empty_problem": 1,
        },
    ),
    ("beyond_aime", "beyond_aime.jsonl", {}, 8, {"empty_problem": 1, "empty_answer": 1}),
    (
        "omni_math",
        "omni_math.parquet",
        {},
        9,
        {
            "empty_answer": 1,
            "empty_problem": 1,
            "proof_claim": 1,
            "multiple_answers": 1,
            "prose_answer": 1,
        },
    ),
    (
        "omni_math",
        "omni_math.parquet",
        {"min_difficulty": 5},
        6,
        {
            "below_min_difficulty": 2,
            "no_difficulty": 1,
            "empty_answer": 1,
            "empty_problem": 1,
            "proof_claim": 1,
            "multiple_answers": 1,
            "prose_answer": 1,
        },
    ),
    (
        "omni_math_2",
        "omni_math_2.jsonl",
        {},
        8,
        {"tagged_proof": 1, "tagged_image": 1, "tagged_estimation": 1, "tagged_should_delete": 1},
    ),
    ("omni_math_2", "omni_math_2.jsonl", {"drop_tagged": False}, 11, {"proof": 1}),
    (
        "olympiadbench",
        "olympiadbench.parquet",
        {},
        9,
        {
            "multi_answer": 1,
            "multiple_answers": 1,
            "proof_claim": 1,
            "has_image": 1,
            "empty_problem": 1,
        },
    ),
    (
        "aime_archive",
        "aime_1983_2024.csv",
        {},
        7,
        {"non_integer_answer": 1, "empty_problem": 1, "empty_answer": 1, "duplicate_id": 1},
    ),
    ("aimo_aime", "aimo_validation_aime.parquet", {}, 9, {"non_integer_answer": 1}),
    ("hmmt", "hmmt_feb_2025.parquet", {}, 9, {"empty_answer": 1}),
]


@pytest.mark.parametrize(
    "source, fname, opts, kept, drops", CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES]
)
def test_loader_counts_and_schema(source, fname, opts, kept, drops):
    res = load_source(source, FIX / fname, **opts)
    df = res.frame
    assert tuple(df.columns) == PROBLEM_COLUMNS
    assert len(df) == kept == res.n_kept
    assert dict(res.drops) == drops
    assert res.n_raw == kept + sum(drops.values())
    assert df["id"].is_unique
    assert all(i.startswith(f"{s}/") for i, s in zip(df["id"], df["source"]))
    assert (df["problem"].str.len() > 0).all() and (df["answer"].str.len() > 0).all()
    assert (df["problem"] == df["problem"].str.strip()).all()
    assert df["difficulty"].dtype == "float64"
    for m in df["meta"]:
        assert m == json.dumps(json.loads(m), sort_keys=True, ensure_ascii=False)


def test_registry_covers_every_loader_case():
    assert {c[0] for c in CASES} | {"aime"} == set(SOURCES)
    assert SOURCES["aime"] is SOURCES["aime_archive"]


def test_math_answers_and_ids():
    df = load_source("math", FIX / "math_algebra.parquet").frame.set_index("id")
    assert df.loc["math/math_algebra/1", "answer"] == r"\frac{5}{6}"  # nested braces
    assert df.loc["math/math_algebra/2", "answer"] == "3"  # \boxed 3 without braces
    assert df.loc["math/math_algebra/3", "answer"] == "81"  # \fbox
    # an intermediate box (1) before the final set: two different boxed values
    assert "math/math_algebra/4" not in df.index
    assert df.loc["math/math_algebra/6", "problem"] == r"Simplify $\sqrt{50}$."  # stripped
    assert set(df["difficulty"]) == {4.0, 5.0}


def test_math_hub_route_uses_every_subject_config(monkeypatch):
    calls = []
    local = datasets.load_dataset(
        "parquet", data_files=str(FIX / "math_algebra.parquet"), split="train"
    )

    def fake_load_dataset(path, name=None, split=None, **kw):
        calls.append((path, name, split))
        return local

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    res = load_source("math", None, split="test")
    assert calls == [
        ("EleutherAI/hendrycks_math", c, "test") for c in SOURCES["math"].__kwdefaults__["configs"]
    ]
    assert len(calls) == 7
    assert res.n_raw == 7 * 22 and len(res.frame) == 7 * 11
    assert res.drops["level_filtered"] == 7 * 3
    assert "math/test/number_theory/0" in set(res.frame["id"])


def test_math_single_config_mirror(monkeypatch):
    calls = []
    local = datasets.load_dataset(
        "parquet", data_files=str(FIX / "math_algebra.parquet"), split="train"
    )
    monkeypatch.setattr(
        datasets,
        "load_dataset",
        lambda path, name=None, split=None: calls.append((path, name)) or local,
    )
    res = load_source("math", None, configs=None, hf_id="DigitalLearningGmbH/MATH-lighteval")
    assert calls == [("DigitalLearningGmbH/MATH-lighteval", None)]
    assert res.frame["id"].iloc[0] == "math/train/all/0"


@pytest.mark.parametrize(
    "source, hf_id, config, split",
    [
        ("numinamath", "AI-MO/NuminaMath-CoT", None, "train"),
        ("beyond_aime", "ByteDance-Seed/BeyondAIME", None, "test"),
        ("omni_math", "KbsdJames/Omni-MATH", None, "test"),
        # Omni-MATH-2 has ONE split, `train` (asking for `test` stops a real run with
        # "Unknown split"); the profile's omni_math source with this hub id gets it too.
        ("omni_math_2", "martheballon/Omni-MATH-2", None, "train"),
        ("olympiadbench", "Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train"),
        ("aime_archive", "di-zhang-fdu/AIME_1983_2024", None, "train"),
        ("aimo_aime", "AI-MO/aimo-validation-aime", None, "train"),
        ("hmmt", "MathArena/hmmt_feb_2025", None, "train"),
    ],
)
def test_hub_ids(monkeypatch, source, hf_id, config, split):
    calls = []
    empty = datasets.Dataset.from_dict({"x": []})

    def fake_load_dataset(path, name=None, split=None, **kw):
        calls.append((path, name, split))
        return empty

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    with pytest.raises(ValueError, match=source):  # the empty stand-in lacks the required columns
        load_source(source)
    assert calls == [(hf_id, config, split)]


def test_profile_omni_math_with_omni2_hub_id_reads_train(monkeypatch):
    """The real profile's `omni_math` source points at Omni-MATH-2: the split follows the hub id."""
    calls = []
    local = datasets.load_dataset("json", data_files=str(FIX / "omni_math_2.jsonl"), split="train")
    monkeypatch.setattr(
        datasets,
        "load_dataset",
        lambda path, name=None, split=None: calls.append((path, split)) or local,
    )
    res = load_source("omni_math", None, hf_id="martheballon/Omni-MATH-2")
    assert calls == [("martheballon/Omni-MATH-2", "train")]
    assert len(res.frame) == 8 and res.drops["tagged_should_delete"] == 1
    load_source("omni_math", None)
    assert calls[-1] == ("KbsdJames/Omni-MATH", "test")


def test_omni2_integer_ids_and_tags():
    df = load_source("omni_math_2", FIX / "omni_math_2.jsonl").frame
    assert list(df["id"]) == [
        f"omni_math_2/{k}" for k in range(1, 9)
    ]  # integer ids, as in the data set
    kept_all = load_source(
        "omni_math_2", FIX / "omni_math_2.jsonl", drop_tagged=False
    ).frame.set_index("id")
    assert json.loads(kept_all.loc["omni_math_2/104", "meta"])["tags"] == ["should delete", "image"]


def test_math_real_shapes_survive_the_filters():
    """MATH's `10,\\!080` thousands, [asy] code and a value boxed in two forms keep their rows;
    a letter answer and a boxed intermediate result do not."""
    res = load_source("math", FIX / "math_algebra.parquet")
    df = res.frame.set_index("id")
    assert df.loc["math/math_algebra/15", "answer"] == r"30,\!240"
    assert df.loc["math/math_algebra/16", "answer"] == r"11,\! 111,\! 100"
    assert df.loc["math/math_algebra/17", "answer"] == r"\$32,\!348"
    assert df.loc["math/math_algebra/18", "answer"] == "5"  # the [asy] problem
    assert df.loc["math/math_algebra/19", "answer"] == r"\frac{639}{40}"
    assert json.loads(df.loc["math/math_algebra/19", "meta"])["boxed_several_forms"] is True
    assert "math/math_algebra/20" not in df.index  # \text{(A)}
    assert "math/math_algebra/21" not in df.index  # x = 3 boxed, then x^2 = 9 boxed
    assert res.drops["multiple_choice"] == 1


def test_omni_original_answers_the_tags_would_have_caught():
    res = load_source("omni_math", FIX / "omni_math.parquet")
    assert (
        res.drops["proof_claim"] == 1
        and res.drops["multiple_answers"] == 1
        and res.drops["prose_answer"] == 1
    )
    assert "k=-2" in set(res.frame["answer"])


def test_numina_source_whitelist():
    res = load_source("numinamath", FIX / "numinamath.parquet", sources=["math", "amc_aime"])
    assert json.loads(res.frame["meta"].iloc[0])["numina_source"] in {"math", "amc_aime"}
    # math: 2 rows kept; amc_aime: 1 kept + 1 multiple choice; the other 16 rows filtered by source
    assert len(res.frame) == 3
    assert res.drops["source_filtered"] == 16 and res.drops["multiple_choice"] == 1


def test_beyond_aime_answers_as_strings_or_ints(tmp_path):
    ints = load_source("beyond_aime", FIX / "beyond_aime.jsonl").frame
    assert ints["answer"].iloc[0] == "10609"
    path = tmp_path / "beyond_str.parquet"
    frame = pd.DataFrame(
        {"problem": ["Find it.", "Find that.", "Find more."], "answer": [" 10609 ", "7", "7.0"]}
    )
    frame.to_parquet(path)
    strs = load_source("beyond_aime", path).frame
    assert list(strs["answer"]) == [
        "10609",
        "7",
        "7.0",
    ]  # strings are only stripped, never reinterpreted
    path2 = tmp_path / "beyond_float.parquet"
    pd.DataFrame({"problem": ["a", "b"], "answer": [12.0, 2.5]}).to_parquet(path2)
    assert list(load_source("beyond_aime", path2).frame["answer"]) == ["12", "2.5"]


def test_missing_required_column_names_source_and_column(tmp_path):
    path = tmp_path / "omni2_no_answer.parquet"
    pd.DataFrame({"problem": ["Find x."], "final": ["3"]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"omni_math_2.*'answer'"):
        load_source("omni_math_2", path)
    path = tmp_path / "omni_no_difficulty.parquet"
    pd.DataFrame({"problem": ["Find x."], "answer": ["3"]}).to_parquet(path)
    assert len(load_source("omni_math", path).frame) == 1  # difficulty is optional ...
    with pytest.raises(ValueError, match=r"omni_math.*'difficulty'"):
        load_source("omni_math", path, min_difficulty=3)  # ... unless it is filtered on


def test_olympiadbench_context_and_unit():
    df = load_source("olympiadbench", FIX / "olympiadbench.parquet").frame.set_index("id")
    assert df.loc["olympiadbench/2004", "problem"] == "Let $x$ satisfy $2x=1$.\n\nCompute $x$."
    assert json.loads(df.loc["olympiadbench/2003", "meta"])["unit"] == "cm$^2$"
    assert df.loc["olympiadbench/2001", "answer"] == "8"  # one $...$ around the answer is markup
    assert df.loc["olympiadbench/2013", "answer"] == "k=1"  # an answer naming its variable is kept
    assert "olympiadbench/2014" in df.index  # says "prove" but has a final answer: kept
    assert "olympiadbench/2011" not in df.index  # the row with an image


def test_aime_archive_canonical_integers():
    df = load_source("aime_archive", FIX / "aime_1983_2024.csv").frame.set_index("id")
    assert df.loc["aime_archive/2000-II-1", "answer"] == "42"  # "042" in the file
    assert df.loc["aime_archive/1983-1", "problem"].startswith(
        "Find the remainder"
    )  # first of the duplicate ids
    assert json.loads(df.loc["aime_archive/2000-I-1", "meta"]) == {
        "number": 1,
        "part": "I",
        "year": 2000,
    }


def test_bad_rows_are_counted_not_raised():
    ds = datasets.Dataset.from_dict(
        {"problem": ["a", "b", "c", "d"], "answer": ["1", "2", "3", "4"]}
    )

    def mapper(row, idx):
        if row["problem"] == "b":
            raise SkipRow("custom_reason")
        if row["problem"] == "c":
            return {"problem": row["problem"] + 1}  # TypeError: a malformed row
        if row["problem"] == "d":
            raise KeyError("missing")
        return {"id": idx, "problem": row["problem"], "answer": row["answer"]}

    res = map_dataset("toy", ds, mapper, ["problem", "answer"])
    assert len(res.frame) == 1 and res.n_raw == 4
    assert res.drops == Counter({"custom_reason": 1, "malformed_row": 2})


def test_open_dataset_rejects_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        base.open_dataset("math", tmp_path / "x.txt", "id", None, "train")
    with pytest.raises(FileNotFoundError, match="math"):
        base.open_dataset("math", tmp_path / "missing.parquet", "id", None, "train")


def test_unknown_source_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown source 'mathh'"):
        load_source("mathh", FIX / "math_algebra.parquet")
