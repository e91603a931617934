"""Arithmetic warm-ups: the easy end of the difficulty scale.

A 135M-parameter smoke model solves almost none of the competition families, which would leave
the smoke profile's accuracies, variances and paired tests all at zero. These problems give it
something it can sometimes get right, so every statistic downstream has real spread to measure.
"""

from __future__ import annotations

import random

from ssdlib.data.synthetic.core import Family, Params, by_level


def _draw(rng: random.Random, level: int) -> Params:
    hi, op_choices = by_level(
        level,
        {
            1: (9, ("+",)),
            2: (20, ("+", "-")),
            3: (50, ("+", "-", "*")),
            4: (200, ("+", "-", "*")),
            5: (999, ("*",)),
        },
    )
    return {"a": rng.randint(2, hi), "b": rng.randint(2, hi), "op": rng.choice(op_choices)}


def _solve(p: Params) -> str:
    a, b = p["a"], p["b"]
    return str({"+": a + b, "-": a - b, "*": a * b}[p["op"]])


_WORD = {"+": "sum", "-": "difference", "*": "product"}
_TEX = {"+": "+", "-": "-", "*": "\\times"}

ARITHMETIC = Family(
    name="arithmetic",
    topic="arithmetic",
    templates=(
        "What is ${a} {tex} {b}$?",
        "Compute ${a} {tex} {b}$.",
        "Evaluate the expression ${a} {tex} {b}$.",
    ),
    draw=_draw,
    solve=_solve,
    fields=lambda p: {**p, "tex": _TEX[p["op"]], "word": _WORD[p["op"]]},
    valid=lambda p: p["a"] >= 2 and p["b"] >= 2,
    renumber_keys=("a", "b"),
)

FAMILIES = (ARITHMETIC,)
