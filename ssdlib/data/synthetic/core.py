"""The problem-family abstraction behind the offline generator.

A family knows how to draw parameters for a difficulty level (1-5), how to compute the exact
answer from them, and several phrasings (templates) of the same question. Templates are
``str.format`` strings over ``fields(params)``; LaTeX braces are doubled (``{{``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

Params = dict[str, Any]


@dataclass(frozen=True)
class Family:
    """One kind of problem.

    name:           unique family name (goes to meta)
    topic:          counting | number_theory | algebra | combinatorics | probability
    templates:      phrasings of the same question (>= 2, so a problem can be reworded)
    draw:           (rng, level) -> params; higher level = larger / harder parameters
    solve:          params -> exact answer string (integer, or ``\\frac{p}{q}``)
    fields:         params -> template fields (default: params themselves)
    valid:          params -> bool; bounds a changed ("renumbered") problem must respect
    renumber_keys:  int or list[int] params that may be changed to make a different problem
    """

    name: str
    topic: str
    templates: tuple[str, ...]
    draw: Callable[[random.Random, int], Params]
    solve: Callable[[Params], str]
    fields: Callable[[Params], dict] = field(default=lambda p: p)
    valid: Callable[[Params], bool] = field(default=lambda p: True)
    renumber_keys: tuple[str, ...] = ()

    def render(self, params: Params, template: int) -> str:
        """Problem text for ``params`` in phrasing number ``template``."""
        return self.templates[template].format(**self.fields(params))

    def renumber(self, params: Params, rng: random.Random, tries: int = 200) -> Params | None:
        """Params with one number changed by 1-3 such that the problem stays valid and the
        answer changes; None if no such change was found in ``tries`` attempts."""
        if not self.renumber_keys:
            return None
        old = self.solve(params)
        for _ in range(tries):
            new = json.loads(json.dumps(params))  # deep copy of JSON-native params
            key = rng.choice(self.renumber_keys)
            delta = rng.choice((-3, -2, -1, 1, 2, 3))
            if isinstance(new[key], list):
                new[key][rng.randrange(len(new[key]))] += delta
            else:
                new[key] += delta
            if self.valid(new) and self.solve(new) != old:
                return new
        return None


def params_key(family: str, params: Params) -> str:
    """Canonical identity of a drawn problem (family + params), used to dedupe pools."""
    return family + ":" + json.dumps(params, sort_keys=True, separators=(",", ":"))


def frac_tex(x: Fraction | int) -> str:
    """Exact rational as an answer string: ``7``, ``-3``, ``\\frac{3}{8}``, ``-\\frac{1}{2}``."""
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    sign = "-" if x < 0 else ""
    return f"{sign}\\frac{{{abs(x.numerator)}}}{{{x.denominator}}}"


def poly_tex(coeffs: list[int], var: str = "x") -> str:
    """Polynomial with integer ``coeffs`` (highest degree first) as LaTeX: [2,-3,0,5] -> 2x^{3} - 3x^{2} + 5."""
    deg = len(coeffs) - 1
    parts: list[str] = []
    for i, c in enumerate(coeffs):
        if c == 0:
            continue
        p = deg - i
        mag = abs(c)
        mono = "" if p == 0 else (var if p == 1 else f"{var}^{{{p}}}")
        body = str(mag) if (mag != 1 or p == 0) else ""
        term = body + mono
        if not parts:
            parts.append(("-" if c < 0 else "") + term)
        else:
            parts.append(("- " if c < 0 else "+ ") + term)
    return " ".join(parts) if parts else "0"


NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def by_level(level: int, table: dict[int, Any]) -> Any:
    """Entry of a per-level table; raises ValueError for a level outside 1-5."""
    if level not in table:
        raise ValueError(f"difficulty level must be one of {sorted(table)}, got {level}")
    return table[level]
