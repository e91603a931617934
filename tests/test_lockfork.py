"""Tests for ssdlib.lockfork and ssdlib.lockfork.figures.

Fast tests use a tiny random Llama (2 layers, hidden 32) over the SmolLM2 tokenizer. The slow
test runs vLLM on the embedded model; on the shared CPU box run it under the vLLM lock:
    flock /tmp/ssd-vllm.lock pytest -m slow tests/test_lockfork.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssdlib import lockfork as lf
from ssdlib.lockfork import scoring as lf_scoring
from ssdlib.models import embedded_model_path

MODEL = os.environ.get("SSD_TEST_MODEL") or str(embedded_model_path())

PROMPTS = ["What is 2+3?", "Compute 7*8 and box it."]
RESPONSES = ["2+3 = 5, so the answer is \\boxed{5}.", "7*8 = 56.\n\\boxed{56}"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_llama) -> Path:
    """A random 2-layer Llama (hidden 32) saved with the real tokenizer."""
    return tiny_llama(tmp_path_factory.mktemp("tiny"), seed=0, hidden_size=32, num_hidden_layers=2)


def _manual(path: Path, prompt: str, response: str):
    """Full-vocabulary log-softmax at each response position, by a plain forward pass."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    text = tok.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )
    p = tok(text, add_special_tokens=False)["input_ids"]
    r = tok(response, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([p + r])).logits[0]
    logp = torch.log_softmax(logits.double(), -1)[len(p) - 1 : len(p) + len(r) - 1]
    return logp.numpy(), np.array(r)


# --------------------------------------------------------------------------- entropy


def test_topk_entropy_by_hand():
    lp = np.log([[0.5, 0.3], [0.9, 0.1]])
    ent, out = lf.topk_entropy(lp)
    q = np.array([0.5, 0.3]) / 0.8
    assert ent[0] == pytest.approx(-(q * np.log(q)).sum())
    assert out == pytest.approx([0.2, 0.0], abs=1e-12)
    # The tail of 0.2 packed at p_min = 0.3 adds 0.2 * -log(0.3) to the head's -sum p log p.
    lb = lf.topk_entropy_lower_bound(lp)
    assert lb[0] == pytest.approx(-(0.5 * np.log(0.5) + 0.3 * np.log(0.3)) - 0.2 * np.log(0.3))
    assert lb[1] == pytest.approx(-(0.9 * np.log(0.9) + 0.1 * np.log(0.1)))


