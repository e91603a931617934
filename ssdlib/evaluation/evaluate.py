"""Generate, grade and label: the evaluation step shared by 03_baselines, 05_train and 06_eval."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ssdlib.config import Common, DecodeCfg
from ssdlib.generation import generate_samples
from ssdlib.grading import grade_samples


def evaluate(
    problems: pd.DataFrame,
    decodes: Mapping[str, DecodeCfg],
    params: Common,
    *,
    model_path: str,
    model_id: str,
    store_root: str | Path,
) -> pd.DataFrame:
    """Samples for every (problem, decode), graded, with the problem's source and difficulty.

    Generation resumes from the store (nothing finished is redone); grading is recomputed from
    the stored text every time, so a grader fix never needs a regeneration.
    """
    samples = generate_samples(
        problems,
        decodes,
        model_path=model_path,
        model_id=model_id,
        model=params.model,
        backend=params.backend,
        prompt=params.prompt,
        store_root=store_root,
        seed=params.seed,
    )
    graded = grade_samples(
        samples,
        problems,
        workers=params.grading.workers,
        timeout_s=params.grading.timeout_s,
        thinking=params.model.thinking,  # Qwen3.5 may pre-fill <think>: never auto-detect
        max_candidate_chars=params.grading.max_candidate_chars,
    )
    extra = problems[["id", "source", "difficulty"]].rename(columns={"id": "prompt_id"})
    return graded.merge(extra, on="prompt_id", how="left")


def in_budget(graded: pd.DataFrame, budget_ids: pd.Series | list) -> pd.DataFrame:
    """The rows whose prompt belongs to one budget (val300 or val); never mix two budgets."""
    return graded[graded["prompt_id"].isin(set(budget_ids))].copy()
