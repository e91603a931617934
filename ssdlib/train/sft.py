"""Supervised fine-tuning on the SSD set with TRL's ``SFTTrainer`` (completion-only loss).

The dataset comes from ``ssdlib.train.ssd_set.build_ssd_dataset``: pre-tokenized ``input_ids`` with a
``completion_mask`` (1 on response tokens). TRL uses the ids as they are and, with
``completion_only_loss=True``, sets ``labels = -100`` on the prompt. Over-long rows were dropped
when the set was built; ``train_sft`` re-checks and refuses any row over ``max_length`` so that
TRL's own truncation (which would cut a trace's end) can never fire.

Precision: the master weights default to float32 with bf16 autocast on GPU (``bf16=True``).
Pure-bf16 weights would silently lose the update: at lr 5e-6 an AdamW step moves a weight of
magnitude ~0.02 by ~5e-6, while bf16's spacing there is ~1.2e-4, so nearly every update rounds
away. ``model_dtype="bfloat16"`` exists only for throughput/memory measurements.

Launch (one process, or several GPUs through accelerate; the YAML/JSON holds ``train_sft``'s
arguments plus ``model_path``, ``dataset_path`` and ``output_dir``)::

    python -m ssdlib.train --config run.yaml
    accelerate launch --config_file configs/accelerate/single_gpu.yaml -m ssdlib.train --config run.yaml
    accelerate launch --config_file configs/accelerate/fsdp.yaml --num_processes 8 -m ssdlib.train --config run.yaml

Global batch = per_device_batch_size * gradient_accumulation * world size (processes).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from ssdlib.train.checkpoints import LOG_NAME, last_checkpoint, list_checkpoints

log = logging.getLogger(__name__)

TRAIN_COLUMNS = ("input_ids", "completion_mask")


@dataclass
class TrainResult:
    """What a ``train_sft`` call did.

    Attributes:
        output_dir: the run folder.
        global_step: optimizer steps completed (counting steps before a resume).
        checkpoints: ``[(step, path)]`` present at the end.
        log_path: the JSONL log (``train_log.jsonl``).
        resumed_from: checkpoint folder training resumed from, or None.
        global_batch_size: sequences per optimizer step (per_device * accumulation * world size).
        n_examples: rows in the training set.
        metrics: the Trainer's final metrics (train_runtime in s, train_loss, ...).
    """

    output_dir: Path
    global_step: int
    checkpoints: list[tuple[int, Path]]
    log_path: Path
    resumed_from: Path | None
    global_batch_size: int
    n_examples: int
    metrics: dict[str, Any] = field(default_factory=dict)


def load_training_set(dataset, max_length: int):
    """Return the trainer's view of the SSD set (``input_ids``, ``completion_mask``), checked.

    ``dataset`` is a ``datasets.Dataset`` or a path: a ``save_to_disk`` folder or a parquet file.
    Raises ValueError when a column is missing, a row is longer than ``max_length`` tokens
    (over-long rows must be dropped when building the set, never truncated here), or a row has
    no completion token (it would carry no loss).
    """
    import datasets

    if isinstance(dataset, (str, Path)):
        p = Path(dataset)
        dataset = (
            datasets.load_from_disk(str(p)) if p.is_dir() else datasets.Dataset.from_parquet(str(p))
        )
    missing = [c for c in TRAIN_COLUMNS if c not in dataset.column_names]
    if missing:
        raise ValueError(
            f"training set lacks {missing}: build it with ssdlib.train.ssd_set.build_ssd_dataset"
        )
    if len(dataset) == 0:
        raise ValueError("training set is empty")
    data = dataset.select_columns(list(TRAIN_COLUMNS)).flatten_indices()
    lengths = pc.list_value_length(data.data.column("input_ids"))
    longest = pc.max(lengths).as_py()
    if longest > max_length:
        n_over = pc.sum(pc.greater(lengths, max_length)).as_py()
        raise ValueError(
            f"{n_over} rows exceed max_length={max_length} (longest {longest}); drop them when building "
            "the set (build_ssd_dataset(max_length=...)) instead of letting the trainer truncate"
        )
    for chunk in data.data.column("completion_mask").chunks:
        # Per-row completion token counts without materialising Python lists (the set can be ~1e8 tokens).
        sums = np.bincount(
            pc.list_parent_indices(chunk).to_numpy(),
            weights=pc.list_flatten(chunk).to_numpy(zero_copy_only=False),
            minlength=len(chunk),
        )
        if (sums == 0).any():
            raise ValueError(
                f"{int((sums == 0).sum())} rows have no completion token (they would carry no loss)"
            )
    return data


def _load_model(model_path: str, model_dtype: str, attn_implementation: str, freeze_vision: bool):
    """Load a causal LM from a folder with TRL's loader (keeps the checkpoint's own architecture class).

    A vision-language checkpoint (e.g. Qwen3_5ForConditionalGeneration) is loaded whole so that
    saved checkpoints keep its layout for vLLM; with ``freeze_vision`` its vision tower gets no
    gradient (the SSD set is text only).
    """
    from trl.trainer.utils import create_model_from_path

    model = create_model_from_path(
        model_path, dtype=model_dtype, attn_implementation=attn_implementation, device_map=None
    )
    if freeze_vision:
        frozen = 0
        for name, param in model.named_parameters():
            if ".visual." in f".{name}" or "vision_tower" in name:
                param.requires_grad_(False)
                frozen += param.numel()
        if frozen:
            log.info("froze %d vision-tower parameters", frozen)
    return model


def keep_present_no_split_modules(model) -> None:
    """Drop class names from ``model._no_split_modules`` that the model does not contain.

    FSDP's transformer auto-wrap (accelerate) wraps every class named there and raises on a name it
    cannot find: ``Qwen3_5ForCausalLM`` inherits ``Qwen3_5VisionBlock`` from the shared Qwen3.5 base
    class although it has no vision tower.
    """
    names = getattr(model, "_no_split_modules", None)
    if not names:
        return
    present = {type(m).__name__ for m in model.modules()}
    kept = [n for n in names if n in present]
    model._no_split_modules = set(kept) if isinstance(names, set) else kept


def _load_processing_class(model_path: str):
    """The checkpoint's processor when it has one (saved whole into checkpoints), else its tokenizer."""
    from transformers import AutoProcessor, AutoTokenizer, PreTrainedTokenizerBase, ProcessorMixin

    try:
        proc = AutoProcessor.from_pretrained(model_path)
        if isinstance(proc, (PreTrainedTokenizerBase, ProcessorMixin)):
            return proc
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no processor files: a text-only model folder
    return AutoTokenizer.from_pretrained(model_path)


