"""Answer equivalence with math-verify. These functions run INSIDE grading worker processes.

Safety decision (model output is untrusted):
    math-verify's ``ExprExtractionConfig`` hands matched text to ``sympy.parse_expr``, which
    builds Python code and ``eval``s it. Its regex only admits digits and arithmetic
    operators today, but that is one regex away from running model output. We therefore use
    ONLY ``LatexExtractionConfig``: it goes through latex2sympy2_extended, an ANTLR grammar
    that builds sympy objects directly and never evals text. Nothing is lost by dropping
    ExprExtractionConfig, since we extract the ``\\boxed{}`` candidate ourselves and the LaTeX
    grammar already reads plain forms such as ``3/4`` or ``0.75``. ``verify`` compares
    already-parsed sympy objects (or strings, by ``==``) and evals nothing either.
    (tests/test_grading_safety.py checks that ``__import__('os').system(...)`` is not run.)

Timeouts: math-verify's own timeouts use ``signal.alarm``, which works here because each
worker runs tasks in its main thread. They are a cheap first line (the worker survives);
the hard guarantee is the parent killing the worker at the sample's deadline (pool.py),
because C-level work (big-integer arithmetic, regexes) does not always yield to a signal.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from math_verify import LatexExtractionConfig, parse, verify
from math_verify.errors import TimeoutException
from math_verify.utils import timeout as mv_timeout
from sympy import Basic, MatrixBase

from ssdlib.grading.policy import (
    apply_percent_policy,
    has_text_command,
    relatively_close,
    units_out_of_text,
)

# boxed_match_priority=0: the text we parse is exactly "\boxed{<candidate>}", so the box
# pattern is the one that should win; the rest of the config is math-verify's default
# normalisation (units, \text{}, \left/\right, \dfrac, percentages, degrees, ...).
EXTRACTION_CONFIG = (LatexExtractionConfig(boxed_match_priority=0),)

# A grouped integer written with TeX/space thousands separators ("10\,609", "10 609").
# math-verify reads "10\,609" as 10 + 609 = 619, a wrong VALUE (and a false positive if the
# gold is 619), so the separators are removed -- but only when the WHOLE candidate is such a
# number, so tuples, products and other expressions are never touched.
_GROUPED_NUMBER = re.compile(r"-?\d{1,3}(?:(?:\\,|\\;|\\ |~|\s)\d{3})+(?:\.\d+)?")
_GROUP_SEPARATOR = re.compile(r"\\,|\\;|\\ |~|\s")

# Outcome notes shared with the parent (ssdlib.grading.grade).
NOTE_TIMEOUT = "timeout"
NOTE_GOLD_UNPARSED = "gold_unparsed"
NOTE_PRED_UNPARSED = "pred_unparsed"
NOTE_VERIFY_ERROR = "verify_error"


def prepare(answer: str) -> str:
    """Light, value-preserving clean-up of an answer string before math-verify parses it.

    Strips whitespace, surrounding ``$...$`` / ``$$...$$``, one trailing period ("3." is a
    sentence end, which math-verify otherwise keeps as a string) and TeX thousands
    separators of a bare grouped number. Anything else is left to math-verify.
    """
    s = answer.strip()
    while len(s) >= 2 and s.startswith("$") and s.endswith("$"):
        s = s[1:-1].strip()
    if s.endswith(".") and not s.endswith(".."):
        s = s[:-1].rstrip()
    if _GROUPED_NUMBER.fullmatch(s):
        s = _GROUP_SEPARATOR.sub("", s)
    return s


def inner_timeout(timeout_s: float) -> int:
    """Whole seconds for math-verify's own alarms: half the sample budget, at least 1 s.

    Parsing and each comparison get their own alarm, so half the budget leaves room for
    two stages before the parent's hard deadline (signal.alarm only takes whole seconds).
    """
    return max(1, math.floor(timeout_s / 2))


@lru_cache(maxsize=8192)
def _parse_cached(answer: str, alarm_s: int) -> tuple:
    # Cached because every sample of a prompt shares the gold answer, and identical
    # candidates ("10609") recur across samples. Exceptions are not cached by lru_cache.
    parsed = parse(
        "\\boxed{" + prepare(answer) + "}",
        extraction_config=EXTRACTION_CONFIG,
        parsing_timeout=alarm_s,
        raise_on_error=True,
    )
    return tuple(parsed)


def parse_answer(answer: str, timeout_s: float = 5.0) -> list:
    """Parse one answer string (gold or candidate) into math-verify's list of targets.

    Returns [] when nothing could be extracted; raises math-verify's TimeoutException (a
    BaseException) when its alarm fires.
    """
    return list(_parse_cached(answer, inner_timeout(timeout_s)))


def _verify(gold: list, pred: list, timeout_s: float) -> bool:
    """math-verify on each (gold, pred) target pair, a True also passing the relative test of
    ``policy.relatively_close`` (math-verify alone equates numbers closer than ~1e-15)."""
    alarm = inner_timeout(timeout_s)
    close = mv_timeout(alarm)(relatively_close)
    for g in gold:
        for p in pred:
            if verify([g], [p], timeout_seconds=alarm, raise_on_error=True) and close(g, p):
                return True
    return False


def _has_math(parsed: list) -> bool:
    """True if math-verify produced a sympy object, not only its raw-string fallback."""
    return any(isinstance(x, (Basic, MatrixBase)) for x in parsed)


def check_answer(
    gold: str, candidate: str, timeout_s: float = 5.0
) -> tuple[bool | None, str | None]:
    """Is ``candidate`` (a model's boxed answer) equivalent to ``gold``? Worker task.

    Returns ``(verdict, note)``. verdict is True/False, or None when math-verify timed out
    (note "timeout"). note "gold_unparsed" marks a gold that math-verify could only keep as
    a raw string (a data problem: only an identical string can match it); "pred_unparsed"
    a wrong candidate that did not parse as math; "verify_error" a comparison that raised.

    Policies on top of math-verify (``ssdlib.grading.policy``): a percentage is read as its
    fraction only when the gold is a fraction, else as its number; ``\\text{5 apples}`` loses
    its unit when the gold has no ``\\text``; two numbers must also agree to a relative
    precision (never only to an absolute tolerance near zero).
    """
    if not has_text_command(gold):
        candidate = units_out_of_text(candidate)
    try:
        g = parse_answer(gold, timeout_s)
        p = parse_answer(candidate, timeout_s)
    except TimeoutException:
        return None, NOTE_TIMEOUT
    except Exception:
        return False, NOTE_VERIFY_ERROR
    if not g:
        return False, NOTE_GOLD_UNPARSED
    if not p:
        return False, NOTE_PRED_UNPARSED
    try:
        verdict = _verify(*apply_percent_policy(prepare(gold), g, p), timeout_s)
    except TimeoutException:
        return None, NOTE_TIMEOUT
    except Exception:
        return False, NOTE_VERIFY_ERROR
    if not _has_math(g):
        return verdict, NOTE_GOLD_UNPARSED
    if not verdict and not _has_math(p):
        return verdict, NOTE_PRED_UNPARSED
    return verdict, None


def equivalent(a: str, b: str, timeout_s: float = 5.0) -> bool | None:
    """Are two reference answers the same answer? Worker task for answers_equivalent.

    math-verify's ``verify`` is asymmetric (``x=2`` vs ``2`` simplifies assignments only on
    one side), and neither string is "the gold" here, so the pair counts as equivalent when
    either direction verifies. None when either side is empty/unparseable or on a timeout.
    """
    if not a.strip() or not b.strip():
        return None
    try:
        pa, pb = parse_answer(a, timeout_s), parse_answer(b, timeout_s)
        if not pa or not pb:
            return None
        return _verify(pa, pb, timeout_s) or _verify(pb, pa, timeout_s)
    except TimeoutException:
        return None
    except Exception:
        return None
