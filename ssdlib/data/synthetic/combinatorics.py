"""Combinatorics families: binomial coefficients, line-ups with restrictions, word arrangements."""

from __future__ import annotations

import math
import random

from ssdlib.data.synthetic.core import Family, Params, by_level


def _draw_committee(rng: random.Random, level: int) -> Params:
    lo, hi, kmax = by_level(
        level, {1: (5, 8, 3), 2: (8, 12, 4), 3: (12, 18, 6), 4: (18, 25, 9), 5: (25, 40, 14)}
    )
    n = rng.randint(lo, hi)
    return {"n": n, "k": rng.randint(2, min(kmax, n - 2))}


COMMITTEE = Family(
    name="committee",
    topic="combinatorics",
    templates=(
        "In how many ways can a committee of {k} people be chosen from a group of {n} people?",
        "How many {k}-element subsets does a set with {n} elements have?",
        "A coach must pick {k} of her {n} players for a tournament. How many different selections are possible?",
    ),
    draw=_draw_committee,
    solve=lambda p: str(math.comb(p["n"], p["k"])),
    valid=lambda p: 2 <= p["k"] < p["n"] <= 60,
    renumber_keys=("n", "k"),
)


def count_lineups(n: int, mode: str) -> int:
    """Orderings of n people in a row under ``mode``:

    together:  Alice and Bob adjacent                 -> 2 (n-1)!
    apart:     Alice and Bob not adjacent              -> n! - 2 (n-1)!
    end_apart: Carol at an end, Alice and Bob apart   -> 2 [(n-1)! - 2 (n-2)!]
               (with Carol at an end, the other n-1 seats still form one row)
    """
    f = math.factorial
    if mode == "together":
        return 2 * f(n - 1)
    if mode == "apart":
        return f(n) - 2 * f(n - 1)
    if mode == "end_apart":
        return 2 * (f(n - 1) - 2 * f(n - 2))
    raise ValueError(f"unknown mode {mode!r}")


def _draw_lineup(rng: random.Random, level: int) -> Params:
    lo, hi, modes = by_level(
        level,
        {
            1: (4, 5, ("together",)),
            2: (5, 6, ("together", "apart")),
            3: (6, 8, ("apart",)),
            4: (7, 9, ("apart", "end_apart")),
            5: (8, 11, ("end_apart",)),
        },
    )
    return {"n": rng.randint(lo, hi), "mode": rng.choice(modes)}


_LINEUP_COND = {
    "together": "Alice and Bob stand next to each other",
    "apart": "Alice and Bob do not stand next to each other",
    "end_apart": "Carol stands at one of the two ends and Alice and Bob do not stand next to each other",
}

LINEUP = Family(
    name="lineup_restricted",
    topic="combinatorics",
    templates=(
        "In how many ways can {n} people, among them {who}, stand in a row if {cond}?",
        "How many line-ups of {n} students, including {who}, are there in which {cond}?",
        "{n} friends, {who} among them, pose in a single row for a photo. Count the orderings in which {cond}.",
    ),
    draw=_draw_lineup,
    solve=lambda p: str(count_lineups(p["n"], p["mode"])),
    fields=lambda p: {
        "n": p["n"],
        "cond": _LINEUP_COND[p["mode"]],
        "who": "Alice, Bob, and Carol" if p["mode"] == "end_apart" else "Alice and Bob",
    },
    valid=lambda p: 4 <= p["n"] <= 14,
    renumber_keys=("n",),
)


def count_words(counts: list[int]) -> int:
    """Distinct arrangements of a multiset with these letter multiplicities: (sum)! / prod(c_i!)."""
    total = math.factorial(sum(counts))
    for c in counts:
        total //= math.factorial(c)
    return total


_LETTERS = "ABCDEFGH"


def _draw_word(rng: random.Random, level: int) -> Params:
    n_letters, cmax = by_level(level, {1: (2, 3), 2: (3, 2), 3: (3, 3), 4: (4, 3), 5: (5, 3)})
    counts = [rng.randint(1, cmax) for _ in range(n_letters)]
    counts[rng.randrange(n_letters)] = rng.randint(2, cmax)  # a repeated letter, else it is just n!
    return {"counts": counts}


def _word(p: Params) -> str:
    return "".join(letter * c for letter, c in zip(_LETTERS, p["counts"]))


WORDS = Family(
    name="word_arrangements",
    topic="combinatorics",
    templates=(
        "How many distinct arrangements of the letters of {word} are there?",
        "How many different strings can be formed by rearranging all the letters of {word}?",
        "Count the distinct sequences that use each letter of {word} exactly as often as it appears there.",
    ),
    draw=_draw_word,
    solve=lambda p: str(count_words(p["counts"])),
    fields=lambda p: {"word": _word(p)},
    valid=lambda p: (
        all(c >= 1 for c in p["counts"]) and sum(p["counts"]) <= 16 and max(p["counts"]) >= 2
    ),
    renumber_keys=("counts",),
)

FAMILIES = (COMMITTEE, LINEUP, WORDS)
