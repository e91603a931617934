"""Throughput and memory of the study's SFT step on a Qwen3.5-4B-shaped model, one GPU, variants side by side.

Builds Qwen3.5-4B's text stack from its published shape with RANDOM weights (no weights can
reach the GPU machine), makes random-token rows in the SSD set's format (``input_ids`` +
``completion_mask``), and trains through the same ``make_trainer`` / ``train_sft`` path the study
uses (TRL SFTTrainer, completion-only loss, bf16 autocast over float32 master weights, gradient
checkpointing, sdpa, fused AdamW), one row (batch 1) per micro-step and by default one row per
optimizer step; ``accum=K`` makes it K rows per optimizer step (``gradient_accumulation``), as the
study's recipe does (``params/qwen3.5-4b/05_train.yaml``: batch 1 x 32 accumulated rows), so the
AdamW step over the float32 masters, the gradient-norm clipping and the zeroing run once per K rows.

Workloads: ``--steps`` optimizer steps (K rows each) at each of ``--seq-lens``, and with ``--mix N``
a realistic length mix (N rows, log-uniform 512..49,152 tokens: SSD traces run from hundreds of
tokens to the 48k cap; with ``accum=K``, N must be a multiple of K and the rows go to optimizer
steps in order, K at a time, instead of the Trainer's random order).
Variants (``--variants``, see ``parse_variant``): ``fla-bypass`` = today's path (fla's own gated
backward with its Triton guard bypassed: miscompiled on Hopper + Triton 3.4..3.7.0, TIMING ONLY),
``fla-fix`` (``ssdlib.train.fla_hopper_fix``: gradient-checked), ``compile`` / ``compile=blocks``
(regional ``torch.compile`` of the MLP/norm/attention blocks, what ``compile_layers`` does),
``compile=layer`` (whole decoder layers: recompiles per length with fla, kept for comparison),
``keep=N`` (N layers not checkpointed), ``keep-tokens=N`` (per row min(32, N // tokens) layers not
checkpointed), ``conv=fla`` / ``gdn=fused`` (``ssdlib.train.fused_gdn``), ``no-fla``, ``bf16`` masters,
``accum=K`` (K rows per optimizer step).
By default each (variant, workload) runs in its own process (``run_isolated``; ``--child-timeout`` bounds each, and each
child's stderr streams to ``<out>.stderr.log``).

Reported per workload: tokens/s = tokens / time over the optimizer steps after the first (the
first carries autotuning and compilation; with ``accum=K`` it is the first K rows, and the timed
window is whole optimizer steps, so it holds the optimizer's cost once per K rows), peak allocated
GPU memory (GiB), and model FLOPs utilisation:

    MFU = sum over timed rows of (6 * N + 6 * L * n_full_attn_layers * d_attn) * L / time / peak_flops

with N the parameter count (the tied embedding counted once, as the LM head's matmul), L the row
length (causal attention: half of the L x L scores, times 12 FLOPs per score per token for QK^T
and AV, forward + backward), d_attn = heads * head_dim, and peak_flops = 989e12 (H100/H200 SXM
dense bf16). The Gated DeltaNet recurrence is left out (a few percent at these shapes), and so is
the checkpointed recompute (MFU, not HFU).

Usage (GPU machine; trl, datasets, fla, transformers carried as wheels, see bench/train_gpu.md)::

    PYTHONPATH=.:/tmp/site python bench/train_gpu.py --tokenizer .cache/bench_tok --steps 3 \
        --seq-lens 8192 32768 49152 --mix 6 --variants fla-bypass fla-fix,compile=blocks,keep=4 \
        --child-timeout 200 --out $OUT/train_gpu.jsonl

``--profile-out PATH`` (``{v}``/``{w}`` = variant/workload) writes a kernel-time table of optimizer
step ``--profile-step`` (K rows with ``accum=K``; that step is left out of the timing);
``--make-smoke-run DIR`` writes a tiny model + SSD set + run config for the FSDP smoke test.
"""

