"""Shared runner for the CPU generation benches: one child process per arm, arms alternating.

An arm's setting (thread binding, KV-cache size, ...) is fixed when the vLLM engine starts, so
each arm runs in its own process; the order alternates between rounds so that a slow drift of
the machine (these boxes are shared and noisy) does not favour whichever arm runs first. Ratios
to the first arm are what these benches report; absolute tokens/s mean little here.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable


def child_result(tokens: int, seconds: list[float], start_s: float | None = None) -> None:
    """Print a child's measurement for :func:`run_arms` (generated tokens, wall seconds per rep;
    ``start_s``: seconds the engine took to start, where the bench measures it)."""
    res = {"tokens": tokens, "seconds": seconds}
    if start_s is not None:
        res["start_s"] = start_s
    print("RESULT " + json.dumps(res), flush=True)


def smoke_llm(profile: str = "smoke", dtype: str | None = None):
    """(vLLM ``LLM`` of the profile's model as the CPU benches run it, the 03 params): eager,
    seed 0, stats off, the profile's context length and KV-cache share; ``dtype``: the engine's
    dtype (default: the profile's, as ``make_backend`` resolves it for this CPU)."""
    from vllm import LLM

    from ssdlib.config import load_params
    from ssdlib.hardware import cpu_compute_dtype
    from ssdlib.models import resolve_model

    p = load_params("03_baselines", profile)
    llm = LLM(
        model=resolve_model(p.model.id),
        dtype=dtype or cpu_compute_dtype(p.model.dtype),
        max_model_len=p.model.max_model_len,
        gpu_memory_utilization=p.backend.gpu_memory_utilization,
        enforce_eager=True,
        seed=0,
        disable_log_stats=True,
    )
    return llm, p


def time_general_sampling(llm, p, args) -> tuple[int, list[float]]:
    """Time ``args.reps`` ``llm.generate`` calls of ``args.prompts`` smoke problems x ``args.n``
    samples with 03's ``general`` sampling (T 1.0, top-k 20, top-p 0.95) and ``ignore_eos``, after
    one warm-up; ``p``: the 03 params. Returns (generated tokens per call, wall seconds per call)."""
    import time

    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    import ssdlib.generation.run as gen_run
    from ssdlib.data.synthetic import generate_problems

    rendered = gen_run.render_prompts(
        generate_problems(args.prompts, seed=0), llm.get_tokenizer(), p.prompt, p.model.thinking
    )
    prompts = [TokensPrompt(prompt_token_ids=ids) for ids in rendered["prompt_token_ids"]]
    llm.generate(prompts[:2], SamplingParams(max_tokens=8), use_tqdm=False)  # warm-up
    sp = SamplingParams(
        n=args.n, temperature=1.0, top_k=20, top_p=0.95, max_tokens=args.max_tokens, ignore_eos=True
    )
    secs = []
    for _ in range(args.reps):
        llm.reset_prefix_cache()
        t0 = time.perf_counter()
        outs = llm.generate(prompts, sp, use_tqdm=False)
        secs.append(time.perf_counter() - t0)
    return sum(len(c.token_ids) for o in outs for c in o.outputs), secs


def workload_args(doc: str, arms: list[str]):
    """The argument parser the generate / train workload benches share (``--arms`` default ``arms``)."""
    import argparse

    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workload", choices=["generate", "train"], default="generate")
    ap.add_argument("--arms", nargs="+", default=arms)
    ap.add_argument("--rounds", type=int, default=2, help="each round runs every arm once")
    ap.add_argument("--prompts", type=int, default=40)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--steps", type=int, default=6, help="train: optimizer steps per call")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return ap


def workload_shape(args) -> str:
    """One line saying what a :func:`workload_args` bench measured."""
    if args.workload == "generate":
        return f"generate: {args.prompts} prompts x n={args.n} x {args.max_tokens} tokens"
    return f"train: train_sft, {args.steps} steps of the smoke recipe"


def run_arms(
    script: str,
    arms: list[str],
    rounds: int,
    shape: str,
    env_for: Callable[[str], dict[str, str]] = lambda arm: dict(os.environ),
    child_args: Callable[[str], list[str]] = lambda arm: [],
) -> dict[str, float]:
    """Run ``script --child <argv> <child_args(arm)>`` once per arm per round, in ``env_for(arm)``;
    print each rep's tokens/s and a Markdown table of the medians and ratios to ``arms[0]``."""
    results: dict[str, list[float]] = {a: [] for a in arms}
    starts: dict[str, list[float]] = {a: [] for a in arms}
    tokens: dict[str, int] = {}
    for r in range(rounds):
        for arm in arms if r % 2 == 0 else list(reversed(arms)):
            cmd = [sys.executable, script, "--child", *sys.argv[1:], *child_args(arm)]
            out = subprocess.run(cmd, env=env_for(arm), capture_output=True, text=True, check=False)
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if out.returncode or not line:
                print(out.stderr[-12000:], file=sys.stderr)
                raise SystemExit(f"arm {arm} failed (exit {out.returncode})")
            res = json.loads(line[-1][7:])
            tokens[arm] = res["tokens"]
            results[arm] += [res["tokens"] / s for s in res["seconds"]]
            rates = " ".join(f"{res['tokens'] / s:7.1f}" for s in res["seconds"])
            start = ""
            if "start_s" in res:
                starts[arm].append(res["start_s"])
                start = f"; engine start {res['start_s']:.1f} s"
            print(f"round {r} {arm:24s} {rates} tok/s{start}", flush=True)
    base = statistics.median(results[arms[0]])
    ncpu = len(os.sched_getaffinity(0))
    print(f"\n{ncpu} CPUs; load avg {os.getloadavg()[0]:.1f}; {shape}")
    timed = all(starts[a] for a in arms)
    head = f"| arm | tokens per call | median tok/s | x {arms[0]} |"
    rule = "|:--|--:|--:|--:|"
    if timed:
        head += f" median engine start s | x {arms[0]} (start) |"
        rule += "--:|--:|"
    print(f"{head}\n{rule}")
    medians = {}
    start0 = statistics.median(starts[arms[0]]) if timed else 0.0
    for arm in arms:
        medians[arm] = statistics.median(results[arm])
        row = f"| {arm} | {tokens[arm]} | {medians[arm]:.1f} | {medians[arm] / base:.2f} |"
        if timed:
            st = statistics.median(starts[arm])
            row += f" {st:.1f} | {st / start0:.2f} |"
        print(row)
    return medians
