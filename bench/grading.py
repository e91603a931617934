"""Grading benchmark (not a test): throughput side by side, and the adversarial set.

(a) The same ~2,000 synthetic but realistic responses (reasoning with LaTeX, a stray box
    inside the thinking, ``</think>``, a final paragraph with a boxed answer; right, right
    in another format, wrong, unboxed, and length-capped samples) graded four ways in one
    run, interleaved over ``--reps`` repetitions, each in fresh processes (as a notebook
    grading one table would be):
      1. serial plain math-verify: ``verify(parse(gold), parse(answer region))`` with
         math-verify's default extraction configs, in one process;
      2. serial ssdlib: the exact per-sample code of grade_samples (extract + check_answer),
         in one process, no pool, no de-duplication;
      3. ``grade_samples`` with 1 worker and with all cores (killable worker pool, duplicate
         pairs checked once); the forkserver start (once per process) is timed apart;
      4. a control: pure CPU-bound work through the same pool, 1 worker vs all cores, whose
         ratio is the parallelism the (possibly shared) machine offered during the run.
(b) Adversarial answers (towers of exponents, giant factorials, 10k-character junk,
    unterminated boxes, deeply nested braces): the run must end, with per-sample times
    bounded by the timeout. Run once with the default candidate cap and once with the cap
    lifted so that every input reaches math-verify.

Usage: python bench/grading.py [--problems 200] [--k 10] [--timeout 5] [--workers N] [--reps 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import multiprocessing
import os
import random
import statistics
import time
from fractions import Fraction

import pandas as pd
from math_verify import parse, verify

from ssdlib.grading import equivalence as eq
from ssdlib.grading import grade_samples
from ssdlib.grading.extraction import answer_region, extract
from ssdlib.grading.grade import _flags
from ssdlib.grading.pool import run_killable

WORDS = (
    "consider the sequence where each term satisfies the recurrence so we substitute and simplify "
    "the expression note that by symmetry the sum telescopes hence we obtain a bound which is tight "
    "when equality holds let us verify the small cases first then generalise using induction on n"
).split()


def _prose(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def _math(rng: random.Random) -> str:
    a, b, c = rng.randint(1, 99), rng.randint(1, 99), rng.randint(2, 9)
    return rng.choice(
        [
            f"$x_{{{c}}} = \\frac{{{a}^2 + {b}}}{{{c}}}$",
            f"$$\\sum_{{i=1}}^{{{a}}} i^{c} = \\left( \\frac{{{a}({a}+1)}}{{2}} \\right)^2$$",
            f"$\\sqrt{{{a}}} \\cdot \\sqrt{{{b}}} = \\sqrt{{{a * b}}}$",
            f"\\[ \\binom{{{a}}}{{{c}}} \\equiv {b} \\pmod{{{c + 1}}} \\]",
        ]
    )


def _reasoning(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(15, 40)):
        parts.append(_prose(rng, rng.randint(10, 30)))
        parts.append(_math(rng))
    return "\n".join(parts)


def _gold_catalog(rng: random.Random) -> tuple[str, list[str], list[str]]:
    """(gold, equivalent alternative forms, wrong answers) of one random problem."""
    kind = rng.choice(
        ["int", "int", "int", "frac", "sqrt", "pi", "interval", "tuple", "set", "deg"]
    )
    a, b = rng.randint(2, 60), rng.randint(2, 60)
    if kind == "int":
        n = rng.randint(0, 20000)
        return str(n), [f"{n:,}", f"{n}.0"], [str(n + 1), str(-n - 2)]
    if kind == "frac":
        f = Fraction(a, b) if a != b else Fraction(a, b + 1)
        p, q = f.numerator, f.denominator
        return (
            f"\\frac{{{p}}}{{{q}}}",
            [f"{p}/{q}", f"\\dfrac{{{p}}}{{{q}}}", f"{float(f):.8f}"],
            [
                f"\\frac{{{q}}}{{{p + 1}}}",
                f"\\frac{{{p + 1}}}{{{q}}}",
            ],
        )
    if kind == "sqrt":
        b = rng.choice([2, 3, 5, 6, 7])
        return (
            f"{a}\\sqrt{{{b}}}",
            [f"\\sqrt{{{a * a * b}}}"],
            [f"{a}\\sqrt{{{b + 4}}}", f"{a + 1}\\sqrt{{{b}}}"],
        )
    if kind == "pi":
        return (
            f"\\frac{{{a}\\pi}}{{{b}}}",
            [f"\\frac{{{a}}}{{{b}}}\\pi"],
            [f"\\frac{{{a}\\pi}}{{{b + 1}}}", f"{a}\\pi"],
        )
    if kind == "interval":
        return (
            f"[{a}, {a + b})",
            [f"\\left[{a}, {a + b}\\right)"],
            [f"[{a}, {a + b}]", f"({a}, {a + b})"],
        )
    if kind == "tuple":
        return (
            f"({a}, {b + 61})",
            [f"\\left( {a},\\, {b + 61} \\right)"],
            [f"({b + 61}, {a})", f"({a}, {b})"],
        )
    if kind == "set":
        return (
            f"\\{{{a}, {a + 1}, {a + b}\\}}",
            [f"\\{{{a + b}, {a + 1}, {a}\\}}"],
            [f"\\{{{a}, {a + 1}\\}}"],
        )
    return f"{a}^\\circ", [f"{a}", f"{a}^{{\\circ}}"], [f"{a + 10}^\\circ"]


def build_samples(n_problems: int, k: int, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(n_problems):
        gold, alts, wrongs = _gold_catalog(rng)
        for j in range(k):
            r = rng.random()
            finish = "stop"
            if r < 0.45:
                answer = gold
            elif r < 0.65:
                answer = rng.choice(alts)
            elif r < 0.82:
                answer = rng.choice(wrongs)
            else:
                answer = None
            think = (
                f"{_reasoning(rng)}\nMaybe \\boxed{{{rng.choice(wrongs)}}}? Let me double check.\n"
            )
            if r >= 0.92:  # length-capped: the thinking never closes
                response, finish = think + _prose(rng, 40), "length"
            else:
                final = f"**Solution.** {_prose(rng, 40)} {_math(rng)} {_prose(rng, 30)}\n"
                final += (
                    f"Therefore the answer is $\\boxed{{{answer}}}$."
                    if answer
                    else "So that is the answer."
                )
                response = f"{think}</think>\n\n{final}"
            rows.append(
                {
                    "prompt_id": f"p{i}",
                    "sample_idx": j,
                    "response": response,
                    "finish_reason": finish,
                    "answer": gold,
                }
            )
    return pd.DataFrame(rows)


def serial_plain_math_verify(samples: pd.DataFrame) -> list[bool]:
    """What a plain harness does: math-verify's own extraction over the answer region."""
    out = []
    for resp, gold, finish in zip(
        samples["response"], samples["answer"], samples["finish_reason"], strict=True
    ):
        region = answer_region(resp, thinking=True)
        if region is None or finish == "length":
            out.append(False)
            continue
        out.append(bool(verify(parse(f"${gold}$"), parse(region))))
    return out


