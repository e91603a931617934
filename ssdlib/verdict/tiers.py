"""The two evaluation tiers of 06 and the rule that carries candidates from one to the other.

- **screening**: every checkpoint (and the base model) on ``val300``, the quick, harder subset.
  It is exploratory: it ranks checkpoints and picks candidates, it never confirms anything.
- **confirmation**: the chosen candidates on ``val`` minus ``val300``, prompts that played no
  part in the choice. The study's verdict is read here only.

``val300`` is drawn inside ``val`` (01), so testing a checkpoint that was picked on val300 on the
whole of val would re-use the prompts it was picked on and favour it (winner's curse). Keeping
the confirmation prompts disjoint removes that bias; the two tiers are never pooled.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

SCREENING = "screening"
CONFIRMATION = "confirmation"
PROMPT_SET = {SCREENING: "val300", CONFIRMATION: "val - val300"}


def tier_sets(val: pd.DataFrame, val300: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{"screening": val300, "confirmation": val rows not in val300}`` (row order kept).

    Raises when val300 has rows outside val (the tiers would not be a partition of val) or when
    nothing is left to confirm on.
    """
    outside = sorted(set(val300["id"]) - set(val["id"]))
    if outside:
        raise ValueError(
            f"val300 has {len(outside)} ids that are not in val (e.g. {outside[:3]}): rerun 01_data"
        )
    confirm = val[~val["id"].isin(set(val300["id"]))].reset_index(drop=True)
    if confirm.empty:
        raise ValueError("val minus val300 is empty: no prompts are left for the confirmation tier")
    return {SCREENING: val300.reset_index(drop=True), CONFIRMATION: confirm}


def tier_label(tier: str, n_prompts: int | None = None) -> str:
    """Human label naming the tier and its prompt set, e.g. ``"confirmation (val - val300, 700 prompts)"``."""
    n = f", {n_prompts} prompts" if n_prompts is not None else ""
    return f"{tier} ({PROMPT_SET[tier]}{n})"


def select_candidates(
    samples: pd.DataFrame,
    screening_ids: Sequence,
    *,
    rule: str,
    count: int = 1,
    steps: Sequence[int] = (),
    model_col: str = "model",
    step_col: str = "step",
) -> list[str]:
    """Checkpoints carried to confirmation, chosen from screening rows ONLY.

    ``samples``: graded samples at the eval decode, any prompts (rows outside ``screening_ids``
    are dropped here, so confirmation prompts can never influence the choice). Checkpoints are
    rows with ``step > 0`` (step 0 is the base model, always confirmed as a reference).

    Rules: ``best_screening`` -- the ``count`` checkpoints with the highest screening accuracy
    (mean of per-prompt means; ties go to the later step); ``last`` -- the latest ``count``
    steps; ``steps`` -- exactly the listed steps (fixed before the data). Returns model labels.
    """
    rows = samples[samples["prompt_id"].isin(set(screening_ids)) & (samples[step_col] > 0)]
    if rows.empty:
        raise ValueError("no checkpoint has screening samples: run the screening tier first")
    if rule == "steps":
        by_step = rows.drop_duplicates(model_col).set_index(step_col)[model_col]
        missing = [s for s in steps if s not in by_step.index]
        if not steps or missing:
            raise ValueError(
                f"candidates.steps {list(steps)}: steps {missing or '[]'} were not screened "
                f"(screened: {sorted(by_step.index)})"
            )
        return [by_step[s] for s in sorted(set(steps))]
    per_prompt = rows.groupby([model_col, step_col, "prompt_id"])["correct"].mean()
    acc = per_prompt.groupby([model_col, step_col]).mean().reset_index(name="accuracy")
    if rule == "last":
        return list(acc.sort_values(step_col, ascending=False)[model_col].head(count))
    if rule == "best_screening":
        ranked = acc.sort_values(["accuracy", step_col], ascending=[False, False])
        return list(ranked[model_col].head(count))
    raise ValueError(f"unknown candidate rule {rule!r} (best_screening | last | steps)")


def choose_baseline(graded03: pd.DataFrame, names: dict[str, str], screening_ids: Sequence) -> str:
    """The 03 decode with the best accuracy on the screening prompts (val300 only).

    ``names``: ``{decode name: config_id}``. Used when 06's ``baseline`` is ``best_screening``:
    picking the best of many decodes on the prompts it is then compared on inflates the baseline
    (about 1.8 p.p. for the best of 11 equal configs at n = 300) and biases the test against
    SSD, so the choice is made here and the comparison runs on the confirmation prompts.
    """
    sub = graded03[graded03["prompt_id"].isin(set(screening_ids))]
    if sub.empty:
        raise ValueError("03_graded has no samples on the screening prompts (val300)")
    acc = {}
    for name, cid in names.items():
        rows = sub[sub["config_id"] == cid]
        if len(rows):
            acc[name] = rows.groupby("prompt_id")["correct"].mean().mean()
    if not acc:
        raise ValueError("none of the 03 decodes has samples on val300")
    return max(acc, key=lambda n: (acc[n], -list(names).index(n)))