from __future__ import annotations

import argparse
import json
import os
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
    rope_parameters={
        "rope_type": "default",
        "rope_theta": 10_000_000.0,
        "partial_rotary_factor": 0.25,
    },
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
    (
        "gated deltanet (fla/triton)",
        ("chunk", "recompute_w_u", "fused_recurrent", "l2norm", "solve_tril"),
    ),
    ("conv1d", ("conv",)),
    ("optimizer", ("adam", "multi_tensor", "foreach")),
    (
        "elementwise / copies",
        ("elementwise", "vectorized", "copy", "memcpy", "memset", "fill", "reduce", "norm"),
    ),
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
                    activities=[
                        torch.profiler.ProfilerActivity.CPU,
                        torch.profiler.ProfilerActivity.CUDA,
                    ]
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
                label = next(
                    (g for g, keys in KERNEL_GROUPS if any(k in name for k in keys)), "other"
                )
                groups[label] = groups.get(label, 0.0) + e.self_device_time_total
            with open(path, "w") as fh:
                fh.write(f"GPU kernel time in step {step}: {total / 1e6:.3f} s\n")
                for g, t in sorted(groups.items(), key=lambda x: -x[1]):
                    fh.write(f"{g:32s} {t / 1e6:8.3f} s {t / total:6.1%}\n")
                fh.write(
                    "\n"
                    + self.prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=40)
                )

    return _Prof()


def step_printer():
    """A TrainerCallback printing each step's end time to stderr (a killed child still shows progress)."""
    from transformers import TrainerCallback

    class _Steps(TrainerCallback):
        t0 = time.perf_counter()
        rows = 0  # rows of the current optimizer step done (gradient accumulation)

        def on_substep_end(self, args, state, control, **kw):  # never called without accumulation
            self.rows += 1
            print(
                f"STEP {state.global_step + 1} row {self.rows}/{args.gradient_accumulation_steps} "
                f"t={time.perf_counter() - self.t0:.1f}s",
                file=sys.stderr,
                flush=True,
            )

        def on_step_end(self, args, state, control, **kw):
            self.rows = 0
            print(
                f"STEP {state.global_step} t={time.perf_counter() - self.t0:.1f}s",
                file=sys.stderr,
                flush=True,
            )

    return _Steps()


def parse_variant(spec: str) -> dict:
    """``"fla-fix,compile,keep=4"`` -> settings. Tokens: fla-bypass (fla's own gated backward with its
    Triton guard bypassed: miscompiled on Triton < 3.7.1, TIMING ONLY), fla-fix (ssdlib.train.fla_hopper_fix),
    no-fla (transformers' torch GDN), compile / compile=blocks / compile=layer (regional torch.compile,
    see ssdlib.train.speed.compile_targets), keep=N (N layers un-checkpointed), keep-tokens=N (layers
    un-checkpointed per row: min(32, N // row tokens), ssdlib.train.speed.keep_activations_by_length),
    conv=fla (GDN causal conv1d on fla's Triton kernel), gdn=fused (the GDN mixer on fla's fused
    kernels, ssdlib.train.fused_gdn), bf16 (bf16 master weights; memory comparison only), accum=K (K rows
    per optimizer step, ``gradient_accumulation``; default 1: one row per step)."""
    v = dict(
        name=spec,
        fla_bypass=False,
        fla_fix=False,
        no_fla=False,
        compile=False,
        keep=0,
        keep_tokens=0,
        fla_conv1d=False,
        fused_gdn=False,
        model_dtype="float32",
        accum=1,
    )
    v["compile_scope"] = "blocks"
    for tok in filter(None, spec.split(",")):
        if tok == "fla-bypass":
            v["fla_bypass"] = True
        elif tok == "fla-fix":
            v["fla_fix"] = True
        elif tok == "no-fla":
            v["no_fla"] = True
        elif tok == "compile":
            v["compile"] = True
        elif tok.startswith(
            "compile="
        ):  # compile=layer | compile=blocks (ssdlib.train.speed.compile_targets)
            v["compile"], v["compile_scope"] = True, tok[len("compile=") :]
        elif tok.startswith("keep="):
            v["keep"] = int(tok[5:])
        elif tok.startswith("keep-tokens="):  # length-aware: min(32, N // row tokens) layers kept
            v["keep_tokens"] = int(tok[len("keep-tokens=") :])
        elif tok == "conv=fla":  # the GDN mixers' causal conv1d on fla's Triton kernel
            v["fla_conv1d"] = True
        elif (
            tok == "gdn=fused"
        ):  # the whole GDN mixer on fla's fused kernels (ssdlib.train.fused_gdn)
            v["fused_gdn"] = True
        elif tok == "bf16":
            v["model_dtype"] = "bfloat16"
        elif tok.startswith("accum="):  # K rows per optimizer step (gradient accumulation)
            k = tok[len("accum=") :]
            if not (k.isdigit() and int(k) >= 1):
                raise SystemExit(
                    f"accum takes a whole number of rows >= 1, not {k!r} (in {spec!r})"
                )
            v["accum"] = int(k)
        else:
            raise SystemExit(f"unknown variant token {tok!r} in {spec!r}")
    return v