def serial_ssdlib(samples: pd.DataFrame, timeout_s: float) -> list[bool]:
    """grade_samples' per-sample code in one process, no pool, every sample checked."""
    eq._parse_cached.cache_clear()
    out = []
    for resp, gold, finish in zip(
        samples["response"], samples["answer"], samples["finish_reason"], strict=True
    ):
        row, check = _flags(resp, finish, True, 1000)
        out.append(bool(check and eq.check_answer(gold, row["extracted"], timeout_s)[0] is True))
    return out


def _fresh_serial(method: str, samples: pd.DataFrame, timeout_s: float) -> tuple[list[bool], float]:
    """Run a serial method in a fresh process and time it there.

    The pool's workers are fresh processes on every grade_samples call (imports and a
    trivial warm-up done by the forkserver, sympy's caches empty), so the serial baselines
    get the same: otherwise repeated runs in one process would time sympy's warm caches.
    """
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as ex:
        return ex.submit(_serial_in_child, method, samples, timeout_s).result()


def _serial_in_child(
    method: str, samples: pd.DataFrame, timeout_s: float
) -> tuple[list[bool], float]:
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    eq.check_answer(r"\frac{1}{2}", "0.5", timeout_s)  # the same warm-up as the forkserver's
    eq.check_answer(r"\{1, 2\}", r"\left[1, 2\right)", timeout_s)
    fn = serial_plain_math_verify if method == "plain" else lambda df: serial_ssdlib(df, timeout_s)
    return _timed(lambda: fn(samples))


