"""Number-theory families: remainders of powers, gcd/lcm, number of divisors, last digits."""

from __future__ import annotations

import math
import random

from ssdlib.data.synthetic.core import Family, Params, by_level

_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def _draw_power_mod(rng: random.Random, level: int) -> Params:
    (alo, ahi), (elo, ehi), mods = by_level(
        level,
        {
            1: ((2, 9), (5, 12), (5, 7, 9, 10)),
            2: ((2, 15), (12, 40), (7, 11, 12, 13)),
            3: ((3, 30), (40, 200), tuple(range(11, 50))),
            4: ((3, 60), (200, 5000), tuple(range(50, 200))),
            5: ((11, 99), (5000, 10**6), tuple(range(200, 1000))),
        },
    )
    a, m = rng.randint(alo, ahi), rng.choice(mods)
    while a % m == 0:  # a multiple of m makes the answer trivially 0
        a += 1
    return {"a": a, "e": rng.randint(elo, ehi), "m": m}


POWER_MOD = Family(
    name="power_remainder",
    topic="number_theory",
    templates=(
        "What is the remainder when ${a}^{{{e}}}$ is divided by {m}?",
        "Find the remainder of ${a}^{{{e}}}$ upon division by {m}.",
        "Compute ${a}^{{{e}}} \\bmod {m}$, giving an integer between 0 and {m1}.",
    ),
    draw=_draw_power_mod,
    solve=lambda p: str(pow(p["a"], p["e"], p["m"])),
    fields=lambda p: {**p, "m1": p["m"] - 1},
    valid=lambda p: p["a"] >= 2 and p["e"] >= 2 and p["m"] >= 2,
    renumber_keys=("a", "e", "m"),
)


def _draw_gcd_lcm(rng: random.Random, level: int) -> Params:
    glo, ghi, xhi = by_level(
        level, {1: (2, 6, 9), 2: (3, 12, 15), 3: (6, 40, 30), 4: (12, 120, 60), 5: (30, 600, 150)}
    )
    g = rng.randint(glo, ghi)
    x, y = rng.sample(range(2, xhi + 1), 2)
    return {"op": rng.choice(("gcd", "lcm")), "a": g * x, "b": g * y}


_OP_WORD = {"gcd": "greatest common divisor", "lcm": "least common multiple"}
_OP_TEX = {"gcd": "\\gcd", "lcm": "\\operatorname{lcm}"}

GCD_LCM = Family(
    name="gcd_lcm",
    topic="number_theory",
    templates=(
        "Find the {word} of {a} and {b}.",
        "Compute ${tex}({a}, {b})$.",
        "What is the {word} of the numbers {a} and {b}?",
    ),
    draw=_draw_gcd_lcm,
    solve=lambda p: str(math.gcd(p["a"], p["b"]) if p["op"] == "gcd" else math.lcm(p["a"], p["b"])),
    fields=lambda p: {**p, "word": _OP_WORD[p["op"]], "tex": _OP_TEX[p["op"]]},
    valid=lambda p: p["a"] >= 2 and p["b"] >= 2 and p["a"] != p["b"],
    renumber_keys=("a", "b"),
)


def num_divisors(n: int) -> int:
    """Number of positive divisors of ``n`` >= 1, from its factorisation by trial division."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    count, p = 1, 2
    while p * p <= n:
        e = 0
        while n % p == 0:
            n //= p
            e += 1
        count *= e + 1
        p += 1
    return count * (2 if n > 1 else 1)


def _draw_divisors(rng: random.Random, level: int) -> Params:
    n_primes, emax, pmax = by_level(
        level, {1: (2, 2, 4), 2: (2, 3, 6), 3: (3, 3, 8), 4: (3, 5, 10), 5: (4, 6, 12)}
    )
    primes = rng.sample(_PRIMES[:pmax], n_primes)
    n = 1
    for p in primes:
        n *= p ** rng.randint(1, emax)
    return {"n": n}


DIVISORS = Family(
    name="number_of_divisors",
    topic="number_theory",
    templates=(
        "How many positive divisors does {n} have?",
        "Find the number of positive integer divisors of {n}.",
        "How many positive integers divide {n} exactly?",
    ),
    draw=_draw_divisors,
    solve=lambda p: str(num_divisors(p["n"])),
    valid=lambda p: 2 <= p["n"] <= 10**12,
    renumber_keys=("n",),
)


def _draw_last_digits(rng: random.Random, level: int) -> Params:
    d, (alo, ahi), (elo, ehi) = by_level(
        level,
        {
            1: (1, (2, 9), (10, 50)),
            2: (1, (11, 99), (50, 500)),
            3: (2, (2, 30), (20, 300)),
            4: (2, (11, 99), (300, 10**4)),
            5: (3, (11, 999), (10**4, 10**7)),
        },
    )
    a = rng.randint(alo, ahi)
    while a % 10 in (0, 1, 5, 6):  # these units digits are fixed points: too easy
        a += 1
    return {"a": a, "e": rng.randint(elo, ehi), "d": d}


_DIGITS = {1: "units digit", 2: "last two digits", 3: "last three digits"}


def _last_digits_answer(p: Params) -> str:
    return str(pow(p["a"], p["e"], 10 ** p["d"])).zfill(
        p["d"]
    )  # zero-padded: "07" is what is asked


LAST_DIGITS = Family(
    name="last_digits",
    topic="number_theory",
    templates=(
        "What {verb} the {what} of ${a}^{{{e}}}$?",
        "Find the {what} of ${a}^{{{e}}}$ when it is written in base 10.",
        "Determine the {what} in the decimal expansion of ${a}^{{{e}}}$.",
    ),
    draw=_draw_last_digits,
    solve=_last_digits_answer,
    fields=lambda p: {**p, "what": _DIGITS[p["d"]], "verb": "is" if p["d"] == 1 else "are"},
    valid=lambda p: (
        p["a"] >= 2 and p["a"] % 10 not in (0, 1, 5, 6) and p["e"] >= 2 and p["d"] in _DIGITS
    ),
    renumber_keys=("a", "e"),
)

FAMILIES = (POWER_MOD, GCD_LCM, DIVISORS, LAST_DIGITS)
