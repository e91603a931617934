"""Algebra families: symmetric functions of roots, polynomial evaluation, linear systems."""

from __future__ import annotations

import random
from fractions import Fraction

from ssdlib.data.synthetic.core import Family, Params, by_level, frac_tex, poly_tex


def expand_roots(lead: int, roots: list[int]) -> list[int]:
    """Coefficients (highest degree first) of lead * prod (x - r)."""
    coeffs = [lead]
    for r in roots:
        # multiply by (x - r): new[i] = old[i] - r * old[i-1]
        coeffs = [a - r * b for a, b in zip(coeffs + [0], [0] + coeffs)]
    return coeffs


def _root_stat(p: Params) -> str:
    roots = p["roots"]
    if p["ask"] == "sum":
        return str(sum(roots))
    if p["ask"] == "squares":
        return str(sum(r * r for r in roots))
    prod = 1
    for r in roots:
        prod *= r
    return str(prod)


def _draw_roots(rng: random.Random, level: int) -> Params:
    k, span, leads, asks = by_level(
        level,
        {
            1: (2, 6, (1,), ("sum", "product")),
            2: (2, 10, (1, 2), ("sum", "product")),
            3: (3, 8, (1, 2, 3), ("sum", "product", "squares")),
            4: (3, 12, (2, 3, 4), ("squares", "product")),
            5: (4, 12, (2, 3, 5), ("squares", "product")),
        },
    )
    roots = sorted(rng.sample([r for r in range(-span, span + 1) if r != 0], k))
    return {"lead": rng.choice(leads), "roots": roots, "ask": rng.choice(asks)}


_ASK_LONG = {
    "sum": "sum of the roots",
    "squares": "sum of the squares of the roots",
    "product": "product of the roots",
}
_ASK_SHORT = {"sum": "sum", "squares": "sum of squares", "product": "product"}

ROOTS = Family(
    name="root_symmetric_functions",
    topic="algebra",
    templates=(
        "Find the {long} of the equation ${poly} = 0$.",
        "What is the {long} of the polynomial ${poly}$?",
        "The equation ${poly} = 0$ has {k} distinct real roots. What is their {short}?",
    ),
    draw=_draw_roots,
    solve=_root_stat,
    fields=lambda p: {
        "poly": poly_tex(expand_roots(p["lead"], p["roots"])),
        "k": len(p["roots"]),
        "long": _ASK_LONG[p["ask"]],
        "short": _ASK_SHORT[p["ask"]],
    },
    # distinct nonzero roots: "the roots" is unambiguous (no multiplicities) and the product is informative
    valid=lambda p: (
        len(set(p["roots"])) == len(p["roots"]) and 0 not in p["roots"] and p["lead"] >= 1
    ),
    renumber_keys=("roots",),
)


def _draw_poly_eval(rng: random.Random, level: int) -> Params:
    deg, cmax, tmax = by_level(
        level, {1: (2, 5, 3), 2: (2, 9, 5), 3: (3, 9, 5), 4: (4, 12, 6), 5: (5, 15, 7)}
    )
    coeffs = [rng.randint(1, cmax)] + [rng.randint(-cmax, cmax) for _ in range(deg)]
    t = rng.choice([v for v in range(-tmax, tmax + 1) if v not in (0, 1)])
    return {"coeffs": coeffs, "t": t}


def _poly_value(p: Params) -> str:
    value = 0
    for c in p["coeffs"]:  # Horner
        value = value * p["t"] + c
    return str(value)


POLY_EVAL = Family(
    name="polynomial_value",
    topic="algebra",
    templates=(
        "Let $p(x) = {poly}$. Compute $p({t})$.",
        "Evaluate ${poly}$ at $x = {t}$.",
        "If $f(x) = {poly}$, what is the value of $f({t})$?",
    ),
    draw=_draw_poly_eval,
    solve=_poly_value,
    fields=lambda p: {"poly": poly_tex(p["coeffs"]), "t": p["t"]},
    valid=lambda p: p["coeffs"][0] != 0 and abs(p["t"]) <= 10,
    renumber_keys=("coeffs", "t"),
)


def solve_linear(a: list[list[int]], b: list[int]) -> list[Fraction] | None:
    """Exact solution of a x = b by Gauss-Jordan elimination over the rationals; None if singular."""
    n = len(a)
    m = [[Fraction(v) for v in row] + [Fraction(rhs)] for row, rhs in zip(a, b)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if m[r][col] != 0), None)
        if pivot is None:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col])]
    return [m[i][n] / m[i][i] for i in range(n)]


_VARS = ("x", "y", "z")


def _product(values: list[Fraction]) -> Fraction:
    out = Fraction(1)
    for v in values:
        out *= v
    return out


def _draw_system(rng: random.Random, level: int) -> Params:
    n, cmax, smax = by_level(
        level, {1: (2, 3, 5), 2: (2, 6, 9), 3: (2, 9, 15), 4: (3, 5, 9), 5: (3, 9, 15)}
    )
    while True:
        a = [
            [rng.choice([v for v in range(-cmax, cmax + 1) if v != 0]) for _ in range(n)]
            for _ in range(n)
        ]
        sol = [rng.randint(-smax, smax) for _ in range(n)]
        b = [sum(c * s for c, s in zip(row, sol)) for row in a]
        if solve_linear(a, b) is not None:
            return {"a": a, "b": b}


def _equation(row: list[int], rhs: int) -> str:
    return f"{poly_terms(row)} = {rhs}"


def poly_terms(row: list[int]) -> str:
    """Linear form ``3x - y + 2z`` from integer coefficients over x, y, z."""
    out = []
    for c, v in zip(row, _VARS):
        if c == 0:
            continue
        mag = "" if abs(c) == 1 else str(abs(c))
        sign = ("-" if c < 0 else "") if not out else ("- " if c < 0 else "+ ")
        out.append(f"{sign}{mag}{v}")
    return " ".join(out) or "0"


def _listing(items: list[str]) -> str:
    return " and ".join(items) if len(items) == 2 else ", ".join(items[:-1]) + ", and " + items[-1]


def _system_fields(p: Params) -> dict:
    eqs = [_equation(row, rhs) for row, rhs in zip(p["a"], p["b"])]
    names = _VARS[: len(p["a"])]
    return {
        "system": "\\begin{cases} " + " \\\\ ".join(eqs) + " \\end{cases}",
        "eqs": _listing([f"${e}$" for e in eqs]),
        "names": _listing([f"${v}$" for v in names]),
        "target": "".join(names),  # the product: a sum could be read off one equation
    }


SYSTEM = Family(
    name="linear_system",
    topic="algebra",
    templates=(
        "Solve the system $${system}$$ and give the value of ${target}$.",
        "Real numbers {names} satisfy {eqs}. Find ${target}$.",
        "Suppose {eqs}. What is ${target}$?",
    ),
    draw=_draw_system,
    solve=lambda p: frac_tex(_product(solve_linear(p["a"], p["b"]))),
    fields=_system_fields,
    valid=lambda p: solve_linear(p["a"], p["b"]) is not None,
    renumber_keys=(
        "b",
    ),  # changing a right-hand side keeps the system solvable; xy may become a fraction
)

FAMILIES = (ROOTS, POLY_EVAL, SYSTEM)
