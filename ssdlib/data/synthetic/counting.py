"""Counting families: subsets with no run of k consecutive integers; inclusion-exclusion counts."""

from __future__ import annotations

import math
import random
from itertools import combinations

from ssdlib.data.synthetic.core import NUMBER_WORDS, Family, Params, by_level


def count_no_run(n: int, k: int) -> int:
    """Subsets of {1..n} containing no k consecutive integers (= binary strings without a run of
    k ones). Recurrence: a(m) = 2^m for m < k, else a(m) = a(m-1) + ... + a(m-k) (classify by the
    length of the final run of chosen integers, 0..k-1). k = 3 is tribonacci-like: a(15) = 10609.
    """
    if n < 0 or k < 1:
        raise ValueError(f"need n >= 0 and k >= 1, got n={n}, k={k}")
    a = [2**m for m in range(min(n + 1, k))]
    for m in range(k, n + 1):
        a.append(sum(a[m - j] for j in range(1, k + 1)))
    return a[n]


def _draw_no_run(rng: random.Random, level: int) -> Params:
    ks, (lo, hi) = by_level(
        level,
        {
            1: ((2,), (5, 8)),
            2: ((2, 3), (8, 12)),
            3: ((3,), (10, 16)),
            4: ((3, 4), (14, 20)),
            5: ((4, 5), (18, 28)),
        },
    )
    return {"n": rng.randint(lo, hi), "k": rng.choice(ks)}


NO_CONSECUTIVE = Family(
    name="no_consecutive_subsets",
    topic="counting",
    templates=(
        r"How many subsets of $\{{1, 2, \ldots, {n}\}}$ contain no {kw} consecutive integers?",
        r"Choose a subset of the integers from 1 to {n} such that no {kw} consecutive integers are "
        r"{all} in the chosen set (the empty set is allowed). How many different sets are there?",
        r"A row of {n} lamps is set so that each lamp is on or off, and no {kw} adjacent lamps are {all} "
        r"on. How many such settings are there?",
    ),
    draw=_draw_no_run,
    solve=lambda p: str(count_no_run(p["n"], p["k"])),
    fields=lambda p: {
        "n": p["n"],
        "kw": NUMBER_WORDS[p["k"]],
        "all": "both" if p["k"] == 2 else "all",
    },
    valid=lambda p: 2 <= p["k"] <= 6 and p["k"] < p["n"] <= 40,
    renumber_keys=("n",),
)


def count_divisible(n: int, divisors: list[int]) -> int:
    """Integers in [1, n] divisible by at least one of ``divisors`` (inclusion-exclusion over lcms)."""
    total = 0
    for r in range(1, len(divisors) + 1):
        for combo in combinations(divisors, r):
            total += (-1) ** (r + 1) * (n // math.lcm(*combo))
    return total


def _draw_divisible(rng: random.Random, level: int) -> Params:
    n_div, (lo, hi), top = by_level(
        level,
        {
            1: (2, (30, 100), 7),
            2: (2, (100, 500), 12),
            3: (2, (500, 2000), 20),
            4: (3, (1000, 5000), 20),
            5: (3, (5000, 20000), 30),
        },
    )
    return {"n": rng.randint(lo, hi), "d": sorted(rng.sample(range(2, top + 1), n_div))}


def _listing(items: list[str], conj: str) -> str:
    """ "4 or 6" / "4, 6, or 9" (conj = "or" / "and")."""
    return (
        f" {conj} ".join(items)
        if len(items) == 2
        else ", ".join(items[:-1]) + f", {conj} " + items[-1]
    )


def _divisible_fields(p: Params) -> dict:
    d = [str(x) for x in p["d"]]
    return {"n": p["n"], "ds": _listing(d, "or"), "ds_and": _listing(d, "and")}


DIVISIBLE = Family(
    name="divisible_count",
    topic="counting",
    templates=(
        "How many integers from 1 to {n}, inclusive, are divisible by {ds}?",
        "Count the positive integers not exceeding {n} that are multiples of {ds}.",
        "How many of the numbers $1, 2, \\ldots, {n}$ have at least one of {ds_and} as a divisor?",
    ),
    draw=_draw_divisible,
    solve=lambda p: str(count_divisible(p["n"], p["d"])),
    fields=_divisible_fields,
    valid=lambda p: (
        p["n"] >= 10
        and all(x >= 2 for x in p["d"])
        and len(set(p["d"])) == len(p["d"])
        and p["d"] == sorted(p["d"])
    ),
    renumber_keys=("n", "d"),
)

FAMILIES = (NO_CONSECUTIVE, DIVISIBLE)
