"""Lock/fork analysis: does SSD sharpen locks and keep forks flat? (research notes §2)

The SSD paper's mechanism claim, tested on math: on one SHARED set of responses (e.g. the
base model's own answers to validation prompts) score every response position under the base
model and under the SSD-trained model by teacher forcing, then compare the next-token
distributions position by position.

* a **lock** is a position where the models are confident (low entropy): one right token
  plus a distractor tail. SSD should make it sharper (lower entropy, less mass in the tail).
* a **fork** is a position where they are uncertain (high entropy): several plausible
  continuations. SSD should leave it about as flat as it was.

All entropies and log-probabilities are in nats (natural log). Positions are classed by the
MEAN entropy of all the models compared (``classify_on: mean``), not by the base model's
alone: classing by one model's entropy and then comparing the two models there regresses to
the mean (positions picked for high base entropy are partly picked for high base *noise*), so
two copies of one model that differ only by noise read "forks sharpened". The control
fine-tune (same recipe on untruncated T=1 samples, whose SSD objective is at its fixed point)
is compared on the same classes: what SSD shows beyond it is SSD's.

Pipeline: :func:`score_positions` (once per model, same prompts/responses) ->
:func:`lock_fork_summary` (classify, pair, clustered-bootstrap compare, verdict), or
:func:`lock_fork_compare` for SSD and the control side by side on shared classes.
Figures live in :mod:`ssdlib.lockfork.figures`.
"""

from ssdlib.lockfork.analysis import (
    CLASSES,
    CLASSIFY_ON,
    DEFAULT_PARAMS,
    LockForkComparison,
    LockForkSummary,
    analysis_params,
    classification_entropy,
    classify_positions,
    cluster_bootstrap_ci,
    compare_models,
    lock_fork_compare,
    lock_fork_summary,
    mechanism_verdict,
    pair_scores,
)
from ssdlib.lockfork.scoring import (
    SCORE_COLUMNS,
    SCORE_KEY,
    SCORING_PARAM_KEYS,
    perturbed_copy,
    score_positions,
    tokenize_pairs,
    topk_entropy,
    topk_entropy_lower_bound,
)

__all__ = [
    "CLASSES",
    "CLASSIFY_ON",
    "DEFAULT_PARAMS",
    "LockForkComparison",
    "LockForkSummary",
    "SCORE_COLUMNS",
    "SCORE_KEY",
    "SCORING_PARAM_KEYS",
    "analysis_params",
    "classification_entropy",
    "classify_positions",
    "cluster_bootstrap_ci",
    "compare_models",
    "lock_fork_compare",
    "lock_fork_summary",
    "mechanism_verdict",
    "pair_scores",
    "perturbed_copy",
    "score_positions",
    "tokenize_pairs",
    "topk_entropy",
    "topk_entropy_lower_bound",
]
