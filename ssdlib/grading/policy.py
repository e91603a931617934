"""Grading verdicts math-verify leaves open or gets wrong, decided here (issue #18).

Runs inside the grading workers, on the strings and the parsed targets of ``equivalence``.

1. Percentages. math-verify reads ``50\\%`` as 50 * (1/100) and accepts it against BOTH gold
   ``50`` and gold ``\\frac{1}{2}``; whichever the problem meant, the other is a false positive.
   Policy: the gold's form picks ONE reading, never both.
   - gold a fraction (a non-integer rational written with a fraction bar, ``\\frac{1}{2}``,
     ``3/4``, or a decimal strictly between -1 and 1, ``0.25``): a predicted ``p\\%`` is read
     as its fraction p/100 (``50\\%`` vs ``\\frac{1}{2}``: correct; ``\\frac{1}{2}\\%``: wrong).
   - any other gold (an integer ``50``, a decimal such as ``12.5``, an expression): ``p\\%`` is
     read as the number p, the sign dropped (``50\\%`` vs ``50``: correct). Golds of "what
     percent" problems are stored without the sign (MATH, Numina), so this is the common case.
   - gold a percentage ``q\\%``: the gold is read as q and a predicted ``p\\%`` as p; a bare
     prediction is compared with q (``50`` vs ``50\\%``: correct; ``\\frac{1}{2}`` and ``0.5``
     vs ``50\\%``: wrong, the problem asked for a percentage).
   Only a percentage that is the whole answer is re-read; one inside a tuple or an expression
   is left to math-verify.
2. Units in ``\\text{}``. math-verify drops a unit after a number (``5\\text{ apples}`` -> 5)
   but reads ``\\text{5 apples}`` as one symbol. When the gold has no ``\\text``-like command,
   a number at the start of a ``\\text{...}`` whose rest is words is moved out of it
   (``\\text{5 apples}`` -> ``5\\text{ apples}``), so math-verify's own unit rule applies.
   Words that change the claim (or, and, to, than, more, less, ...) are not units: such text
   is left alone.
3. Magnitudes. math-verify's numeric path tests ``(a - b).evalf(chop=True) == 0``: ``chop``
   zeroes anything below ~1e-15 in absolute value, so ``1/100!`` equals ``1/101!`` (reported
   upstream: huggingface/Math-Verify#14; ``verify`` has no option for a relative test, its
   ``numeric_precision`` only moves the absolute cut-off). A True verdict on two numbers
   therefore also needs a relative test at :data:`DIGITS` significant digits:
   |a - b| <= tol * max(|a|, |b|), tol = :data:`REL_TOL_EXACT` when both are exact (the same
   value, to 30 digits) and :data:`REL_TOL_DECIMAL` when one is a decimal (an approximation
   that math-verify also rounds to 6 places). Tuples, intervals, sets and ``x = ...`` answers
   are checked element by element. It can only turn a True into a False.
"""

from __future__ import annotations

import re

from sympy import (
    Basic,
    Eq,
    FiniteSet,
    Float,
    Integer,
    Interval,
    Mul,
    Rational,
    Tuple,
    UnevaluatedExpr,
)

DIGITS = 50  # significant digits the relative test evaluates both values to
REL_TOL_EXACT = 1e-30  # exact vs exact: equal to 30 digits (exact forms agree to all 50)
REL_TOL_DECIMAL = 1e-4  # a decimal answer: agrees to about 4 significant digits

_PCT = UnevaluatedExpr(Rational(1, 100))
_TEXT_CMD = re.compile(r"\\(?:text|textrm|textnormal|textup|mbox|mathrm)\s*\{")
_FRACTION_BAR = re.compile(r"\\[dt]?frac|/")
# \text{5 apples}: a number (sign, thousands commas, decimals) then words only.
_TEXT_NUMBER_UNITS = re.compile(
    r"\\(?:text|textrm|textnormal|textup|mbox)\s*\{\s*(-?\d[\d,]*(?:\.\d+)?)\s+([A-Za-z][A-Za-z .]*?)\s*\}"
)
_NOT_UNITS = frozenset(
    {
        "or",
        "and",
        "to",
        "not",
        "no",
        "than",
        "more",
        "less",
        "least",
        "most",
        "plus",
        "minus",
        "times",
        "except",
        "if",
        "only",
        "about",
        "approximately",
        "between",
    }
)


