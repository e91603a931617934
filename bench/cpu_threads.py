"""vLLM-CPU thread binding: how many cores the engine computes on, measured side by side.

vLLM's CPU backend binds its OpenMP threads itself (``VLLM_CPU_OMP_THREADS_BIND=auto``) and, on
x86, keeps one core per rank free for the scheduler process: on a 2-core machine the model runs on
ONE core and the other idles most of the time. This bench runs the same generation under each
binding, one child process per arm (the binding is fixed when the engine starts), arms in
alternating order over the rounds:

    auto      vLLM's default (1 compute core here, 1 reserved)
    all       VLLM_CPU_OMP_THREADS_BIND=0-<n-1> and no reserved core (what ssdlib sets by default)
    nobind    VLLM_CPU_OMP_THREADS_BIND=nobind, OMP_NUM_THREADS=<n> (the OS places the threads)

Each child starts an engine (start-up excluded), warms up once, then times ``--reps``
``LLM.generate`` calls of ``--prompts`` x ``--n`` samples with ``ignore_eos`` and ``max_tokens``
fixed, so every arm generates exactly the same number of tokens. Reported: generated tokens per
wall second (median of the reps) and the ratio to ``auto``.

    flock /tmp/ssd-vllm.lock .venv/bin/python bench/cpu_threads.py
"""

from __future__ import annotations

import argparse
import os
import time

from _arms import child_result, run_arms


def child(args) -> None:
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    import ssdlib.generation.run as gen_run
    from ssdlib.config import load_params
    from ssdlib.data.synthetic import generate_problems
    from ssdlib.models import resolve_model

    p = load_params("03_baselines", args.profile)
    path = resolve_model(p.model.id)
    llm = LLM(
        model=path,
        max_model_len=p.model.max_model_len,
        gpu_memory_utilization=p.backend.gpu_memory_utilization,
        enforce_eager=True,
        seed=0,
        disable_log_stats=True,
    )
    tok = llm.get_tokenizer()
    problems = generate_problems(args.prompts, seed=0)
    rendered = gen_run.render_prompts(problems, tok, p.prompt, p.model.thinking)
    prompts = [TokensPrompt(prompt_token_ids=ids) for ids in rendered["prompt_token_ids"]]
    sp = SamplingParams(n=args.n, temperature=1.0, max_tokens=args.max_tokens, ignore_eos=True)
    llm.generate(prompts[:2], SamplingParams(max_tokens=8), use_tqdm=False)  # warm-up
    secs = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        outs = llm.generate(prompts, sp, use_tqdm=False)
        secs.append(time.perf_counter() - t0)
    child_result(sum(len(c.token_ids) for o in outs for c in o.outputs), secs)


def arm_env(arm: str, ncpu: int) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU", "OMP_NUM_THREADS"):
        env.pop(k, None)
    if arm == "auto":
        env["VLLM_CPU_OMP_THREADS_BIND"] = "auto"
    elif arm == "all":
        env["VLLM_CPU_OMP_THREADS_BIND"] = f"0-{ncpu - 1}"
        env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
    elif arm == "nobind":
        env["VLLM_CPU_OMP_THREADS_BIND"] = "nobind"
        env["OMP_NUM_THREADS"] = str(ncpu)
    else:
        raise SystemExit(f"unknown arm {arm!r}")
    return env


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--arms", nargs="+", default=["auto", "all", "nobind"])
    ap.add_argument("--rounds", type=int, default=2, help="each round runs every arm once")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)

    ncpu = len(os.sched_getaffinity(0))
    shape = f"{args.prompts} prompts x n={args.n} x {args.max_tokens} tokens"
    run_arms(__file__, args.arms, args.rounds, shape, env_for=lambda arm: arm_env(arm, ncpu))


if __name__ == "__main__":
    main()
