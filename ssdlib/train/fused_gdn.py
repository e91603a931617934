"""Qwen3.5's Gated DeltaNet mixer on flash-linear-attention's fused kernels (the training path).

transformers' mixer (5.19, ``Qwen3_5GatedDeltaNet.forward``) wraps fla's chunk rule in unfused
torch work, done per layer in the forward and again in the checkpointed recompute (profile of one
32k step in bench/train_gpu.md): the 8,192-wide qkv activations go bf16 -> float32 -> torch's
depthwise ``conv1d`` (no fused kernel unless the ``causal-conv1d`` CUDA package is installed) ->
SiLU -> bf16, through two transposes to contiguous copies; q and k are ``repeat_interleave``d from
16 to 32 heads; the gate ``-exp(A_log) * softplus(a + dt_bias)`` and ``sigmoid(b)`` are their own
float32 kernels. fla 0.6.0 fuses each of these:

- ``fla.modules.causal_conv1d.causal_conv1d`` (Triton): depthwise causal conv + SiLU on the
  ``[B, T, D]`` layout the projection already has (bf16 in and out, float32 accumulation; the
  weight gradient comes back in the weight's dtype);
- ``chunk_gated_delta_rule`` with ``use_gate_in_kernel=True`` (gate inside the chunk cumsum, its
  A_log / dt_bias gradients from fla's ``gdn_gate_bwd``), ``use_beta_sigmoid_in_kernel=True`` and
  grouped value attention (q/k keep their 16 heads; value head ``h`` reads q/k head
  ``h // (HV / H)``, which is what ``repeat_interleave`` gives).

Two opt-in settings (``ssdlib.train.sft``): ``fla_conv1d`` only routes transformers'
``causal_conv1d_fn`` hook to fla's conv (the rest of transformers' mixer unchanged);
``fused_gdn`` replaces each mixer's forward by ``fused_gdn_forward`` (all of the above). The
cached/decoding path (``cache_params`` given) keeps transformers' code. Neither is trusted by
construction: ``ssdlib.train.gradcheck`` compares their gradients with a float64 torch reference
(``bench/gradcheck_gpu.py`` on the GPU), and tests/test_train_fused_gdn.py checks the wiring on CPU
against transformers' own mixer with torch stand-ins that follow fla's documented API.
"""

from __future__ import annotations

import contextlib
import sys
import types

# The kernels the fused forward calls, looked up at call time: fla's by default (imported lazily,
# fla needs a GPU), replaceable by ``use_kernels`` (CPU tests, the gradient check's wrong kernel).
_KERNELS: dict = {"conv": None, "rule": None}


def _fla_kernels() -> dict:
    from fla.modules.causal_conv1d import causal_conv1d
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule

    return {"conv": causal_conv1d, "rule": chunk_gated_delta_rule}


def kernel(name: str):
    """The conv (``"conv"``) or chunk rule (``"rule"``) the fused forward calls now."""
    if _KERNELS[name] is None:
        _KERNELS.update({k: v for k, v in _fla_kernels().items() if _KERNELS[k] is None})
    return _KERNELS[name]


@contextlib.contextmanager
def use_kernels(**kernels):
    """Temporarily replace ``conv`` and/or ``rule`` (same call signature as fla's functions)."""
    unknown = set(kernels) - set(_KERNELS)
    if unknown:
        raise ValueError(f"unknown kernels {sorted(unknown)}: known {sorted(_KERNELS)}")
    old = dict(_KERNELS)
    _KERNELS.update(kernels)
    try:
        yield
    finally:
        _KERNELS.clear()
        _KERNELS.update(old)


def fla_causal_conv1d_fn(hidden_states, weight, bias=None, activation=None, **kwargs):
    """transformers' ``causal_conv1d_fn`` hook on fla's Triton conv.

    Args:
        hidden_states: ``[B, D, T]`` (the hook's layout; in Qwen3.5 a transposed view of a
            ``[B, T, D]`` projection, so the transpose back is free).
        weight: ``[D, W]`` depthwise taps; bias: ``[D]`` or None; activation: None or "silu".
        kwargs: ``cu_seq_lens_q`` (packed rows) is passed on as fla's ``cu_seqlens``; others ignored.
    Returns ``[B, D, T]`` in the input's dtype (a transposed view of fla's contiguous output).
    """
    if activation not in (None, "silu", "swish"):
        raise ValueError(f"fla's causal_conv1d supports activation None/'silu', not {activation!r}")
    y, _ = kernel("conv")(
        hidden_states.transpose(1, 2),
        weight=weight,
        bias=bias,
        activation=activation,
        cu_seqlens=kwargs.get("cu_seq_lens_q"),
    )
    return y.transpose(1, 2)


