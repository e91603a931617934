"""Simulated graded samples with known variance components, for tests and planning plots.

Beta-Bernoulli model: each prompt's true accuracy p_i ~ Beta with a chosen mean and
Var(p) = var_between; each sample is Bernoulli(p_i). Then the within-prompt variance is
E[p(1-p)] = mean (1 - mean) - var_between.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def beta_prompt_means(
    n: int, mean: float, var_between: float, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``n`` true prompt accuracies from a Beta with the given mean and variance.

    ``mean`` is a fraction in (0, 1); ``var_between`` must be below mean (1 - mean)
    (the variance of a Bernoulli), else no Beta has those moments.
    """
    if not 0 < mean < 1:
        raise ValueError(f"mean must be in (0, 1), got {mean}")
    max_var = mean * (1 - mean)
    if not 0 < var_between < max_var:
        raise ValueError(
            f"var_between must be in (0, {max_var:.4g}) for mean {mean}, got {var_between}"
        )
    # Method of moments for Beta(a, b): a + b = m(1-m)/v - 1.
    concentration = max_var / var_between - 1
    return rng.beta(mean * concentration, (1 - mean) * concentration, size=n)


def simulate_samples(
    p: np.ndarray,
    K,
    rng: np.random.Generator,
    config_id: str = "sim",
    source=None,
    prompt_prefix: str = "p",
) -> pd.DataFrame:
    """Samples table (schema columns prompt_id, sample_idx, config_id, correct[, source]).

    ``p`` holds each prompt's true accuracy; ``K`` is one int or one per prompt (unbalanced).
    ``source`` optionally labels prompts (one value per prompt). Prompt ids are
    ``f"{prompt_prefix}{i}"`` so two configs simulated on the same ``p`` index share prompts.
    """
    p = np.asarray(p, dtype=float)
    k = np.broadcast_to(np.asarray(K, dtype=int), p.shape)
    if np.any(k < 1):
        raise ValueError("every prompt needs at least one sample")
    prompt = np.repeat(np.arange(p.size), k)
    # sample_idx counts 0..k_i-1 within each prompt.
    sample_idx = np.arange(prompt.size) - np.repeat(np.cumsum(k) - k, k)
    frame = pd.DataFrame(
        {
            "prompt_id": [f"{prompt_prefix}{i}" for i in prompt],
            "sample_idx": sample_idx,
            "config_id": config_id,
            "correct": rng.random(prompt.size) < p[prompt],
        }
    )
    if source is not None:
        frame["source"] = np.asarray(source)[prompt]
    return frame