@dataclass
class SFTSettings:
    """Every ``train_sft`` setting (see ``train_sft`` for units and meaning)."""

    max_length: int
    max_steps: int
    learning_rate: float = 5e-6
    min_lr: float = 1e-6
    warmup_steps: int = 0
    per_device_batch_size: int = 1
    gradient_accumulation: int = 1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    weight_decay: float = 0.1
    max_grad_norm: float = 1.0
    save_steps: int = 50
    logging_steps: int = 1
    bf16: bool | str | None = None
    model_dtype: str = "float32"
    gradient_checkpointing: bool | None = None
    attn_implementation: str = "sdpa"
    padding_free: bool = False
    use_liger_kernel: bool = False
    seed: int = 0
    resume: bool = False
    prune_optimizer_states: bool = True
    freeze_vision: bool = True
    dataset_num_proc: int | None = None
    dataloader_num_workers: int = 0
    compile_layers: bool = False
    keep_activation_layers: int = 0
    keep_activation_tokens: int = 0
    fla_hopper_fix: bool = False
    fla_conv1d: bool = False
    fused_gdn: bool = False
    extra_args: dict[str, Any] | None = None

    def autocast_bf16(self, cuda: bool) -> bool:
        """Whether training runs under bf16 autocast: ``None`` = on CUDA; ``"auto"`` = on CUDA and
        on a CPU with a bf16 dot product (``ssdlib.hardware``: without one, bf16 matmuls are
        emulated; smoke training ran 9.1x slower than in float32 on an AVX2 CPU, bench/cpu_dtype.py)."""
        if self.bf16 is None:
            return cuda
        if self.bf16 == "auto":
            from ssdlib.hardware import cpu_has_native_bf16

            return cuda or cpu_has_native_bf16()
        return bool(self.bf16)

    def sft_config_kwargs(self, output_dir: Path, cuda: bool) -> dict[str, Any]:
        """The ``trl.SFTConfig`` fields these settings map to (``extra_args`` override)."""
        bf16 = self.autocast_bf16(cuda)
        ckpt = cuda if self.gradient_checkpointing is None else self.gradient_checkpointing
        if os.environ.get("FSDP_ACTIVATION_CHECKPOINTING", "").lower() == "true":
            # accelerate's FSDP config checkpoints activations itself; the Trainer refuses both at once.
            ckpt = False
        kwargs: dict[str, Any] = dict(
            output_dir=str(output_dir),
            max_length=self.max_length,
            completion_only_loss=True,
            packing=False,
            padding_free=self.padding_free,
            learning_rate=self.learning_rate,
            lr_scheduler_type="cosine_with_min_lr",
            lr_scheduler_kwargs={"min_lr": self.min_lr},
            warmup_steps=self.warmup_steps,
            max_steps=self.max_steps,
            per_device_train_batch_size=self.per_device_batch_size,
            gradient_accumulation_steps=self.gradient_accumulation,
            adam_beta1=self.adam_beta1,
            adam_beta2=self.adam_beta2,
            weight_decay=self.weight_decay,
            max_grad_norm=self.max_grad_norm,
            save_strategy="steps",
            save_steps=self.save_steps,
            save_only_model=False,  # resuming needs optimizer + scheduler + RNG state
            logging_steps=self.logging_steps,
            logging_first_step=True,
            bf16=bf16,
            fp16=False,
            gradient_checkpointing=ckpt,
            gradient_checkpointing_kwargs={"use_reentrant": False} if ckpt else None,
            use_liger_kernel=self.use_liger_kernel,
            seed=self.seed,
            report_to="none",
            include_num_input_tokens_seen="non_padding",  # feeds tokens_per_s in the JSONL log
            dataset_num_proc=self.dataset_num_proc,
            dataloader_num_workers=self.dataloader_num_workers,
            disable_tqdm=True,
            use_cpu=not cuda,
        )
        kwargs.update(self.extra_args or {})
        return kwargs


