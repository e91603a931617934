"""Opt-in speed settings of the SFT step: regional ``torch.compile`` and selective checkpointing.

Both change how the step is computed, not what: ``ssdlib.train.gradcheck`` compares their
gradients with a float64 reference, and ``bench/train_gpu.py`` measures them against the plain
path in one run (numbers in BENCHMARKS.md).

- ``compile_decoder_layers``: ``torch.compile`` each decoder layer (regional compilation). Layers of
  one class share one compiled graph (dynamo treats parameters as inputs), so the 32 layers of
  Qwen3.5-4B compile two graphs (Gated DeltaNet, attention), not 32. Inductor fuses the
  element-wise work between the matmuls (RMSNorm, SwiGLU, residual adds, casts, RoPE, GDN gates),
  in the forward and in the checkpointed recompute. fla's kernels are ``torch.compiler.disable``d
  and run as they are (a graph break around them).
- ``KeepActivations``: leave the last ``n`` decoder layers un-checkpointed (their activations are
  kept, their forward is not recomputed). Each such layer costs about 0.25 MB per token of
  Qwen3.5-4B (bf16), so on one H200 with float32 masters a few layers fit at 32k.
"""

from __future__ import annotations


def decoder_layers(model) -> list:
    """The model's repeated decoder blocks (transformers' ``GradientCheckpointingLayer`` instances)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no GradientCheckpointingLayer blocks to compile")
    return layers


def compile_decoder_layers(model, *, dynamic: bool | None = True, mode: str | None = None) -> int:
    """``torch.compile`` every decoder layer of ``model`` in place; returns how many.

    Args:
        dynamic: passed to ``torch.compile``; True (default) compiles one graph for any sequence length
            (SSD rows vary from hundreds to 48k tokens), so no recompile when the length changes.
        mode: ``torch.compile`` mode (None: inductor's default; "max-autotune-no-cudagraphs" tunes matmuls).
    """
    import torch

    layers = decoder_layers(model)
    # Parameters as graph inputs: one graph per layer class, not one per layer (default in torch >= 2.5).
    torch._dynamo.config.inline_inbuilt_nn_modules = True
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    for layer in layers:
        layer.compile(dynamic=dynamic, mode=mode)
    return len(layers)


def keep_activations(model, n_layers: int) -> int:
    """Turn gradient checkpointing off for the last ``n_layers`` decoder layers; returns how many are still checkpointed."""
    layers = decoder_layers(model)
    if n_layers < 0 or n_layers > len(layers):
        raise ValueError(f"n_layers={n_layers} outside 0..{len(layers)} decoder layers")
    for i, layer in enumerate(layers):
        if i >= len(layers) - n_layers:
            layer.gradient_checkpointing = False
    return sum(bool(getattr(layer, "gradient_checkpointing", False)) for layer in layers)


def keep_activations_callback(n_layers: int):
    """A ``TrainerCallback`` applying ``keep_activations`` once the Trainer has enabled checkpointing."""
    from transformers import TrainerCallback

    class KeepActivations(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if model is not None and args.gradient_checkpointing:
                keep_activations(model, n_layers)

    return KeepActivations()
