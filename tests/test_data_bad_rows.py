"""Issue #18: bad rows in a source are dropped AND counted by reason; a bad line in a local JSON
Lines file is reported with file and line while the rest of the file loads; over-long problems
are dropped before generation.

Rows are hand-written in the real sources' shapes (research-notes section 5): BeyondAIME
(problem, answer), Omni-MATH-2 (integer id, tags list), MATH (problem, level, type, solution).
"""

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from ssdlib.data.length import REASON, prompt_limit
from ssdlib.data.prepare import prepare_data
from ssdlib.data.registry import load_source

OK_ROWS = [
    {
        "problem": "Find the number of ordered pairs $(a,b)$ of positive integers with $a+b=30$.",
        "answer": 29,
    },
    {"problem": "Compute the remainder when $7^{100}$ is divided by $13$.", "answer": "9"},
]


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def _load_beyond(tmp_path, rows):
    return load_source("beyond_aime", _jsonl(tmp_path / "beyond_aime.jsonl", OK_ROWS + rows))


@pytest.mark.parametrize(
    "problem, reason",
    [
        ("\u200b\u200b\u200b", "junk_only_problem"),  # zero-width spaces only
        ("\x00\x00", "junk_only_problem"),  # NUL bytes
        ("\ufeff", "junk_only_problem"),  # a lone BOM
        ("\ufeff \u200d\n\x00", "junk_only_problem"),  # a mix, with whitespace
        ("   \n\t", "empty_problem"),
        (12, "non_string_problem"),
        (["What is", "2+2"], "non_string_problem"),
    ],
)
def test_junk_and_non_string_problems_are_dropped_by_reason(tmp_path, problem, reason):
    res = _load_beyond(tmp_path, [{"problem": problem, "answer": "4"}])
    assert res.drops == {reason: 1}
    assert len(res.frame) == 2 and res.n_raw == 3
    assert "12" not in set(res.frame["problem"])


@pytest.mark.parametrize(
    "answer, reason",
    [(True, "boolean_answer"), ([1, 2], "non_scalar_answer"), ({"a": 1}, "non_scalar_answer")],
)
def test_non_scalar_answers_in_a_jsonl_column_are_dropped_by_reason(tmp_path, answer, reason):
    res = _load_beyond(
        tmp_path, [{"problem": "How many primes are less than $20$?", "answer": answer}]
    )
    assert res.drops == {reason: 1}
    # The mixed column must not turn the good rows into JSON text either ('"9"', quoted problems).
    assert res.frame["answer"].tolist() == ["29", "9"]
    assert res.frame["problem"].tolist() == [r["problem"] for r in OK_ROWS]


def test_edge_invisible_characters_are_stripped_but_the_text_is_kept(tmp_path):
    res = _load_beyond(
        tmp_path, [{"problem": "\ufeffWhat is $3\\cdot 4$?\u200b\x00", "answer": "\u200b12"}]
    )
    row = res.frame.iloc[-1]
    assert (row["problem"], row["answer"]) == ("What is $3\\cdot 4$?", "12")


def test_nested_boxed_gold_is_unwrapped_in_an_answer_column(tmp_path):
    res = _load_beyond(
        tmp_path, [{"problem": "Find $x$ if $x+1=9$.", "answer": "\\boxed{\\boxed{8}}"}]
    )
    assert res.frame["answer"].iloc[-1] == "8"


def test_nested_boxed_gold_is_unwrapped_in_a_math_solution(tmp_path):
    rows = [
        {
            "problem": "Find $x$ if $2x = 16$.",
            "level": "Level 4",
            "type": "Algebra",
            "solution": "Divide by two: $x = \\boxed{\\boxed{8}}$.",
        },
        {
            "problem": "Find $y$ if $y - 1 = 4$.",
            "level": "Level 5",
            "type": "Algebra",
            "solution": "Add one, so $y=\\boxed{5}$.",
        },
    ]
    path = tmp_path / "math_algebra.parquet"
    pd.DataFrame(rows).to_parquet(path)
    res = load_source("math", path)
    assert res.frame["answer"].tolist() == ["8", "5"]
    assert not res.drops
    assert "boxed_several_forms" not in res.frame["meta"].iloc[0]  # one box, not two forms


def test_answer_and_problem_helpers_name_the_reason():
    from ssdlib.data.base import SkipRow, answer_to_str, problem_text

    with pytest.raises(SkipRow, match="non_scalar_answer"):
        answer_to_str([1, 2])
    with pytest.raises(SkipRow, match="boolean_answer"):
        answer_to_str(False)
    with pytest.raises(SkipRow, match="non_string_problem"):
        problem_text(3.5)
    assert answer_to_str("\\fbox{\\boxed{ 3 }}") == "3"
    assert answer_to_str("\\boxed{a}+\\boxed{b}") == "\\boxed{a}+\\boxed{b}"  # not ONE box: kept


