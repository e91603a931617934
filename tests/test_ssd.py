"""Building the SSD training set: no correctness filter, drops counted, nothing truncated.

The tokenizer comes from the folder in $SSD_TEST_MODEL (default: the embedded model, a converted
SmolLM2-135M-Instruct with a ChatML template).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from ssdlib.models import embedded_model_path
from ssdlib.prompts import render_turn
from ssdlib.train.ssd_set import build_ssd_dataset, resolve_end_of_turn, token_shares

MODEL_DIR = os.environ.get("SSD_TEST_MODEL") or str(embedded_model_path())


@pytest.fixture(scope="module")
def tok():
    import transformers

    return transformers.AutoTokenizer.from_pretrained(MODEL_DIR)


def render(problem: str) -> str:
    return "Solve the following competitive math problem.\n" + problem


def make_tables(responses, correct=None, finish=None, n_per_prompt=1):
    """Samples/problems tables with one prompt per ``n_per_prompt`` responses."""
    n = len(responses)
    ids = [f"p{i // n_per_prompt}" for i in range(n)]
    samples = pd.DataFrame(
        {
            "prompt_id": ids,
            "sample_idx": [i % n_per_prompt for i in range(n)],
            "config_id": "t1.1_k20_p0.95",
            "model_id": "smol",
            "prompt_hash": "h",
            "response": responses,
            "n_tokens": 0,
            "finish_reason": finish if finish is not None else ["stop"] * n,
        }
    )
    if correct is not None:
        samples["correct"] = correct
    uniq = sorted(set(ids), key=lambda x: int(x[1:]))
    problems = pd.DataFrame({"id": uniq, "problem": [f"What is {u}?" for u in uniq], "answer": "1"})
    return samples, problems


def build(tok, samples, problems, **kw):
    kw.setdefault("max_length", 4096)
    return build_ssd_dataset(samples, problems, tokenizer=tok, render_prompt=render, **kw)


def test_all_wrong_samples_are_all_kept(tok):
    # A correctness filter (keep only correct) would leave nothing here.
    responses = [f"<think>guess {i}</think> The answer is \\boxed{{{i + 7}}}." for i in range(6)]
    samples, problems = make_tables(responses, correct=[False] * 6)
    ds, rep = build(tok, samples, problems)
    assert len(ds) == 6 and rep["n_kept"] == 6 and rep["n_dropped"] == 0
    assert rep["rates_all"]["correct"] == 0.0 and rep["rates_kept"]["correct"] == 0.0


def test_correct_and_incorrect_kept_in_equal_proportion(tok):
    # Same-shaped responses, half graded correct: the kept set must keep the 50/50 mix exactly.
    responses = [f"<think>work {i}</think> \\boxed{{{i}}}" for i in range(10)]
    correct = [True, False] * 5
    samples, problems = make_tables(responses, correct=correct, n_per_prompt=2)
    ds, rep = build(tok, samples, problems)
    kept = np.asarray(ds["correct"])
    assert len(kept) == 10 and kept.mean() == pytest.approx(0.5)
    assert (
        rep["rates_kept"]["correct"]
        == pytest.approx(rep["rates_all"]["correct"])
        == pytest.approx(0.5)
    )


def test_over_long_samples_dropped_and_counted_never_truncated(tok):
    short = "<think>a short trace</think> \\boxed{1}"
    samples, problems = make_tables([short, "word " * 400, short])
    prompt_len = len(
        tok(render_turn(tok, render("What is p0?")), add_special_tokens=False)["input_ids"]
    )
    exact = prompt_len + len(tok(short + tok.eos_token, add_special_tokens=False)["input_ids"])

    ds, rep = build(tok, samples, problems, max_length=exact)  # the short ones fit exactly
    assert rep["dropped"]["too_long"] == 1 and rep["n_kept"] == 2
    assert max(ds["n_tokens_total"]) == exact
    for ids, completion in zip(ds["input_ids"], ds["completion"]):
        assert len(ids) <= exact
        assert tok.decode(ids).endswith(completion)  # the whole response is there, untouched
    assert "word word" not in "".join(ds["completion"])  # the long one is gone, not shortened
    assert max(rep["all_total_tokens"]) > exact  # the report still sees its full length

    ds2, rep2 = build(tok, samples, problems, max_length=exact - 1)  # one token less: all dropped
    assert len(ds2) == 0 and rep2["dropped"]["too_long"] == 3


def test_degenerate_and_aborted_dropped_and_counted(tok):
    responses = [
        "",
        "   \n ",
        "ok",
        "<think>long enough reasoning here</think> \\boxed{2}",
        "partial",
    ]
    finish = ["stop", "stop", "stop", "stop", "abort"]
    samples, problems = make_tables(
        responses, correct=[None, None, False, True, None], finish=finish
    )
    ds, rep = build(tok, samples, problems, min_response_tokens=3)
    assert rep["dropped"] == {
        "empty": 2,
        "short": 1,
        "aborted": 1,
        "too_long": 0,
        "shortest": 0,
        "length_stopped": 0,
    }
    assert rep["n_kept"] == 1 and rep["n_samples"] == 5
    assert ds["completion"][0].startswith("<think>long enough")


def test_completion_is_verbatim_reasoning_with_end_of_turn_only_when_stopped(tok):
    # Whitespace around the reasoning is kept exactly (chat templates would normalise it).
    finished = "<think>\n\nLet x = 2.\n\n</think>\n\nSo \\boxed{4}"
    cut = "<think>\nstill thinking and thinking"
    samples, problems = make_tables([finished, cut], finish=["stop", "length"])
    ds, rep = build(tok, samples, problems)
    eot = resolve_end_of_turn(tok)
    assert ds["completion"] == [finished + eot, cut]
    for row in ds:
        n_prompt = row["n_prompt_tokens"]
        mask = np.asarray(row["completion_mask"])
        assert (mask[:n_prompt] == 0).all() and (mask[n_prompt:] == 1).all()
        assert tok.decode(row["input_ids"][:n_prompt]) == row["prompt"]
        assert tok.decode(row["input_ids"][n_prompt:]) == row["completion"]
    assert rep["finish_reason_kept"] == {"stop": 1, "length": 1}


def test_prompt_is_the_generation_prompt(tok):
    samples, problems = make_tables(["x y z"])
    ds, _ = build(tok, samples, problems)
    expected = tok.apply_chat_template(
        [{"role": "user", "content": render("What is p0?")}],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert ds["prompt"][0] == expected


def test_refuses_mixed_configs_missing_problems_and_bad_end_of_turn(tok):
    samples, problems = make_tables(["a b c", "d e f"])
    mixed = samples.assign(config_id=["t0.6", "t1.1"])
    with pytest.raises(ValueError, match="config_id"):
        build(tok, mixed, problems)
    with pytest.raises(ValueError, match="not in problems"):
        build(tok, samples, problems.iloc[:1])
    with pytest.raises(ValueError, match="end-of-turn"):
        build(tok, samples, problems, end_of_turn="<not-a-terminator>")


def _mixed(tok):
    """Finished, length-stopped (long) and degenerate samples, as a real SSD draw has them."""
    responses = [
        "<think>" + "step " * 5 + "</think> \\boxed{1}",
        "<think>" + "a longer line of work " * 20,  # hit the cap
        "<think>" + "x " * 3 + "</think> \\boxed{2}",
        "",
        "<think>" + "more work here " * 30,  # hit the cap
        "<think>ok</think> \\boxed{3}",
        "<think>" + "check " * 12 + "</think> \\boxed{4}",
        "<think>" + "y " * 8 + "</think> \\boxed{5}",
    ]
    finish = ["stop", "length", "stop", "stop", "length", "stop", "stop", "stop"]
    return make_tables(responses, finish=finish)


def test_token_shares_add_up_and_weigh_long_traces(tok):
    samples, problems = _mixed(tok)
    ds, rep = build(tok, samples, problems, min_response_tokens=3)
    shares = token_shares(rep).set_index("category")
    cats = ["finished", "length-stopped", "dropped"]
    assert shares.loc[cats, "share_of_samples"].sum() == pytest.approx(1.0)
    assert shares.loc[cats, "share_of_tokens"].sum() == pytest.approx(1.0)
    assert shares.loc[
        ["finished", "length-stopped"], "share_of_training_tokens"
    ].sum() == pytest.approx(1.0)
    assert shares.loc[cats, "samples"].sum() == rep["n_samples"] == 8
    assert shares.loc["length-stopped", "samples"] == 2 and shares.loc["dropped", "samples"] == 1
    # Two of seven kept samples, but most of the loss-bearing tokens: what the table is for.
    assert shares.loc["length-stopped", "share_of_samples"] == pytest.approx(2 / 8)
    assert shares.loc["length-stopped", "share_of_training_tokens"] > 0.5
    # Token counts are the trained ones: kept rows' completion tokens, exactly.
    trained = shares.loc[["finished", "length-stopped"], "completion_tokens"].sum()
    assert trained == sum(ds["n_completion_tokens"])


def test_drop_shortest_fraction_by_characters_and_drop_length_stopped(tok):
    samples, problems = _mixed(tok)
    ds, rep = build(tok, samples, problems, drop_shortest_fraction=0.3)
    # 7 non-empty candidates -> floor(0.3 * 7) = 2 dropped: the two shortest by characters.
    assert rep["dropped"]["shortest"] == 2 and rep["dropped"]["empty"] == 1
    cand = samples[samples.response != ""]
    shortest = set(cand.assign(n=cand.response.str.len()).nsmallest(2, "n", keep="first").prompt_id)
    assert shortest.isdisjoint(set(ds["prompt_id"])) and len(ds) == 5
    # Their would-be tokens are counted under "dropped", not lost.
    assert token_shares(rep).set_index("category").loc["dropped", "completion_tokens"] > 0
    ds2, rep2 = build(tok, samples, problems, drop_length_stopped=True)
    assert rep2["dropped"]["length_stopped"] == 2 and set(ds2["finish_reason"]) == {"stop"}
    sh = token_shares(rep2).set_index("category")
    assert sh.loc["length-stopped", "samples"] == 0
    assert sh.loc["finished", "share_of_training_tokens"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="drop_shortest_fraction"):
        build(tok, samples, problems, drop_shortest_fraction=1.0)
