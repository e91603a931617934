"""The five labelled categories added by issue #13, built from ``families.FAMILIES``.

category                    label  side b (side a is the family's ``text``)
reworded_2                  pos    the same problem as another author writes it: same numbers,
                                   same answer, different sentence ("How many divisors does N
                                   have?" / "Determine the number of integers that divide N.")
latex_spelling              pos    the same text with 2-4 LaTeX SPELLING changes that the
                                   pre-#13 normaliser cannot see: ``$`` dropped, ``x^{2}`` vs
                                   ``x^2``, ``xy`` vs ``x y``, ``\\dfrac`` vs ``\\frac``,
                                   ``\\cdot`` vs ``\\times``, ``1{,}000``, spacing in math
same_numbers_diff_question  neg    the family's ``other``: same objects and numbers, another
                                   question, a different answer (altitude vs area)
same_template_diff_numbers  neg    the same text with one number changed, answer recomputed
unrelated_same_answer_2     neg    another family's problem carrying THIS family's answer
                                   (written differently): agreeing answers alone prove nothing
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .base_problems import fill
from .families import FAMILIES

CATEGORIES_13: dict[str, bool] = {
    "reworded_2": True,
    "latex_spelling": True,
    "same_numbers_diff_question": False,
    "same_template_diff_numbers": False,
    "unrelated_same_answer_2": False,
}

_MATH = re.compile(r"\$([^$]*)\$")


def _in_math(fn):
    return lambda t: _MATH.sub(lambda m: "$" + fn(m.group(1)) + "$", t)


def _space_ops(s: str) -> str:
    return re.sub(r"\s*([=+<>]|(?<![\\{(^])-)\s*", r" \1 ", s).strip()


def _drop_dollars(t: str) -> str:
    # Plain-text math, as scraped from HTML: "$x+y=10$" -> "x + y = 10".
    return _MATH.sub(lambda m: _space_ops(m.group(1)), t)


_SPELLINGS = {
    "drop_dollars": _drop_dollars,
    "brace_scripts": lambda t: (
        re.sub(r"\^\{(\w)\}", r"^\1", t)
        if re.search(r"\^\{\w\}", t)
        else re.sub(r"\^(\w)", r"^{\1}", t)
    ),
    "split_products": _in_math(
        lambda s: re.sub(r"(?<![\\A-Za-z])([a-z])([a-z])(?![A-Za-z])", r"\1 \2", s)
    ),
    "dfrac": lambda t: (
        t.replace("\\dfrac", "\\frac") if "\\dfrac" in t else t.replace("\\frac", "\\dfrac")
    ),
    "times": lambda t: (
        t.replace("\\cdot", "\\times") if "\\cdot" in t else t.replace("\\times", "\\cdot")
    ),
    "thousands": _in_math(lambda s: re.sub(r"(?<![\d.])(\d{1,3})(\d{3})(?![\d.])", r"\1{,}\2", s)),
    "math_spacing": _in_math(lambda s: _space_ops(s) if " " not in s else s.replace(" ", "")),
    "paren_delims": lambda t: _MATH.sub(lambda m: "\\(" + m.group(1) + "\\)", t),
    "slash_frac": _in_math(lambda s: re.sub(r"\\d?frac\{(\d+)\}\{(\d+)\}", r"\1/\2", s)),
}


def latex_spelling(text: str, rng: np.random.Generator) -> str:
    """``text`` with 2-4 applicable LaTeX spelling changes (never the same string)."""
    names = [n for n, f in _SPELLINGS.items() if f(text) != text]
    k = min(len(names), int(rng.integers(2, 5)))
    order = list(rng.choice(names, size=k, replace=False))
    # Delimiter changes last: the other changes look for $...$.
    order.sort(key=lambda n: n in ("drop_dollars", "paren_delims"))
    if "drop_dollars" in order and "paren_delims" in order:
        order.remove("paren_delims")
    out = text
    for n in order:
        out = _SPELLINGS[str(n)](out)
    if out == text:
        raise ValueError(f"no LaTeX spelling change applies to {text!r}")
    return out


def family_pairs(seed: int, renumber, fmt_answer) -> pd.DataFrame:
    """Five labelled pairs per family (41 families -> 205 rows), columns as ``labelled_pairs``.

    ``renumber`` and ``fmt_answer`` are labelled.py's (passed in to avoid an import cycle).
    """
    rng = np.random.default_rng(10_000 + seed)
    rows = []
    n = len(FAMILIES)
    for i, f in enumerate(FAMILIES):
        text, ans = fill(f.text, f.params), f.answer(f.params)
        a_str = fmt_answer(ans)
        r_text, r_ans, _ = renumber(f, rng)
        other = FAMILIES[(i + 1 + int(rng.integers(0, n - 1))) % n]
        variants = {
            "reworded_2": (fill(f.reworded, f.params), fmt_answer(ans, rng)),
            "latex_spelling": (latex_spelling(text, rng), fmt_answer(ans, rng)),
            "same_numbers_diff_question": (
                fill(f.other, f.params),
                fmt_answer(f.other_answer(f.params)),
            ),
            "same_template_diff_numbers": (r_text, fmt_answer(r_ans)),
            "unrelated_same_answer_2": (fill(other.text, other.params), fmt_answer(ans, rng)),
        }
        for cat, (tb, ab) in variants.items():
            rows.append(
                {
                    "pair_id": f"{f.key}/{cat}",
                    "base": f.key,
                    "category": cat,
                    "label": CATEGORIES_13[cat],
                    "problem_a": text,
                    "problem_b": tb,
                    "answer_a": a_str,
                    "answer_b": ab,
                }
            )
    return pd.DataFrame(rows)