def _burn(n: int) -> int:
    """Pure-Python CPU work for the parallelism control (no I/O, no shared state)."""
    return sum(i * i for i in range(n))


def _timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def bench_throughput(args) -> None:
    samples = build_samples(args.problems, args.k)
    n = len(samples)
    unique = samples.assign(ex=[extract(r, True).extracted for r in samples["response"]])
    n_unique = unique.dropna(subset=["ex"]).drop_duplicates(["answer", "ex"]).shape[0]
    print(f"\n## (a) throughput: {n} responses, {args.problems} prompts x {args.k} samples")
    print(
        f"mean response length {samples['response'].str.len().mean():.0f} chars; "
        f"{n_unique} distinct (gold, candidate) pairs; cpu_count={os.cpu_count()}; "
        f"loadavg at start {os.getloadavg()[0]:.2f}\n"
    )
    # The first pool in a process starts the forkserver (imports + warm-up): timed apart.
    _, t_start = _timed(
        lambda: grade_samples(samples.head(2), workers=1, timeout_s=args.timeout, thinking=True)
    )
    n_all = args.workers or os.cpu_count()
    methods = {
        "serial plain math-verify (parse region + verify)": lambda: _fresh_serial(
            "plain", samples, args.timeout
        ),
        "serial ssdlib per-sample code (no pool, no dedup)": lambda: _fresh_serial(
            "ssdlib", samples, args.timeout
        ),
        "grade_samples, workers=1": lambda: grade_samples(
            samples, workers=1, timeout_s=args.timeout, thinking=True
        )["correct"].tolist(),
        f"grade_samples, workers={n_all} (all cores)": lambda: (
            last.update(
                graded=grade_samples(
                    samples, workers=args.workers, timeout_s=args.timeout, thinking=True
                )
            )
            or last["graded"]["correct"].tolist()
        ),
    }
    last: dict[str, pd.DataFrame] = {}
    # Control: a pure CPU-bound task through the same pool, 1 worker vs all. Its speed-up is
    # what parallelism this (shared) machine actually offered during the run.
    burn = [(2_000_000,)] * 8
    methods["control: CPU-bound loop, workers=1"] = lambda: run_killable(
        _burn, burn, timeout_s=60, workers=1
    )
    methods[f"control: CPU-bound loop, workers={n_all}"] = lambda: run_killable(
        _burn, burn, timeout_s=60, workers=args.workers
    )
    # Interleaved repetitions: this machine is shared, so one run of each is mostly noise.
    times: dict[str, list[float]] = {name: [] for name in methods}
    verdicts: dict[str, list[bool]] = {}
    for _ in range(args.reps):
        for name, fn in methods.items():
            if name.startswith("serial"):
                verdicts[name], t = fn()  # timed inside the fresh process
            else:
                verdicts[name], t = _timed(fn)
            times[name].append(t)
    names = list(methods)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(
        f"| method | median wall s ({args.reps} reps) | min-max s | samples/s | speed-up vs plain serial | accuracy |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in names[:4]:
        print(
            f"| {name} | {med[name]:.2f} | {min(times[name]):.2f}-{max(times[name]):.2f} | {n / med[name]:.0f} "
            f"| {med[names[0]] / med[name]:.2f}x | {sum(verdicts[name]) / n:.3f} |"
        )
    for name in names[4:]:
        print(
            f"| {name} | {med[name]:.2f} | {min(times[name]):.2f}-{max(times[name]):.2f} | - "
            f"| {med[names[4]] / med[name]:.2f}x vs its workers=1 | - |"
        )
    plain, serial, pooled = verdicts[names[0]], verdicts[names[1]], verdicts[names[3]]
    graded = last["graded"]
    print(
        f"\nforkserver start (once per process, before the rows above): {t_start:.2f} s; "
        f"loadavg at end {os.getloadavg()[0]:.2f}"
    )
    disagree = sum(a != b for a, b in zip(plain, pooled, strict=True))
    print(
        "\nverdicts: grade_samples vs serial ssdlib differ on "
        f"{sum(a != b for a, b in zip(serial, pooled, strict=True))}; "
        f"vs plain math-verify differ on {disagree} of {n}; timed_out={int(graded['timed_out'].sum())}"
    )
    if disagree:
        diff = [i for i, (a, b) in enumerate(zip(plain, pooled, strict=True)) if a != b][:5]
        for i in diff:
            print(
                f"  e.g. gold={samples['answer'][i]!r} extracted={graded['extracted'][i]!r} "
                f"plain={plain[i]} ssdlib={pooled[i]}"
            )


ADVERSARIAL = {
    "tower 9^9^9^9^9": r"9^{9^{9^{9^{9}}}}",
    "tower 2^2^2^2^2^2": r"2^{2^{2^{2^{2^{2}}}}}",
    "power 10^{10^{9}}": r"10^{10^{9}}",
    "power 7^{10^{9}}+1": r"7^{10^{9}}+1",
    "factorial (10!)!": r"(10!)!",
    "factorial (10^7)!": r"(10^{7})!",
    "factorial ratio": r"\frac{(10^{6})!}{(10^{6}-1)!}",
    "nested braces x400": "{" * 400 + "1" + "}" * 400,
    "nested parens x3000": "(" * 3000 + "1" + ")" * 3000,
    "nested sqrt x2000": "\\sqrt{" * 2000 + "2" + "}" * 2000,
    "nested frac x500": "\\frac{1}{" * 500 + "2" + "}" * 500,
    "x^x^... x3000": "x^" * 3000 + "2",
    "junk 10k letters": "a" * 10000,
    "junk 10k '1,'": "1," * 5000,
    "junk 10k \\left(": "\\left(" * 1700,
    "junk 10k \\text{a}": "\\text{a} " * 1100,
    "junk 10k 'final answer is'": "final answer is " * 640,
    "junk 10k digits": "7" * 10000,
    "sum to 10^9": r"\sum_{k=1}^{10^{9}} k",
    "unterminated box": None,  # built as a response below
}


def bench_adversarial(args) -> None:
    responses = {
        name: f"</think>\\boxed{{{text}}}" for name, text in ADVERSARIAL.items() if text is not None
    }
    responses["unterminated box"] = "</think>\\boxed{3} no wait \\boxed{\\frac{1}{2^{" + "{" * 2000
    names = list(responses)
    samples = pd.DataFrame(
        {
            "prompt_id": names,
            "response": list(responses.values()),
            "answer": "3",
            "finish_reason": "stop",
        }
    )
    print(f"\n## (b) adversarial set: {len(names)} inputs, timeout_s={args.timeout}, gold = 3")
    for cap in (1000, 100_000):
        graded, wall = _timed(
            lambda cap=cap: grade_samples(
                samples, workers=args.workers, timeout_s=args.timeout, max_candidate_chars=cap
            )
        )
        tasks = [
            ("3", c, args.timeout) for c in graded["extracted"] if c is not None and len(c) <= cap
        ]
        times, t_tasks = _timed(
            lambda tasks=tasks: run_killable(
                eq.check_answer, tasks, timeout_s=args.timeout, workers=args.workers
            )
        )
        secs = [r.seconds for r in times]
        print(
            f"\nmax_candidate_chars={cap}: grade_samples wall {wall:.2f} s; "
            f"timed_out={int(graded['timed_out'].sum())}, "
            f"too_long={int((graded['grade_note'] == 'candidate_too_long').sum())}, "
            f"correct={int(graded['correct'].sum())}; "
            f"re-run of the {len(tasks)} parsed candidates: max per-sample {max(secs, default=0):.2f} s, "
            f"killed by the parent: {sum(r.status == 'timeout' for r in times)}"
        )
        print("\n| input | note | timed_out | per-sample s |")
        print("|---|---|---|---:|")
        it = iter(times)
        for name, (_, row) in zip(names, graded.iterrows(), strict=True):
            parsed = row["extracted"] is not None and len(row["extracted"]) <= cap
            sec = f"{next(it).seconds:.2f}" if parsed else "-"
            print(f"| {name} | {row['grade_note'] or ''} | {row['timed_out']} | {sec} |")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--problems", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=5.0, help="per-sample grading budget, seconds")
    ap.add_argument("--workers", type=int, default=None, help="default: all cores")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions of (a)")
    args = ap.parse_args()
    logging.getLogger("math_verify").setLevel(
        logging.ERROR
    )  # its per-timeout warnings drown the tables
    bench_throughput(args)
    bench_adversarial(args)


if __name__ == "__main__":
    main()
