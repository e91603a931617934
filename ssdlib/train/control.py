"""06_eval side of the control fine-tune (05's same recipe on T = 1, untruncated samples).

How 06 finds it: :func:`ssdlib.train.run.find_control_run` returns the folder under
``checkpoints/`` whose ``run.json`` says ``role: control, control_of: <run_name>``; its checkpoints
are ``checkpoint-<step>/`` exactly like the SSD run's. Each control checkpoint is a model row
``control-<step>`` whose store label is ``checkpoint_model_id(<control run_name>, step, <its
recipe hash>)``, so it never shares generations with the SSD run.

The control is evaluated at the SAME steps as the SSD candidates: the comparison "SSD vs
control" holds the number of optimizer steps fixed. Accuracies are fractions; paired
differences use per-prompt means on shared prompts (Miller 2024), never pooled samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ssdlib.stats import paired_comparison
from ssdlib.stats.metrics import summarize

CONTROL_PREFIX = "control-"


def control_label(step: int) -> str:
    return f"{CONTROL_PREFIX}{step}"


def control_model_table(control_dir: str | Path, steps: Sequence[int]) -> pd.DataFrame:
    """Rows ``model, step, model_id, path`` of the control's checkpoints at ``steps``.

    Raises when a step has no control checkpoint (the two runs were saved at different steps).
    """
    from ssdlib.train.checkpoints import checkpoint_model_id, list_checkpoints
    from ssdlib.train.run import read_run_record

    control_dir = Path(control_dir)
    record = read_run_record(control_dir) or {}
    have = dict(list_checkpoints(control_dir))
    missing = [s for s in steps if s not in have]
    if missing:
        raise ValueError(
            f"control run {control_dir} has no checkpoint at steps {missing} (has {sorted(have)})"
        )
    name = record.get("run_name", control_dir.name)
    return pd.DataFrame(
        [
            {
                "model": control_label(s),
                "step": s,
                "model_id": checkpoint_model_id(name, s, record.get("hash")),
                "path": str(have[s]),
            }
            for s in steps
        ],
        columns=["model", "step", "model_id", "path"],
    )


def control_accuracy_table(
    samples: pd.DataFrame, pairs: Sequence[tuple[str, str]], *, base: str = "base", tier: str = ""
) -> pd.DataFrame:
    """Accuracy of base, each SSD model and its control, and the paired differences that matter.

    ``samples``: graded rows of ONE prompt set at ONE decode with a ``model`` column;
    ``pairs``: ``[(ssd_model, control_model)]`` (same step). One row per (ssd, control) pair:
    accuracies (per-prompt means, per-prompt SE), ``ssd_minus_base``, ``control_minus_base``,
    ``ssd_minus_control`` each with paired 95% CI and p-value on the shared prompts.
    """
    acc = summarize(samples, by=["model"]).set_index("model")

    def side(m):
        return samples[samples["model"] == m]

    rows = []
    for ssd, ctrl in pairs:
        row = {
            "tier": tier,
            "ssd": ssd,
            "control": ctrl,
            "n_prompts": int(acc.loc[ssd, "n_prompts"]),
            "base_accuracy": float(acc.loc[base, "accuracy"]),
            "ssd_accuracy": float(acc.loc[ssd, "accuracy"]),
            "ssd_se": float(acc.loc[ssd, "se"]),
            "control_accuracy": float(acc.loc[ctrl, "accuracy"]),
            "control_se": float(acc.loc[ctrl, "se"]),
        }
        for name, a, b in (
            ("ssd_minus_base", base, ssd),
            ("control_minus_base", base, ctrl),
            ("ssd_minus_control", ctrl, ssd),
        ):
            pc = paired_comparison(side(a), side(b))
            row.update(
                {
                    name: float(pc["diff"]),
                    f"{name}_ci_low": float(pc["ci_low"]),
                    f"{name}_ci_high": float(pc["ci_high"]),
                    f"{name}_p": float(pc["p_value"]),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)
