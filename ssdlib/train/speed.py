"""Opt-in speed settings of the SFT step: regional ``torch.compile`` and selective checkpointing.

Both change how the step is computed, not what: ``ssdlib.train.gradcheck`` compares their
gradients with a float64 reference, and ``bench/train_gpu.py`` measures them against the plain
path in one run (numbers in BENCHMARKS.md).

- ``compile_decoder_layers``: regional ``torch.compile``. Default scope "blocks": each MLP, RMSNorm,
  gated RMSNorm and softmax-attention module of the decoder layers; modules of one class share one
  compiled graph (dynamo treats parameters as inputs). Inductor fuses their element-wise work
  (SwiGLU, the norms' float32 upcasts and casts back, the gated norm's SiLU gate), in the forward
  and in the checkpointed recompute. Scope "layer" (whole decoder layers, fusing across blocks) is
  kept for comparison but not used: fla's kernel is ``torch.compiler.disable``d, the graph break
  it makes in a Gated DeltaNet layer leaves that frame static-shaped, so every new row length
  recompiles it (tests/test_gradcheck.py), and on one H200 its first 32k step had not finished
  after 200 s (bench/train_gpu.md). Measured there: "blocks" 1.16x at 32k, and it passes the
  GPU gradient check.
- ``KeepActivations``: leave the last ``n`` decoder layers un-checkpointed (their activations are
  kept, their forward is not recomputed). Measured on one H200 with the blocks compiled: 4 such
  layers of Qwen3.5-4B add 12.6 GiB at 32k (~0.1 MB per token per layer); 4 fit at 48k (98 GiB).
- ``keep_activations_by_length``: the same, but the number of un-checkpointed layers follows each
  row's length: ``min(n_layers, budget // tokens)`` for a budget in token-layers, set again before
  every forward. A fixed ``keep`` must fit the longest row (48k), so it leaves memory idle on the
  shorter rows that dominate an SSD set; a token budget keeps more layers there and the same
  activation memory (to first order: activations grow linearly with tokens) on every row.
"""

from __future__ import annotations


def decoder_layers(model) -> list:
    """The model's repeated decoder blocks (transformers' ``GradientCheckpointingLayer`` instances)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    if not layers:
        raise ValueError(
            f"{type(model).__name__} has no GradientCheckpointingLayer blocks to compile"
        )
    return layers


# Sub-blocks without a graph break inside (fla's kernels are ``torch.compiler.disable``d, so a Gated
# DeltaNet mixer breaks its graph in two): matched by class-name suffix.
BLOCK_SUFFIXES = ("MLP", "RMSNorm", "RMSNormGated", "Attention")


def compile_targets(model, scope: str = "blocks") -> list:
    """The modules ``compile_decoder_layers`` compiles: whole decoder layers, or their sub-blocks.

    ``scope="layer"``: every decoder layer (fuses across blocks, incl. residual adds; a GDN layer is
    split by a graph break at fla's kernel). ``scope="blocks"``: every MLP, RMSNorm, gated RMSNorm
    and softmax-attention module inside the decoder layers (graphs without breaks).
    """
    layers = decoder_layers(model)
    if scope == "layer":
        return layers
    if scope != "blocks":
        raise ValueError(f"scope={scope!r}: use 'layer' or 'blocks'")
    return [
        m for layer in layers for m in layer.modules() if type(m).__name__.endswith(BLOCK_SUFFIXES)
    ]


def compile_decoder_layers(
    model, *, dynamic: bool | None = True, mode: str | None = None, scope: str = "blocks"
) -> int:
    """``torch.compile`` every decoder layer (or sub-block, see ``compile_targets``) in place; returns how many.

    Args:
        dynamic: passed to ``torch.compile``; True (default) compiles one graph for any sequence length
            (SSD rows vary from hundreds to 48k tokens), so no recompile when the length changes.
        mode: ``torch.compile`` mode (None: inductor's default; "max-autotune-no-cudagraphs" tunes matmuls).
        scope: "layer" or "blocks" (``compile_targets``).
    """
    import torch
    import torch.fx.experimental._config as fx_config

    targets = compile_targets(model, scope)
    # One module class = one graph: parameters are graph inputs (dynamo's default since torch 2.5).
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    # Without this, two sizes that happen to be equal (e.g. rotary table and row length) get one symbol
    # and the next row recompiles.
    fx_config.use_duck_shape = False
    for m in targets:
        m.compile(dynamic=dynamic, mode=mode)
    return len(targets)


def keep_activations(model, n_layers: int) -> int:
    """Turn gradient checkpointing off for the last ``n_layers`` decoder layers; returns how many
    are still checkpointed."""
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


def n_kept_layers(tokens: int, budget_token_layers: int, n_layers: int) -> int:
    """Layers left un-checkpointed for a row of ``tokens`` tokens: ``min(n_layers, budget // tokens)``."""
    if tokens <= 0:
        raise ValueError(f"tokens={tokens}: a row has at least one token")
    if budget_token_layers < 0:
        raise ValueError(f"budget_token_layers={budget_token_layers} < 0")
    return min(n_layers, budget_token_layers // tokens)


def keep_activations_by_length(model, budget_token_layers: int):
    """Before every forward of ``model`` (in training, with checkpointing on), leave the last
    ``n_kept_layers(B * T, budget, n)`` decoder layers un-checkpointed; returns the hook handle.

    ``budget_token_layers``: activation budget in token-layers (tokens of the row times layers kept);
    Qwen3.5-4B keeps ~0.1 MB per token per layer (bench/train_gpu.md), so 458,752 (= 14 x 32k) is
    ~45 GiB: 14 layers at 32k, 9 at 48k, all 32 below 14.3k tokens. The checkpoint flag is read
    when a layer is called, so a recompute in the backward is unaffected by the next row's setting.
    """
    layers = decoder_layers(model)
    for layer in layers:  # which layers were checkpointed before this hook took over
        layer._ssd_ckpt = bool(getattr(layer, "gradient_checkpointing", False))

    def pre_hook(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            ids = kwargs.get("inputs_embeds")
        if ids is None or not module.training:
            return
        tokens = ids.shape[0] * ids.shape[1]
        keep = n_kept_layers(tokens, budget_token_layers, len(layers))
        for i, layer in enumerate(layers):
            layer.gradient_checkpointing = layer._ssd_ckpt and i < len(layers) - keep

    return model.register_forward_pre_hook(pre_hook, with_kwargs=True)


def keep_activations_by_length_callback(budget_token_layers: int):
    """A ``TrainerCallback`` installing ``keep_activations_by_length`` once the Trainer has enabled
    checkpointing (on the model the Trainer trains)."""
    from transformers import TrainerCallback

    class KeepActivationsByLength(TrainerCallback):
        handle = None

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if model is not None and args.gradient_checkpointing and self.handle is None:
                self.handle = keep_activations_by_length(model, budget_token_layers)

        def on_train_end(self, args, state, control, **kwargs):
            if self.handle is not None:
                self.handle.remove()
                self.handle = None

    return KeepActivationsByLength()