def _apply_speed_settings(model, s: SFTSettings) -> list:
    """Apply the opt-in speed settings (``ssdlib.train.speed``) to ``model``; return callbacks they need."""
    from ssdlib.train.gradcheck import fla_importable

    if s.fla_hopper_fix:
        if not fla_importable():
            raise ValueError("fla_hopper_fix=True but flash-linear-attention is not importable")
        from ssdlib.train.fla_hopper_fix import install

        install()
    if (s.fla_conv1d or s.fused_gdn) and not fla_importable():
        raise ValueError(
            "fla_conv1d / fused_gdn need flash-linear-attention, which is not importable"
        )
    if s.fla_conv1d:
        from ssdlib.train.fused_gdn import route_conv1d_to_fla

        route_conv1d_to_fla(model)
    if s.fused_gdn:
        from ssdlib.train.fused_gdn import fuse_gdn_mixers

        fuse_gdn_mixers(model)
    if s.compile_layers:
        from ssdlib.train.speed import compile_decoder_layers

        compile_decoder_layers(model)
    if s.keep_activation_layers and s.keep_activation_tokens:
        raise ValueError("set keep_activation_layers or keep_activation_tokens, not both")
    if s.keep_activation_tokens:
        from ssdlib.train.speed import keep_activations_by_length_callback

        return [keep_activations_by_length_callback(s.keep_activation_tokens)]
    if s.keep_activation_layers:
        from ssdlib.train.speed import keep_activations_callback

        return [keep_activations_callback(s.keep_activation_layers)]
    return []


