"""Are two gold answers the same? A cheap string check first, then math-verify.

``_answers_agree`` is the one adapter the contamination code calls. It prefers
``ssdlib.grading.answers_equivalent_batch`` (math-verify in killable worker processes, so a
pathological answer cannot hang the scan); while that module does not exist it falls back to
math-verify in this process, guarded by try/except. ``LAST_PATH`` records which path ran.

Result per pair: True (equivalent), False (not), None (unknown: an answer is empty, or the
checker timed out / could not parse). The rules treat None like False: with no evidence that
the answers agree, a pair needs the higher similarity threshold.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .normalize import normalize_answer

LAST_PATH: str = "none"  # "grading" | "inprocess" | "strings-only": which checker ran last


def _wrap(a: str) -> str:
    # math-verify's LaTeX extraction needs delimiters: bare "1/2" or "(1,2)" otherwise fail.
    return a if "$" in a or "\\(" in a or "\\[" in a else f"${a}$"


def _verify_inprocess(pairs: list[tuple[str, str]]) -> list[bool | None]:
    from math_verify import parse, verify

    out: list[bool | None] = []
    for a, b in pairs:
        try:
            pa, pb = parse(_wrap(a)), parse(_wrap(b))
            out.append(bool(verify(pa, pb)) if pa and pb else None)
        except Exception:  # math-verify raises on odd LaTeX and on its own timeouts
            out.append(None)
    return out


def _answers_agree(pairs: list[tuple[str, str]], timeout_s: float = 5.0) -> list[bool | None]:
    """Equivalence of each (answer_a, answer_b) pair: True / False / None (unknown)."""
    global LAST_PATH
    out: list[bool | None] = [None] * len(pairs)
    todo: list[int] = []
    for k, (a, b) in enumerate(pairs):
        if not isinstance(a, str) or not isinstance(b, str) or not a.strip() or not b.strip():
            continue  # unknown answer: no evidence either way
        if normalize_answer(a) == normalize_answer(b):
            out[k] = True
        else:
            todo.append(k)
    if not todo:
        LAST_PATH = "strings-only"
        return out
    sub = [(pairs[k][0], pairs[k][1]) for k in todo]
    try:
        from ssdlib.grading import answers_equivalent_batch
    except ImportError:
        answers_equivalent_batch = None
    if answers_equivalent_batch is not None:
        LAST_PATH = "grading"
        res = answers_equivalent_batch(sub, timeout_s=timeout_s)
    else:
        LAST_PATH = "inprocess"
        res = _verify_inprocess(sub)
    for k, r in zip(todo, res):
        out[k] = r
    return out


_FRAC_ANS = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(\d+)\}$")
_PLAIN_NUM = re.compile(r"^-?\d+(?:\.\d+)?(?:/\d+)?$")


def numeric_value(answer) -> Fraction | None:
    """The exact value of a plainly numeric answer ("12", "0.75", "3/4", "\\frac{3}{4}",
    "\\boxed{12}", "$-5$"), else None (expressions, tuples, text: leave those to math-verify)."""
    if not isinstance(answer, str) or not answer.strip():
        return None
    a = normalize_answer(answer)
    m = _FRAC_ANS.match(a)
    if m:
        sign, p, q = m.groups()
        return -Fraction(int(p), int(q)) if sign else Fraction(int(p), int(q)) if int(q) else None
    if _PLAIN_NUM.match(a):
        try:
            return Fraction(a)
        except (ValueError, ZeroDivisionError):
            return None
    return None


def quick_agree(pairs: list[tuple]) -> list[bool | None]:
    """Cheap verdicts without math-verify: True when the normalised strings or the exact numeric
    values agree, False when both values are plain numbers that differ, None otherwise."""
    out: list[bool | None] = []
    for a, b in pairs:
        if not isinstance(a, str) or not isinstance(b, str) or not a.strip() or not b.strip():
            out.append(None)
            continue
        if normalize_answer(a) == normalize_answer(b):
            out.append(True)
            continue
        va, vb = numeric_value(a), numeric_value(b)
        out.append(None if va is None or vb is None else va == vb)
    return out
