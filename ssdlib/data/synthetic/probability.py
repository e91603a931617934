"""Probability families; answers are reduced fractions (``\\frac{p}{q}``)."""

from __future__ import annotations

import math
import random
from fractions import Fraction

from ssdlib.data.synthetic.core import Family, Params, by_level, frac_tex


def dice_sum_distribution(n_dice: int, sides: int) -> list[int]:
    """ways[s] = number of outcomes of ``n_dice`` fair dice (faces 1..sides) with sum s."""
    ways = [1]
    for _ in range(n_dice):
        nxt = [0] * (len(ways) + sides)
        for s, w in enumerate(ways):
            for face in range(1, sides + 1):
                nxt[s + face] += w
        ways = nxt
    return ways


def dice_probability(p: Params) -> Fraction:
    """P(sum == t) or P(sum >= t) for ``n`` dice with ``sides`` faces."""
    ways = dice_sum_distribution(p["n"], p["sides"])
    hits = ways[p["t"]] if p["mode"] == "eq" else sum(ways[p["t"] :])
    return Fraction(hits, p["sides"] ** p["n"])


def _draw_dice(rng: random.Random, level: int) -> Params:
    n, sides, modes = by_level(
        level,
        {
            1: (2, (6,), ("eq",)),
            2: (2, (4, 6, 8), ("eq", "ge")),
            3: (3, (6,), ("eq", "ge")),
            4: (3, (4, 8, 10), ("eq", "ge")),
            5: (4, (6, 8, 12), ("eq", "ge")),
        },
    )
    s = rng.choice(sides)
    return {"n": n, "sides": s, "t": rng.randint(n + 1, n * s - 1), "mode": rng.choice(modes)}


_NUM = {2: "two", 3: "three", 4: "four"}
_EVENT = {"eq": "equal to", "ge": "at least"}

DICE = Family(
    name="dice_sum",
    topic="probability",
    templates=(
        "{N} fair {sides}-sided dice, with faces numbered 1 to {sides}, are rolled. What is the probability "
        "that the sum of the numbers shown is {event} {t}? Express your answer as a common fraction.",
        "You roll {n} fair dice, each with faces labelled $1, 2, \\ldots, {sides}$. Find the probability "
        "that the total is {event} {t}.",
        "What is the probability that the sum of {n} independent rolls of a fair {sides}-sided die "
        "(faces 1 through {sides}) is {event} {t}?",
    ),
    draw=_draw_dice,
    solve=lambda p: frac_tex(dice_probability(p)),
    fields=lambda p: {
        **p,
        "N": _NUM[p["n"]].capitalize(),
        "n": _NUM[p["n"]],
        "event": _EVENT[p["mode"]],
    },
    valid=lambda p: p["n"] in _NUM and p["sides"] >= 2 and p["n"] < p["t"] < p["n"] * p["sides"],
    renumber_keys=("t",),
)


def coin_probability(p: Params) -> Fraction:
    """P(exactly k heads) or P(at least k heads) in ``n`` fair coin flips."""
    ks = [p["k"]] if p["mode"] == "eq" else range(p["k"], p["n"] + 1)
    return Fraction(sum(math.comb(p["n"], k) for k in ks), 2 ** p["n"])


def _draw_coins(rng: random.Random, level: int) -> Params:
    lo, hi, modes = by_level(
        level,
        {
            1: (3, 5, ("eq",)),
            2: (5, 8, ("eq",)),
            3: (6, 10, ("eq", "ge")),
            4: (8, 14, ("ge",)),
            5: (12, 20, ("ge",)),
        },
    )
    n = rng.randint(lo, hi)
    return {"n": n, "k": rng.randint(1, n - 1), "mode": rng.choice(modes)}


_COIN_EVENT = {"eq": "exactly", "ge": "at least"}

COINS = Family(
    name="coin_heads",
    topic="probability",
    templates=(
        "A fair coin is flipped {n} times. What is the probability of getting {event} {k} {heads}?",
        "If you toss a fair coin {n} times, what is the probability that {event} {k} of the tosses land heads?",
        "Find the probability that {n} flips of a fair coin produce {event} {k} {heads}. Give a common fraction.",
    ),
    draw=_draw_coins,
    solve=lambda p: frac_tex(coin_probability(p)),
    fields=lambda p: {
        **p,
        "event": _COIN_EVENT[p["mode"]],
        "heads": "head" if p["k"] == 1 else "heads",
    },
    valid=lambda p: 1 <= p["k"] < p["n"] <= 30,
    renumber_keys=("n", "k"),
)


def urn_probability(p: Params) -> Fraction:
    """P(exactly j red) when drawing m balls without replacement from r red and b blue (hypergeometric)."""
    r, b, m, j = p["red"], p["blue"], p["draw"], p["j"]
    return Fraction(math.comb(r, j) * math.comb(b, m - j), math.comb(r + b, m))


def _draw_urn(rng: random.Random, level: int) -> Params:
    rmax, bmax, mmax = by_level(
        level, {1: (4, 4, 2), 2: (6, 6, 3), 3: (8, 8, 4), 4: (10, 12, 5), 5: (15, 15, 7)}
    )
    red, blue = rng.randint(2, rmax), rng.randint(2, bmax)
    m = rng.randint(2, min(mmax, red + blue - 1))
    j = rng.randint(max(1, m - blue), min(m, red))  # j >= 1: "exactly 0 of them" reads badly
    return {"red": red, "blue": blue, "draw": m, "j": j}


URN = Family(
    name="urn_draws",
    topic="probability",
    templates=(
        "An urn contains {red} red balls and {blue} blue balls. {draw} balls are drawn at random without "
        "replacement. What is the probability that exactly {j} of them are red?",
        "A bag holds {red} red and {blue} blue marbles. If {draw} marbles are taken out at random all at once, "
        "find the probability that exactly {j} are red.",
        "From a box of {red} red and {blue} blue chips, {draw} chips are selected at random (without "
        "replacement). Compute the probability that the selection contains exactly {j} red chips.",
    ),
    draw=_draw_urn,
    solve=lambda p: frac_tex(urn_probability(p)),
    valid=lambda p: (
        p["red"] >= 1
        and p["blue"] >= 1
        and 1 <= p["draw"] <= p["red"] + p["blue"]
        and max(1, p["draw"] - p["blue"]) <= p["j"] <= min(p["draw"], p["red"])
    ),
    renumber_keys=("red", "blue", "draw", "j"),
)

FAMILIES = (DICE, COINS, URN)
