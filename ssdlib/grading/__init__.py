"""Grading: answer extraction and math-verify equivalence in killable worker processes.

Public API:
    grade_one(response, gold, finish_reason="stop", *, thinking=None,
              max_candidate_chars=1000, timeout_s=5.0) -> dict
    grade_samples(samples, problems=None, *, gold_col="answer", workers=None,
                  timeout_s=5.0, thinking=None, max_candidate_chars=1000) -> DataFrame
    answers_equivalent(a, b, timeout_s=5.0) -> bool | None
    answers_equivalent_batch(pairs, timeout_s=5.0, workers=None) -> list[bool | None]
    extract(response, thinking=None) -> Extraction; last_boxed(text) -> str | None

Modules: ``extraction`` (answer region, last box, nested boxes unwrapped), ``equivalence``
(math-verify, runs in the workers; documents the no-eval safety decision), ``policy`` (verdicts
decided on top of math-verify: percentages, units in ``\\text{}``, relative precision for
extreme magnitudes), ``pool`` (killable process pool), ``grade`` (the per-sample flags and the
table API).
"""

from ssdlib.grading.extraction import Extraction, answer_region, extract, last_boxed
from ssdlib.grading.grade import (
    NOTE_COLUMN,
    answers_equivalent,
    answers_equivalent_batch,
    grade_one,
    grade_samples,
)

__all__ = [
    "NOTE_COLUMN",
    "Extraction",
    "answer_region",
    "answers_equivalent",
    "answers_equivalent_batch",
    "extract",
    "grade_one",
    "grade_samples",
    "last_boxed",
]