# --- bad lines ------------------------------------------------------------------------------


def _omni2_lines() -> list[str]:
    rows = [
        {
            "id": 0,
            "problem": "Let $n$ be the least integer with $n^2 > 2000$. Find $n$.",
            "answer": "45",
            "difficulty": 2.0,
            "domain": ["Mathematics -> Algebra"],
            "source": "olympiad",
            "tags": [],
        },
        {
            "id": 1,
            "problem": "How many subsets of $\\{1,\\dots,6\\}$ have an even sum?",
            "answer": "32",
            "difficulty": 3.5,
            "domain": ["Mathematics -> Combinatorics"],
            "source": "olympiad",
            "tags": [],
        },
        {
            "id": 2,
            "problem": "Find the largest prime factor of $1001$.",
            "answer": "13",
            "difficulty": 1.5,
            "domain": ["Mathematics -> Number Theory"],
            "source": "olympiad",
            "tags": [],
        },
    ]
    return [json.dumps(r) for r in rows]


def test_one_non_json_line_is_reported_with_file_and_line_and_the_rest_loads(tmp_path, caplog):
    good = _omni2_lines()
    path = tmp_path / "omni_math_2.jsonl"
    path.write_text(
        "\n".join([good[0], '{"id": 7, "problem": "cut off', good[1], "[1, 2]", good[2]]) + "\n"
    )
    with caplog.at_level(logging.WARNING):
        res = load_source("omni_math_2", path)
    assert res.frame["answer"].tolist() == ["45", "32", "13"]
    assert res.drops == {"bad_line_not_json": 1, "bad_line_not_object": 1}
    assert res.n_raw == 5
    assert len(res.bad_lines) == 2
    assert res.bad_lines[0].startswith(f"{path}:2: not_json")
    assert res.bad_lines[1].startswith(f"{path}:4: not_object")
    assert f"{path}:2" in caplog.text  # also in the log, so the notebook shows it


def test_one_undecodable_line_is_reported_and_the_rest_loads(tmp_path):
    good = _omni2_lines()
    path = tmp_path / "omni_math_2.jsonl"
    path.write_bytes(
        (good[0] + "\n").encode()
        + b'{"id": 9, "problem": "caf\xe9 \xff", "answer": "1"}\n'
        + "\n".join(good[1:]).encode()
        + b"\n"
    )
    res = load_source("omni_math_2", path)
    assert len(res.frame) == 3 and res.drops == {"bad_line_not_utf8": 1}
    assert res.bad_lines[0].startswith(f"{path}:2: not_utf8")
    assert res.frame["id"].tolist() == ["omni_math_2/0", "omni_math_2/1", "omni_math_2/2"]


def test_a_json_array_file_fails_whole_naming_file_and_line(tmp_path):
    path = tmp_path / "beyond_aime.json"
    path.write_text('[\n{"problem": "What is $2+2$?", "answer": "4"},\n{"problem": oops}\n]\n')
    with pytest.raises(ValueError, match=r"beyond_aime\.json:3:"):
        load_source("beyond_aime", path)


def test_an_unreadable_parquet_file_names_source_and_file(tmp_path):
    path = tmp_path / "math_algebra.parquet"
    path.write_bytes(b"PAR1 this is not a parquet file")
    with pytest.raises(ValueError, match=r"math: cannot read .*math_algebra\.parquet"):
        load_source("math", path)


# --- over-long problems -----------------------------------------------------------------------

MODEL = {"id": "none", "max_model_len": 1024, "max_prompt_tokens": 384, "thinking": False}
PROMPT = {"template": "Solve the following competitive math problem.\n\n{problem}"}


def _prepare(tmp_path, val_rows, limit):
    path = _jsonl(tmp_path / "beyond_aime.jsonl", val_rows)
    sources = {
        "synthetic": {"loader": "synthetic", "role": "train", "n_train": 30, "n_val": 0},
        "beyond_aime": {"loader": "beyond_aime", "path": str(path), "role": "val"},
    }
    return prepare_data(
        sources,
        train={"size": 10, "mix": {"synthetic": 1.0}},
        val={"budgets": {"beyond_aime": 2}},
        val300={"budgets": {"beyond_aime": 1}},
        seed=0,
        out_dir=tmp_path / "out",
        dedup={"enabled": False},
        prompt_limit=limit,
    )


