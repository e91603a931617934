"""vLLM-CPU process layout: what an engine start costs, and whether generation pays for it.

vLLM's default runs an offline ``LLM`` as three processes: the caller (here a notebook kernel),
an EngineCore process (scheduler) and, on the CPU platform, a worker process that owns the
model and binds its OpenMP threads. Each new process re-imports torch and vLLM, which is most of
an engine start on the 2-core box (a start costs ~25-60 s; loading the weights < 1 s). Arms:

    mp       vLLM's default: caller + EngineCore process + worker process (ssdlib until #16's
             third pass)
    inproc   ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` + ``distributed_executor_backend="mp"``: the
             EngineCore runs in the caller; the worker is still its own process with its threads
             bound as ssdlib binds them
    uni      ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` + ``"uni"``: everything in the caller; vLLM does
             no OpenMP binding there (``OMP_NUM_THREADS`` = every CPU)

Each child binds as ssdlib does (``backend.cpu_threads: all``), times the ``LLM(...)`` call
(engine start: processes, imports, weight load, KV-cache set-up; the caller's own ``import vllm``
is outside it, the same in every arm), warms up, then times ``--reps`` ``LLM.generate`` calls with
03's ``general`` sampling (T 1.0, top-k 20, top-p 0.95) and ``ignore_eos``, so every arm
generates the same tokens. Reported: tokens per wall second, engine start seconds, and ratios to
the first arm.

    .venv/bin/python bench/cpu_engine_procs.py --arms mp inproc uni --rounds 2
"""

from __future__ import annotations

import argparse
import os
import time

from _arms import child_result, run_arms, time_general_sampling

ARMS = {"mp": (None, "1"), "inproc": ("mp", "0"), "uni": ("uni", "0")}


def child(args) -> None:
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    from vllm import LLM

    from ssdlib.config import load_params
    from ssdlib.generation.backends import cpu_thread_env
    from ssdlib.models import resolve_model

    executor, _ = ARMS[args.arm]
    p = load_params("03_baselines", args.profile)
    os.environ.update(cpu_thread_env(p.backend))
    extra = {"distributed_executor_backend": executor} if executor else {}
    t0 = time.perf_counter()
    llm = LLM(
        model=resolve_model(p.model.id),
        max_model_len=p.model.max_model_len,
        gpu_memory_utilization=p.backend.gpu_memory_utilization,
        enforce_eager=True,
        enable_prefix_caching=True,
        seed=0,
        disable_log_stats=True,
        **extra,
    )
    start_s = time.perf_counter() - t0
    tokens, secs = time_general_sampling(llm, p, args)
    child_result(tokens, secs, start_s)


def arm_env(arm: str) -> dict[str, str]:
    env = dict(os.environ)
    env["VLLM_ENABLE_V1_MULTIPROCESSING"] = ARMS[arm][1]
    if arm == "uni":
        env["OMP_NUM_THREADS"] = str(len(os.sched_getaffinity(0)))
    return env


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    ap.add_argument("--rounds", type=int, default=2, help="each round runs every arm once")
    ap.add_argument("--prompts", type=int, default=60)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--arm", help=argparse.SUPPRESS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    shape = f"{args.prompts} prompts x n={args.n} x {args.max_tokens} tokens per call"
    run_arms(
        __file__, args.arms, args.rounds, shape, env_for=arm_env, child_args=lambda a: ["--arm", a]
    )


if __name__ == "__main__":
    main()
