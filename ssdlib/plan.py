"""What a profile's pipeline would do, computed from params alone (no model, no data loaded).

Token budgets are upper bounds: every sample is counted at its ``max_tokens`` cap.
:func:`wall_time` turns them into hours on a given number of GPUs at a stated throughput.
"""

from __future__ import annotations

import math

import pandas as pd

from ssdlib import config as cfg
from ssdlib.generation.decode import baseline_decodes, distinct

# Assumed throughputs for `ssd plan --gpus N` (override with --tok-s / --train-tok-s).
# Generation: vLLM, Qwen3.5-4B with 48k-token responses, per engine on one H200. NOT measured
# here (GPU vLLM cannot run on this workplace's device); inferred from the seeds' "one 2k-prompt
# evaluation (k=1) takes about three hours" with a mean response of ~16k tokens:
# 2,000 x 16,000 / 10,800 s ~= 3,000 tokens/s.
GEN_TOK_S = 3000.0
# SFT: the shipped path (gdn=fused + keep_activation_tokens 327680) measured with bench/train_gpu.py
# on one H200 with gradient accumulation, as the recipe trains (BENCHMARKS.md #14, eighth session):
# 10,216 tokens/s at 48k rows, 12,272 on the realistic length mix; the 48k rate is kept as the
# bound (plain path before it: 7,413 with one row per step).
TRAIN_TOK_S = 10200.0


def _row(notebook, what, prompts=0, samples=0, max_tokens=0, note="", train_tokens=0, train_gpus=0):
    return {
        "notebook": notebook,
        "step": what,
        "prompts": prompts,
        "samples": samples,
        "max_tokens": max_tokens,
        "token_budget": samples * max_tokens,
        "train_tokens": train_tokens,
        "train_gpus": train_gpus,  # processes (one GPU each) the SFT step is configured for
        "note": note,
    }