def _modeling_module(model_or_module):
    """The transformers modeling module that defines the model's Gated DeltaNet mixer."""
    gdn = gdn_mixers(model_or_module)
    return sys.modules[type(gdn[0]).__module__]


def gdn_mixers(model) -> list:
    """The model's Gated DeltaNet mixers (raises when there are none: a silent no-op must not pass)."""
    gdn = [m for m in model.modules() if type(m).__name__.endswith("GatedDeltaNet")]
    if not gdn:
        raise ValueError(f"{type(model).__name__} has no Gated DeltaNet layers")
    return gdn


def route_conv1d_to_fla(model) -> None:
    """Make transformers' mixer call ``fla_causal_conv1d_fn`` for its causal conv (module-wide: every
    model of this class in the process). ``restore_conv1d`` undoes it."""
    mod = _modeling_module(model)
    if not hasattr(mod, "causal_conv1d_fn"):
        raise RuntimeError(f"{mod.__name__} has no causal_conv1d_fn hook to route")
    if mod.causal_conv1d_fn is not fla_causal_conv1d_fn:
        mod._ssd_original_causal_conv1d_fn = mod.causal_conv1d_fn
        mod.causal_conv1d_fn = fla_causal_conv1d_fn


def restore_conv1d(model) -> None:
    """Undo ``route_conv1d_to_fla``."""
    mod = _modeling_module(model)
    if hasattr(mod, "_ssd_original_causal_conv1d_fn"):
        mod.causal_conv1d_fn = mod._ssd_original_causal_conv1d_fn
        del mod._ssd_original_causal_conv1d_fn


def fused_gdn_forward(self, hidden_states, cache_params=None, attention_mask=None, **kwargs):
    """Qwen3.5's Gated DeltaNet mixer forward (no cache) on fused kernels; bound to a mixer by
    ``fuse_gdn_mixers``. Same inputs and output as ``Qwen3_5GatedDeltaNet.forward``:
    ``hidden_states [B, T, hidden]`` -> ``[B, T, hidden]``.
    """
    if cache_params is not None:  # prefill/decoding with a cache: transformers' own code
        return self._ssd_original_forward(hidden_states, cache_params, attention_mask, **kwargs)
    if attention_mask is not None:  # zero padded positions, as transformers' mixer does
        hidden_states = (hidden_states * attention_mask[:, :, None]).to(hidden_states.dtype)
    B, T, _ = hidden_states.shape
    cu_seqlens = kwargs.get("cu_seq_lens_q")
    qkv = self.in_proj_qkv(hidden_states)  # [B, T, 2 key_dim + value_dim]
    z = self.in_proj_z(hidden_states)
    b = self.in_proj_b(hidden_states)  # raw beta logits [B, T, HV]
    a = self.in_proj_a(hidden_states)  # raw gate input [B, T, HV]
    if self.activation not in ("silu", "swish"):
        raise ValueError(f"fused_gdn supports the SiLU conv activation, not {self.activation!r}")
    qkv, _ = kernel("conv")(
        qkv, weight=self.conv1d.weight.squeeze(1), bias=self.conv1d.bias, activation="silu",
        cu_seqlens=cu_seqlens,
    )  # fmt: skip
    q, k, v = qkv.split([self.key_dim, self.key_dim, self.value_dim], dim=-1)
    q = q.reshape(B, T, self.num_k_heads, self.head_k_dim)
    k = k.reshape(B, T, self.num_k_heads, self.head_k_dim)
    v = v.reshape(B, T, self.num_v_heads, self.head_v_dim)
    o, _ = kernel("rule")(
        q, k, v, a, b,
        use_qk_l2norm_in_kernel=True, use_gate_in_kernel=True, A_log=self.A_log, dt_bias=self.dt_bias,
        use_beta_sigmoid_in_kernel=True, cu_seqlens=cu_seqlens,
    )  # fmt: skip
    o = self.norm(o.reshape(-1, self.head_v_dim), z.reshape(-1, self.head_v_dim))
    return self.out_proj(o.reshape(B, T, -1))


