"""The column contracts every step of the study reads and writes.

Problems (one row per problem, every source mapped into it by ssdlib.data):
    id          str    stable, unique across sources ("math/train/algebra/123")
    source      str    short source name ("math", "numinamath", "beyond_aime", ...)
    problem     str    the problem statement (LaTeX allowed)
    answer      str    the gold final answer (LaTeX or plain), "" when unknown
    difficulty  float  source-native difficulty (MATH level 1-5, Omni 0-10, synthetic 1-5); NaN if none
    meta        str    JSON object with source-specific extras (sorted keys, so files are byte-stable)

Samples (one row per generated sample; see architecture.md "One sample, one row"):
    prompt_id, sample_idx, config_id, model_id, prompt_hash, response, n_tokens,
    finish_reason ("stop" | "length" | "abort"), and after grading:
    extracted, correct, boxed, think_closed, length_stop, timed_out
"""

from __future__ import annotations

PROBLEM_COLUMNS: tuple[str, ...] = ("id", "source", "problem", "answer", "difficulty", "meta")

SAMPLE_KEY: tuple[str, ...] = ("prompt_id", "sample_idx", "config_id", "model_id")

SAMPLE_COLUMNS: tuple[str, ...] = SAMPLE_KEY + (
    "prompt_hash",
    "response",
    "n_tokens",
    "finish_reason",
)

GRADE_COLUMNS: tuple[str, ...] = (
    "extracted",
    "correct",
    "boxed",
    "think_closed",
    "length_stop",
    "timed_out",
)


def require_columns(df, columns, what: str) -> None:
    """Raise ValueError naming the first missing column of ``df`` (``what`` names the frame)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} is missing required column {missing[0]!r} (has: {list(df.columns)})"
        )