def test_a_huge_problem_is_dropped_and_counted_before_generation(tmp_path):
    huge = {
        "problem": "Let $a_1 = 1$. " + "Consider the sum $1+2+3$. " * 40_000 + "Find $a_2$.",
        "answer": "2",
    }
    assert len(huge["problem"]) > 1_000_000
    limit = prompt_limit(MODEL, PROMPT)  # no tokenizer: the stated byte bound
    rep = _prepare(tmp_path, [OK_ROWS[0], huge, OK_ROWS[1]], limit)
    assert rep.drop_counters["beyond_aime"] == {REASON: 1}
    assert rep.sizes["val"] == 2  # the two problems that fit fill the budget
    assert rep.too_long["id"].tolist() == ["beyond_aime/1"]
    assert rep.too_long["prompt_tokens"].iloc[0] > 1_000_000
    assert "1 token per UTF-8 byte" in rep.prompt_limit and "<= 384 tokens" in rep.prompt_limit
    table = rep.table.set_index("source")
    assert table.loc["beyond_aime", "n_dropped"] == 1 and table.loc["beyond_aime", "n_raw"] == 3


def test_limit_is_max_prompt_tokens_and_shrinks_with_the_generation_budget():
    assert prompt_limit(MODEL, PROMPT).max_tokens == 384
    assert prompt_limit(MODEL, PROMPT, max_new_tokens=900).max_tokens == 1024 - 900
    with pytest.raises(ValueError, match="no room"):
        prompt_limit(MODEL, PROMPT, max_new_tokens=1024)


def test_byte_bound_counts_the_template_and_multibyte_text():
    limit = prompt_limit(MODEL, PROMPT)
    base, accents = limit.count(["", "\u00e9" * 100])
    assert base == len(PROMPT["template"].replace("{problem}", "").encode()) + 64
    assert accents == base + 200  # two UTF-8 bytes per character: an upper bound on BPE tokens


@pytest.mark.slow
def test_with_the_profile_tokenizer_the_rendered_prompt_is_counted_exactly(embedded_model):
    from transformers import AutoTokenizer

    from ssdlib.prompts import render_chat

    tok = AutoTokenizer.from_pretrained(embedded_model)
    limit = prompt_limit(MODEL, PROMPT, tok)
    problem = "Find $n$ such that " + "$n^2 + n + 41$ is prime and " * 30 + "$n < 50$."
    exact = len(
        tok(render_chat(tok, problem, PROMPT["template"], False), add_special_tokens=False)[
            "input_ids"
        ]
    )
    assert exact > 384
    assert limit.count([problem]) == [exact]
    assert "tokenizer" in limit.method
    short = limit.count(["What is $1+1$?"])[0]
    assert short <= 384


def test_without_the_tokenizer_the_profile_limit_warns_and_uses_the_bound(monkeypatch):
    import ssdlib.models
    from ssdlib.data.length import PromptBoundWarning, profile_prompt_limit

    # The hub is the boundary: a tokenizer that cannot be fetched offline.
    monkeypatch.setattr(
        ssdlib.models, "load_tokenizer", lambda model_id, offline: (None, "offline")
    )
    with pytest.warns(PromptBoundWarning, match="1 token per UTF-8 byte"):
        limit = profile_prompt_limit(MODEL, PROMPT, offline=True)
    assert limit.max_tokens == 384 and "offline" in limit.method


AIME_HEADER = b"ID,Year,Problem Number,Question,Answer,Part\n"


def test_a_csv_record_with_a_bad_byte_or_wrong_fields_is_reported_and_the_rest_loads(tmp_path):
    path = tmp_path / "aime_1983_2024.csv"
    path.write_bytes(
        AIME_HEADER
        + b'1990-1,1990,1,"Find the number of positive divisors of $2^4 3^2$.",15,\n'
        + b'1991-2,1991,2,"A problem stated\non two lines: find $3+4$.",7,\n'  # one record, lines 3-4
        + b'1992-3,1992,3,"Caf\xe9 prices: find $x$.",12,\n'  # line 5: latin-1 byte
        + b"1993-4,1993,4,Find $y$.,9,,extra\n"  # line 6: 7 fields
        + b'2000-I-1,2000,1,"Find $\\gcd(84, 126)$.",042,I\n'
    )
    res = load_source("aime_archive", path)
    assert res.frame["id"].tolist() == [
        "aime_archive/1990-1",
        "aime_archive/1991-2",
        "aime_archive/2000-I-1",
    ]
    assert res.frame["answer"].tolist() == ["15", "7", "42"]  # "042" is still read as a number
    assert res.drops == {"bad_line_not_utf8": 1, "bad_line_wrong_field_count": 1}
    assert [b.split(": ")[0] for b in res.bad_lines] == [f"{path}:5", f"{path}:6"]
    assert res.n_raw == 5


def test_a_csv_without_a_header_names_the_file(tmp_path):
    path = tmp_path / "aime_1983_2024.csv"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"aime_1983_2024\.csv:1: no readable CSV header"):
        load_source("aime_archive", path)
