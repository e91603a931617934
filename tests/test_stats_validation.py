"""Input validation shared by every statistic (ssdlib.stats.prompts)."""

import numpy as np
import pandas as pd
import pytest

from ssdlib.stats import prompt_means, variance_components


def _samples():
    return pd.DataFrame(
        {
            "prompt_id": ["a", "a", "b", "b"],
            "sample_idx": [0, 1, 0, 1],
            "config_id": "base",
            "correct": [True, False, True, True],
            "n_tokens": [100, 300, 50, 70],
        }
    )


@pytest.mark.parametrize("column", ["prompt_id", "correct"])
def test_missing_column_is_named(column):
    with pytest.raises(ValueError, match=repr(column)):
        variance_components(_samples().drop(columns=column))


def test_missing_by_column_is_named():
    with pytest.raises(ValueError, match="'source'"):
        variance_components(_samples(), by="source")


def test_missing_scores_are_refused_not_dropped():
    s = _samples().astype({"correct": "boolean"})
    s.loc[0, "correct"] = pd.NA
    with pytest.raises(ValueError, match="1 missing"):
        prompt_means(s)


def test_nullable_boolean_and_real_valued_scores():
    pm = prompt_means(_samples().astype({"correct": "boolean"}))
    assert pm["mean"].tolist() == [0.5, 1.0]
    tokens = prompt_means(_samples(), score="n_tokens")
    assert tokens["mean"].tolist() == [200.0, 60.0]
    assert tokens["var"].tolist() == pytest.approx([20000.0, 200.0])


def test_mixed_configs_need_by():
    s = pd.concat([_samples(), _samples().assign(config_id="other")])
    with pytest.raises(ValueError, match="config_id"):
        prompt_means(s)
    assert len(prompt_means(s, by="config_id")) == 4


def test_duplicated_samples_are_refused():
    s = pd.concat([_samples(), _samples().head(1)])
    with pytest.raises(ValueError, match="duplicated"):
        prompt_means(s)


def test_single_sample_prompt_has_nan_variance():
    pm = prompt_means(_samples().iloc[:3])
    assert pm["k"].tolist() == [2, 1]
    assert np.isnan(pm["var"].iloc[1])


def test_empty_table_is_refused():
    with pytest.raises(ValueError, match="empty"):
        prompt_means(_samples().iloc[:0])