def fuse_gdn_mixers(model) -> int:
    """Bind ``fused_gdn_forward`` to every Gated DeltaNet mixer of ``model``; returns how many.

    Raises when a mixer lacks an attribute the fused forward reads (another transformers version).
    """
    need = ("in_proj_qkv", "in_proj_z", "in_proj_b", "in_proj_a", "conv1d", "A_log", "dt_bias",
            "norm", "out_proj", "key_dim", "value_dim", "num_k_heads", "num_v_heads", "head_k_dim",
            "head_v_dim", "activation")  # fmt: skip
    mixers = gdn_mixers(model)
    for m in mixers:
        missing = [n for n in need if not hasattr(m, n)]
        if missing:
            raise RuntimeError(
                f"{type(m).__name__} lacks {missing}: fused_gdn supports transformers' Qwen3.5"
            )
        if getattr(m, "_ssd_fused_gdn", False):
            continue
        m._ssd_original_forward = m.forward
        m.forward = types.MethodType(fused_gdn_forward, m)
        m._ssd_fused_gdn = True
    return len(mixers)


def unfuse_gdn_mixers(model) -> None:
    """Undo ``fuse_gdn_mixers``."""
    for m in gdn_mixers(model):
        if getattr(m, "_ssd_fused_gdn", False):
            m.forward = m._ssd_original_forward
            del m._ssd_original_forward
            m._ssd_fused_gdn = False


def torch_stand_ins() -> dict:
    """Torch versions of the two fla calls ``fused_gdn_forward`` makes, following fla 0.6.0's documented
    API (``causal_conv1d`` on ``[B, T, D]``; ``chunk_gated_delta_rule`` with grouped q/k heads,
    in-kernel gate and beta sigmoid). For CPU tests and the bench's CPU dry run (fla needs a GPU):
    they check this module's wiring against transformers' mixer, not fla's kernels (the GPU gradient
    check does that).
    """
    import torch.nn.functional as F
    from transformers.models.qwen3_5 import modeling_qwen3_5 as qwen

    # The torch rule itself, also when fla is importable (then the module name is bound to fla's).
    rule_torch = getattr(
        qwen.torch_chunk_gated_delta_rule, "__wrapped__", qwen.torch_chunk_gated_delta_rule
    )

    def conv(x, weight, bias=None, activation=None, cu_seqlens=None, **_):
        if cu_seqlens is not None:
            raise NotImplementedError("the torch stand-in has no packed rows")
        T, W = x.shape[1], weight.shape[1]
        y = F.conv1d(
            x.transpose(1, 2), weight.unsqueeze(1), bias, padding=W - 1, groups=weight.shape[0]
        )
        y = y[..., :T]
        if activation in ("silu", "swish"):
            y = F.silu(y)
        return y.transpose(1, 2).to(x.dtype), None

    def rule(q, k, v, g, beta, *, use_qk_l2norm_in_kernel=False, use_gate_in_kernel=False, A_log=None,
             dt_bias=None, use_beta_sigmoid_in_kernel=False, cu_seqlens=None, **_):  # fmt: skip
        if cu_seqlens is not None:
            raise NotImplementedError("the torch stand-in has no packed rows")
        r = v.shape[2] // q.shape[2]  # grouped value attention: value head h reads q/k head h // r
        if use_gate_in_kernel:
            g = -A_log.float().exp() * F.softplus(g.float() + (0.0 if dt_bias is None else dt_bias))
        if use_beta_sigmoid_in_kernel:
            beta = beta.sigmoid()
        return rule_torch(
            q.repeat_interleave(r, dim=2), k.repeat_interleave(r, dim=2), v, g=g, beta=beta,
            use_qk_l2norm_in_kernel=use_qk_l2norm_in_kernel,
        )  # fmt: skip

    return {"conv": conv, "rule": rule}
