"""What a profile's pipeline would do, computed from params alone (no model, no data loaded).

Token budgets are upper bounds: every sample is counted at its ``max_tokens`` cap.
"""

from __future__ import annotations

import math

import pandas as pd

from ssdlib import config as cfg
from ssdlib.generation.decode import baseline_decodes, distinct


def _row(notebook, what, prompts=0, samples=0, max_tokens=0, note=""):
    return {
        "notebook": notebook,
        "step": what,
        "prompts": prompts,
        "samples": samples,
        "max_tokens": max_tokens,
        "token_budget": samples * max_tokens,
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
    rows.append(_row("01_data", f"build train {data.train.size} / val {n_val} / val300 {n_val300}",
                     note="sources: " + ", ".join(data.sources)))
    con = load("02_contamination")
    rows.append(_row("02_contamination", f"{con.ngram}-gram Jaccard vs val",
                     note=f"thresholds {con.threshold_same_answer} (answers agree) / {con.threshold_diff_answer}"))

    base = load("03_baselines")
    # val300 is a subset of val: its samples are reused, so only val's prompts are generated.
    n_base = n_val if "val" in base.budgets else n_val300
    if base.limit_prompts:
        n_base = min(n_base, base.limit_prompts)
    for name, d in distinct(baseline_decodes(base)).items():
        rows.append(_row("03_baselines", f"{name} ({d.config_id})", n_base, n_base * d.n, d.max_tokens))

    var = load("04_variance")
    rows.append(_row("04_variance", f"reuses 03 preset {var.preset!r} on {var.budget}", note="no generation"))

    tr = load("05_train")
    n_train = min(tr.n_prompts or data.train.size, data.train.size)
    d = tr.ssd_decode
    rows.append(_row("05_train", f"SSD sampling ({d.config_id})", n_train, n_train * d.n, d.max_tokens))
    t = tr.train
    world_batch = t.global_batch_size
    rows.append(_row("05_train", f"SFT {t.max_steps} steps x global batch {world_batch} "
                                 f"({t.num_processes} process{'es' if t.num_processes > 1 else ''})",
                     note=f"<= {t.max_steps * world_batch * t.max_length:,} training tokens; "
                          f"{math.ceil(t.max_steps / t.save_steps)} checkpoints"))
    if tr.control.enabled:
        # The control repeats sampling (T=1, untruncated) and the whole SFT run: it doubles 05.
        c = tr.control_decode
        rows.append(_row("05_train", f"control sampling ({c.config_id})", n_train, n_train * c.n, c.max_tokens,
                         note="same prompts and cap as SSD, T=1 with truncation off"))
        rows.append(_row("05_train", f"control SFT {t.max_steps} steps x global batch {world_batch} "
                                     f"-> checkpoints/{tr.control_run_name}/",
                         note=f"<= {t.max_steps * world_batch * t.max_length:,} training tokens; "
                              f"{math.ceil(t.max_steps / t.save_steps)} checkpoints"))

    ev = load("06_eval")
    n_ckpt = math.ceil(t.max_steps / t.save_steps)
    models = 1 + (n_ckpt if ev.checkpoints == "all" else 1 if ev.checkpoints == "last" else len(ev.checkpoints))
    n_eval = n_val if "val" in ev.budgets else n_val300
    if ev.limit_prompts:
        n_eval = min(n_eval, ev.limit_prompts)
    temps = sorted(set(ev.t_eval_sweep) | {ev.eval_decode.temperature})
    e = ev.eval_decode
    rows.append(_row("06_eval", f"{models} models x T_eval {temps}", n_eval,
                     models * len(temps) * n_eval * e.n, e.max_tokens))
    rows.append(_row("06_eval", f"lock/fork scoring of {ev.lockfork.n_responses} responses x 2 models",
                     note=f"top-{ev.lockfork.top_k} logprobs, teacher forcing"))
    return pd.DataFrame(rows)
