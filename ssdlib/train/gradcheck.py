"""Gradient check of the training path on a tiny Qwen3.5-shaped model, against a float64 reference.

The fast path (whatever kernels this install gives transformers: flash-linear-attention's Triton
Gated DeltaNet kernels and fused gated RMSNorm when fla is importable, else transformers' torch
code; optionally compiled decoder layers, gradient checkpointing, bf16 autocast over float32
master weights, as ``ssdlib.train.sft`` trains) computes the gradient of one completion-style
loss. The reference computes it on the same weights and tokens with transformers' torch code in
float64, no autocast, no compile. When fla is importable the reference runs in a child process
that cannot import fla (transformers picks its kernels at import time), so the reference never
touches the kernels under test.

Per parameter tensor the error is ``||g - g_ref|| / ||g_ref||``; tensors are grouped by name with
the layer index dropped (e.g. ``linear_attn.A_log``) and a group's error is the worst tensor's.
Tolerances: 1e-3 for a float32 path (float32 rounding gives ~1e-6 here), 5e-2 for a bf16-autocast
path (bf16 operands give ~1e-3..1e-2; a wrong kernel term gives O(0.1..1)). A gate gradient that is
10% off (``inject="scale_dg"``) must fail, and does (``tests/test_gradcheck.py``).

``floor=True`` replaces the flat tolerance by rule v3's form (bench/train_gpu.md, "Seventh
session"): the same loss's gradient is also computed with transformers' torch code under the same
dtype, autocast and checkpointing (no fla, no fused mixer, no compile, no injection) -- the
precision floor of that arithmetic -- and each group must be within
``FLOOR_FACTOR * max(floor, FLOOR_MIN)`` of the reference (a group without a finite floor is a
``ValueError`` naming it, never a pass: ``floor_tolerances``). A bf16 path's gate groups sit near the
flat 5e-2 (fla's fused route: A_log / dt_bias 0.045-0.061 on the H200, against a torch floor of
0.030-0.049), so on fla the floor, measured in the same call, is the meaningful bar.

CPU: ``run_gradcheck()`` takes about a second (``ssd doctor`` runs it as its "gradients" check).
GPU: ``bench/gradcheck_gpu.py`` (results in bench/train_gpu.md).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

TOL_FLOAT32 = 1e-3
TOL_BF16 = 5e-2
# rule v3's tolerance per group: FLOOR_FACTOR x max(torch floor of the same call, FLOOR_MIN)
FLOOR_FACTOR = 1.5
FLOOR_MIN = 1e-4

# Qwen3.5's layer mix and head sizes (128-wide GDN heads, 256-wide attention heads: the real kernels'
# tile shapes) at a width that runs in well under a second on a CPU.
TINY_QWEN35 = dict(
    vocab_size=512,
    hidden_size=256,
    intermediate_size=512,
    num_hidden_layers=4,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=256,
    linear_num_key_heads=2,
    linear_key_head_dim=128,
    linear_num_value_heads=4,
    linear_value_head_dim=128,
    linear_conv_kernel_dim=4,
    layer_types=["linear_attention"] * 3 + ["full_attention"],
    max_position_embeddings=65_536,
    rope_parameters={
        "rope_type": "default",
        "rope_theta": 10_000_000.0,
        "partial_rotary_factor": 0.25,
    },
    tie_word_embeddings=True,
    rms_norm_eps=1e-6,
    pad_token_id=0,
)


@dataclass
class GradCheckReport:
    """Result of ``run_gradcheck``.

    Attributes:
        path: what the fast path was (device, dtype, autocast, kernels, compile, checkpointing, injection).
        tolerance: the largest accepted relative error per group.
        errors: ``{group: max relative error over its tensors}``, worst first.
        passed: every group within its tolerance and every gradient finite.
        loss: the fast path's loss and the reference's (nats/token).
        floor: with ``floor=True``, ``{group: error of the torch-code floor}``, else None.
        tolerances: with ``floor=True``, ``{group: FLOOR_FACTOR * max(floor, FLOOR_MIN)}``, else
            None (``tolerance`` for every group).
    """

    path: dict[str, Any]
    tolerance: float
    errors: dict[str, float]
    passed: bool
    loss: tuple[float, float]
    failed_groups: list[str] = field(default_factory=list)
    floor: dict[str, float] | None = None
    tolerances: dict[str, float] | None = None

    def tol(self, group: str) -> float:
        """The tolerance of ``group``."""
        return self.tolerances[group] if self.tolerances is not None else self.tolerance

    def worst(self) -> tuple[str, float, float]:
        """``(group, error, tolerance)`` of the group nearest to (or furthest over) its tolerance."""
        g = max(
            self.errors, key=lambda k: self.errors[k] / self.tol(k) if self.tol(k) else float("inf")
        )
        return g, self.errors[g], self.tol(g)

    def table(self) -> str:
        """Plain-text table: group, error, (floor,) tolerance, verdict."""
        if self.tolerances is None:
            lines = [f"{'parameter group':40s} {'rel err':>10s}  tol {self.tolerance:.0e}"]
            for g, e in self.errors.items():
                lines.append(f"{g:40s} {e:10.2e}  {'FAIL' if not e <= self.tolerance else 'ok'}")
            return "\n".join(lines)
        lines = [f"{'parameter group':40s} {'rel err':>10s} {'floor':>10s} {'tol':>10s}"]
        for g, e in self.errors.items():
            lines.append(f"{g:40s} {e:10.2e} {self.floor.get(g, float('nan')):10.2e} "
                         f"{self.tol(g):10.2e}  {'FAIL' if not e <= self.tol(g) else 'ok'}")  # fmt: skip
        return "\n".join(lines)


def fla_importable() -> bool:
    """True when flash-linear-attention imports (its kernels then replace transformers' torch GDN code)."""
    try:
        import fla  # noqa: F401
    except Exception:  # ImportError, or fla's own import-time checks on an unsupported platform
        return False
    return True


def make_batch(seq_len: int, vocab: int, seed: int = 0, prompt_frac: float = 0.125):
    """Random token ids ``[1, seq_len]`` and labels with the first ``prompt_frac`` masked (-100), as SFT does."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (1, seq_len), generator=gen)
    labels = ids.clone()
    labels[:, : max(1, int(seq_len * prompt_frac))] = -100
    return ids, labels


def build_tiny_model(seed: int = 0, overrides: dict | None = None):
    """A randomly initialised tiny ``Qwen3_5ForCausalLM`` (float32, CPU)."""
    import torch
    import transformers

    cfg = transformers.Qwen3_5TextConfig(**{**TINY_QWEN35, **(overrides or {})})
    torch.manual_seed(seed)
    model = transformers.Qwen3_5ForCausalLM(cfg)
    # Default init leaves the GDN gates near one operating point; spread A_log/dt_bias so the gate
    # gradient (the term fla's Hopper miscompile gets wrong) is exercised over a range of decays.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("A_log"):
                p.copy_(torch.empty_like(p).uniform_(-2.0, 1.0))
            elif name.endswith("dt_bias"):
                p.copy_(torch.empty_like(p).uniform_(-1.0, 1.0))
    return model


class _ScaleGrad:
    """Identity in the forward, gradient times ``s`` in the backward (the deliberately wrong kernel)."""

    @staticmethod
    def apply(x, s: float):
        import torch

        class _F(torch.autograd.Function):
            @staticmethod
            def forward(ctx, t):
                return t.view_as(t)

            @staticmethod
            def backward(ctx, grad):
                return grad * s

        return _F.apply(x)


def _wrong_rule(rule, scale: float = 0.9):
    """``rule`` (a chunk gated delta rule) whose gate gradient ``dg`` comes back scaled by ``scale``."""

    def wrong(query, key, value, g, beta, *args, **kwargs):
        return rule(query, key, value, _ScaleGrad.apply(g, scale), beta, *args, **kwargs)

    wrong.__wrapped__ = rule
    return wrong


@contextlib.contextmanager
def patched_gdn_rule(model, wrap):
    """Replace the chunked gated delta rule every GDN layer of ``model`` calls by ``wrap(rule)``.

    transformers <= 5.17 keeps it on each layer (``self.chunk_gated_delta_rule``); 5.18+ calls the
    modeling module's ``torch_chunk_gated_delta_rule`` (already bound to fla's kernel when fla is
    installed). Both are covered; anything else raises, so a silent no-op cannot pass a test.
    """
    gdn = [m for m in model.modules() if type(m).__name__.endswith("GatedDeltaNet")]
    if not gdn:
        raise ValueError("model has no Gated DeltaNet layers")
    if any(getattr(m, "_ssd_fused_gdn", False) for m in gdn):
        # ssdlib.train.fused_gdn's mixer calls its own rule (g = the raw gate input, gated in kernel).
        if not all(getattr(m, "_ssd_fused_gdn", False) for m in gdn):
            raise RuntimeError("some Gated DeltaNet mixers are fused and some are not")
        from ssdlib.train.fused_gdn import kernel, use_kernels

        with use_kernels(rule=wrap(kernel("rule"))):
            yield
        return
    undo = []
    for m in gdn:
        if hasattr(m, "chunk_gated_delta_rule"):
            old = m.chunk_gated_delta_rule
            m.chunk_gated_delta_rule = wrap(old)
            undo.append(lambda m=m, old=old: setattr(m, "chunk_gated_delta_rule", old))
    if not undo:
        mod = sys.modules[type(gdn[0]).__module__]
        if not hasattr(mod, "torch_chunk_gated_delta_rule"):
            raise RuntimeError(f"cannot find the gated delta rule in {mod.__name__}")
        old = mod.torch_chunk_gated_delta_rule
        mod.torch_chunk_gated_delta_rule = wrap(old)
        undo.append(lambda: setattr(mod, "torch_chunk_gated_delta_rule", old))
    try:
        yield
    finally:
        for u in undo:
            u()


def compute_gradients(
    model,
    ids,
    labels,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    autocast_bf16: bool = False,
    checkpointing: bool = False,
    compile_layers: bool = False,
    inject: str | None = None,
    fla_conv1d: bool = False,
    fused_gdn: bool = False,
) -> tuple[float, dict]:
    """Loss and ``{param name: grad (float64, CPU)}`` of one forward/backward of ``model`` on ``(ids, labels)``.

    ``model`` is moved/cast in place. ``inject="scale_dg"`` scales the GDN gate gradient by 0.9 (with
    ``fused_gdn``: the gradient of the raw gate input ``a``, whose gate is computed in fla's kernel).
    ``fla_conv1d`` / ``fused_gdn``: ``ssdlib.train.fused_gdn``'s routes (the kernels it calls then).
    """
    import torch

    model.to(device=device, dtype=getattr(torch, dtype))
    model.train()
    model.config.use_cache = False
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if fla_conv1d:
        from ssdlib.train.fused_gdn import route_conv1d_to_fla

        route_conv1d_to_fla(model)
    if fused_gdn:
        from ssdlib.train.fused_gdn import fuse_gdn_mixers

        fuse_gdn_mixers(model)
    if compile_layers:
        from ssdlib.train.speed import compile_decoder_layers

        compile_decoder_layers(model)
    model.zero_grad(set_to_none=True)
    ids, labels = ids.to(device), labels.to(device)
    ctx = patched_gdn_rule(model, _wrong_rule) if inject == "scale_dg" else contextlib.nullcontext()
    if inject not in (None, "scale_dg"):
        raise ValueError(f"unknown inject={inject!r} (known: 'scale_dg')")
    amp = torch.autocast(
        device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=autocast_bf16
    )
    try:
        with ctx, amp:
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
    finally:
        if fla_conv1d:  # module-wide: later models in this process get transformers' conv back
            from ssdlib.train.fused_gdn import restore_conv1d

            restore_conv1d(model)
    loss = loss.detach()
    grads = {
        n: p.grad.detach().to("cpu", torch.float64)
        for n, p in model.named_parameters()
        if p.grad is not None
    }
    return float(loss), grads


def group_of(name: str) -> str:
    """Parameter group of a parameter name: the name without its layer index and container prefix."""
    name = re.sub(r"^model\.", "", name)
    return re.sub(r"layers\.\d+\.", "", name)


def compare(grads: dict, ref: dict) -> dict[str, float]:
    """``{group: max over its tensors of ||g - g_ref|| / ||g_ref||}`` (inf when a gradient is missing or not finite)."""
    import torch

    errors: dict[str, float] = {}
    for name, r in ref.items():
        g = grads.get(name)
        if g is None or not torch.isfinite(g).all():
            err = float("inf")
        else:
            denom = r.norm().item()
            err = (g - r).norm().item() / denom if denom > 0 else (g.norm().item() and float("inf"))
        grp = group_of(name)
        errors[grp] = max(errors.get(grp, 0.0), err)
    return dict(sorted(errors.items(), key=lambda kv: -kv[1]))


class NoFloorError(ValueError):
    """The check could not judge a group (no finite torch floor): a fault of the check, not a
    verdict on the kernels."""


def floor_tolerances(errors: dict[str, float], floor_errors: dict[str, float]) -> dict[str, float]:
    """Rule v3's tolerance of each group of ``errors``: ``FLOOR_FACTOR * max(floor, FLOOR_MIN)``.

    A group without a finite floor cannot be judged, and is not waved through: ``NoFloorError``
    naming the group(s) when a group is missing from ``floor_errors`` or its floor error is not
    finite (the torch floor's own gradient missing or not finite). Before, a missing group got an
    infinite tolerance, so any error, even a non-finite one, passed.
    """
    bad = {}
    for g in errors:
        f = floor_errors.get(g)
        if f is None:
            bad[g] = "missing from the torch floor"
        elif not math.isfinite(f):
            bad[g] = f"torch floor error {f} (its own gradient missing or not finite)"
    if bad:
        raise NoFloorError(
            "gradient check: no finite torch floor, so no tolerance, for parameter group(s) "
            + "; ".join(f"{g}: {why}" for g, why in bad.items())
        )
    return {g: FLOOR_FACTOR * max(floor_errors[g], FLOOR_MIN) for g in errors}


def _reference_in_child(
    state: dict, overrides: dict | None, ids, labels, device: str, floor: dict | None = None
) -> tuple[float, dict] | tuple[float, dict, dict]:
    """Float64 torch-reference gradients computed in a child process that cannot import fla.

    ``floor``: ``compute_gradients`` keywords (``autocast_bf16``, ``checkpointing``) of the torch
    floor, computed in the same child; then ``(loss, grads, floor_grads)``.
    """
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.pt"), os.path.join(tmp, "out.pt")
        torch.save(
            {
                "state": state,
                "overrides": overrides,
                "ids": ids,
                "labels": labels,
                "device": device,
                "floor": floor,
            },
            src,
        )
        # fla must be unimportable before transformers' Qwen3.5 modeling module is first imported.
        code = (
            "import sys; sys.modules['fla'] = None; "
            "from ssdlib.train.gradcheck import _reference_main as m; m(*sys.argv[1:])"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, src, dst], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"reference gradient process failed:\n{proc.stderr[-3000:]}")
        out = torch.load(dst)
    if floor is not None:
        return out["loss"], out["grads"], out["floor_grads"]
    return out["loss"], out["grads"]


def _torch_gradients(state: dict, overrides: dict | None, ids, labels, **kwargs) -> dict:
    """Gradients of transformers' torch code (whatever this process imports) on fresh weights."""
    model = build_tiny_model(0, overrides)
    model.load_state_dict(state)
    return compute_gradients(model, ids, labels, **kwargs)[1]


def run_gradcheck(
    *,
    device: str | None = None,
    seq_len: int | None = None,
    autocast_bf16: bool | None = None,
    checkpointing: bool | None = None,
    compile_layers: bool = False,
    inject: str | None = None,
    fla_conv1d: bool = False,
    fused_gdn: bool = False,
    tolerance: float | None = None,
    seed: int = 0,
    overrides: dict | None = None,
    floor: bool = False,
) -> GradCheckReport:
    """Compare the fast path's gradients with the float64 torch reference on a tiny Qwen3.5-shaped model.

    Defaults follow ``train_sft``: on CUDA bf16 autocast + gradient checkpointing and 1024 tokens; on
    CPU float32, no checkpointing, 96 tokens. ``tolerance`` defaults to ``TOL_BF16`` / ``TOL_FLOAT32``.
    ``floor=True``: per-group tolerances ``FLOOR_FACTOR * max(torch floor, FLOOR_MIN)`` instead
    (module doc; ``tolerance`` is then ignored); a group without a finite floor raises
    ``ValueError`` (``floor_tolerances``). With fla the floor runs in the reference's child
    process (one more forward/backward of the tiny model there).
    """
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    autocast_bf16 = cuda if autocast_bf16 is None else autocast_bf16
    checkpointing = cuda if checkpointing is None else checkpointing
    seq_len = seq_len or (1024 if cuda else 96)
    tolerance = tolerance or (TOL_BF16 if autocast_bf16 else TOL_FLOAT32)

    model = build_tiny_model(seed, overrides)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ids, labels = make_batch(seq_len, model.config.vocab_size, seed)
    kernels = "fla" if fla_importable() else "torch"
    loss, grads = compute_gradients(
        model, ids, labels, device=device, autocast_bf16=autocast_bf16, checkpointing=checkpointing,
        compile_layers=compile_layers, inject=inject, fla_conv1d=fla_conv1d, fused_gdn=fused_gdn,
    )  # fmt: skip
    floor_kw = dict(autocast_bf16=autocast_bf16, checkpointing=checkpointing) if floor else None
    floor_grads = None
    if kernels == "fla":
        out = _reference_in_child(state, overrides, ids, labels, device, floor_kw)
        ref_loss, ref = out[:2]
        floor_grads = out[2] if floor else None
    else:
        ref_model = build_tiny_model(seed, overrides)
        ref_model.load_state_dict(state)
        ref_loss, ref = compute_gradients(ref_model, ids, labels, device=device, dtype="float64")
        if floor:
            floor_grads = _torch_gradients(state, overrides, ids, labels, device=device, **floor_kw)
    errors = compare(grads, ref)
    floor_errors = tolerances = None
    if floor:
        floor_errors = compare(floor_grads, ref)
        tolerances = floor_tolerances(errors, floor_errors)
    failed = [g for g, e in errors.items() if not e <= (tolerances or {}).get(g, tolerance)]
    path = dict(device=device, kernels=kernels, autocast_bf16=autocast_bf16, checkpointing=checkpointing,
                compile_layers=compile_layers, inject=inject, seq_len=seq_len, fla_conv1d=fla_conv1d,
                fused_gdn=fused_gdn, floor=floor)  # fmt: skip
    return GradCheckReport(path, tolerance, errors, not failed, (loss, ref_loss), failed,
                           floor_errors, tolerances)  # fmt: skip


def _reference_main(src: str, dst: str) -> None:
    import torch

    inp = torch.load(src)
    model = build_tiny_model(0, inp["overrides"])
    model.load_state_dict(inp["state"])
    loss, grads = compute_gradients(
        model, inp["ids"], inp["labels"], device=inp["device"], dtype="float64"
    )
    out = {"loss": loss, "grads": grads}
    if inp.get("floor") is not None:
        out["floor_grads"] = _torch_gradients(
            inp["state"], inp["overrides"], inp["ids"], inp["labels"], device=inp["device"],
            **inp["floor"],
        )  # fmt: skip
    torch.save(out, dst)


if __name__ == "__main__":
    rep = run_gradcheck()
    print(rep.path)
    print(rep.table())
    sys.exit(0 if rep.passed else 1)
