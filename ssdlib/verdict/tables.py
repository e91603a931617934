"""06_eval logic: which checkpoints and baseline, descriptive tables per tier, the screening sweep.

The pre-registered contrasts and their Holm verdicts live in :mod:`ssdlib.verdict.contrasts`; the two
tiers (screening on val300, confirmation on val minus val300) and the candidate rule in
:mod:`ssdlib.verdict.tiers`. Accuracies and differences are fractions in [0, 1] (x100 for p.p.).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ssdlib.config import BackendCfg, DecodeCfg, ModelCfg
from ssdlib.stats import paired_comparison
from ssdlib.stats.metrics import pass_at_k_curve, summarize
from ssdlib.stats.multiplicity import adjust_family
from ssdlib.train.checkpoints import checkpoint_model_id  # noqa: F401 (06 reads it from here)

BASE_LABEL = "base"
EVAL_NAME = "eval"


# ----------------------------------------------------------------------------- what to evaluate


def decode_names(graded03: pd.DataFrame) -> dict[str, str]:
    """``{decode name: config_id}`` of everything 03 generated, read from its ``config_name`` column
    (names sharing one sampling distribution are comma-joined there)."""
    out: dict[str, str] = {}
    for cid, names in graded03.drop_duplicates("config_id")[
        ["config_id", "config_name"]
    ].itertuples(index=False):
        for name in str(names).split(","):
            out.setdefault(name.strip(), cid)
    return out


def baseline_rows(graded03: pd.DataFrame, name: str, model_id: str) -> pd.DataFrame:
    """03's graded samples of the decode called ``name`` by the base model, found by name in
    ``03_graded.parquet`` itself (so a 03 run with ``-p`` overrides is read as it ran)."""
    names = decode_names(graded03) if len(graded03) else {}
    if name not in names:
        raise ValueError(
            f"03_graded has no decode named {name!r} (has {', '.join(sorted(names))}): "
            "rerun 03_baselines or fix 06's baseline"
        )
    sel = graded03[(graded03["config_id"] == names[name]) & (graded03["model_id"] == model_id)]
    if sel.empty:
        raise ValueError(f"03_graded has no samples of {name!r} by {model_id}: rerun 03_baselines")
    return sel.copy()


def tier_arms(
    graded: pd.DataFrame,
    baseline: pd.DataFrame,
    ids,
    models: Sequence[str],
    *,
    config_id: str,
    baseline_label: str,
) -> dict[str, pd.DataFrame]:
    """Arm label -> samples on one tier's prompts: the baseline first, then each model at ``config_id``."""
    ids = set(ids)
    arms = {baseline_label: baseline[baseline["prompt_id"].isin(ids)]}
    at = graded[(graded["config_id"] == config_id) & graded["prompt_id"].isin(ids)]
    for m in models:
        arms[m] = at[at["model"] == m]
        if arms[m].empty:
            raise ValueError(f"no samples of {m!r} at {config_id} on this tier's prompts")
    return arms


def select_checkpoints(
    available: Sequence[tuple[int, Path]], spec: str | Sequence[int]
) -> list[tuple[int, Path]]:
    """``"all"``, ``"last"`` or a list of steps -> ``[(step, path)]`` by increasing step.

    Raises when nothing is available or a requested step has no checkpoint.
    """
    available = sorted(available)
    if not available:
        raise FileNotFoundError("no checkpoints found: run 05_train first")
    if spec == "all":
        return list(available)
    if spec == "last":
        return [available[-1]]
    by_step = dict(available)
    missing = [s for s in spec if s not in by_step]
    if missing:
        raise ValueError(f"checkpoint steps {missing} not found (have {sorted(by_step)})")
    return [(s, by_step[s]) for s in sorted(set(spec))]


def eval_decodes(eval_decode: DecodeCfg, temperatures: Sequence[float]) -> dict[str, DecodeCfg]:
    """``{"eval": eval_decode, "T=0.6": ..., ...}``: the sweep keeps every other eval setting.

    A sweep temperature equal to ``eval_decode``'s is not listed twice.
    """
    out = {EVAL_NAME: eval_decode}
    for t in temperatures:
        d = eval_decode.model_copy(update={"temperature": float(t)})
        if d.config_id != eval_decode.config_id:
            out[f"T={t:g}"] = d
    return out


def engine_model_cfg(model: ModelCfg, backend: BackendCfg, base_path: str) -> ModelCfg:
    """The model block to load a checkpoint with: an explicit dtype on GPU.

    Checkpoints are saved with float32 master weights; with ``dtype: auto`` vLLM would serve
    them in float32 on GPU while the base model ran in its own dtype (bf16 for Qwen), so the
    comparison would mix precisions. On GPU ``auto`` becomes the base model's dtype; on CPU
    ``auto`` stays (vLLM-CPU and transformers pick float32 or bf16 themselves, alike for both).
    """
    if model.dtype != "auto" or backend.device == "cpu":
        return model
    if backend.device == "auto":
        try:
            import torch

            if not torch.cuda.is_available():
                return model
        except ImportError:  # pragma: no cover
            return model
    from transformers import AutoConfig

    conf = AutoConfig.from_pretrained(base_path)
    dt = getattr(conf, "dtype", None) or getattr(conf, "torch_dtype", None)
    if dt is None and hasattr(conf, "get_text_config"):
        text = conf.get_text_config()
        dt = getattr(text, "dtype", None) or getattr(text, "torch_dtype", None)
    name = str(dt).replace("torch.", "") if dt is not None else "bfloat16"
    if name not in ("bfloat16", "float16", "float32"):
        name = "bfloat16"
    return model.model_copy(update={"dtype": name})


