"""Synthetic generator: exact answers (checked by brute force / sympy), scaling, templates, determinism."""

import json
import math
import random
import re
from fractions import Fraction
from itertools import combinations, permutations, product

import pandas as pd
import pytest
import sympy

from ssdlib.data.synthetic import FAMILIES, FAMILY_BY_NAME, count_no_run, generate_problems
from ssdlib.data.synthetic.algebra import expand_roots
from ssdlib.data.synthetic.combinatorics import count_lineups
from ssdlib.schema import PROBLEM_COLUMNS


def as_fraction(ans: str) -> Fraction:
    """Parse a generator answer ("12", "-3", "\\frac{3}{8}", "-\\frac{1}{2}") independently of the code."""
    m = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", ans)
    if m:
        return Fraction(int(m.group(2)), int(m.group(3))) * (-1 if m.group(1) else 1)
    return Fraction(int(ans))


def draws(family, level, n=12, seed=0):
    rng = random.Random(seed)
    return [family.draw(rng, level) for _ in range(n)]


# --- the seed problem's family -------------------------------------------------------------


def test_seed_problem_n15_gives_10609():
    assert count_no_run(15, 3) == 10609


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("n", range(0, 13))
def test_no_run_recurrence_matches_brute_force(n, k):
    brute = sum(1 for mask in range(2**n) if "1" * k not in format(mask, f"0{n}b"))
    assert count_no_run(n, k) == brute


# --- brute-force checks of every family on small levels ----------------------------------


def brute(name: str, p: dict) -> Fraction | None:
    """Independent answer by enumeration (None if too big to enumerate)."""
    if name == "arithmetic":  # count up / repeated addition, not the operator under test
        a, b = p["a"], p["b"]
        if p["op"] == "+":
            return Fraction(len(range(a)) + len(range(b)))
        if p["op"] == "-":
            return Fraction(len(range(a)) - len(range(b)))
        return Fraction(sum(a for _ in range(b)))
    if name == "no_consecutive_subsets":
        if p["n"] > 14:
            return None
        return Fraction(
            sum(
                1
                for s in product((0, 1), repeat=p["n"])
                if "1" * p["k"] not in "".join(map(str, s))
            )
        )
    if name == "divisible_count":
        return Fraction(sum(1 for x in range(1, p["n"] + 1) if any(x % d == 0 for d in p["d"])))
    if name == "power_remainder":
        return Fraction(p["a"] ** p["e"] % p["m"]) if p["e"] <= 5000 else None
    if name == "gcd_lcm":
        a, b = p["a"], p["b"]
        if p["op"] == "gcd":
            return Fraction(max(d for d in range(1, min(a, b) + 1) if a % d == 0 and b % d == 0))
        return Fraction(next(m for m in range(max(a, b), a * b + 1) if m % a == 0 and m % b == 0))
    if name == "number_of_divisors":
        return (
            Fraction(sum(1 for d in range(1, p["n"] + 1) if p["n"] % d == 0))
            if p["n"] <= 300_000
            else None
        )
    if name == "last_digits":
        return Fraction(int(str(p["a"] ** p["e"])[-p["d"] :])) if p["e"] <= 5000 else None
    if name == "committee":
        return (
            Fraction(sum(1 for _ in combinations(range(p["n"]), p["k"]))) if p["n"] <= 14 else None
        )
    if name == "lineup_restricted":
        return Fraction(brute_lineups(p["n"], p["mode"])) if p["n"] <= 7 else None
    if name == "word_arrangements":
        word = "".join(ch * c for ch, c in zip("ABCDEFGH", p["counts"]))
        return Fraction(len(set(permutations(word)))) if len(word) <= 8 else None
    if name == "dice_sum":
        if p["sides"] ** p["n"] > 5000:
            return None
        rolls = list(product(range(1, p["sides"] + 1), repeat=p["n"]))
        hit = sum(1 for r in rolls if (sum(r) == p["t"] if p["mode"] == "eq" else sum(r) >= p["t"]))
        return Fraction(hit, len(rolls))
    if name == "coin_heads":
        flips = list(product((0, 1), repeat=p["n"])) if p["n"] <= 14 else None
        if flips is None:
            return None
        hit = sum(1 for f in flips if (sum(f) == p["k"] if p["mode"] == "eq" else sum(f) >= p["k"]))
        return Fraction(hit, len(flips))
    if name == "urn_draws":
        balls = ["r"] * p["red"] + ["b"] * p["blue"]
        hands = list(combinations(range(len(balls)), p["draw"]))
        hit = sum(1 for h in hands if sum(balls[i] == "r" for i in h) == p["j"])
        return Fraction(hit, len(hands))
    if name == "root_symmetric_functions":
        x = sympy.Symbol("x")
        poly = sympy.Poly(expand_roots(p["lead"], p["roots"]), x)
        roots = sympy.roots(poly)  # from the expanded coefficients, not from p["roots"]
        rs = [r for r, mult in roots.items() for _ in range(mult)]
        val = {"sum": sum(rs), "squares": sum(r**2 for r in rs), "product": sympy.prod(rs)}[
            p["ask"]
        ]
        return Fraction(int(val))
    if name == "polynomial_value":
        x = sympy.Symbol("x")
        return Fraction(int(sympy.Poly(p["coeffs"], x).eval(p["t"])))
    if name == "linear_system":
        syms = sympy.symbols("x y z")[: len(p["a"])]
        eqs = [sum(c * s for c, s in zip(row, syms)) - rhs for row, rhs in zip(p["a"], p["b"])]
        (sol,) = sympy.linsolve(eqs, syms)
        val = sympy.Rational(sympy.prod(sol))
        return Fraction(int(val.p), int(val.q))
    raise KeyError(name)


