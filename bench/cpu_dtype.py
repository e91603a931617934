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

import _arms as arms
from cpu_malloc import child_train


def main() -> None:
    ap = arms.workload_args(__doc__, ["bf16", "float32"])
    ap.add_argument("--arm", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        if args.workload == "train":
            return child_train(args, bf16=args.arm == "bf16")
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        llm, p = arms.smoke_llm(args.profile, dtype="bfloat16" if args.arm == "bf16" else "float32")
        return arms.child_result(*arms.time_general_sampling(llm, p, args))
    arms.run_arms(
        __file__,
        args.arms,
        args.rounds,
        arms.workload_shape(args),
        child_args=lambda a: ["--arm", a],
    )


if __name__ == "__main__":
    main()
