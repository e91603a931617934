"""bf16 or float32 compute on this CPU: generation and training, measured side by side.

The smoke profile asked for bf16 everywhere (vLLM's ``auto`` picks the checkpoint's bf16 on every
x86 CPU; 05 trained under bf16 autocast) because the box it was tuned on had AVX512-BF16. A CPU
without it (AVX2 only, e.g. the AMD EPYC these boxes sometimes are) has no bf16 dot product: the
kernels convert to float32 and back around every matmul. This bench runs both dtypes on the
machine at hand, one child process per arm, arms alternating:

    bf16      vLLM ``dtype=bfloat16`` / ``train_sft(bf16=True)`` (autocast over float32 masters)
    float32   vLLM ``dtype=float32`` / ``train_sft(bf16=False)``

Workloads as in ``bench/cpu_malloc.py`` (``generate``: 03's sampling with ``ignore_eos``, so both
arms generate the same tokens; ``train``: ``train_sft`` on the smoke recipe).

    .venv/bin/python bench/cpu_dtype.py --workload generate --rounds 2
    .venv/bin/python bench/cpu_dtype.py --workload train --rounds 2
"""

from __future__ import annotations

import argparse
import os

from _arms import child_result, run_arms, smoke_llm, time_general_sampling
from cpu_malloc import child_train


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workload", choices=["generate", "train"], default="generate")
    ap.add_argument("--arms", nargs="+", default=["bf16", "float32"])
    ap.add_argument("--rounds", type=int, default=2, help="each round runs every arm once")
    ap.add_argument("--prompts", type=int, default=40)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--steps", type=int, default=6, help="train: optimizer steps per call")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--arm", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        if args.workload == "train":
            return child_train(args, bf16=args.arm == "bf16")
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        llm, p = smoke_llm(args.profile, dtype="bfloat16" if args.arm == "bf16" else "float32")
        return child_result(*time_general_sampling(llm, p, args))
    if args.workload == "generate":
        shape = f"generate: {args.prompts} prompts x n={args.n} x {args.max_tokens} tokens"
    else:
        shape = f"train: train_sft, {args.steps} steps of the smoke recipe"
    run_arms(__file__, args.arms, args.rounds, shape, child_args=lambda a: ["--arm", a])


if __name__ == "__main__":
    main()