def brute_lineups(n: int, mode: str) -> int:
    ok = 0
    for perm in permutations(range(n)):  # 0 = Alice, 1 = Bob, 2 = Carol
        adjacent = abs(perm.index(0) - perm.index(1)) == 1
        if mode == "together":
            ok += adjacent
        elif mode == "apart":
            ok += not adjacent
        else:
            ok += (not adjacent) and perm.index(2) in (0, n - 1)
    return ok


@pytest.mark.parametrize("n", [4, 5, 6, 7])
@pytest.mark.parametrize("mode", ["together", "apart", "end_apart"])
def test_lineup_formula_matches_brute_force(n, mode):
    assert count_lineups(n, mode) == brute_lineups(n, mode)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_answers_are_exact(family):
    checked = 0
    for level in (1, 2, 3):
        for p in draws(family, level, n=6, seed=level):
            expected = brute(family.name, p)
            if expected is None:
                continue
            assert as_fraction(family.solve(p)) == expected, (family.name, p)
            checked += 1
    assert checked >= 6  # enough cases were small enough to enumerate


def test_probability_answers_are_reduced_fractions():
    df = generate_problems(300, seed=3, families=["dice_sum", "coin_heads", "urn_draws"])
    for ans in df["answer"]:
        m = re.fullmatch(r"\\frac\{(\d+)\}\{(\d+)\}", ans)
        if m is None:
            assert ans in {"0", "1"}
            continue
        p, q = int(m.group(1)), int(m.group(2))
        assert math.gcd(p, q) == 1 and 0 < p < q


# --- difficulty scaling, templates, schema -------------------------------------------------


def size(params) -> float:
    """Total magnitude of every number in the params (nested lists included)."""
    if isinstance(params, dict):
        return sum(size(v) for v in params.values())
    if isinstance(params, list):
        return sum(size(v) for v in params)
    return abs(params) if isinstance(params, (int, float)) and not isinstance(params, bool) else 0


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_levels_scale_parameters(family):
    med = {lvl: sorted(size(p) for p in draws(family, lvl, n=41, seed=7))[20] for lvl in (1, 3, 5)}
    assert med[1] < med[3] < med[5], med


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_every_template_renders_balanced_latex(family):
    assert len(family.templates) >= 3
    for level in range(1, 6):
        p = draws(family, level, n=1, seed=level)[0]
        texts = {family.render(p, t) for t in range(len(family.templates))}
        assert len(texts) == len(family.templates)  # phrasings really differ
        for text in texts:
            unescaped = re.sub(r"\\[{}]", "", text)
            assert unescaped.count("{") == unescaped.count("}"), text
            assert text.count("$") % 2 == 0, text


def test_generate_problems_schema_and_meta():
    df = generate_problems(130, seed=11)
    assert tuple(df.columns) == PROBLEM_COLUMNS
    assert df["id"].is_unique and (df["source"] == "synthetic").all()
    metas = [json.loads(m) for m in df["meta"]]
    assert {m["family"] for m in metas} == set(FAMILY_BY_NAME)
    assert {m["level"] for m in metas} == {1, 2, 3, 4, 5}
    for m, (_, row) in zip(metas, df.iterrows()):
        fam = FAMILY_BY_NAME[m["family"]]
        assert row["difficulty"] == m["level"]
        assert fam.render(m["params"], m["template"]) == row["problem"]  # meta reproduces the row
        assert fam.solve(m["params"]) == row["answer"]


def test_generate_is_deterministic_and_seed_sensitive():
    a, b = generate_problems(60, seed=5), generate_problems(60, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert not generate_problems(60, seed=6)["problem"].equals(a["problem"])


def test_unknown_family_and_level_rejected():
    with pytest.raises(ValueError, match="unknown synthetic families"):
        generate_problems(3, seed=0, families=["nope"])
    with pytest.raises(ValueError, match="level"):
        generate_problems(3, seed=0, levels=[6])