def evaluate_models(
    model_table: pd.DataFrame,
    problems: pd.DataFrame,
    decodes: Mapping[str, DecodeCfg],
    params,
    base_path: str,
    store_root,
) -> pd.DataFrame:
    """Generate and grade ``problems`` x ``decodes`` for every row of ``model_table`` (columns
    ``model``, ``step``, ``model_id``, ``path``); one engine per model, every sample stored as it
    finishes (a rerun generates only what is missing). Returns graded rows with ``model``/``step``."""
    import time

    from ssdlib.evaluation.evaluate import evaluate

    frames = []
    ckpt_model_cfg = engine_model_cfg(params.model, params.backend, base_path)
    for row in model_table.itertuples(index=False):
        t0 = time.monotonic()
        p = params if row.path == base_path else params.model_copy(update={"model": ckpt_model_cfg})
        g = evaluate(
            problems, decodes, p, model_path=row.path, model_id=row.model_id, store_root=store_root
        )
        frames.append(g.assign(model=row.model, step=row.step))
        print(
            f"{row.model}: {len(g)} graded samples on {len(problems)} prompts in {time.monotonic() - t0:.0f}s"
        )
    return pd.concat(frames, ignore_index=True)


def ordered_summary(samples: pd.DataFrame, col: str, order: Sequence[str]) -> pd.DataFrame:
    """:func:`summarize` by (model, ``col``), rows in ``order`` of models then by ``col``;
    per-prompt SEs within each group (groups are fixed strata, never clusters)."""
    out = summarize(samples, by=["model", col])
    out["_o"] = out["model"].map({m: i for i, m in enumerate(order)})
    return out.sort_values(["_o", col]).drop(columns="_o").reset_index(drop=True)


# ----------------------------------------------------------------------------- tables


RESULT_COLUMNS = [
    "model",
    "step",
    "model_id",
    "config_id",
    "n_prompts",
    "n_samples",
    "accuracy",
    "se",
    "ci_low",
    "ci_high",
]
RATE_COLUMNS = ["think_close_rate", "boxed_rate", "length_stop_rate", "mean_tokens"]


def results_table(
    arms: Mapping[str, pd.DataFrame],
    *,
    k_max: int,
    steps: Mapping[str, float] | None = None,
    tier: str | None = None,
    prompt_set: str | None = None,
) -> pd.DataFrame:
    """Descriptive accuracy of each arm (baseline, base, checkpoints) on ONE tier's prompts.

    ``arms``: label -> graded samples of one decode config, in the order the rows should appear.
    Columns: ``tier``, ``prompt_set``, :data:`RESULT_COLUMNS` (SE and 95% CI of per-prompt means,
    never pooled samples), ``pass@1..pass@k_max`` (unbiased; NaN where a prompt has fewer samples),
    :data:`RATE_COLUMNS`. No test lives here: comparisons are the contrast table's job.
    """
    ks = list(range(1, k_max + 1))
    rows = []
    for label, frame in arms.items():
        if frame["config_id"].nunique() != 1:
            raise ValueError(
                f"arm {label!r}: results_table takes one decode config per arm "
                f"(got {sorted(frame['config_id'].unique())})"
            )
        summ = summarize(frame.assign(_arm=label), by=["_arm"], k_values=ks).iloc[0].drop("_arm")
        rows.append(
            {
                "tier": tier,
                "prompt_set": prompt_set,
                "model": label,
                "step": (steps or {}).get(label, np.nan),
                "model_id": frame["model_id"].iloc[0],
                "config_id": frame["config_id"].iloc[0],
                **summ.to_dict(),
            }
        )
    table = pd.DataFrame(rows)
    cols = ["tier", "prompt_set"] + RESULT_COLUMNS + [f"pass@{k}" for k in ks] + RATE_COLUMNS
    return table[[c for c in cols if c in table.columns]]


def sweep_table(
    samples: pd.DataFrame, baseline: pd.DataFrame, *, baseline_name: str, alpha: float = 0.05
) -> pd.DataFrame:
    """Screening only: accuracy of every (model, T_eval), each paired against the baseline.

    Exploratory: Holm runs over every sweep point (``p_holm``, ``verdict``), so a best point found
    by scanning is not read as a finding; confirmation happens on other prompts.
    """
    summ = summarize(samples, by=["model", "step", "temperature"])
    rows = []
    for r in summ.to_dict("records"):
        sub = samples[
            (samples["model"] == r["model"]) & (samples["temperature"] == r["temperature"])
        ]
        pc = paired_comparison(baseline, sub, test="t", level=1 - alpha)
        rows.append(
            {
                **r,
                "baseline": baseline_name,
                "n_shared": int(pc["n"]),
                "accuracy_paired": pc["mean_b"],
                "baseline_accuracy_paired": pc["mean_a"],
                "diff": pc["diff"],
                "se_paired": pc["se_paired"],
                "diff_ci_low": pc["ci_low"],
                "diff_ci_high": pc["ci_high"],
                "p_value": pc["p_value"],
            }
        )
    out = adjust_family(pd.DataFrame(rows), alpha)
    return out.sort_values(["step", "temperature"], ignore_index=True)


def pass_at_k_curves(
    samples: pd.DataFrame, baseline: pd.DataFrame, *, baseline_name: str
) -> pd.DataFrame:
    """Tidy unbiased pass@k, k = 1..(samples per prompt), per model and for the baseline (own K)."""
    curves = [
        pass_at_k_curve(
            samples, by=["model"], k_max=int(samples.groupby(["model", "prompt_id"]).size().min())
        )
    ]
    b = baseline.assign(model=f"baseline: {baseline_name}")
    curves.append(pass_at_k_curve(b, by=["model"], k_max=int(b.groupby("prompt_id").size().min())))
    return pd.concat(curves, ignore_index=True)


# ----------------------------------------------------------------------------- lock/fork inputs
