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

``--fla-bypass-triton-check`` lets fla's gated backward kernel run on Triton < 3.7.1 (it is
miscompiled there: TIMING ONLY). ``--no-fla`` hides the flash-linear-attention kernels
(transformers' torch fallback for the Gated DeltaNet layers); ``--model-dtype bfloat16`` keeps
the master weights in bf16 (memory comparison only: the study trains with float32 master
weights, see ssdlib.train.sft). ``--profile-out`` writes a kernel-time table of one step;
``--make-smoke-run DIR`` writes a tiny model + SSD set + run config for the FSDP smoke test.
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


KERNEL_GROUPS = (
    ("matmul (cuBLAS/CUTLASS)", ("gemm", "cutlass", "nvjet", "xmma", "matmul", "splitk")),
    ("attention (sdpa)", ("flash", "fmha", "attention", "sdpa")),
    ("gated deltanet (fla/triton)", ("chunk", "recompute_w_u", "fused_recurrent", "l2norm", "solve_tril")),
    ("conv1d", ("conv",)),
    ("optimizer", ("adam", "multi_tensor", "foreach")),
    ("elementwise / copies", ("elementwise", "vectorized", "copy", "memcpy", "memset", "fill", "reduce", "norm")),
)


def profile_callback(step: int, path: str):
    """A TrainerCallback that profiles optimizer step ``step`` (1-based) and writes a kernel table."""
    import torch
    from transformers import TrainerCallback

    class _Prof(TrainerCallback):
        prof = None

        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == step - 1:
                self.prof = torch.profiler.profile(
                    activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
                )
                self.prof.__enter__()

        def on_step_end(self, args, state, control, **kw):
            if self.prof is None or state.global_step != step:
                return
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.prof.__exit__(None, None, None)
            # Kernel rows only: an aten op's row repeats the device time of the kernels it launched.
            events = [
                e
                for e in self.prof.key_averages()
                if e.device_type == torch.autograd.DeviceType.CUDA and e.self_device_time_total > 0
            ]
            total = sum(e.self_device_time_total for e in events)
            groups: dict[str, float] = {}
            for e in events:
                name = e.key.lower()
                label = next((g for g, keys in KERNEL_GROUPS if any(k in name for k in keys)), "other")
                groups[label] = groups.get(label, 0.0) + e.self_device_time_total
            with open(path, "w") as fh:
                fh.write(f"GPU kernel time in step {step}: {total / 1e6:.3f} s\n")
                for g, t in sorted(groups.items(), key=lambda x: -x[1]):
                    fh.write(f"{g:32s} {t / 1e6:8.3f} s {t / total:6.1%}\n")
                fh.write("\n" + self.prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=40))

    return _Prof()


def run_one(args) -> dict:
    """Train a few steps at one sequence length in this process; return the measurements."""
    if args.no_fla:
        sys.modules["fla"] = None  # import fails -> transformers' torch fallback for Gated DeltaNet
    import datasets
    import torch
    import transformers
    from transformers import AutoTokenizer

    from ssdlib.train import read_log, train_sft

    if args.fla_bypass_triton_check:
        # fla refuses its gated dq/dk backward kernel on Hopper with Triton < 3.7.1 (miscompiled:
        # wrong gradients). For TIMING ONLY we let it run; the kernel's speed is what a fixed
        # Triton would give, its gradients here are not to be trusted.
        import fla.ops.common.chunk_o as chunk_o

        chunk_o.TRITON_ABOVE_3_7_1 = True

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
        callbacks=[profile_callback(args.profile_step, args.profile_out)] if args.profile_out else None,
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
        "fla_bypass": args.fla_bypass_triton_check,
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


