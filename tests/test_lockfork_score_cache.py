"""Lock/fork score cache (ssdlib.lockfork.score_cache): a rerun reads scores instead of scoring;
any change to the weights, texts or settings scores again."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from ssdlib.lockfork import score_cache
from ssdlib.lockfork.score_cache import cached_score_positions, weights_digest

PROMPTS = [
    "<|im_start|>user\nWhat is $3 + 4$?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nFind $\\gcd(12, 18)$.<|im_end|>\n<|im_start|>assistant\n",
]
RESPONSES = ["3 + 4 = 7. The final answer is \\boxed{7}.", "The gcd is \\boxed{6}."]
KW = dict(top_k=5, batch_size=2, chat=False, dtype="float32", device="cpu")


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_llama):
    root = tmp_path_factory.mktemp("models")
    return tuple(
        tiny_llama(root / name, seed=seed, hidden_size=16, num_hidden_layers=1)
        for name, seed in (("a", 0), ("b", 1))
    )


@pytest.fixture()
def calls(monkeypatch):
    """Count real scoring calls (the real scorer still runs)."""
    from ssdlib.lockfork import scoring

    n = {"calls": 0}
    real = scoring.score_positions

    def counting(*a, **k):
        n["calls"] += 1
        return real(*a, **k)

    monkeypatch.setattr(scoring, "score_positions", counting)
    return n


def same_scores(x: pd.DataFrame, y: pd.DataFrame) -> None:
    assert list(x.columns) == list(y.columns) and len(x) == len(y) > 0
    for c in x.columns:
        if c in ("topk_ids", "topk_logprobs"):
            np.testing.assert_array_equal(np.stack(x[c]), np.stack(y[c]))
        else:
            np.testing.assert_array_equal(x[c].to_numpy(), y[c].to_numpy())


def test_second_call_reads_the_cache_and_returns_the_same_scores(models, tmp_path, calls):
    a, _ = models
    first, hit1 = cached_score_positions(tmp_path, a, PROMPTS, RESPONSES, **KW)
    second, hit2 = cached_score_positions(tmp_path, a, PROMPTS, RESPONSES, **KW)
    assert (hit1, hit2) == (False, True) and calls["calls"] == 1
    same_scores(first, second)
    # the cached frame works where scores are used: stacked top-k arrays, numeric columns
    assert np.stack(second["topk_logprobs"]).shape == (len(second), KW["top_k"])


def test_other_weights_texts_or_settings_score_again(models, tmp_path, calls):
    a, b = models
    base, _ = cached_score_positions(tmp_path, a, PROMPTS, RESPONSES, **KW)
    other, hit = cached_score_positions(tmp_path, b, PROMPTS, RESPONSES, **KW)
    assert not hit and not np.allclose(base["token_logprob"], other["token_logprob"])
    assert not cached_score_positions(tmp_path, a, PROMPTS, RESPONSES[::-1], **KW)[1]
    assert not cached_score_positions(tmp_path, a, PROMPTS, RESPONSES, **{**KW, "top_k": 4})[1]
    assert calls["calls"] == 4


def test_retrained_weights_in_the_same_folder_are_not_served_stale(models, tmp_path):
    a, b = models
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for p in a.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    memo = tmp_path / "cache" / "weights.json"
    before = weights_digest(folder, memo)
    assert weights_digest(folder, memo) == before  # memoised, same answer
    w = folder / "model.safetensors"
    w.write_bytes((b / "model.safetensors").read_bytes())  # overwritten by a new training run
    os.utime(w, ns=(w.stat().st_atime_ns, w.stat().st_mtime_ns + 10**9))
    assert weights_digest(folder, memo) != before
    (folder / "optimizer.pt").write_bytes(b"trainer state is not weights")
    assert weights_digest(folder, memo) == weights_digest(b, memo)


def test_no_cache_dir_scores_every_time(models, calls):
    a, _ = models
    assert not cached_score_positions(None, a, PROMPTS, RESPONSES, **KW)[1]
    assert not cached_score_positions(None, a, PROMPTS, RESPONSES, **KW)[1]
    assert calls["calls"] == 2


def test_a_folder_without_weights_is_an_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no weight files"):
        score_cache.weights_digest(tmp_path)