def make_trainer(
    model_path,
    dataset,
    output_dir: str | Path,
    settings: SFTSettings,
    *,
    tokenizer=None,
    callbacks=None,
):
    """Build the ``SFTTrainer`` that ``train_sft`` runs, without training.

    Returns ``(trainer, resumed_from)``: the checkpoint ``train()`` resumes from, None for a fresh
    start. ``trainer.train_dataset`` holds the prepared rows (``input_ids``, ``labels`` with -100
    on prompt tokens).
    """
    import torch
    from trl import SFTConfig, SFTTrainer

    from ssdlib.train.callbacks import JsonlLogCallback, StandaloneCheckpointCallback

    s = settings
    output_dir = Path(output_dir)
    existing = list_checkpoints(output_dir)
    if existing and not s.resume:
        raise FileExistsError(
            f"{output_dir} already has checkpoints {[k for k, _ in existing]}: pass resume=True"
        )
    if s.padding_free and not s.attn_implementation.startswith("flash_attention"):
        raise ValueError("padding_free needs attn_implementation='flash_attention_2' (or _3)")
    if s.attn_implementation == "flash_attention_2":
        from transformers.utils import is_flash_attn_2_available

        if not is_flash_attn_2_available():
            raise ValueError(
                "attn_implementation='flash_attention_2' but flash-attn is not installed"
            )

    train_set = load_training_set(dataset, s.max_length)
    if isinstance(model_path, (str, Path)):
        model = _load_model(str(model_path), s.model_dtype, s.attn_implementation, s.freeze_vision)
        processing_class = (
            tokenizer if tokenizer is not None else _load_processing_class(str(model_path))
        )
    else:
        model, processing_class = model_path, tokenizer
        if processing_class is None:
            raise ValueError("pass tokenizer= when model_path is a model object")

    keep_present_no_split_modules(model)
    if s.padding_free and any(type(m).__name__.endswith("GatedDeltaNet") for m in model.modules()):
        # Measured (tests/test_gradcheck.py): transformers' torch Gated DeltaNet code and conv1d ignore
        # cu_seq_lens, so the recurrent state and the conv window carry from one packed trace into the
        # next (0.44 relative logit error on the second of two packed rows). Not verified with fla +
        # causal-conv1d kernels either, so packing is refused for these layers.
        raise ValueError(
            "padding_free packs several rows into one sequence, but this model has Gated DeltaNet layers "
            "whose state would leak from one trace into the next: train with padding_free=False"
        )
    speed_callbacks = _apply_speed_settings(model, s)
    config_kwargs = s.sft_config_kwargs(output_dir, torch.cuda.is_available())
    log.info(
        "compute: %s master weights%s (bf16 setting %r)",
        s.model_dtype,
        " + bf16 autocast" if config_kwargs.get("bf16") else ", no autocast",
        s.bf16,
    )
    args = SFTConfig(**config_kwargs)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        processing_class=processing_class,
        callbacks=[
            JsonlLogCallback(output_dir),
            StandaloneCheckpointCallback(processing_class, s.prune_optimizer_states),
            *speed_callbacks,
            *(callbacks or []),
        ],
    )
    if args.process_index == 0:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "train_args.json").write_text(
            json.dumps(config_kwargs, indent=1, default=str)
        )
    return trainer, (last_checkpoint(output_dir) if s.resume else None)