def mix_lengths(n: int, seed: int = 0, lo: int = 512, hi: int = 49_152) -> list[int]:
    """``n`` trace lengths (tokens), log-uniform on [lo, hi]: SSD traces run from hundreds of tokens to the 48k cap."""
    import random

    rng = random.Random(seed)
    return [int(round(lo * (hi / lo) ** rng.random())) for _ in range(n)]


def _profile_path(template: str, variant: str, workload: str) -> str:
    """``template`` with ``{v}`` / ``{w}`` replaced by the variant and workload names (file-name safe)."""
    safe = variant.replace(",", "_").replace("=", "")
    return template.replace("{v}", safe).replace("{w}", workload)


def accumulated_rows(label: str, lengths: list[int], accum: int) -> list[int]:
    """The rows a workload trains, in order, for ``accum`` rows per optimizer step.

    A fixed-length workload's ``lengths`` hold one entry per optimizer step (``--steps``): each
    becomes ``accum`` rows. The mix's ``lengths`` are its rows (N x passes): they stay as they are,
    ``accum`` consecutive rows per optimizer step, so N must be a multiple of ``accum``.
    """
    if accum < 1:
        raise ValueError(f"accum must be >= 1, not {accum}")
    if accum == 1:
        return list(lengths)
    if label == "mix":
        if len(lengths) % accum:
            raise ValueError(
                f"the mix's {len(lengths)} rows do not split into optimizer steps of {accum} rows"
            )
        return list(lengths)
    return [L for L in lengths for _ in range(accum)]


def step_rows(rows: list[int], accum: int, n_steps: int) -> list[list[int]]:
    """Rows of each optimizer step, in training order: ``accum`` consecutive rows per step (the
    Trainer's sequential order, which ``run_workload`` sets whenever ``accum > 1``)."""
    if len(rows) != accum * n_steps:
        raise RuntimeError(
            f"{n_steps} optimizer steps logged for {len(rows)} rows at {accum} rows per step"
        )
    return [rows[j * accum : (j + 1) * accum] for j in range(n_steps)]


