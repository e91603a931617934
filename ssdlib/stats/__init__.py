"""Statistics for graded evals: variance components, standard errors, paired comparisons.

Follows Miller (2024), "Adding Error Bars to Evals" (arXiv 2411.00640): the unit of
analysis is the prompt, never the individual sample. Accuracies are fractions in [0, 1];
functions accept any real-valued per-sample score (0/1 correctness is the usual one).

Power analysis and budget planning live in :mod:`ssdlib.stats.power`.
"""

from ssdlib.stats.paired import paired_comparison, paired_table
from ssdlib.stats.prompts import prompt_means
from ssdlib.stats.se import ci, clustered_se, mean_se, se_for
from ssdlib.stats.simulate import beta_prompt_means, simulate_samples
from ssdlib.stats.variance import variance_components, variance_components_mixedlm

__all__ = [
    "beta_prompt_means",
    "ci",
    "clustered_se",
    "mean_se",
    "paired_comparison",
    "paired_table",
    "prompt_means",
    "se_for",
    "simulate_samples",
    "variance_components",
    "variance_components_mixedlm",
]
