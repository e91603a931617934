"""The lock/fork study of 06, end to end: pick the base model's own responses, re-render their
prompts (checked by hash against generation), score every position under the base model, the SSD
checkpoint and its control, compare on shared classes, and write one verdict row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from ssdlib.lockfork.analysis import LockForkComparison, lock_fork_compare, lock_fork_summary
from ssdlib.lockfork.score_cache import cached_score_positions
from ssdlib.prompts import check_prompt_hashes


def pick_responses(samples: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` non-empty responses for the lock/fork test, spread over prompts, deterministically.

    Sample 0 of every prompt first (in prompt order), then sample 1, ...: as many distinct
    problems as possible, since positions within one response are not independent.
    """
    ok = samples[samples["response"].fillna("").str.strip() != ""]
    ordered = ok.sort_values(["sample_idx", "prompt_id"], kind="stable")
    return ordered.head(n).reset_index(drop=True)


def lockfork_engine_kwargs(backend: str, device: str) -> dict | None:
    """vLLM scoring on CPU starts much faster eager; on GPU CUDA graphs are kept."""
    return {"enforce_eager": True} if backend == "vllm" and device == "cpu" else None


@dataclass
class LockForkStudy:
    comparison: LockForkComparison
    base_scores: pd.DataFrame
    model_scores: dict[str, pd.DataFrame]  # "SSD" (and "control") -> scores
    picked: pd.DataFrame  # the scored responses
    verdict_row: pd.DataFrame  # one row: settings, thresholds, the three verdicts
    seconds: float  # scoring wall time
    n_cached: int = 0  # models whose scores came from the cache (0..3)


def lockfork_study(
    base_rows: pd.DataFrame,
    rendered: pd.DataFrame,
    *,
    base_path: str,
    scored: Mapping[str, str],
    lf,
    device: str,
    labels: Mapping[str, str],
    cache_dir=None,
) -> LockForkStudy:
    """Run the study on the base model's graded rows at the eval decode.

    ``rendered``: prompt_id -> prompt_text, prompt_hash (``ssdlib.generation.render_prompts``,
    indexed by prompt_id), re-rendered now and checked against the hashes stored with the
    samples. ``scored``: "SSD" (and optionally "control") -> model path. ``lf``: the
    ``lockfork`` block of 06's params. ``labels``: "SSD"/"control" -> the model names the tables
    show (e.g. ``ckpt-4``, ``control-4``). ``cache_dir``: scores are read from / written to
    this folder (:mod:`ssdlib.lockfork.score_cache`, keyed by weights, texts and settings), so a
    rerun scores nothing; None scores every time.
    """
    picked = pick_responses(base_rows, lf.n_responses)
    check_prompt_hashes(
        rendered.loc[picked.prompt_id, "prompt_text"],
        picked.prompt_hash,
        picked.prompt_id,
        what="lock/fork prompts",
    )
    prompts = rendered.loc[picked.prompt_id, "prompt_text"].tolist()
    responses = picked.response.tolist()
    kw = dict(
        top_k=lf.top_k,
        backend=lf.backend,
        batch_size=lf.batch_size,
        max_positions=lf.max_positions,
        chat=False,
        dtype=lf.dtype,
        chunk_tokens=lf.chunk_tokens,
        engine_kwargs=lockfork_engine_kwargs(lf.backend, device),
    )
    t0 = time.monotonic()
    cached = []

    def score(path):
        scores, hit = cached_score_positions(cache_dir, path, prompts, responses, **kw)
        cached.append(hit)
        return scores

    base_scores = score(base_path)
    model_scores = {name: score(path) for name, path in scored.items()}
    seconds = time.monotonic() - t0
    ctrl_kw = dict(treatment="SSD", reference="control") if "control" in model_scores else {}
    lfc = lock_fork_compare(base_scores, model_scores, lf, **ctrl_kw)
    biased = lock_fork_summary(
        base_scores, model_scores["SSD"], {**lf.model_dump(), "classify_on": "base"}
    ).verdict
    row = pd.DataFrame(
        [
            {
                "checkpoint": labels["SSD"],
                "control": labels.get("control") if "control" in scored else None,
                "n_responses": len(picked),
                "n_positions": len(base_scores),
                "backend": lf.backend,
                "dtype": lf.dtype,
                "entropy_col": lf.entropy_col,
                "classify_on": lf.classify_on,
                "lock_threshold_nats": lfc.thresholds["lock_threshold"],
                "fork_threshold_nats": lfc.thresholds["fork_threshold"],
                "verdict": lfc.summaries["SSD"].verdict,
                "control_verdict": lfc.summaries["control"].verdict
                if "control" in lfc.summaries
                else None,
                "ssd_minus_control": lfc.contrast_verdict or None,
                "verdict_if_classed_by_base_only": biased,
            }
        ]
    )
    return LockForkStudy(lfc, base_scores, model_scores, picked, row, seconds, sum(cached))