def run_workload(model, tok, args, v, lengths: list[int], label: str) -> dict:
    """Train ``lengths`` (``accum`` rows per optimizer step, see ``accumulated_rows``) through
    ``train_sft``; measure all but the first optimizer step."""
    import gc

    import datasets
    import torch

    from ssdlib.train import read_log
    from ssdlib.train.sft import SFTSettings, make_trainer

    K = v.get("accum", 1)
    rows = accumulated_rows(label, lengths, K)
    g = torch.Generator().manual_seed(1)
    ids = [
        torch.randint(1, model.config.vocab_size, (L,), generator=g, dtype=torch.int32).tolist()
        for L in rows
    ]
    mask = [
        [0] * min(256, L // 8) + [1] * (L - min(256, L // 8)) for L in rows
    ]  # a prompt's worth masked
    data = datasets.Dataset.from_dict({"input_ids": ids, "completion_mask": mask})
    out = tempfile.mkdtemp(prefix="bench_sft_")
    for p in model.parameters():
        p.grad = None
    gc.collect()
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    extra = {"save_strategy": "no"}  # no 50 GB checkpoint for a benchmark
    if K > 1:  # rows reach optimizer steps in order, K at a time (step_rows: each step's FLOPs)
        extra["train_sampling_strategy"] = "sequential"
    settings = SFTSettings(
        max_length=max(rows), max_steps=len(rows) // K, per_device_batch_size=1, gradient_accumulation=K,
        learning_rate=5e-6, min_lr=1e-6,
        bf16=cuda, gradient_checkpointing=True, attn_implementation="sdpa", logging_steps=1,
        keep_activation_layers=v["keep"], keep_activation_tokens=v["keep_tokens"], fla_hopper_fix=v["fla_fix"],
        compile_layers=False,  # compiled once per process in run_variants
        extra_args=extra,
    )  # fmt: skip
    cbs = [step_printer()]
    if args.profile_out:
        cbs.append(
            profile_callback(args.profile_step, _profile_path(args.profile_out, v["name"], label))
        )
    trainer, _ = make_trainer(model, data, out, settings, tokenizer=tok, callbacks=cbs)
    try:
        trainer.train()
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
        reserved = torch.cuda.max_memory_reserved() / 2**30 if cuda else float("nan")
    finally:
        # The next workload needs the 31 GiB of AdamW state back: accelerate keeps references to it.
        trainer.accelerator.free_memory()
        trainer.optimizer = trainer.lr_scheduler = None
        del trainer
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    wall = time.perf_counter() - t0
    log = read_log(out)
    steps = log[log["loss"].notna()].reset_index(drop=True)  # one line per optimizer step
    dt = steps["time_s"].diff()
    dt.iloc[0] = steps["time_s"].iloc[0]
    # non-padding tokens of the step's rows (batch 1, no padding: K=1 the row's length, else the sum)
    toks = (steps["tokens_per_s"] * dt).round()
    if K == 1:  # the row's length as logged (rows train in the Trainer's random order)
        lens = [[L] for L in toks]
    else:  # K consecutive rows per step (sequential order); checked against the log below
        lens = step_rows(rows, K, len(steps))
    # The first optimizer step carries warm-up / compilation; a profiled step carries the profiler's
    # overhead. Every step is whole: its rows' forward + backward, clipping, AdamW, zeroing.
    timed = (steps.index >= 1) & ~((steps.index + 1 == args.profile_step) & bool(args.profile_out))
    T, S = float(toks[timed].sum()), float(dt[timed].sum())

    def step_flops(idx) -> float:
        return sum(model_flops_per_token(args.n_params, int(L), QWEN35_4B_TEXT) * L
                   for j in idx for L in lens[j])  # fmt: skip

    flops = step_flops(steps.index[timed])
    row = {
        "variant": v["name"], "workload": label, "lengths": rows, "tokens_per_s": T / S, "timed_s": S,
        "step_s_all": dt.round(3).tolist(), "max_memory_gib": peak,
        "max_reserved_gib": reserved, "mfu": flops / S / H100_BF16_DENSE,
        "final_loss": float(steps["loss"].iloc[-1]), "wall_s": wall, "accum": K,
    }  # fmt: skip
    if K > 1:
        match = [int(t) for t in toks] == [sum(x) for x in lens]
        if not match:
            print(f"WARNING tokens per optimizer step logged {toks.tolist()} != rows "
                  f"{[sum(x) for x in lens]}: MFU's per-row split may be off", file=sys.stderr)  # fmt: skip
        row.update(optimizer_steps=len(steps), timed_rows=sum(len(lens[j]) for j in steps.index[timed]),
                   rows_match_log=match)  # fmt: skip
    passes = getattr(args, "mix_passes", 1)
    if (
        label == "mix" and passes > 1
    ):  # the last pass repeats lengths seen before: no first-length costs
        last = steps.index >= len(steps) - len(steps) // passes
        T2, S2 = float(toks[last].sum()), float(dt[last].sum())
        flops2 = step_flops(steps.index[last])
        row.update(tokens_per_s_last_pass=T2 / S2, mfu_last_pass=flops2 / S2 / H100_BF16_DENSE)
    return row


def workloads(args) -> list[tuple[str, list[int]]]:
    """``[(label, row lengths)]``: ``args.steps`` rows per fixed length, then the length mix."""
    work = [(f"{L // 1024}k", [L] * args.steps) for L in args.seq_lens]
    if args.mix:
        mix = mix_lengths(args.mix, hi=256, lo=32) if args.cpu_dry_run else mix_lengths(args.mix)
        work.append(("mix", mix * getattr(args, "mix_passes", 1)))
    return work


def run_isolated(args) -> list[dict]:
    """One child process per (variant, workload): each starts with an empty GPU.

    Measured 2026-12-01 on one H200: in ONE process, a 48k workload after a 32k one ran out of
    memory (and 32k after 8k), although the previous trainer's optimizer state was released; a
    fresh process fits 48k (79.6 GiB peak). Triton's and inductor's on-disk caches make the
    later children's start cheaper than the first's.
    """
    rows = []
    for spec in args.variants:
        for label, _ in workloads(args):
            cmd = [sys.executable, __file__, "--in-process", "--only-workload", label, "--variants", spec,
                   "--steps", str(args.steps), "--mix", str(args.mix), "--mix-passes", str(args.mix_passes),
                   "--tokenizer", args.tokenizer,
                   "--out", args.out, "--seq-lens", *map(str, args.seq_lens)]  # fmt: skip
            cmd += ["--cpu-dry-run"] * args.cpu_dry_run
            if args.profile_out:
                cmd += ["--profile-out", args.profile_out, "--profile-step", str(args.profile_step)]
            env = dict(os.environ)
            env.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
            log_path = (
                args.out + ".stderr.log"
            )  # the children's warnings, recompiles, step times, errors
            with open(log_path, "a") as fh:
                fh.write(f"=== {spec!r} {label}\n")
                fh.flush()
                try:  # stderr streams to the log, so a child killed by the timeout still leaves its trace
                    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=fh, text=True, env=env,
                                          timeout=args.child_timeout)  # fmt: skip
                    stdout, rc = proc.stdout, proc.returncode
                except subprocess.TimeoutExpired as e:
                    out = e.stdout or ""
                    stdout, rc = (out.decode() if isinstance(out, bytes) else out), "timeout"
            got = [
                json.loads(x[len("RESULT ") :])
                for x in stdout.splitlines()
                if x.startswith("RESULT ")
            ]
            if not got:
                with open(log_path) as fh:
                    err = [
                        x
                        for x in fh.read().splitlines()[-400:]
                        if x.strip() and not x.startswith("STEP ")
                    ]
                reason = (f"child timeout {args.child_timeout}s" if rc == "timeout"
                          else err[-1][:300] if err else f"rc={rc}")  # fmt: skip
                got = [{"variant": spec, "workload": label, "error": reason}]
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(got[0]) + "\n")
            for row in got:
                print(
                    json.dumps(
                        {k: x for k, x in row.items() if k not in ("step_s_all", "lengths")}
                    ),
                    flush=True,
                )
            rows += got
    return rows