def test_topk_entropy_against_full_softmax():
    """k = vocab gives the exact entropy; small k gives the entropy of the softmax over the
    top-k LOGITS (a different route to the same renormalised distribution); the tail-corrected
    value never exceeds the full entropy."""
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(64, 500))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    full = -(np.exp(logp) * logp).sum(-1)
    srt = -np.sort(-logp, axis=-1)
    ent, out = lf.topk_entropy(srt)
    assert ent == pytest.approx(full, abs=1e-9)
    assert out == pytest.approx(0.0, abs=1e-9)
    k = 5
    top_logits = -np.sort(-logits, axis=-1)[:, :k]
    q = np.exp(top_logits - top_logits.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    ent_k, out_k = lf.topk_entropy(srt[:, :k])
    assert ent_k == pytest.approx(-(q * np.log(q)).sum(-1), abs=1e-9)
    assert out_k == pytest.approx(1 - np.exp(srt[:, :k]).sum(-1), abs=1e-12)
    lb = lf.topk_entropy_lower_bound(srt[:, :k])
    assert (lb <= full + 1e-9).all()
    assert (lb >= -(np.exp(srt[:, :k]) * srt[:, :k]).sum(-1) - 1e-12).all()


# --------------------------------------------------------------------------- scoring


def test_transformers_scoring_matches_manual_forward(tiny_model):
    df = lf.score_positions(tiny_model, PROMPTS, RESPONSES, top_k=7, batch_size=2)
    assert list(df.columns) == list(lf.SCORE_COLUMNS)
    for i, (p, r) in enumerate(zip(PROMPTS, RESPONSES)):
        logp, r_ids = _manual(tiny_model, p, r)
        sub = df[df["response_idx"] == i]
        assert sub["position"].tolist() == list(range(len(r_ids)))  # response positions only
        assert (sub["token_id"].to_numpy() == r_ids).all()
        np.testing.assert_allclose(
            sub["token_logprob"], logp[np.arange(len(r_ids)), r_ids], atol=1e-4
        )
        np.testing.assert_allclose(sub["entropy_full"], -(np.exp(logp) * logp).sum(-1), atol=1e-4)
        top = np.stack(sub["topk_logprobs"])
        np.testing.assert_allclose(top, -np.sort(-logp, axis=-1)[:, :7], atol=1e-4)
        ranks = (logp >= logp[np.arange(len(r_ids)), r_ids][:, None]).sum(-1)
        assert (sub["token_rank"].to_numpy() == ranks).all()
    # The random model is far from uniform yet not one-hot: the test has something to see.
    assert df["entropy_full"].between(0.05, np.log(49152) - 0.5).all()
    # Renormalised top-k ignores the tail: below the exact entropy wherever the tail is heavy.
    heavy = df["mass_outside_topk"] > 0.05
    assert heavy.any() and (df.loc[heavy, "entropy_topk"] < df.loc[heavy, "entropy_full"]).all()
    assert (df["entropy_tail_lb"] <= df["entropy_full"] + 1e-4).all()


def test_scoring_independent_of_batching_and_truncation(tiny_model):
    """Right padding in a batch and max_positions must not change any score."""
    prompts, responses = PROMPTS + ["Hi"], RESPONSES + ["a much longer response " * 4]
    one = lf.score_positions(tiny_model, prompts, responses, top_k=4, batch_size=1)
    three = lf.score_positions(tiny_model, prompts, responses, top_k=4, batch_size=3, logit_chunk=3)
    num = ["token_logprob", "entropy_topk", "entropy_full", "mass_outside_topk"]
    np.testing.assert_allclose(one[num], three[num], atol=1e-4)
    assert (one["token_id"] == three["token_id"]).all()
    short = lf.score_positions(tiny_model, prompts, responses, top_k=4, max_positions=5)
    assert short.groupby("response_idx").size().max() == 5
    ref = one[one["position"] < 5].reset_index(drop=True)
    np.testing.assert_allclose(short[num], ref[num], atol=1e-4)


def test_full_vocab_topk_equals_exact_entropy(tiny_model):
    df = lf.score_positions(tiny_model, PROMPTS[:1], ["x = 5"], top_k=49152)
    np.testing.assert_allclose(df["entropy_topk"], df["entropy_full"], atol=1e-4)
    np.testing.assert_allclose(df["mass_outside_topk"], 0.0, atol=1e-4)


def test_empty_response_gives_no_rows_and_bad_backend_raises(tiny_model):
    df = lf.score_positions(tiny_model, PROMPTS, ["", RESPONSES[1]], top_k=3)
    assert set(df["response_idx"]) == {1}
    with pytest.raises(ValueError, match="backend"):
        lf.score_positions(tiny_model, PROMPTS, RESPONSES, backend="nope")


# --------------------------------------------------------------------------- classification


def _scores(
    ent: np.ndarray,
    mass: np.ndarray | None = None,
    top1_hit: np.ndarray | None = None,
    n_pos: int | None = None,
) -> pd.DataFrame:
    """A score frame from per-position entropies [n_resp, n_pos] (other columns consistent)."""
    ent = np.atleast_2d(ent)
    n_resp, n_pos = ent.shape
    mass = np.zeros_like(ent) if mass is None else mass
    hit = np.ones_like(ent, bool) if top1_hit is None else top1_hit
    tok = np.arange(ent.size) % 97
    return pd.DataFrame(
        {
            "response_idx": np.repeat(np.arange(n_resp), n_pos),
            "position": np.tile(np.arange(n_pos), n_resp),
            "token_id": tok,
            "token_logprob": -ent.ravel(),
            "token_rank": np.where(hit.ravel(), 1, 2),
            "topk_ids": [np.array([t if h else t + 1, t + 2]) for t, h in zip(tok, hit.ravel())],
            "topk_logprobs": [np.array([-0.1, -2.0])] * ent.size,
            "entropy_topk": ent.ravel(),
            "entropy_tail_lb": ent.ravel(),
            "mass_outside_topk": mass.ravel(),
            "entropy_full": ent.ravel(),
        }
    )


def test_classify_quantiles_and_absolute_thresholds():
    base = _scores(np.linspace(0, 3, 100).reshape(4, 25))
    lab = lf.classify_positions(base, lock_quantile=0.5, fork_quantile=0.9)
    assert lab.value_counts().to_dict() == {"lock": 50, "middle": 40, "fork": 10}
    assert (base["entropy_topk"][lab == "lock"] <= lab.attrs["lock_threshold"]).all()
    assert (
        base["entropy_topk"][lab == "fork"] >= base["entropy_topk"][lab == "middle"].max()
    ).all()
    # Absolute nats override the quantiles.
    lab = lf.classify_positions(base, lock_threshold=0.3, fork_threshold=2.0)
    assert lab.attrs["lock_threshold"] == 0.3
    assert (lab == "lock").sum() == (base["entropy_topk"] <= 0.3).sum()
    assert (lab == "fork").sum() == (base["entropy_topk"] >= 2.0).sum()
    with pytest.raises(ValueError, match="below"):
        lf.classify_positions(base, lock_threshold=2.0, fork_threshold=1.0)
    # Many exact-zero entropies (very common at locks) must not collapse the two thresholds silently.
    with pytest.raises(ValueError, match="ties"):
        lf.classify_positions(_scores(np.zeros((2, 10))))


def test_pair_scores_rejects_mismatched_tokens():
    base = _scores(np.ones((2, 5)))
    ssd = base.copy()
    ssd.loc[3, "token_id"] += 1
    with pytest.raises(ValueError, match="token ids differ"):
        lf.pair_scores(base, ssd)
    with pytest.raises(ValueError, match="shared"):
        lf.pair_scores(base, base.iloc[:-1])


# --------------------------------------------------------------------------- bootstrap


def _clustered(rng, n_resp=60, n_pos=40, shift=-0.2, sd_resp=0.5, sd_pos=0.1):
    """Per-position deltas with a strong response effect (positions within a response move
    together), true mean ``shift``."""
    return shift + rng.normal(0, sd_resp, (n_resp, 1)) + rng.normal(0, sd_pos, (n_resp, n_pos))


def test_cluster_bootstrap_covers_known_shift():
    rng = np.random.default_rng(1)
    cover = cover_naive = 0
    n_rep = 200
    for rep in range(n_rep):
        d = _clustered(rng)
        clusters = np.repeat(np.arange(d.shape[0]), d.shape[1])
        est, lo, hi = lf.cluster_bootstrap_ci(d.ravel(), clusters, n_boot=300, seed=rep)
        assert lo <= est <= hi
        cover += lo <= -0.2 <= hi
        if rep >= 40:  # the naive check below needs fewer reps to be clear
            continue
        # Treating positions as independent: the CI the clustered bootstrap exists to avoid.
        _, nlo, nhi = lf.cluster_bootstrap_ci(d.ravel(), np.arange(d.size), n_boot=300, seed=rep)
        cover_naive += nlo <= -0.2 <= nhi
    assert 0.88 <= cover / n_rep <= 0.99
    assert cover_naive / 40 < 0.6


def _synthetic_pair(seed=0, n_resp=80, n_pos=50, lock_shift=-0.1, fork_shift=0.0):
    rng = np.random.default_rng(seed)
    base_ent = rng.gamma(0.6, 0.8, (n_resp, n_pos))
    base = _scores(base_ent, mass=0.02 * np.exp(-base_ent) + 0.01)
    lab = lf.classify_positions(base, lock_quantile=0.5, fork_quantile=0.9)
    is_lock = (lab == "lock").to_numpy().reshape(n_resp, n_pos)
    is_fork = (lab == "fork").to_numpy().reshape(n_resp, n_pos)
    noise = rng.normal(0, 0.02, (n_resp, 1)) + rng.normal(0, 0.02, (n_resp, n_pos))
    ssd_ent = base_ent + noise + lock_shift * is_lock + fork_shift * is_fork
    ssd = _scores(
        np.clip(ssd_ent, 0, None),
        mass=np.where(is_lock, 0.003, 0.02 * np.exp(-base_ent) + 0.01),
        top1_hit=~(is_fork & (rng.random((n_resp, n_pos)) < 0.3)),
    )
    return base, ssd


def test_summary_recovers_sharper_locks_and_preserved_forks():
    base, ssd = _synthetic_pair()
    s = lf.lock_fork_summary(base, ssd, {"n_boot": 500})
    c = s.comparison.set_index("class")
    assert c.loc["lock", "delta_entropy_hi"] < 0
    assert (
        c.loc["lock", "delta_entropy_lo"]
        <= c.loc["lock", "delta_entropy"]
        <= c.loc["lock", "delta_entropy_hi"]
    )
    assert c.loc["fork", "delta_entropy_lo"] > -0.05 and c.loc["fork", "delta_entropy_hi"] < 0.05
    assert c.loc["lock", "ssd_mass_outside_topk"] < c.loc["lock", "base_mass_outside_topk"]
    assert c.loc["fork", "ssd_top1_match"] < c.loc["fork", "base_top1_match"] == 1.0
    assert c.loc["all", "n_positions"] == len(base)
    assert c.loc[["lock", "middle", "fork"], "n_positions"].sum() == len(base)
    assert s.verdict.startswith("locks sharper") and "forks preserved" in s.verdict
    assert set(s.table["metric"]) == {"entropy", "mass_outside_topk", "token_logprob", "top1_match"}
    assert len(s.table) == 4 * 4
    # A real fork collapse is called out, not hidden behind "preserved".
    _, collapsed = _synthetic_pair(fork_shift=-0.3)
    assert "forks sharpened" in lf.lock_fork_summary(base, collapsed, {"n_boot": 300}).verdict
    with pytest.raises(ValueError, match="unknown"):
        lf.lock_fork_summary(base, ssd, {"fork_quantil": 0.8})
    # The params/ lockfork block (scoring keys included) is accepted as is.
    from ssdlib.config import LockForkCfg

    cfg = LockForkCfg(
        n_responses=8, top_k=20, fork_quantile=0.8, lock_quantile=0.4, max_positions=128
    )
    lab = lf.lock_fork_summary(base, ssd, cfg).labels
    assert (lab == "fork").mean() == pytest.approx(0.2, abs=0.01)


# --------------------------------------------------------------------------- figures


def test_figures_state_the_finding():
    import matplotlib.pyplot as plt

    from ssdlib.lockfork import figures as fl

    base, ssd = _synthetic_pair()
    lab = lf.classify_positions(base)
    d = lf.compare_models(base, ssd, lab, n_boot=10).set_index("class")["delta_entropy"]
    assert d["lock"] < -0.02  # clipping at 0 nats eats part of the -0.1 shift
    f1 = fl.plot_entropy_by_class(base, ssd, lab)
    assert (
        f"lock entropy {d['lock']:+.3f}, fork entropy {d['fork']:+.3f}" in f1._suptitle.get_text()
    )
    f2 = fl.plot_entropy_scatter(base, ssd, lab, max_points=500)
    assert "sharper at" in f2.axes[0].get_title() and "%" in f2.axes[0].get_title()
    f3 = fl.plot_lock_tail_mass(base, ssd, lab)
    assert f3.axes[0].get_title().startswith("SSD cuts the tail")
    for f in (f1, f2, f3):
        plt.close(f)


# --------------------------------------------------------------------------- vLLM


@pytest.mark.slow
def test_vllm_backend_matches_transformers():
    """Same tokens, same top-k: vLLM prompt_logprobs vs an exact float32 forward pass."""
    __import__("vllm")
    k = 5
    hf = lf.score_positions(MODEL, PROMPTS, RESPONSES, top_k=k, dtype="float32")
    vl = lf.score_positions(
        MODEL,
        PROMPTS,
        RESPONSES,
        top_k=k,
        backend="vllm",
        dtype="float32",
        engine_kwargs={"enforce_eager": True},
    )
    assert len(hf) == len(vl) > 10
    assert (
        (
            hf[["response_idx", "position", "token_id"]]
            == vl[["response_idx", "position", "token_id"]]
        )
        .all()
        .all()
    )
    top_hf, top_vl = np.stack(hf["topk_logprobs"]), np.stack(vl["topk_logprobs"])
    diff = np.abs(top_hf - top_vl).max()
    tok_diff = np.abs(hf["token_logprob"] - vl["token_logprob"]).max()
    print(
        f"max |Δ top-k logprob| = {diff:.2e}, max |Δ token logprob| = {tok_diff:.2e}, "
        f"max |Δ entropy_topk| = {np.abs(hf['entropy_topk'] - vl['entropy_topk']).max():.2e}"
    )
    assert diff < 1e-2 and tok_diff < 1e-2
    # Top-1 agrees wherever it is not a near tie.
    clear = (top_hf[:, 0] - top_hf[:, 1]) > 1e-2
    assert (np.stack(hf["topk_ids"])[clear, 0] == np.stack(vl["topk_ids"])[clear, 0]).all()
    assert vl["entropy_full"].isna().all() and hf["entropy_full"].notna().all()


# --------------------------------------------------------------------------- noise-only check


def _noisy_copies(seed: int, n_resp=60, n_pos=60, vocab=64, top_k=20, noise=1.0):
    """Two models that differ ONLY by noise: the same true logits per position, each model
    adding its own independent logit noise; scored into real score frames (top-k log-probs
    from a full softmax), so entropies, tail mass and top-1 are all consistent."""
    rng = np.random.default_rng(seed)
    # Per-position sharpness varies a lot (locks and forks both occur).
    scale = rng.gamma(1.2, 2.0, (n_resp, n_pos, 1))
    true = rng.normal(0, 1, (n_resp, n_pos, vocab)) * scale
    tokens = true.argmax(-1)

    def frame(logits):
        logp = (
            logits
            - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
            - logits.max(-1, keepdims=True)
        )
        order = np.argsort(-logp, axis=-1)[..., :top_k]
        top_lp = np.take_along_axis(logp, order, -1)
        parts = []
        for r in range(n_resp):
            tok_lp = logp[r, np.arange(n_pos), tokens[r]]
            rank = (logp[r] >= tok_lp[:, None]).sum(-1)
            ent = -(np.exp(logp[r]) * logp[r]).sum(-1)
            parts.append(lf_scoring._rows(r, tokens[r], tok_lp, rank, order[r], top_lp[r], ent))
        return lf_scoring._frame(parts)

    a = frame(true + rng.normal(0, noise, true.shape))
    b = frame(true + rng.normal(0, noise, true.shape))
    return a, b


FLAGGED = ("sharper", "flatter", "sharpened", "flattened")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_only_copies_do_not_read_as_sharpened_or_flattened(seed):
    a, b = _noisy_copies(seed)
    # Before (class by the base model alone): regression to the mean reads as a change.
    before = lf.lock_fork_summary(a, b, {"n_boot": 400, "classify_on": "base"})
    cb = before.comparison.set_index("class")
    assert cb.loc["fork", "delta_entropy_hi"] < 0 and "forks sharpened" in before.verdict
    assert cb.loc["lock", "delta_entropy_lo"] > 0
    # After (class by the mean of both models): no class moves.
    after = lf.lock_fork_summary(a, b, {"n_boot": 400})
    ca = after.comparison.set_index("class")
    assert after.labels.attrs["classify_on"] == "mean"
    for cls in ("lock", "fork"):
        assert ca.loc[cls, "delta_entropy_lo"] < 0 < ca.loc[cls, "delta_entropy_hi"], cls
    assert not any(w in after.verdict for w in FLAGGED), after.verdict
    # Swapping the two models' roles changes only the sign: the criterion favours neither.
    swapped = lf.lock_fork_summary(b, a, {"n_boot": 400}).comparison.set_index("class")
    assert swapped.loc["fork", "delta_entropy"] == pytest.approx(-ca.loc["fork", "delta_entropy"])


def test_compare_side_by_side_with_control_shares_classes():
    a, b = _noisy_copies(3, n_resp=40, n_pos=40)
    base, ctrl = a, b
    # "SSD": the control's logits plus a lock sharpening, built from the base scores.
    ssd = ctrl.copy()
    low = ssd["entropy_topk"] < ssd["entropy_topk"].quantile(0.5)
    ssd.loc[low, "entropy_topk"] *= 0.5
    cmp = lf.lock_fork_compare(
        base, {"SSD": ssd, "control": ctrl}, {"n_boot": 300}, treatment="SSD", reference="control"
    )
    assert set(cmp.side_by_side["model"]) == {"SSD", "control"}
    assert cmp.summaries["SSD"].labels is cmp.summaries["control"].labels
    sbs = cmp.side_by_side.set_index(["model", "class"])
    assert sbs.loc[("SSD", "lock"), "reading"] == "sharper"
    assert sbs.loc[("control", "fork"), "reading"] not in ("sharper", "flatter")
    c = cmp.contrast.set_index("class")
    assert c.loc["lock", "delta_entropy_hi"] < 0  # SSD sharper than the control at locks
    assert (
        "locks SSD - control" in cmp.contrast_verdict
        and "sharper than control" in cmp.contrast_verdict
    )
    with pytest.raises(ValueError, match="not scored"):
        lf.lock_fork_compare(base, {"SSD": ssd.iloc[:-5]}, {"n_boot": 100})


def test_chunked_teacher_forcing_matches_one_forward(tiny_model):
    full = lf.score_positions(tiny_model, PROMPTS, RESPONSES, top_k=5, device="cpu")
    chunked = lf.score_positions(
        tiny_model, PROMPTS, RESPONSES, top_k=5, device="cpu", chunk_tokens=7, batch_size=2
    )
    assert len(full) == len(chunked) > 0
    for col in ("token_logprob", "entropy_topk", "entropy_full", "mass_outside_topk"):
        np.testing.assert_allclose(chunked[col], full[col], atol=2e-5, err_msg=col)
    # Ranks can swap between near-tied logits at float32 rounding (a random tiny model has many);
    # anything beyond a neighbour swap would be a real misalignment of the chunks.
    same = chunked["token_rank"] == full["token_rank"]
    assert same.mean() > 0.95 and (chunked["token_rank"] - full["token_rank"]).abs().max() <= 2


def test_side_by_side_figure_states_each_reading():
    import matplotlib.pyplot as plt

    from ssdlib.lockfork.figures import plot_deltas_side_by_side

    a, b = _noisy_copies(4, n_resp=30, n_pos=30)
    ssd = b.copy()
    ssd.loc[ssd["entropy_topk"] < ssd["entropy_topk"].quantile(0.5), "entropy_topk"] *= 0.5
    cmp = lf.lock_fork_compare(
        a, {"SSD": ssd, "control": b}, {"n_boot": 200}, treatment="SSD", reference="control"
    )
    fig = plot_deltas_side_by_side(cmp.side_by_side, contrast_verdict=cmp.contrast_verdict)
    sbs = cmp.side_by_side.set_index(["model", "class"])["reading"]
    assert fig._suptitle.get_text() == (
        f"SSD: locks {sbs[('SSD', 'lock')]}, forks {sbs[('SSD', 'fork')]}; "
        f"control: locks {sbs[('control', 'lock')]}, forks {sbs[('control', 'fork')]}"
    )
    assert sbs[("SSD", "lock")] == "sharper"
    plt.close(fig)


# Hand-written worked answers (about 40-60 tokens each) in the shape of model responses.
NOISE_PROMPTS = [
    f"Compute {a} * {b} + {c}."
    for a, b, c in [
        (12, 7, 5),
        (23, 4, 19),
        (9, 9, 9),
        (31, 3, 2),
        (15, 6, 11),
        (8, 27, 4),
        (44, 2, 13),
        (17, 5, 30),
    ]
]
NOISE_RESPONSES = [
    f"First multiply: {a} * {b} = {a * b}. Then add {c}: {a * b} + {c} = {a * b + c}. "
    f"Check: {a * b + c} - {c} = {a * b}, and {a * b} / {b} = {a}. The answer is \\boxed{{{a * b + c}}}."
    for a, b, c in [
        (12, 7, 5),
        (23, 4, 19),
        (9, 9, 9),
        (31, 3, 2),
        (15, 6, 11),
        (8, 27, 4),
        (44, 2, 13),
        (17, 5, 30),
    ]
]


@pytest.mark.slow
def test_noise_only_real_model_copy_is_not_sharpened_or_flattened(tmp_path):
    """Two copies of the real embedded model, each with its own tiny weight perturbation (2% of
    each tensor's std, independent seeds): nothing was trained and the two are exchangeable, so
    the lock/fork analysis must read neither class as changed.

    Why not "the base model vs one perturbed copy": weight noise itself flattens the model a
    little (measured here: forks +0.03 nats, CI excluding 0, on these responses), a real
    difference between the two models rather than noise, so that pair cannot tell the
    analysis's bias from a true change. bench/lockfork_noise.py prints both pairs.
    """
    a_dir = lf.perturbed_copy(MODEL, tmp_path / "a", rel_std=0.02, seed=2)
    b_dir = lf.perturbed_copy(MODEL, tmp_path / "b", rel_std=0.02, seed=3)
    kw = dict(top_k=20, device="cpu", batch_size=4)
    a = lf.score_positions(a_dir, NOISE_PROMPTS, NOISE_RESPONSES, **kw)
    b = lf.score_positions(b_dir, NOISE_PROMPTS, NOISE_RESPONSES, **kw)
    assert len(a) > 300 and not np.allclose(
        a["entropy_topk"], b["entropy_topk"]
    )  # the copies do differ
    after = lf.lock_fork_summary(a, b, {"n_boot": 1000})
    assert not any(w in after.verdict for w in FLAGGED), after.verdict