def train_sft(
    model_path,
    dataset,
    output_dir: str | Path,
    *,
    max_length: int,
    max_steps: int,
    learning_rate: float = 5e-6,
    min_lr: float = 1e-6,
    warmup_steps: int = 0,
    per_device_batch_size: int = 1,
    gradient_accumulation: int = 1,
    adam_beta1: float = 0.9,
    adam_beta2: float = 0.95,
    weight_decay: float = 0.1,
    max_grad_norm: float = 1.0,
    save_steps: int = 50,
    logging_steps: int = 1,
    bf16: bool | str | None = None,
    model_dtype: str = "float32",
    gradient_checkpointing: bool | None = None,
    attn_implementation: str = "sdpa",
    padding_free: bool = False,
    use_liger_kernel: bool = False,
    seed: int = 0,
    resume: bool = False,
    prune_optimizer_states: bool = True,
    freeze_vision: bool = True,
    dataset_num_proc: int | None = None,
    dataloader_num_workers: int = 0,
    compile_layers: bool = False,
    keep_activation_layers: int = 0,
    keep_activation_tokens: int = 0,
    fla_hopper_fix: bool = False,
    fla_conv1d: bool = False,
    fused_gdn: bool = False,
    extra_args: dict[str, Any] | None = None,
    tokenizer=None,
    callbacks: list | None = None,
) -> TrainResult:
    """Fine-tune ``model_path`` on the SSD set with TRL ``SFTTrainer``; loss on completion tokens only.

    Args:
        model_path: model folder (str/Path) or an already built ``PreTrainedModel`` (then pass
            ``tokenizer``).
        dataset: output of ``build_ssd_dataset`` (or a path to it saved with ``save_to_disk`` /
            ``to_parquet``); see ``load_training_set`` for the checks.
        output_dir: run folder; gets ``checkpoint-<step>/`` and ``train_log.jsonl``.
        max_length: longest sequence, tokens (prompt + completion); longer rows are refused.
        max_steps: optimizer steps; the cosine schedule spans them (keep it fixed across resumes).
        learning_rate / min_lr: peak LR after ``warmup_steps`` of linear warm-up, then cosine down
            to ``min_lr`` at ``max_steps`` (transformers' ``cosine_with_min_lr``).
        per_device_batch_size / gradient_accumulation: sequences per device per micro-step, and
            micro-steps per optimizer step.
        adam_beta1 / adam_beta2 / weight_decay / max_grad_norm: AdamW and gradient clipping.
        save_steps: checkpoint every this many optimizer steps (and at the last step).
        logging_steps: a JSONL log line every this many steps.
        bf16: bf16 autocast; default (None): True when CUDA is available; "auto": on CUDA and on
            a CPU with a bf16 dot product (see ``SFTSettings.autocast_bf16``).
        model_dtype: master-weight dtype, "float32" (default; see the module doc) or "bfloat16".
        gradient_checkpointing: recompute activations in backward; default: True on CUDA.
        attn_implementation: "sdpa" (default), "eager", or "flash_attention_2" when installed.
        padding_free: flatten each batch into one sequence (needs flash attention).
        use_liger_kernel: Liger fused kernels (needs the liger-kernel package).
        seed: data order and any dropout.
        resume: continue from the newest checkpoint in ``output_dir`` (global step, optimizer,
            scheduler, data order); without checkpoints it starts fresh. With ``resume=False``
            an ``output_dir`` that already has checkpoints is refused.
        prune_optimizer_states: keep optimizer state only in the newest checkpoint.
        freeze_vision: freeze the vision tower of a vision-language checkpoint.
        dataset_num_proc / dataloader_num_workers: preprocessing / loading processes.
        compile_layers: ``torch.compile`` the MLP / norm / attention blocks of each decoder layer
            (fuses their element-wise work; see ``ssdlib.train.speed``). Off by default.
        keep_activation_layers: with gradient checkpointing, leave this many (last) decoder layers
            un-checkpointed: faster, ~0.1 MB/token/layer more memory at Qwen3.5-4B's width.
        keep_activation_tokens: instead, a budget in token-layers: each row leaves
            ``min(layers, budget // row tokens)`` last layers un-checkpointed (more on short rows;
            ``ssdlib.train.speed.keep_activations_by_length``). 0: off.
        fla_hopper_fix: route fla's gated delta rule backward through ``ssdlib.train.fla_hopper_fix``
            (correct on Hopper with Triton 3.4-3.7.0, where fla's own kernel is miscompiled).
        fla_conv1d: the Gated DeltaNet mixers' causal conv1d on fla's Triton kernel
            (``ssdlib.train.fused_gdn``); needs fla.
        fused_gdn: the whole Gated DeltaNet mixer on fla's fused kernels (conv, in-kernel gate and
            beta sigmoid, grouped q/k heads; ``ssdlib.train.fused_gdn``); needs fla.
        extra_args: more ``trl.SFTConfig`` fields (override the above).
        tokenizer: processing class; default: loaded from ``model_path``.
        callbacks: more ``transformers.TrainerCallback`` objects.

    Returns:
        TrainResult.
    """
    settings = SFTSettings(
        **{k: v for k, v in locals().items() if k in SFTSettings.__dataclass_fields__}
    )
    trainer, resumed_from = make_trainer(
        model_path, dataset, output_dir, settings, tokenizer=tokenizer, callbacks=callbacks
    )
    import torch

    from ssdlib.train.allocator import heap_allocator

    # CPU only: on GPU hosts large host blocks (a gathered state dict) should go back to the OS
    with heap_allocator(enabled=not torch.cuda.is_available()):
        out = trainer.train(resume_from_checkpoint=str(resumed_from) if resumed_from else None)
    args = trainer.args
    return TrainResult(
        output_dir=Path(output_dir),
        global_step=trainer.state.global_step,
        checkpoints=list_checkpoints(output_dir),
        log_path=Path(output_dir) / LOG_NAME,
        resumed_from=resumed_from,
        global_batch_size=args.per_device_train_batch_size
        * args.gradient_accumulation_steps
        * args.world_size,
        n_examples=len(trainer.train_dataset),
        metrics=dict(out.metrics),
    )


def train_from_config(config: dict[str, Any]) -> TrainResult:
    """Run ``train_sft`` from a config dict: ``model_path``, ``dataset_path``, ``output_dir`` + kwargs."""
    cfg = dict(config)
    model_path, dataset_path, output_dir = (
        cfg.pop("model_path"),
        cfg.pop("dataset_path"),
        cfg.pop("output_dir"),
    )
    return train_sft(model_path, dataset_path, output_dir, **cfg)


def read_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON training config (``train_from_config``'s keys)."""
    text = Path(path).read_text()
    if str(path).endswith(".json"):
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)


def result_summary(result: TrainResult) -> dict[str, Any]:
    """JSON-able view of a TrainResult."""
    d = asdict(result)
    d["output_dir"], d["log_path"] = str(result.output_dir), str(result.log_path)
    d["resumed_from"] = str(result.resumed_from) if result.resumed_from else None
    d["checkpoints"] = [[s, str(p)] for s, p in result.checkpoints]
    return d