def run_variants(args) -> list[dict]:
    """Build the model once, then run every workload under each variant in turn, in this process.

    One process for all variants: fla's Triton autotuning and the model build happen once (each
    variant's first step per workload is untimed anyway). Variants apply in order and ``compile``
    cannot be undone, so list eager variants first. Peak memory is reset before each workload.
    """
    variants = [parse_variant(s) for s in args.variants]
    if any(v["no_fla"] for v in variants):
        if not all(v["no_fla"] for v in variants):
            raise SystemExit(
                "no-fla cannot share a run with fla variants (transformers binds kernels at import)"
            )
        sys.modules["fla"] = None  # import fails -> transformers' torch fallback for Gated DeltaNet
    seen_compile = False
    for v in variants:
        if seen_compile and not v["compile"]:
            raise SystemExit("list eager variants before compiled ones (compile cannot be undone)")
        seen_compile |= v["compile"]
    if len({v["model_dtype"] for v in variants}) > 1:
        raise SystemExit("one master-weight dtype per run")
    import torch
    import transformers
    from transformers import AutoTokenizer

    shape = QWEN35_4B_TEXT
    if args.cpu_dry_run:  # logic check of the bench on a CPU box: tiny model, no measurement
        from ssdlib.train.gradcheck import TINY_QWEN35

        shape = dict(TINY_QWEN35, vocab_size=QWEN35_4B_TEXT["vocab_size"])
    cfg = transformers.Qwen3_5TextConfig(**shape)
    cfg.pad_token_id = 0
    torch.manual_seed(0)
    with torch.device("cpu" if args.cpu_dry_run else "cuda"):
        model = transformers.Qwen3_5ForCausalLM(cfg).to(getattr(torch, variants[0]["model_dtype"]))
    args.n_params = sum(p.numel() for p in model.parameters())
    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    from transformers.utils.import_utils import is_flash_linear_attention_available

    info = dict(n_params=args.n_params, torch=torch.__version__, transformers=transformers.__version__,
                gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu")  # fmt: skip
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        pass
    work = workloads(args)
    if getattr(args, "only_workload", None):
        work = [w for w in work if w[0] == args.only_workload]
    rows = []
    for v in variants:
        info["fla"] = (not v["no_fla"]) and is_flash_linear_attention_available()
        if info["fla"]:
            import ssdlib.train.fla_hopper_fix as fix

            fix.uninstall()
            fix.bypass_fla_triton_guard(v["fla_bypass"])
            if v["fla_fix"]:
                fix.install()
        if (
            v["fla_conv1d"] or v["fused_gdn"]
        ):  # one process per variant (run_isolated): no undo needed
            from ssdlib.train import fused_gdn

            if args.cpu_dry_run:  # fla's kernels need a GPU: check the wiring with torch stand-ins
                fused_gdn._KERNELS.update(fused_gdn.torch_stand_ins())
            if v["fla_conv1d"]:
                fused_gdn.route_conv1d_to_fla(model)
            if v["fused_gdn"]:
                fused_gdn.fuse_gdn_mixers(model)
        if v["compile"] and not getattr(model, "_bench_compiled", False):
            from ssdlib.train.speed import compile_decoder_layers

            compile_decoder_layers(model, scope=v["compile_scope"])
            model._bench_compiled = True
        for label, lengths in work:
            t0 = time.perf_counter()
            try:
                row = run_workload(model, tok, args, v, lengths, label)
            except torch.OutOfMemoryError:
                row = {"variant": v["name"], "workload": label, "error": "OOM"}
            except Exception as e:  # report and go on to the next workload
                row = {
                    "variant": v["name"],
                    "workload": label,
                    "error": f"{type(e).__name__}: {str(e)[:300]}",
                }
            row.update(info, elapsed_s=time.perf_counter() - t0, t_end=time.time())
            rows.append(row)
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print("RESULT " + json.dumps(row), flush=True)
    return rows


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

    from ssdlib.train.ssd_set import build_ssd_dataset

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
    problems = pd.DataFrame(
        {"id": samples["prompt_id"], "problem": [f"{i}+{i}?" for i in range(n)]}
    )
    ds, report = build_ssd_dataset(
        samples, problems, tokenizer=tok, render_prompt=str, max_length=512
    )
    ds.save_to_disk(f"{root}/data")
    run = dict(model_path=f"{root}/model", dataset_path=f"{root}/data", output_dir=f"{root}/run", max_length=512,
               max_steps=max_steps, save_steps=2, learning_rate=1e-3, min_lr=1e-4, per_device_batch_size=2,
               gradient_accumulation=2, logging_steps=1)  # fmt: skip
    with open(f"{root}/run.yaml", "w") as fh:
        yaml.safe_dump(run, fh)
    print(json.dumps({"kept": report["n_kept"], "dropped": report["dropped"]}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seq-lens", type=int, nargs="*", default=[8192, 32768, 49152])
    p.add_argument(
        "--mix", type=int, default=0, help="also a realistic length mix of this many rows (0: off)"
    )
    p.add_argument(
        "--mix-passes", type=int, default=1,
        help="run the mix this many times in one process; the last pass is also reported on its own "
        "(tokens_per_s_last_pass: lengths already seen, so without first-length compile/autotune costs)",
    )  # fmt: skip
    p.add_argument(
        "--steps", type=int, default=3,
        help="optimizer steps per fixed length (K rows each with accum=K; the first is not timed)",
    )  # fmt: skip
    p.add_argument(
        "--variants", nargs="+", default=["fla-bypass"], help="see parse_variant; eager ones first"
    )
    p.add_argument("--tokenizer", required=True, help="any tokenizer folder (pad id + saving only)")
    p.add_argument("--profile-out", help="write a kernel-time table of one step here")
    p.add_argument(
        "--profile-step",
        type=int,
        default=2,
        help="optimizer step (1-based) --profile-out profiles",
    )
    p.add_argument("--out", default="train_gpu.jsonl")
    p.add_argument(
        "--child-timeout", type=float, default=None, help="seconds per (variant, workload) process"
    )
    p.add_argument(
        "--make-smoke-run",
        metavar="DIR",
        help="write a tiny multi-GPU smoke run under DIR and exit",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="all variants and workloads in this process (see run_isolated)",
    )
    p.add_argument("--only-workload", help=argparse.SUPPRESS)
    p.add_argument(
        "--cpu-dry-run",
        action="store_true",
        help="tiny model on CPU: checks the bench's logic, measures nothing",
    )
    args = p.parse_args()

    if args.make_smoke_run:
        make_smoke_run(args.make_smoke_run, args.tokenizer)
        return 0
    for spec in args.variants:  # token errors before any child starts
        k = parse_variant(spec)["accum"]
        if k > 1 and args.mix and args.mix % k:
            raise SystemExit(
                f"--mix {args.mix} with {spec!r}: the mix's rows go to optimizer steps {k} at a time, "
                f"in order, so --mix must be a multiple of {k}"
            )

    if args.in_process:
        rows = run_variants(args)
        if args.only_workload:  # a child of run_isolated: the parent prints the table
            return 0
    else:
        rows = run_isolated(args)

    base = {r["workload"]: r for r in rows if r["variant"] == args.variants[0] and "error" not in r}
    print(f"\n{'variant':28s} {'load':>5} {'tok/s':>7} {'x base':>6} {'peak GiB':>8} {'MFU':>6}")
    for r in rows:
        if "error" in r:
            print(f"{r['variant']:28s} {r['workload']:>5}  {r['error'][:80]}")
            continue
        b = base.get(r["workload"])
        ratio = r["tokens_per_s"] / b["tokens_per_s"] if b else float("nan")
        print(f"{r['variant']:28s} {r['workload']:>5} {r['tokens_per_s']:>7.0f} {ratio:>6.2f} "
              f"{r['max_memory_gib']:>8.1f} {r['mfu']:>6.1%}")  # fmt: skip
        if "tokens_per_s_last_pass" in r:
            bl = b.get("tokens_per_s_last_pass") if b else None
            print(f"{'  (last pass of the mix)':28s} {'':>5} {r['tokens_per_s_last_pass']:>7.0f} "
                  f"{r['tokens_per_s_last_pass'] / bl if bl else float('nan'):>6.2f} {'':>8} "
                  f"{r['mfu_last_pass']:>6.1%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