def make_smoke_run(root: str, tokenizer: str, max_steps: int = 4) -> None:
    """Write a tiny Qwen3.5-shaped model, an SSD set and a run config under ``root`` (multi-GPU smoke test).

    Then: ``accelerate launch --config_file configs/accelerate/fsdp.yaml --num_processes 2 -m ssdlib.train
    --config <root>/run.yaml`` (see bench/train_gpu.md).
    """
    import pandas as pd
    import torch
    import transformers
    import yaml
    from transformers import AutoTokenizer

    from ssdlib.ssd import build_ssd_dataset

    tok = AutoTokenizer.from_pretrained(tokenizer)
    small = dict(QWEN35_4B_TEXT, vocab_size=len(tok), hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=64, linear_num_key_heads=4,
                 linear_num_value_heads=8, linear_key_head_dim=32, linear_value_head_dim=32,
                 layer_types=["linear_attention"] * 3 + ["full_attention"], max_position_embeddings=4096)  # fmt: skip
    cfg = transformers.Qwen3_5TextConfig(**small)
    cfg.pad_token_id, cfg.eos_token_id = tok.pad_token_id, tok.eos_token_id
    torch.manual_seed(0)
    transformers.Qwen3_5ForCausalLM(cfg).save_pretrained(f"{root}/model")
    tok.save_pretrained(f"{root}/model")
    n = 32
    samples = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(n)], "sample_idx": 0, "config_id": "t1.1",
                            "model_id": "tiny", "prompt_hash": "h", "n_tokens": 0,
                            "response": [f"<think>{i}+{i}</think> \\boxed{{{2 * i}}}" * (1 + i % 5) for i in range(n)],
                            "finish_reason": ["stop", "length"] * (n // 2)})  # fmt: skip
    problems = pd.DataFrame({"id": samples["prompt_id"], "problem": [f"{i}+{i}?" for i in range(n)]})
    ds, report = build_ssd_dataset(samples, problems, tokenizer=tok, render_prompt=str, max_length=512)
    ds.save_to_disk(f"{root}/data")
    run = dict(model_path=f"{root}/model", dataset_path=f"{root}/data", output_dir=f"{root}/run", max_length=512,
               max_steps=max_steps, save_steps=2, learning_rate=1e-3, min_lr=1e-4, per_device_batch_size=2,
               gradient_accumulation=2, logging_steps=1)  # fmt: skip
    with open(f"{root}/run.yaml", "w") as fh:
        yaml.safe_dump(run, fh)
    print(json.dumps({"kept": report["n_kept"], "dropped": report["dropped"]}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seq-lens", type=int, nargs="+", default=[8192, 16384, 32768, 49152])
    p.add_argument("--seq-len", type=int, help=argparse.SUPPRESS)  # child mode
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--model-dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--no-fla", action="store_true")
    p.add_argument("--liger", action="store_true")
    p.add_argument("--fla-bypass-triton-check", action="store_true", help="timing only, see run_one")
    p.add_argument("--tokenizer", required=True, help="any tokenizer folder (pad id + saving only)")
    p.add_argument("--profile-out", help="write a kernel-time table of one step here (one --seq-lens value)")
    p.add_argument("--profile-step", type=int, default=2)
    p.add_argument("--out", default="train_gpu.jsonl")
    p.add_argument("--timeout", type=int, default=240, help="seconds per length")
    p.add_argument("--make-smoke-run", metavar="DIR", help="write a tiny multi-GPU smoke run under DIR and exit")
    args = p.parse_args()

    if args.make_smoke_run:
        make_smoke_run(args.make_smoke_run, args.tokenizer)
        return 0

    if args.seq_len:  # child: one length, print one JSON line
        print("RESULT " + json.dumps(run_one(args)), flush=True)
        return 0

    rows = []
    for L in args.seq_lens:
        cmd = [sys.executable, __file__, "--seq-len", str(L), "--steps", str(args.steps), "--batch", str(args.batch),
               "--model-dtype", args.model_dtype, "--tokenizer", args.tokenizer]  # fmt: skip
        cmd += ["--no-fla"] * args.no_fla + ["--liger"] * args.liger
        cmd += ["--fla-bypass-triton-check"] * args.fla_bypass_triton_check
        if args.profile_out:
            cmd += ["--profile-out", args.profile_out.replace("{L}", str(L)), "--profile-step", str(args.profile_step)]
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
