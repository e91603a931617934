"""41 competition-style base problems for the labelled contamination set (written for this repo).

Each base is a parametrised problem: ``<name>`` slots in the texts are filled from ``params``,
and answers are computed by functions, so that a RENUMBERED copy gets its correct new answer.

    text      the problem
    reworded  the same problem in different words (same params, same answer)
    other     same setup / template but a different question (a different problem, own answer)
    answer    params -> sympy expression (the answer of ``text`` and ``reworded``)
    other_answer params -> sympy expression (the answer of ``other`` with the base params)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from math import comb, gcd

import sympy as sp


@dataclass(frozen=True)
class Base:
    key: str
    text: str
    reworded: str
    other: str
    params: dict
    answer: Callable[[dict], object]
    other_answer: Callable[[dict], object]


def fill(template: str, params: dict) -> str:
    """Replace every ``<name>`` slot of ``template`` by ``params[name]``."""
    for k, v in params.items():
        template = template.replace(f"<{k}>", str(v))
    return template


def _R(x) -> sp.Expr:
    if isinstance(x, Fraction):
        return sp.Rational(x.numerator, x.denominator)
    return sp.nsimplify(x) if isinstance(x, float) else sp.sympify(x)


def _heron16(a, b, c) -> int:
    # 16 * area^2 (Heron), an integer for integer sides.
    return (a + b + c) * (-a + b + c) * (a - b + c) * (a + b - c)


def _dice(s, op) -> sp.Rational:
    n = sum(1 for i in range(1, 7) for j in range(1, 7) if op(i, j) == s)
    return sp.Rational(n, 36)


def _digits3(s, op) -> int:
    return sum(1 for n in range(100, 1000) if op([int(c) for c in str(n)]) == s)


def _seq(a, b, k):
    xs = [a, b]
    while len(xs) < k:
        xs.append(xs[-1] + xs[-2])
    return xs[:k]


def _sq_cube(a, b, sq_first=True) -> int:
    # Smallest n with a*n a square and b*n a cube (or the reverse), prime by prime.
    fa, fb = sp.factorint(a), sp.factorint(b)
    n = 1
    for p in set(fa) | set(fb):
        ea, eb = fa.get(p, 0), fb.get(p, 0)
        m1, m2 = (2, 3) if sq_first else (3, 2)
        x = next(x for x in range(6) if (x + ea) % m1 == 0 and (x + eb) % m2 == 0)
        n *= p**x
    return n


def _to_base(n, b) -> str:
    ds = []
    while n:
        ds.append(str(n % b))
        n //= b
    return "".join(reversed(ds)) or "0"


def _clock(h, m):
    ang = abs(Fraction(60 * h - 11 * m, 2)) % 360
    return min(ang, 360 - ang)


def _other_integer(p):  # gcd * lcm = product of the two integers
    return Fraction(p["l"] * p["g"], p["a"])


BASES: list[Base] = [
    Base(
        "remainder_power",
        "Find the remainder when $<a>^{<b>}$ is divided by $<m>$.",
        "What is the remainder upon dividing $<a>^{<b>}$ by $<m>$?",
        "Find the number of positive divisors of $<a>^{<b>}$.",
        {"a": 3, "b": 100, "m": 7},
        lambda p: pow(p["a"], p["b"], p["m"]),
        lambda p: sp.divisor_count(p["a"] ** p["b"]),
    ),
    Base(
        "digit_sum_power",
        "What is the sum of the digits of the integer $<a>^{<b>}$ when it is written in base ten?",
        "Write $<a>^{<b>}$ in decimal notation and add up its digits. What total do you get?",
        "How many digits does the integer $<a>^{<b>}$ have when it is written in base ten?",
        {"a": 2, "b": 50},
        lambda p: sum(int(c) for c in str(p["a"] ** p["b"])),
        lambda p: len(str(p["a"] ** p["b"])),
    ),
    Base(
        "vieta_squares",
        "Let $r$ and $s$ be the roots of $x^2 - <p>x + <q> = 0$. Compute $r^2 + s^2$.",
        "The equation $x^2 - <p>x + <q> = 0$ has two roots. Find the sum of their squares.",
        "Let $r$ and $s$ be the roots of $x^2 - <p>x + <q> = 0$. Compute $\\frac{1}{r} + \\frac{1}{s}$.",
        {"p": 7, "q": 3},
        lambda p: p["p"] ** 2 - 2 * p["q"],
        lambda p: sp.Rational(p["p"], p["q"]),
    ),
    Base(
        "heron_area",
        "In triangle $ABC$, $AB = <a>$, $BC = <b>$, and $CA = <c>$. Find the area of triangle $ABC$.",
        "A triangle has side lengths $<a>$, $<b>$, and $<c>$. What is its area?",
        "In triangle $ABC$, $AB = <a>$, $BC = <b>$, and $CA = <c>$. Find the length of the altitude from $A$ to side $BC$.",
        {"a": 13, "b": 14, "c": 15},
        lambda p: sp.sqrt(_heron16(p["a"], p["b"], p["c"])) / 4,
        lambda p: sp.sqrt(_heron16(p["a"], p["b"], p["c"])) / 2 / p["b"],
    ),
    Base(
        "arith_sum",
        "The first term of an arithmetic sequence is $<a>$ and the common difference is $<d>$. What is the sum of the first $<n>$ terms of the sequence?",
        "An arithmetic progression starts at $<a>$ and each term exceeds the previous one by $<d>$. Add up its first $<n>$ terms.",
        "The first term of an arithmetic sequence is $<a>$ and the common difference is $<d>$. What is the $<n>$th term of the sequence?",
        {"a": 5, "d": 3, "n": 20},
        lambda p: p["n"] * p["a"] + p["d"] * p["n"] * (p["n"] - 1) // 2,
        lambda p: p["a"] + (p["n"] - 1) * p["d"],
    ),
    Base(
        "dice_sum",
        "Two fair six-sided dice are rolled. What is the probability that the sum of the numbers shown is $<s>$? Express your answer as a common fraction.",
        "We roll a pair of standard dice. Find the probability that the two numbers that come up add to $<s>$.",
        "Two fair six-sided dice are rolled. What is the probability that the product of the numbers shown is $<s>$? Express your answer as a common fraction.",
        {"s": 8},
        lambda p: _dice(p["s"], lambda i, j: i + j),
        lambda p: _dice(p["s"], lambda i, j: i * j),
    ),
    Base(
        "officers",
        "A club has $<n>$ members. In how many ways can the club choose a president, a vice-president, and a treasurer if no member can hold more than one office?",
        "From a group of $<n>$ people we must pick a president, a vice-president and a treasurer, all three different people. Count the possible choices.",
        "A club has $<n>$ members. In how many ways can the club choose a committee of three of its members?",
        {"n": 15},
        lambda p: p["n"] * (p["n"] - 1) * (p["n"] - 2),
        lambda p: comb(p["n"], 3),
    ),
    Base(
        "lattice_paths",
        "How many paths are there from $(0,0)$ to $(<a>,<b>)$ if every step moves one unit to the right or one unit up?",
        "Moving only up or to the right by one unit at a time, in how many ways can you walk from the origin to the point $(<a>,<b>)$?",
        "How many lattice points lie on the line segment from $(0,0)$ to $(<a>,<b>)$, including both endpoints?",
        {"a": 5, "b": 4},
        lambda p: comb(p["a"] + p["b"], p["a"]),
        lambda p: gcd(p["a"], p["b"]) + 1,
    ),
    Base(
        "gcd_lcm",
        "The least common multiple of two positive integers is $<l>$ and their greatest common divisor is $<g>$. If one of the integers is $<a>$, what is the other integer?",
        "Two positive integers have greatest common divisor $<g>$ and least common multiple $<l>$. One of them equals $<a>$. Find the other one.",
        "The least common multiple of two positive integers is $<l>$ and their greatest common divisor is $<g>$. If one of the integers is $<a>$, what is the sum of the two integers?",
        {"l": 180, "g": 6, "a": 36},
        lambda p: _R(_other_integer(p)),
        lambda p: _R(_other_integer(p) + p["a"]),
    ),
    Base(
        "square_minus_circle",
        "A circle is inscribed in a square of side length $<s>$. What is the area of the region inside the square but outside the circle? Express your answer in terms of $\\pi$.",
        "A square with side $<s>$ has a circle tangent to all four of its sides. Find the area of the part of the square not covered by the circle, in terms of $\\pi$.",
        "A circle is inscribed in a square of side length $<s>$. What is the circumference of the circle? Express your answer in terms of $\\pi$.",
        {"s": 10},
        lambda p: p["s"] ** 2 - sp.pi * sp.Rational(p["s"], 2) ** 2,
        lambda p: p["s"] * sp.pi,
    ),
    Base(
        "composition",
        "Let $f(x) = <a>x + <b>$ and $g(x) = x^2 - <c>$. What is $f(g(<d>))$?",
        "Given $f(x) = <a>x + <b>$ and $g(x) = x^2 - <c>$, evaluate $f$ at the number $g(<d>)$.",
        "Let $f(x) = <a>x + <b>$ and $g(x) = x^2 - <c>$. What is $g(f(<d>))$?",
        {"a": 3, "b": 2, "c": 1, "d": 4},
        lambda p: p["a"] * (p["d"] ** 2 - p["c"]) + p["b"],
        lambda p: (p["a"] * p["d"] + p["b"]) ** 2 - p["c"],
    ),
    Base(
        "linear_system",
        "If $<a>x + <b>y = <c>$ and $x - y = <d>$, what is the value of $x$?",
        "Solve the system $<a>x + <b>y = <c>$, $x - y = <d>$ and report $x$.",
        "If $<a>x + <b>y = <c>$ and $x - y = <d>$, what is the value of the product $xy$?",
        {"a": 2, "b": 3, "c": 16, "d": 3},
        lambda p: sp.Rational(p["c"] - p["a"] * p["d"], p["a"] + p["b"]) + p["d"],
        lambda p: (
            (sp.Rational(p["c"] - p["a"] * p["d"], p["a"] + p["b"]) + p["d"])
            * sp.Rational(p["c"] - p["a"] * p["d"], p["a"] + p["b"])
        ),
    ),
    Base(
        "units_digit",
        "What is the units digit of $<a>^{<b>}$?",
        "Find the last digit of the number $<a>^{<b>}$.",
        "What is the tens digit of $<a>^{<b>}$?",
        {"a": 7, "b": 2024},
        lambda p: pow(p["a"], p["b"], 10),
        lambda p: pow(p["a"], p["b"], 100) // 10,
    ),
    Base(
        "divisor_count",
        "How many positive divisors does $<n>$ have?",
        "Count the positive integers that divide $<n>$ evenly.",
        "What is the sum of the positive divisors of $<n>$?",
        {"n": 360},
        lambda p: sp.divisor_count(p["n"]),
        lambda p: sp.divisor_sigma(p["n"]),
    ),
    Base(
        "right_inradius",
        "A right triangle has legs of length $<a>$ and $<b>$. What is the radius of the circle inscribed in the triangle?",
        "Find the inradius of the right triangle whose two legs measure $<a>$ and $<b>$.",
        "A right triangle has legs of length $<a>$ and $<b>$. What is the radius of the circle circumscribed about the triangle?",
        {"a": 6, "b": 8},
        lambda p: (p["a"] + p["b"] - sp.sqrt(p["a"] ** 2 + p["b"] ** 2)) / 2,
        lambda p: sp.sqrt(p["a"] ** 2 + p["b"] ** 2) / 2,
    ),
    Base(
        "poly_remainder",
        "What is the remainder when $x^{<n>} + <a>$ is divided by $x - <b>$?",
        "Divide the polynomial $x^{<n>} + <a>$ by $x - <b>$. What remainder results?",
        "What is the remainder when $x^{<n>} + <a>$ is divided by $x^2 - 1$?",
        {"n": 5, "a": 1, "b": 2},
        lambda p: p["b"] ** p["n"] + p["a"],
        lambda p: sp.rem(sp.Symbol("x") ** p["n"] + p["a"], sp.Symbol("x") ** 2 - 1),
    ),
    Base(
        "inclusion_exclusion",
        "How many positive integers less than $<n>$ are divisible by $<a>$ or $<b>$?",
        "Among the positive integers below $<n>$, how many are multiples of $<a>$ or of $<b>$?",
        "How many positive integers less than $<n>$ are divisible by neither $<a>$ nor $<b>$?",
        {"n": 1000, "a": 3, "b": 5},
        lambda p: sum(1 for k in range(1, p["n"]) if k % p["a"] == 0 or k % p["b"] == 0),
        lambda p: sum(1 for k in range(1, p["n"]) if k % p["a"] and k % p["b"]),
    ),
    Base(
        "exp_equation",
        "Solve for $x$: $<a>^{x+<b>} = <c>$.",
        "Find the real number $x$ satisfying $<a>^{x+<b>} = <c>$.",
        "Solve for $x$: $<a>^{x} + <b> = <c>$.",
        {"a": 2, "b": 1, "c": 32},
        lambda p: sp.simplify(sp.log(p["c"], p["a"]) - p["b"]),
        lambda p: sp.simplify(sp.log(p["c"] - p["b"], p["a"])),
    ),
    Base(
        "geometric_series",
        "Find the sum of the infinite geometric series whose first term is $<a>$ and whose common ratio is $\\frac{1}{<r>}$.",
        "An infinite geometric series begins with $<a>$, and each term is $\\frac{1}{<r>}$ times the one before it. What does the series sum to?",
        "Find the sum of the first three terms of the geometric series whose first term is $<a>$ and whose common ratio is $\\frac{1}{<r>}$.",
        {"a": 6, "r": 3},
        lambda p: sp.Rational(p["a"]) / (1 - sp.Rational(1, p["r"])),
        lambda p: p["a"] * (1 + sp.Rational(1, p["r"]) + sp.Rational(1, p["r"] ** 2)),
    ),
    Base(
        "clock_angle",
        "What is the measure, in degrees, of the smaller angle formed by the hour hand and the minute hand of a clock at $<h>$:$<m>$?",
        "At $<h>$:$<m>$ the two hands of an analog clock form two angles. Find the smaller one, in degrees.",
        "What is the measure, in degrees, of the larger angle formed by the hour hand and the minute hand of a clock at $<h>$:$<m>$?",
        {"h": 3, "m": 30},
        lambda p: _R(_clock(p["h"], p["m"])),
        lambda p: _R(360 - _clock(p["h"], p["m"])),
    ),
    Base(
        "handshakes",
        "At a party, each of $<n>$ people shakes hands exactly once with each of the other people. How many handshakes take place?",
        "Every pair of guests at a gathering of $<n>$ people shakes hands one time. Find the total number of handshakes.",
        "At a party, each of $<n>$ people shakes hands exactly once with each of the other people. How many of the handshakes involve the host?",
        {"n": 23},
        lambda p: comb(p["n"], 2),
        lambda p: p["n"] - 1,
    ),
    Base(
        "digit_sum_count",
        "How many three-digit positive integers have digits whose sum is $<s>$?",
        "Count the integers from 100 to 999 whose three digits add up to $<s>$.",
        "How many three-digit positive integers have digits whose product is $<s>$?",
        {"s": 9},
        lambda p: _digits3(p["s"], sum),
        lambda p: _digits3(p["s"], lambda d: d[0] * d[1] * d[2]),
    ),
    Base(
        "coin_exactly",
        "A fair coin is flipped $<n>$ times. What is the probability of getting exactly $<k>$ heads? Express your answer as a common fraction.",
        "Flip a fair coin $<n>$ times. Find the probability that exactly $<k>$ of the flips come up heads.",
        "A fair coin is flipped $<n>$ times. What is the probability of getting at least $<k>$ heads? Express your answer as a common fraction.",
        {"n": 8, "k": 3},
        lambda p: sp.Rational(comb(p["n"], p["k"]), 2 ** p["n"]),
        lambda p: sp.Rational(sum(comb(p["n"], i) for i in range(p["k"], p["n"] + 1)), 2 ** p["n"]),
    ),
    Base(
        "fib_like_mod",
        "Let $a_1, a_2, a_3, \\ldots$ be a sequence defined by $a_1 = <a>$, $a_2 = <b>$, and $a_{n+2} = a_{n+1} + a_n$ for all $n \\geq 1$. Find the remainder when $a_{<k>}$ is divided by $<m>$.",
        "A sequence starts with the terms $<a>$ and $<b>$, and from then on every term is the sum of the two terms before it. What is the $<k>$th term modulo $<m>$?",
        "Let $a_1, a_2, a_3, \\ldots$ be a sequence defined by $a_1 = <a>$, $a_2 = <b>$, and $a_{n+2} = a_{n+1} + a_n$ for all $n \\geq 1$. Find the sum of the first $<k>$ terms of the sequence.",
        {"a": 1, "b": 3, "k": 20, "m": 9},
        lambda p: _seq(p["a"], p["b"], p["k"])[-1] % p["m"],
        lambda p: sum(_seq(p["a"], p["b"], p["k"])),
    ),
    Base(
        "log_change_base",
        "If $\\log_{<a>} x = <b>$, what is $\\log_{<c>} x$?",
        "Given that $x$ satisfies $\\log_{<a>} x = <b>$, compute the base-$<c>$ logarithm of $x$.",
        "If $\\log_{<a>} x = <b>$, what is $\\log_{x} <c>$?",
        {"a": 4, "b": 3, "c": 8},
        lambda p: sp.simplify(sp.log(p["a"] ** p["b"], p["c"])),
        lambda p: sp.simplify(sp.log(p["c"], p["a"] ** p["b"])),
    ),
    Base(
        "complex_modulus",
        "Let $z = <a> + <b>i$. Compute $|z^{<n>}|$.",
        "For the complex number $z = <a> + <b>i$, find the modulus of $z^{<n>}$.",
        "Let $z = <a> + <b>i$. Compute the real part of $z^{<n>}$.",
        {"a": 3, "b": 4, "n": 3},
        lambda p: sp.sqrt(p["a"] ** 2 + p["b"] ** 2) ** p["n"],
        lambda p: sp.re(sp.expand((p["a"] + p["b"] * sp.I) ** p["n"])),
    ),
    Base(
        "square_and_cube",
        "What is the smallest positive integer $n$ such that $<a>n$ is a perfect square and $<b>n$ is a perfect cube?",
        "Find the least positive integer $n$ for which $<a>n$ is a perfect square while $<b>n$ is a perfect cube.",
        "What is the smallest positive integer $n$ such that $<a>n$ is a perfect cube and $<b>n$ is a perfect square?",
        {"a": 2, "b": 3},
        lambda p: _sq_cube(p["a"], p["b"], True),
        lambda p: _sq_cube(p["a"], p["b"], False),
    ),
    Base(
        "rectangle_area",
        "The perimeter of a rectangle is $<p>$ and its length is $<k>$ times its width. What is the area of the rectangle?",
        "A rectangle whose length is $<k>$ times its width has perimeter $<p>$. Find its area.",
        "The perimeter of a rectangle is $<p>$ and its length is $<k>$ times its width. What is the length of a diagonal of the rectangle?",
        {"p": 48, "k": 3},
        lambda p: p["k"] * sp.Rational(p["p"], 2 * (p["k"] + 1)) ** 2,
        lambda p: sp.Rational(p["p"], 2 * (p["k"] + 1)) * sp.sqrt(1 + p["k"] ** 2),
    ),
    Base(
        "work_rate",
        "Alice can paint a house in $<a>$ hours and Bob can paint the same house in $<b>$ hours. How many hours will it take them to paint the house if they work together?",
        "Working alone, Alice needs $<a>$ hours to paint a house while Bob needs $<b>$ hours. If they paint it together, how long does the job take, in hours?",
        "Alice can paint a house in $<a>$ hours and Bob can paint the same house in $<b>$ hours. After they work together for one hour, Bob leaves. How many more hours does Alice need to finish the house?",
        {"a": 6, "b": 3},
        lambda p: sp.Rational(p["a"] * p["b"], p["a"] + p["b"]),
        lambda p: (1 - sp.Rational(1, p["a"]) - sp.Rational(1, p["b"])) * p["a"],
    ),
    Base(
        "train_rate",
        "A train travels $<d>$ miles in $<t>$ hours. At the same rate, how many miles will it travel in $<s>$ hours?",
        "Moving at a constant speed, a train covers $<d>$ miles every $<t>$ hours. What distance does it cover in $<s>$ hours?",
        "A train travels $<d>$ miles in $<t>$ hours. At the same rate, how many hours will it take to travel $<s>$ miles?",
        {"d": 120, "t": 2, "s": 5},
        lambda p: sp.Rational(p["d"] * p["s"], p["t"]),
        lambda p: sp.Rational(p["s"] * p["t"], p["d"]),
    ),
    Base(
        "prime_sum",
        "What is the sum of all prime numbers between $<a>$ and $<b>$?",
        "Add together every prime number that lies between $<a>$ and $<b>$.",
        "How many prime numbers are there between $<a>$ and $<b>$?",
        {"a": 10, "b": 30},
        lambda p: sum(sp.primerange(p["a"] + 1, p["b"])),
        lambda p: len(list(sp.primerange(p["a"] + 1, p["b"]))),
    ),
    Base(
        "trailing_zeros",
        "How many zeros are at the end of the decimal representation of $<n>!$?",
        "The number $<n>!$ is written out in full. How many trailing zeros does it have?",
        "What is the largest integer $k$ such that $2^k$ divides $<n>!$?",
        {"n": 100},
        lambda p: sum(p["n"] // 5**i for i in range(1, 10)),
        lambda p: sum(p["n"] // 2**i for i in range(1, 20)),
    ),
    Base(
        "abs_inequality",
        "How many integers $x$ satisfy $|x - <a>| \\le <b>$?",
        "Find the number of integer solutions of the inequality $|x - <a>| \\le <b>$.",
        "What is the sum of all integers $x$ that satisfy $|x - <a>| \\le <b>$?",
        {"a": 3, "b": 7},
        lambda p: 2 * p["b"] + 1,
        lambda p: (2 * p["b"] + 1) * p["a"],
    ),
    Base(
        "dot_product",
        "Compute the dot product of $\\begin{pmatrix} <a> \\\\ <b> \\\\ <c> \\end{pmatrix}$ and $\\begin{pmatrix} <d> \\\\ <e> \\\\ <f> \\end{pmatrix}$.",
        "What is $\\mathbf{u} \\cdot \\mathbf{v}$ when $\\mathbf{u} = (<a>, <b>, <c>)$ and $\\mathbf{v} = (<d>, <e>, <f>)$?",
        "Compute the sum of the entries of $\\begin{pmatrix} <a> \\\\ <b> \\\\ <c> \\end{pmatrix} + \\begin{pmatrix} <d> \\\\ <e> \\\\ <f> \\end{pmatrix}$.",
        {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6},
        lambda p: p["a"] * p["d"] + p["b"] * p["e"] + p["c"] * p["f"],
        lambda p: p["a"] + p["b"] + p["c"] + p["d"] + p["e"] + p["f"],
    ),
    Base(
        "marbles_same_color",
        "A bag contains $<r>$ red marbles, $<b>$ blue marbles, and $<g>$ green marbles. Two marbles are drawn at random without replacement. What is the probability that both marbles are the same color? Express your answer as a common fraction.",
        "There are $<r>$ red, $<b>$ blue and $<g>$ green marbles in a bag. If we take out two marbles at random, without putting the first one back, find the probability that they have the same color.",
        "A bag contains $<r>$ red marbles, $<b>$ blue marbles, and $<g>$ green marbles. Two marbles are drawn at random without replacement. What is the probability that the two marbles are different colors? Express your answer as a common fraction.",
        {"r": 5, "b": 4, "g": 3},
        lambda p: sp.Rational(
            comb(p["r"], 2) + comb(p["b"], 2) + comb(p["g"], 2), comb(p["r"] + p["b"] + p["g"], 2)
        ),
        lambda p: (
            1
            - sp.Rational(
                comb(p["r"], 2) + comb(p["b"], 2) + comb(p["g"], 2),
                comb(p["r"] + p["b"] + p["g"], 2),
            )
        ),
    ),
    Base(
        "painted_cube",
        "A wooden cube with edge length $<n>$ is painted red on all six faces and then cut into $<n>^3$ unit cubes. How many of the unit cubes have exactly two red faces?",
        "We paint every face of an $<n> \\times <n> \\times <n>$ block and then slice it into unit cubes. Count the small cubes that end up with paint on exactly two of their faces.",
        "A wooden cube with edge length $<n>$ is painted red on all six faces and then cut into $<n>^3$ unit cubes. How many of the unit cubes have no red faces at all?",
        {"n": 5},
        lambda p: 12 * (p["n"] - 2),
        lambda p: (p["n"] - 2) ** 3,
    ),
    Base(
        "diagonals",
        "How many diagonals does a convex polygon with $<n>$ sides have?",
        "Find the number of diagonals of a convex $<n>$-gon.",
        "What is the sum of the interior angles, in degrees, of a convex polygon with $<n>$ sides?",
        {"n": 12},
        lambda p: p["n"] * (p["n"] - 3) // 2,
        lambda p: 180 * (p["n"] - 2),
    ),
    Base(
        "mean_removed",
        "The mean of five numbers is $<m>$. If one of the numbers, $<x>$, is removed, what is the mean of the remaining four numbers?",
        "Five numbers average $<m>$. After deleting the number $<x>$ from the list, what is the average of the four numbers that are left?",
        "The mean of five numbers is $<m>$. If the number $<x>$ is added to the list, what is the mean of the six numbers?",
        {"m": 12, "x": 20},
        lambda p: sp.Rational(5 * p["m"] - p["x"], 4),
        lambda p: sp.Rational(5 * p["m"] + p["x"], 6),
    ),
    Base(
        "functional_equation",
        "The function $f$ satisfies $f(x) + <a>f(1 - x) = <b>x^2$ for all real numbers $x$. Find $f(<c>)$.",
        "Suppose that for every real $x$ we have $f(x) + <a>f(1 - x) = <b>x^2$. What is the value of $f(<c>)$?",
        "The function $f$ satisfies $f(x) + <a>f(1 - x) = <b>x^2$ for all real numbers $x$. Find $f(<c>) + f(1 - <c>)$.",
        {"a": 2, "b": 3, "c": 3},
        lambda p: sp.Rational(
            p["b"] * p["c"] ** 2 - p["a"] * p["b"] * (1 - p["c"]) ** 2, 1 - p["a"] ** 2
        ),
        lambda p: sp.Rational(p["b"] * (p["c"] ** 2 + (1 - p["c"]) ** 2), 1 + p["a"]),
    ),
    Base(
        "base_conversion",
        "Convert $<n>_{10}$ to base $<b>$.",
        "Write the decimal number $<n>$ in base $<b>$.",
        "What is the sum of the digits of $<n>_{10}$ when it is written in base $<b>$?",
        {"n": 100, "b": 7},
        lambda p: _to_base(p["n"], p["b"]),
        lambda p: sum(int(c) for c in _to_base(p["n"], p["b"])),
    ),
    Base(
        "square_equidistant",
        "Point $P$ lies inside square $ABCD$ with side length $<s>$ so that $P$ is equidistant from vertices $A$ and $B$ and from side $CD$. Find the distance from $P$ to side $CD$.",
        "Inside a square $ABCD$ of side $<s>$ there is a point $P$ whose distances to $A$, to $B$, and to the line $CD$ are all equal. How far is $P$ from $CD$?",
        "Point $P$ lies inside square $ABCD$ with side length $<s>$ so that $P$ is equidistant from vertices $A$ and $B$ and from side $CD$. Find the area of triangle $PAB$.",
        {"s": 8},
        lambda p: sp.Rational(5 * p["s"], 8),
        lambda p: sp.Rational(3 * p["s"] ** 2, 16),
    ),
]