# --- 1. percentages ---------------------------------------------------------------------------


def percent_value(x) -> Basic | None:
    """p for a parsed ``p\\%`` (math-verify's ``p * UnevaluatedExpr(1/100)``), else None."""
    if isinstance(x, Mul) and len(x.args) == 2 and _PCT in x.args:
        return x.args[0] if x.args[1] == _PCT else x.args[1]
    return None


def gold_is_fraction(gold_text: str, gold) -> bool:
    """A non-integer rational written as a fraction, or a decimal strictly between -1 and 1."""
    if not isinstance(gold, (Rational, Float)) or isinstance(gold, Integer) or gold.is_integer:
        return False
    return bool(_FRACTION_BAR.search(gold_text)) or abs(gold) < 1


def apply_percent_policy(gold_text: str, gold: list, pred: list) -> tuple[list, list]:
    """Re-read whole-answer percentages in the parsed targets (rules in the module docstring)."""
    g_pct = [percent_value(x) for x in gold]
    if any(v is not None for v in g_pct):
        gold = [v if v is not None else x for x, v in zip(gold, g_pct)]
        return gold, [_percent_as(x, False) for x in pred]
    as_fraction = any(gold_is_fraction(gold_text, x) for x in gold if isinstance(x, Basic))
    return gold, [_percent_as(x, as_fraction) for x in pred]


def _percent_as(x, as_fraction: bool):
    v = percent_value(x)
    if v is None:
        return x
    return v / 100 if as_fraction else v


# --- 2. units in \text{} ----------------------------------------------------------------------


def has_text_command(answer: str) -> bool:
    """Does ``answer`` hold a ``\\text{}``-like command (words or units in the gold)?"""
    return bool(_TEXT_CMD.search(answer))


def units_out_of_text(candidate: str) -> str:
    """``\\text{5 apples}`` -> ``5\\text{ apples}`` (see the module docstring, rule 2)."""

    def move(m: re.Match) -> str:
        words = m.group(2).replace(".", " ").split()
        if not words or any(w.lower() in _NOT_UNITS for w in words):
            return m.group(0)
        return f"{m.group(1).replace(',', '')}\\text{{ {m.group(2)}}}"

    return _TEXT_NUMBER_UNITS.sub(move, candidate)


# --- 3. magnitudes ----------------------------------------------------------------------------


def _rhs(x):
    """The value side of ``x = value`` (math-verify compares that against a bare gold)."""
    return x.rhs if isinstance(x, Eq) else x


def _value(x):
    """``x`` to :data:`DIGITS` significant digits (a nested percent's marker dropped first)."""
    x = x.xreplace({u: u.args[0] for u in x.atoms(UnevaluatedExpr)})
    return x.evalf(DIGITS)


def relatively_close(gold, pred) -> bool:
    """False only when two NUMBERS differ beyond the relative tolerance (rule 3); True when the
    pair is not numeric (symbols, relations), so math-verify's own verdict stands there."""
    if not isinstance(gold, Basic) or not isinstance(pred, Basic):
        return True  # raw strings: math-verify compared them by ==
    if isinstance(gold, Eq) and isinstance(pred, Eq):
        return relatively_close(gold.lhs, pred.lhs) and relatively_close(gold.rhs, pred.rhs)
    gold, pred = _rhs(gold), _rhs(pred)
    if isinstance(gold, Interval) and isinstance(pred, Interval):
        return relatively_close(gold.start, pred.start) and relatively_close(gold.end, pred.end)
    if isinstance(gold, (Tuple, FiniteSet)) and type(gold) is type(pred):
        if len(gold.args) != len(pred.args):
            return True
        return all(relatively_close(a, b) for a, b in zip(gold.args, pred.args))
    if gold == pred:
        return True  # the same expression: nothing to evaluate (10^{10^{10}} must not be expanded)
    try:
        if not (gold.is_number and pred.is_number):
            return True
        # evalf, never doit(): it works on 10^{10^{10}} or 1/100000! without building the integer
        a, b = _value(gold), _value(pred)
        if not (a.is_number and b.is_number):
            return True
        scale = max(abs(a), abs(b))
        if scale == 0:
            return True
        tol = REL_TOL_DECIMAL if (gold.has(Float) or pred.has(Float)) else REL_TOL_EXACT
        return bool(abs(a - b) <= tol * scale)
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return True  # not evaluable as numbers: leave the verdict to math-verify
