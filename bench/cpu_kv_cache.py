"""vLLM-CPU KV-cache size and concurrency for 03's workload, measured side by side.

03 asks for all its samples at once (480 on the smoke profile, 128 tokens each). With the smoke
profile's ``gpu_memory_utilization`` (on CPU: the fraction of RAM reserved for the KV cache) the
cache holds only part of them, so vLLM admits sequences in waves or preempts (recomputes) running
ones. Arms (comma-separated ``key=value``):

    mem=F     gpu_memory_utilization F
    seqs=N    max_num_seqs N (0 = vLLM's default)

Each child binds the engine as ssdlib does (``backend.cpu_threads: all``), starts it (start-up
excluded), warms up, then times ``--reps`` ``LLM.generate`` calls of ``--prompts`` x ``--n``
samples with 03's ``general`` sampling (T 1.0, top-k 20, top-p 0.95) and ``ignore_eos``, so every
arm generates the same tokens. Reported: tokens per wall second and the ratio to the first arm.

    .venv/bin/python bench/cpu_kv_cache.py --arms mem=0.25 mem=0.25,seqs=128 mem=0.5
"""

from __future__ import annotations

import argparse
import os

from _arms import child_result, run_arms, time_general_sampling


def parse_arm(arm: str) -> dict[str, float]:
    kv = dict(tok.split("=", 1) for tok in arm.split(","))
    unknown = set(kv) - {"mem", "seqs"}
    if unknown:
        raise SystemExit(f"unknown arm keys {sorted(unknown)} in {arm!r}")
    return {"mem": float(kv.get("mem", 0)), "seqs": int(kv.get("seqs", 0))}


def child(args) -> None:
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    from vllm import LLM

    from ssdlib.config import load_params
    from ssdlib.generation.backends import cpu_thread_env
    from ssdlib.models import resolve_model

    arm = parse_arm(args.arm)
    p = load_params("03_baselines", args.profile)
    os.environ.update(cpu_thread_env(p.backend))
    extra = {"max_num_seqs": arm["seqs"]} if arm["seqs"] else {}
    llm = LLM(
        model=resolve_model(p.model.id),
        max_model_len=p.model.max_model_len,
        gpu_memory_utilization=arm["mem"] or p.backend.gpu_memory_utilization,
        enforce_eager=True,
        enable_prefix_caching=True,
        seed=0,
        disable_log_stats=True,
        **extra,
    )
    tokens, secs = time_general_sampling(llm, p, args)
    child_result(tokens, secs)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--arms", nargs="+", default=["mem=0.25", "mem=0.25,seqs=128", "mem=0.5"])
    ap.add_argument("--rounds", type=int, default=1, help="each round runs every arm once")
    ap.add_argument("--prompts", type=int, default=120)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--arm", help=argparse.SUPPRESS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    for arm in args.arms:
        parse_arm(arm)  # fail before any engine starts
    shape = f"{args.prompts} prompts x n={args.n} x {args.max_tokens} tokens per call"
    run_arms(__file__, args.arms, args.rounds, shape, child_args=lambda arm: ["--arm", arm])


if __name__ == "__main__":
    main()
