"""06's descriptive breakdowns on the confirmation prompts: accuracy by source, by difficulty on
one scale (bins of the base model's own 03 pass rate) and by Omni-MATH's native difficulty, for
the baseline, the base model and the candidates in a fixed order. Plain per-prompt SEs within each
group (sources and bins are fixed strata: a clustered SE over a handful of them is not usable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ssdlib.lockfork.difficulty import (
    BIN_COLUMN,
    accuracy_by_bin,
    base_pass_rates,
    native_difficulty_within,
    pass_rate_bins,
)
from ssdlib.verdict.tables import ordered_summary


@dataclass
class Breakdowns:
    by_source: pd.DataFrame
    by_difficulty: pd.DataFrame  # column "difficulty" = pass-rate bin of the base model in 03
    by_omni: pd.DataFrame  # Omni-MATH's native difficulty, within Omni only


def confirmation_breakdowns(
    rows: pd.DataFrame,
    baseline: pd.DataFrame,
    *,
    baseline_label: str,
    models: Sequence[str],
    graded03: pd.DataFrame,
    base_model_id: str,
) -> Breakdowns:
    """``rows``: 06's graded rows on the confirmation prompts at the eval decode; ``baseline``: the
    baseline decode's 03 rows on the same prompts (labelled ``baseline_label``). Difficulty bins
    come from the base model's 03 samples with the baseline's own decode excluded, so the baseline
    is never binned on the samples it is scored on."""
    both = pd.concat([rows, baseline.assign(model=baseline_label)], ignore_index=True)
    order = [baseline_label, *models]
    bins = pass_rate_bins(
        base_pass_rates(
            graded03, base_model_id, exclude_config_ids=list(baseline["config_id"].unique())
        )
    )
    return Breakdowns(
        by_source=ordered_summary(both, "source", order),
        by_difficulty=accuracy_by_bin(both, bins, order).rename(columns={BIN_COLUMN: "difficulty"}),
        by_omni=native_difficulty_within(both, "omni_math", order),
    )