def plan_profile(profile: str, overrides: list[str] | None = None) -> pd.DataFrame:
    """One row per generation/training step of each notebook, with its worst-case token budget."""
    rows = []

    def load(nb):
        return cfg.load_params(nb, profile, cfg.overrides_for(nb, overrides))

    data = load("01_data")
    n_val = sum(data.val.budgets.values())
    n_val300 = sum(data.val300.budgets.values())
    rows.append(
        _row(
            "01_data",
            f"build train {data.train.size} / val {n_val} / val300 {n_val300}",
            note="sources: " + ", ".join(data.sources),
        )
    )
    con = load("02_contamination")
    rows.append(
        _row(
            "02_contamination",
            f"{con.ngram}-gram Jaccard vs val",
            note=f"thresholds {con.threshold_same_answer} (answers agree) / {con.threshold_diff_answer}",
        )
    )

    base = load("03_baselines")
    # val300 is a subset of val: its samples are reused, so only val's prompts are generated.
    n_base = n_val if "val" in base.budgets else n_val300
    if base.limit_prompts:
        n_base = min(n_base, base.limit_prompts)
    for name, d in distinct(baseline_decodes(base)).items():
        rows.append(
            _row("03_baselines", f"{name} ({d.config_id})", n_base, n_base * d.n, d.max_tokens)
        )

    var = load("04_variance")
    rows.append(
        _row(
            "04_variance", f"reuses 03 preset {var.preset!r} on {var.budget}", note="no generation"
        )
    )

    tr = load("05_train")
    n_train = min(tr.n_prompts or data.train.size, data.train.size)
    d = tr.ssd_decode
    rows.append(
        _row("05_train", f"SSD sampling ({d.config_id})", n_train, n_train * d.n, d.max_tokens)
    )
    t = tr.train
    world_batch = t.global_batch_size
    rows.append(
        _row(
            "05_train",
            f"SFT {t.max_steps} steps x global batch {world_batch} "
            f"({t.num_processes} process{'es' if t.num_processes > 1 else ''})",
            note=f"<= {t.max_steps * world_batch * t.max_length:,} training tokens; "
            f"{math.ceil(t.max_steps / t.save_steps)} checkpoints",
            train_tokens=t.max_steps * world_batch * t.max_length,
            train_gpus=t.num_processes,
        )
    )
    if tr.control.enabled:
        # The control repeats sampling (T=1, untruncated) and the whole SFT run: it doubles 05.
        c = tr.control_decode
        rows.append(
            _row(
                "05_train",
                f"control sampling ({c.config_id})",
                n_train,
                n_train * c.n,
                c.max_tokens,
                note="same prompts and cap as SSD, T=1 with truncation off",
            )
        )
        rows.append(
            _row(
                "05_train",
                f"control SFT {t.max_steps} steps x global batch {world_batch} "
                f"-> checkpoints/{tr.control_run_name}/",
                note=f"<= {t.max_steps * world_batch * t.max_length:,} training tokens; "
                f"{math.ceil(t.max_steps / t.save_steps)} checkpoints",
                train_tokens=t.max_steps * world_batch * t.max_length,
                train_gpus=t.num_processes,
            )
        )

    ev = load("06_eval")
    n_ckpt = math.ceil(t.max_steps / t.save_steps)
    models = 1 + (
        n_ckpt
        if ev.checkpoints == "all"
        else 1
        if ev.checkpoints == "last"
        else len(ev.checkpoints)
    )
    # Screening: every model x T_eval on val300. Confirmation: base + candidates at the eval decode
    # on val - val300 (disjoint prompts, so nothing is shared with screening).
    n_screen, n_confirm = n_val300, n_val - n_val300
    if ev.limit_prompts:
        n_screen, n_confirm = min(n_screen, ev.limit_prompts), min(n_confirm, ev.limit_prompts)
    temps = sorted(set(ev.t_eval_sweep) | {ev.eval_decode.temperature})
    e = ev.eval_decode
    rows.append(
        _row(
            "06_eval",
            f"screening: {models} models x T_eval {temps} on val300",
            n_screen,
            models * len(temps) * n_screen * e.n,
            e.max_tokens,
            note="exploratory; picks candidates",
        )
    )
    n_cand = len(ev.candidates.steps) if ev.candidates.rule == "steps" else ev.candidates.count
    n_cand = min(n_cand, models - 1)
    rows.append(
        _row(
            "06_eval",
            f"confirmation: base + {n_cand} candidate(s) at eval decode on val - val300",
            n_confirm,
            (1 + n_cand) * n_confirm * e.n,
            e.max_tokens,
            note=f"contrasts {', '.join(ev.contrasts)}; Holm at alpha {ev.alpha:g}",
        )
    )
    # #11: control evaluation, pass@k draws, lock/fork teacher forcing (SSD + control beside base).
    n_cand_models = (
        len(ev.candidates.steps) if ev.candidates.rule == "steps" else ev.candidates.count
    )
    control_on = ev.control.enabled and tr.control.enabled
    if control_on:
        rows.append(
            _row(
                "06_eval",
                f"control at the candidates' steps ({n_cand_models}) at eval decode, "
                "val300 + val - val300",
                n_val,
                n_cand_models * n_val * e.n,
                e.max_tokens,
                note=f"checkpoints/{tr.control_run_name}/",
            )
        )
    pk_models = 1 + n_cand_models * (2 if control_on else 1)
    extra = max(ev.pass_at_k.n - e.n, 0)
    rows.append(
        _row(
            "06_eval",
            f"pass@k: {pk_models} models x n={max(ev.pass_at_k.n, e.n)} on val300 "
            f"(+{extra} samples per prompt beyond eval_decode.n)",
            n_val300,
            pk_models * n_val300 * extra,
            e.max_tokens,
            note="pass@1..n overall and on the hardest prompts by base pass rate",
        )
    )
    lf = ev.lockfork
    window = lf.max_positions or e.max_tokens
    scored = 2 + (1 if control_on else 0)
    rows.append(
        _row(
            "06_eval",
            f"lock/fork teacher forcing: {lf.n_responses} responses x {scored} models "
            f"(window {'whole response' if lf.max_positions is None else lf.max_positions})",
            note=f"<= {lf.n_responses * scored * window:,} scored positions; top-{lf.top_k} logprobs"
            + (f"; chunks of {lf.chunk_tokens:,} tokens" if lf.chunk_tokens else ""),
        )
    )
    return pd.DataFrame(rows)


def wall_time(
    plan: pd.DataFrame,
    gpus: int,
    *,
    tensor_parallel_size: int = 1,
    gen_tok_s: float = GEN_TOK_S,
    train_tok_s: float = TRAIN_TOK_S,
) -> pd.DataFrame:
    """``plan`` with ``wall_h``: hours per step on ``gpus`` GPUs (an upper bound, like the budgets).

    Generation runs ``gpus // tensor_parallel_size`` engines at ``gen_tok_s`` generated tokens/s
    each (data parallel: prompts split evenly, no cross-engine overhead counted); SFT runs on
    ``min(gpus, train.num_processes)`` GPUs at ``train_tok_s`` tokens/s each. Steps without tokens
    (data building, teacher forcing) get no estimate (NaN).
    """
    if gpus < 1:
        raise ValueError(f"--gpus {gpus}: need at least one GPU")
    engines = gpus // tensor_parallel_size
    if engines < 1:
        raise ValueError(
            f"--gpus {gpus} < tensor_parallel_size {tensor_parallel_size}: no engine fits"
        )
    gen_s = plan["token_budget"] / (gen_tok_s * engines)
    train_s = plan["train_tokens"] / (train_tok_s * plan["train_gpus"].clip(lower=1, upper=gpus))
    seconds = gen_s + train_s
    return plan.assign(wall_h=(seconds / 3600).where(seconds > 0))
