"""Throughput and memory of ``ssdlib.train.train_sft`` on a Qwen3.5-4B-shaped model, one GPU.

Builds Qwen3.5-4B's text stack from its published shape with RANDOM weights (no weights can
reach the GPU machine), makes a few random-token rows of ``seq_len`` tokens in the SSD set's
format (``input_ids`` + ``completion_mask``), and runs a few optimizer steps through the same
``train_sft`` the study uses (TRL SFTTrainer, completion-only loss, bf16 autocast, gradient
checkpointing, sdpa). Each sequence length runs in its own process so that an out-of-memory
at one length does not poison the next and the peak-memory counter starts at zero.

Reported per length: tokens/s (median over the steps after the first), step time (s), peak
allocated GPU memory (GiB), and model FLOPs utilisation:

    MFU = (6 * N + 6 * L * n_full_attn_layers * d_attn) * tokens/s / peak_flops

with N the parameter count (the tied embedding counted once, as the LM head's matmul), L the
sequence length (causal attention: half of the L x L scores, times 12 FLOPs per score per token
for QK^T and AV, forward + backward), d_attn = heads * head_dim, and peak_flops = 989e12 (H100
SXM dense bf16). The Gated DeltaNet layers' chunked recurrence is left out (a few percent at
these shapes). Gradient checkpointing re-runs the forward; that work is not counted (MFU, not HFU).

Usage (GPU machine; trl, datasets and optionally fla carried as wheels, see bench/train_gpu.md)::

    PYTHONPATH=.:/tmp/site python bench/train_gpu.py --seq-lens 8192 16384 32768 49152 \\
        --steps 4 --tokenizer .cache/bench_tok --out $OUT/train_gpu.jsonl

``--no-fla`` hides the flash-linear-attention kernels (transformers' torch fallback for the
Gated DeltaNet layers); ``--model-dtype bfloat16`` keeps the master weights in bf16 (memory
comparison only: the study trains with float32 master weights, see ssdlib.train.sft).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

H100_BF16_DENSE = 989e12

# Qwen3.5-4B text stack (model card + public configs): 32 layers, 3 Gated DeltaNet : 1 gated attention.
QWEN35_4B_TEXT = dict(
    vocab_size=248_320,
    hidden_size=2560,
    intermediate_size=9216,
    num_hidden_layers=32,
    num_attention_heads=16,
    num_key_value_heads=4,
    head_dim=256,
    linear_num_key_heads=16,
    linear_key_head_dim=128,
    linear_num_value_heads=32,
    linear_value_head_dim=128,
    linear_conv_kernel_dim=4,
    layer_types=["linear_attention", "linear_attention", "linear_attention", "full_attention"] * 8,
    max_position_embeddings=262_144,
    rope_parameters={"rope_type": "default", "rope_theta": 10_000_000.0, "partial_rotary_factor": 0.25},
    tie_word_embeddings=True,
    rms_norm_eps=1e-6,
)


def model_flops_per_token(n_params: int, seq_len: int, cfg: dict) -> float:
    """Training FLOPs per token (forward + backward), dense matmuls plus causal softmax attention."""
    n_full = cfg["layer_types"].count("full_attention")
    d_attn = cfg["num_attention_heads"] * cfg["head_dim"]
    return 6.0 * n_params + 6.0 * seq_len * n_full * d_attn


def run_one(args) -> dict:
    """Train a few steps at one sequence length in this process; return the measurements."""
    if args.no_fla:
        sys.modules["fla"] = None  # import fails -> transformers' torch fallback for Gated DeltaNet
    import datasets
    import torch
    import transformers
    from transformers import AutoTokenizer

    from ssdlib.train import read_log, train_sft

    cfg = transformers.Qwen3_5TextConfig(**QWEN35_4B_TEXT)
    cfg.pad_token_id = 0
    torch.manual_seed(0)
    dtype = getattr(torch, args.model_dtype)
    with torch.device("cuda"):
        model = transformers.Qwen3_5ForCausalLM(cfg).to(dtype)
    n_params = sum(p.numel() for p in model.parameters())
    tok = AutoTokenizer.from_pretrained(args.tokenizer)

    L, n_rows = args.seq_len, args.steps * args.batch
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, cfg.vocab_size, (n_rows, L), generator=g, dtype=torch.int32)
    prompt = min(256, L // 8)  # a prompt's worth of masked tokens, as in the SSD set
    mask = [[0] * prompt + [1] * (L - prompt)] * n_rows
    data = datasets.Dataset.from_dict({"input_ids": ids.tolist(), "completion_mask": mask})

    out = tempfile.mkdtemp(prefix="bench_sft_")
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    result = train_sft(
        model,
        data,
        out,
        tokenizer=tok,
        max_length=L,
        max_steps=args.steps,
        per_device_batch_size=args.batch,
        learning_rate=5e-6,
        min_lr=1e-6,
        bf16=True,
        gradient_checkpointing=True,
        attn_implementation="sdpa",
        use_liger_kernel=args.liger,
        logging_steps=1,
        extra_args={"save_strategy": "no"},  # no 50 GB checkpoint for a benchmark
    )
    wall = time.perf_counter() - t0
    log = read_log(out)
    steps = log[log["loss"].notna()]
    tps = steps["tokens_per_s"].dropna().tolist()[1:]  # the first step carries warm-up
    tokens_per_s = statistics.median(tps) if tps else float("nan")
    flops_tok = model_flops_per_token(n_params, L, QWEN35_4B_TEXT)
    from transformers.utils.import_utils import is_flash_linear_attention_available

    return {
        "seq_len": L,
        "batch": args.batch,
        "model_dtype": args.model_dtype,
        "fla": (not args.no_fla) and is_flash_linear_attention_available(),
        "liger": args.liger,
        "n_params": n_params,
        "steps": result.global_step,
        "tokens_per_s": tokens_per_s,
        "step_s": L * args.batch / tokens_per_s,
        "step_s_all": [L * args.batch / x for x in steps["tokens_per_s"].dropna().tolist()],
        "max_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
        "max_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
        "mfu": flops_tok * tokens_per_s / H100_BF16_DENSE,
        "mfu_dense_only": 6.0 * n_params * tokens_per_s / H100_BF16_DENSE,
        "final_loss": float(steps["loss"].iloc[-1]),
        "wall_s": wall,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gpu": torch.cuda.get_device_name(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seq-lens", type=int, nargs="+", default=[8192, 16384, 32768, 49152])
    p.add_argument("--seq-len", type=int, help=argparse.SUPPRESS)  # child mode
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--model-dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--no-fla", action="store_true")
    p.add_argument("--liger", action="store_true")
    p.add_argument("--tokenizer", required=True, help="any tokenizer folder (pad id + saving only)")
    p.add_argument("--out", default="train_gpu.jsonl")
    p.add_argument("--timeout", type=int, default=240, help="seconds per length")
    args = p.parse_args()

    if args.seq_len:  # child: one length, print one JSON line
        print("RESULT " + json.dumps(run_one(args)), flush=True)
        return 0

    rows = []
    for L in args.seq_lens:
        cmd = [sys.executable, __file__, "--seq-len", str(L), "--steps", str(args.steps), "--batch", str(args.batch),
               "--model-dtype", args.model_dtype, "--tokenizer", args.tokenizer]  # fmt: skip
        cmd += ["--no-fla"] * args.no_fla + ["--liger"] * args.liger
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=os.environ.copy())
            lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if lines:
                row = json.loads(lines[-1][len("RESULT ") :])
            else:
                err = proc.stderr.strip().splitlines()
                oom = any("OutOfMemory" in x or "out of memory" in x for x in err)
                row = {"seq_len": L, "error": "OOM" if oom else (err[-1] if err else f"rc={proc.returncode}")}
        except subprocess.TimeoutExpired:
            row = {"seq_len": L, "error": f"timeout {args.timeout}s"}
        row.update(model_dtype=args.model_dtype, no_fla=args.no_fla, liger=args.liger)
        rows.append(row)
        with open(args.out, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps({k: v for k, v in row.items() if k != "step_s_all"}), flush=True)

    print(f"\n{'seq':>6} {'dtype':>8} {'fla':>4} {'tok/s':>8} {'step s':>7} {'peak GiB':>9} {'MFU':>6}")
    for r in rows:
        if "error" in r:
            print(f"{r['seq_len']:>6} {r['model_dtype']:>8} {str(not r['no_fla']):>4}  {r['error']}")
        else:
            print(f"{r['seq_len']:>6} {r['model_dtype']:>8} {str(r['fla']):>4} {r['tokens_per_s']:>8.0f} "
                  f"{r['step_s']:>7.2f} {r['max_memory_gib']:>9.1f} {r['mfu']:>6.1%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
