"""Gradient check of the study's GPU training path (fla Gated DeltaNet kernels), op level and model level.

1. Op level: ``fla.ops.gated_delta_rule.chunk_gated_delta_rule`` on bf16 inputs with Qwen3.5's head
   sizes (K = V = 128, qk l2-norm in kernel) against a float64 token-by-token recurrence on the same
   (bf16-rounded) inputs. Relative error ``||x - ref|| / ||ref||`` of the output and of dq, dk, dv,
   dg, dbeta; tolerance ``OP_TOL``. Backends: fla's own kernel with its Triton guard bypassed
   (``stock-bypassed``: the miscompile fla warns about on Hopper + Triton 3.4..3.7.0), the guard
   left on (``stock``: fla refuses), ``ssdlib.train.fla_hopper_fix`` (``fixed``), and the fixed kernel
   with the gate gradient deliberately scaled by 0.9 (``wrong-dg``: must fail).
2. Model level: ``ssdlib.train.gradcheck.run_gradcheck`` on the tiny Qwen3.5-shaped model (bf16
   autocast over float32 weights, gradient checkpointing, as ``train_sft``), per parameter group, for
   the same backends, with and without regional ``torch.compile``, and transformers' torch GDN code
   under the same autocast (``torch``: the precision floor of bf16 autocast).

Usage (GPU machine, fla carried as wheels, see bench/train_gpu.md)::

    PYTHONPATH=.:/tmp/site python bench/gradcheck_gpu.py --out $OUT/gradcheck.json

Exit status 0 only if every path that must pass passes and every path that must fail fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time

OP_TOL = 2e-2


def f32_dots_setting() -> str:
    """What this process's float32 ``tl.dot`` run as: ``tf32x3`` under ``--f32-dots tf32x3``, else Triton's default."""
    import os

    return os.environ.get("TRITON_F32_DEFAULT") or "tf32 (default)"


def force_f32_dots(precision: str) -> dict:
    """Rule v3: make every float32 ``tl.dot`` of fla's gated delta rule run at ``precision`` (e.g. ``tf32x3``).

    ``TRITON_F32_DEFAULT`` reaches every ``tl.dot`` that passes no ``input_precision`` (Triton 3.6's
    ``tl.dot``: ``knobs.language.fp32_default or ...``, also over ``allow_tf32=False``), but not fla
    0.6.0's fused kkt + solve_tril kernel, whose 16 dots pass ``input_precision=SOLVE_TRIL_DOT_PRECISION``
    (``'tf32'`` on GPUs with TF32): that module constant is set too. Call before any kernel compiles,
    with a Triton cache of its own (``--dot-audit`` checks the result in the TTIR)."""
    import os

    os.environ["TRITON_F32_DEFAULT"] = precision
    import fla.ops.gated_delta_rule.chunk_fwd as cf
    import triton.language as tl

    old = cf.SOLVE_TRIL_DOT_PRECISION
    cf.SOLVE_TRIL_DOT_PRECISION = tl.constexpr(precision)
    from triton import knobs

    new = cf.SOLVE_TRIL_DOT_PRECISION.value
    return {"TRITON_F32_DEFAULT": knobs.language.fp32_default,
            "fla SOLVE_TRIL_DOT_PRECISION": f"{getattr(old, 'value', old)} -> {new}"}  # fmt: skip


def one_config() -> None:
    """Every autotuner keeps its first config (cold compiles ~5x faster; the sixth session's call 3:
    float32 rows unchanged to 3 digits)."""
    import triton.runtime.autotuner as at

    at.Autotuner.prune_configs = lambda self, kwargs: self.configs[:1]


def dot_audit(cache_dirs: list[str]) -> dict:
    """``tt.dot`` input precisions in the TTIR of Triton caches: per kernel, counts by
    (operand dtype, precision); TTIR leaves the default ``tf32`` unprinted. ``ok``: no float32 dot
    at plain TF32 (rule v3's precondition (P) for a ``--f32-dots tf32x3`` cache)."""
    import glob
    import os
    import re

    prec_re = re.compile(r"inputPrecision\s*=\s*(\w+)")
    type_re = re.compile(r":\s*tensor<([^>]*)>")  # the first operand's type
    out: dict = {"kernels": {}, "f32_plain_tf32": 0, "f32_dots": 0}
    for d in cache_dirs:
        for f in sorted(glob.glob(os.path.join(d, "**", "*.ttir"), recursive=True)):
            name = os.path.basename(f)[: -len(".ttir")]
            counts = out["kernels"].setdefault(name, {})
            for line in open(f, errors="replace"):
                if "tt.dot " not in line:
                    continue
                m, t = prec_re.search(line), type_re.search(line)
                prec = m.group(1) if m else "tf32"
                dt = t.group(1).split(",")[0].split("x")[-1] if t else "?"
                k = f"{dt}:{prec}"
                counts[k] = counts.get(k, 0) + 1
                if dt == "f32":
                    out["f32_dots"] += 1
                    out["f32_plain_tf32"] += prec in ("tf32", "?")
    out["ok"] = out["f32_dots"] > 0 and out["f32_plain_tf32"] == 0
    return out


def reference_recurrence(q, k, v, g, beta, scale, l2eps: float | None = None):
    """Gated delta rule, token by token, in the inputs' dtype (call with float64).

    Shapes: q, k, v [B, T, H, D]; g, beta [B, T, H]. ``l2eps``: normalise q/k as transformers and fla
    do (``x * rsqrt(sum(x^2) + eps)``) instead of ``F.normalize``.
    """
    import torch
    import torch.nn.functional as F

    if l2eps is None:
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    else:
        q, k = (x * torch.rsqrt((x * x).sum(-1, keepdim=True) + l2eps) for x in (q, k))
    B, T, H, K = q.shape
    S = torch.zeros(B, H, K, v.shape[-1], dtype=q.dtype, device=q.device)
    outs = []
    for t in range(T):
        S = S * g[:, t].exp()[..., None, None]
        kt = k[:, t]
        delta = (v[:, t] - torch.einsum("bhk,bhkv->bhv", kt, S)) * beta[:, t, :, None]
        S = S + kt[..., :, None] * delta[..., None, :]
        outs.append(torch.einsum("bhk,bhkv->bhv", q[:, t] * scale, S))
    return torch.stack(outs, dim=1)


def op_check(backend: str, T: int = 1024, H: int = 4, D: int = 128, seed: int = 0) -> dict:
    """Relative errors of one fla call (forward output and input gradients) against the float64 recurrence."""
    import torch
    import torch.nn.functional as F

    import ssdlib.train.fla_hopper_fix as fix
    from ssdlib.train.gradcheck import _ScaleGrad

    fix.uninstall()
    fix.bypass_fla_triton_guard(backend == "stock-bypassed")
    if backend in ("fixed", "wrong-dg"):
        fix.install()
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule

    gen = torch.Generator(device="cuda").manual_seed(seed)
    shape = (1, T, H, D)
    q = torch.randn(shape, device="cuda", generator=gen).bfloat16()
    k = torch.randn(shape, device="cuda", generator=gen).bfloat16()
    v = torch.randn(shape, device="cuda", generator=gen).bfloat16()
    g = F.logsigmoid(
        torch.randn(1, T, H, device="cuda", generator=gen) + 2.0
    )  # decays in (0, 1), float32
    beta = torch.rand(1, T, H, device="cuda", generator=gen).bfloat16()
    do = torch.randn(shape, device="cuda", generator=gen).bfloat16()
    scale = D**-0.5
    xs = [x.clone().requires_grad_(True) for x in (q, k, v, g, beta)]
    try:
        gg = _ScaleGrad.apply(xs[3], 0.9) if backend == "wrong-dg" else xs[3]
        o, _ = chunk_gated_delta_rule(
            xs[0], xs[1], xs[2], gg, xs[4], scale=scale, use_qk_l2norm_in_kernel=True
        )
        o.backward(do)
    except RuntimeError as e:
        return {"backend": backend, "refused": str(e)[:160]}
    refs = [x.double().clone().requires_grad_(True) for x in (q, k, v, g, beta)]
    o_ref = reference_recurrence(*refs, scale)
    o_ref.backward(do.double())
    err = lambda a, b: ((a.double() - b).norm() / b.norm()).item()  # noqa: E731
    errors = {"o": err(o, o_ref)}
    for name, x, r in zip(("dq", "dk", "dv", "dg", "dbeta"), xs, refs):
        errors[name] = err(x.grad, r.grad)
    return {
        "backend": backend,
        "errors": errors,
        "passed": all(e <= OP_TOL for e in errors.values()),
    }


@contextlib.contextmanager
def tf32(on: bool):
    """torch's TF32 switches for float32 matmuls and cuDNN convolutions (Triton's dots ignore them)."""
    import torch

    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


OP32_ROWS = ["torch+f32", "torch+tf32", "fixed", "wrong-dg", "fixed+fused", "wrong-dg+fused"]


def op32_check(path: str, seed: int = 0, T: int = 1024, H: int = 2, HV: int = 4, D: int = 128,
               device: str = "cuda", cpu_rng: bool = False) -> dict:  # fmt: skip
    """One gated-delta-rule call on float32 inputs with the tiny model's GDN shapes, gate and beta
    sigmoid included, against a float64 token-by-token recurrence (rule v2, bench/train_gpu.md).

    ``path``: ``torch+f32`` / ``torch+tf32`` (transformers' torch chunk rule, TF32 off / on),
    ``fixed`` (the shipped route: gate and sigmoid in torch, q/k repeated, fla's rule with
    ``fla_hopper_fix``), ``wrong-dg`` (same, dg x 0.9), ``fixed+fused`` (the fused mixer's call: gate
    and sigmoid in fla's kernel, grouped heads), ``wrong-dg+fused`` (gate-input gradient x 0.9).
    Errors ``||x - ref|| / ||ref||`` of o, dq, dk, dv, da, db, dA_log, ddt_bias. ``cpu_rng``: draw the
    inputs from a CPU generator (identical to the CPU interpreter's rows of the same seed).
    """
    import torch
    import torch.nn.functional as F

    from ssdlib.train.gradcheck import _ScaleGrad

    gdev = (
        "cpu" if cpu_rng else device
    )  # cpu_rng: the same inputs as bench/gradcheck_interp.py --op32
    gen = torch.Generator(device=gdev).manual_seed(seed)
    rnd = lambda *s: torch.randn(*s, device=gdev, generator=gen).to(device)  # noqa: E731
    uni = lambda n, lo, hi: (torch.rand(n, device=gdev, generator=gen) * (hi - lo) + lo).to(device)  # noqa: E731
    inputs = [rnd(1, T, H, D), rnd(1, T, H, D), rnd(1, T, HV, D), rnd(1, T, HV), rnd(1, T, HV),
              uni(HV, -2.0, 1.0), uni(HV, -1.0, 1.0)]  # q k v a b A_log dt_bias  # fmt: skip
    do = rnd(1, T, HV, D)
    names = ("dq", "dk", "dv", "da", "db", "dA_log", "ddt_bias")
    r = HV // H

    def unfused(q, k, v, a, b, A_log, dt_bias, rule, wrong=False):
        g = -A_log.exp() * F.softplus(a + dt_bias)
        if wrong:
            g = _ScaleGrad.apply(g, 0.9)
        q, k = q.repeat_interleave(r, dim=2), k.repeat_interleave(r, dim=2)
        return rule(q, k, v, g=g, beta=b.sigmoid(), use_qk_l2norm_in_kernel=True)[0]

    base = path.split("+")[0]
    try:
        if base == "torch":
            from ssdlib.train.fused_gdn import torch_stand_ins

            rule = torch_stand_ins()["rule"]
            rule_name = (
                f"{getattr(rule, '__module__', '?')} (stand-in over transformers' torch rule)"
            )
            xs = [x.clone().requires_grad_(True) for x in inputs]
            with tf32(path == "torch+tf32"):
                o = rule(*xs[:3], xs[3], xs[4], use_qk_l2norm_in_kernel=True, use_gate_in_kernel=True,
                         A_log=xs[5], dt_bias=xs[6], use_beta_sigmoid_in_kernel=True)[0]  # fmt: skip
                o.backward(do)
        else:
            import ssdlib.train.fla_hopper_fix as fix

            fix.uninstall()
            fix.bypass_fla_triton_guard(False)
            fix.install()
            from fla.ops.gated_delta_rule import chunk_gated_delta_rule as rule

            rule_name = f"{rule.__module__}.{rule.__name__} + fla_hopper_fix"
            xs = [x.clone().requires_grad_(True) for x in inputs]
            if path.endswith("+fused"):
                a = _ScaleGrad.apply(xs[3], 0.9) if base == "wrong-dg" else xs[3]
                o = rule(*xs[:3], a, xs[4], use_qk_l2norm_in_kernel=True, use_gate_in_kernel=True,
                         A_log=xs[5], dt_bias=xs[6], use_beta_sigmoid_in_kernel=True)[0]  # fmt: skip
            else:
                o = unfused(*xs, rule=rule, wrong=base == "wrong-dg")
            o.backward(do)
    except (RuntimeError, ImportError) as e:
        return {"level": "op32", "path": path, "seed": seed, "refused": str(e)[:200]}
    refs = [x.double().clone().requires_grad_(True) for x in inputs]
    q, k, v, a, b, A_log, dt_bias = refs
    g = -A_log.exp() * F.softplus(a + dt_bias)
    o_ref = reference_recurrence(q.repeat_interleave(r, dim=2), k.repeat_interleave(r, dim=2), v, g,
                                 b.sigmoid(), D**-0.5, l2eps=1e-6)  # fmt: skip
    o_ref.backward(do.double())
    err = lambda x, y: ((x.double() - y).norm() / y.norm()).item()  # noqa: E731
    errors = {"o": err(o.detach(), o_ref.detach())}
    for name, x, ref in zip(names, xs, refs):
        errors[name] = err(x.grad, ref.grad) if x.grad is not None else float("inf")
    return {"level": "op32", "path": path, "seed": seed, "errors": errors, "rule": rule_name,
            "T": T, "H": H, "HV": HV, "D": D, "cpu_rng": cpu_rng or device == "cpu",
            "tf32": {"torch": path == "torch+tf32"} if base == "torch" else {
                "torch.matmul": torch.backends.cuda.matmul.allow_tf32, "triton_dots": f32_dots_setting()},
            "f32_dots": f32_dots_setting()}  # fmt: skip


def model_check(
    backend: str, compile_layers: bool, fused: bool = False, conv: bool = False, seed: int = 0,
    f32: bool = False, f32_tol: float = 1e-2,
) -> dict:  # fmt: skip
    """``run_gradcheck`` with fla's backward routed as ``backend`` (see op_check); ``fused``: the GDN
    mixer on fla's fused kernels, ``conv``: only its conv1d on fla's (``ssdlib.train.fused_gdn``);
    ``f32``: no bf16 autocast (float32 on the GPU; Triton's float32 dots run in TF32, hence
    ``f32_tol`` rather than the CPU's 1e-3): separates a wrong kernel from bf16 rounding."""
    import ssdlib.train.fla_hopper_fix as fix
    from ssdlib.train.gradcheck import run_gradcheck

    fix.uninstall()
    fix.bypass_fla_triton_guard(backend == "stock-bypassed")
    if backend in ("fixed", "wrong-dg"):
        fix.install()
    try:
        rep = run_gradcheck(
            compile_layers=compile_layers, inject="scale_dg" if backend == "wrong-dg" else None,
            fused_gdn=fused, fla_conv1d=conv, seed=seed,
            **({"autocast_bf16": False, "tolerance": f32_tol} if f32 else {}),
        )  # fmt: skip
    except RuntimeError as e:
        return {
            "backend": backend,
            "compile": compile_layers,
            "fused": fused,
            "conv": conv,
            "seed": seed,
            "f32": f32,
            "refused": str(e).splitlines()[-1][:160],
        }
    return {"backend": backend, "compile": compile_layers, "fused": fused, "conv": conv,
            "seed": seed, "f32": f32, "errors": rep.errors, "passed": rep.passed,
            "tolerance": rep.tolerance, "loss": rep.loss, "failed_groups": rep.failed_groups,
            "f32_dots": f32_dots_setting()}  # fmt: skip


def torch_model_check_child(seed: int = 0, precision: str = "bf16", f32_tol: float = 1e-2) -> dict:
    """transformers' torch GDN path in a child process that cannot import fla: under bf16 autocast
    (``precision="bf16"``, the bf16 floor), or in float32 with TF32 off (``"f32"``: the problem's own
    float32 conditioning) or on (``"tf32"``: the floor of the float32 fla rows, whose Triton dots are TF32)."""
    kw = "" if precision == "bf16" else f"autocast_bf16=False, tolerance={float(f32_tol)!r}, "
    flags = {"bf16": "", "f32": "False", "tf32": "True"}[precision]
    code = (
        "import sys, json; sys.modules['fla'] = None\n"
        + (f"import torch; torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = {flags}\n"
           if flags else "")
        + "from ssdlib.train.gradcheck import run_gradcheck\n"
        f"r = run_gradcheck({kw}seed={int(seed)})\n"
        f"print('RESULT ' + json.dumps({{'backend': 'torch', 'compile': False, 'seed': {int(seed)}, "
        f"'f32': {precision != 'bf16'}, 'tf32': {precision == 'tf32'}, "
        "'errors': r.errors, "
        "'passed': r.passed, 'tolerance': r.tolerance, 'loss': r.loss, 'failed_groups': r.failed_groups}))"
    )  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if not lines:
        return {
            "backend": "torch",
            "compile": False,
            "seed": seed,
            "f32": precision != "bf16",
            "tf32": precision == "tf32",
            "refused": proc.stderr.strip().splitlines()[-1][:200]
            if proc.stderr.strip()
            else "no output",
        }
    return json.loads(lines[-1][7:])


def memoize_reference() -> None:
    """Compute the float64 reference once per (weights, batch): every fla row of one seed needs the
    same one, and each child process costs seconds of imports."""
    import hashlib

    import torch

    import ssdlib.train.gradcheck as gc

    orig, cache = gc._reference_in_child, {}

    def key(state, overrides, ids, labels, device) -> str:
        h = hashlib.sha256(repr((sorted((overrides or {}).items()), device)).encode())
        for t in [ids, labels, *(state[k] for k in sorted(state))]:
            h.update(t.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
        return h.hexdigest()

    def cached(state, overrides, ids, labels, device):
        k = key(state, overrides, ids, labels, device)
        if k not in cache:
            cache[k] = orig(state, overrides, ids, labels, device)
        return cache[k]

    gc._reference_in_child = cached


# rules v2 / v3 (bench/train_gpu.md, sixth / seventh session), fixed before their data
RULE_K, RULE_ABS = 1.5, 1e-4
X3 = "@tf32x3"  # label suffix of fla rows run with --f32-dots tf32x3 (rule v3)


def row_label(r: dict) -> str:
    """``backend+compile+fused+conv+f32`` of a model row (``torch+tf32`` for the TF32 floor), or an op32
    path; fla rows run with ``--f32-dots tf32x3`` get ``@tf32x3`` (torch rows use no Triton dot)."""
    if r.get("level") == "op32":
        label = r["path"]
    elif r.get("tf32"):
        label = r["backend"] + "+tf32"
    else:
        label = r["backend"] + "".join(
            f"+{f}" for f in ("compile", "fused", "conv", "f32") if r.get(f)
        )
    if r.get("f32_dots") == "tf32x3" and not label.startswith("torch"):
        label += X3
    return label


def _three(vals: list):
    """False if any False, else None if any None (undecided), else True."""
    return False if False in vals else (None if None in vals else True)


def _rule(
    models: list, ops32: list, seeds: list[int], f32_floor: str, tag: str, audit=True
) -> dict:
    """Verdicts of rule v2 (``f32_floor="torch+tf32"``, ``tag=""``) or v3 (``"torch+f32"``,
    ``"@tf32x3"``; ``audit``: precondition (P), None when not measured) from model and op32 rows of
    any mix of runs: per row and seed error / tol per group, tol = RULE_K * max(floor, RULE_ABS),
    floor = ``f32_floor`` (float32 and op32 rows) or ``torch`` (bf16 rows) of the same seed and level."""
    rows: dict = {}  # (level, label, seed) -> errors
    for r in models:
        if "errors" in r:
            rows[("model", row_label(r), r.get("seed", 0))] = r["errors"]
    for r in ops32:
        if "errors" in r:
            rows[("op32", row_label(r), r["seed"])] = r["errors"]

    mismatched: dict[str, list[str]] = {}  # row -> groups in the row or its floor, not both

    def judge(level: str, label: str, seed: int):
        """None (row or floor missing, or their groups differ), else (passed, {group: error / tol}, failed groups)."""
        e = rows.get((level, label, seed))
        bf16 = level == "model" and "f32" not in label.split("@")[0].split("+")
        floor = rows.get((level, "torch" if bf16 else f32_floor, seed))
        if e is None or floor is None:
            return None
        if set(e) != set(floor):
            # a group only one side has cannot be judged: undecided, neither a pass nor the wanted
            # failure of a deliberately wrong row (it used to be skipped, or failed as if wrong)
            mismatched[f"{level}:{label}:s{seed}"] = sorted(set(e) ^ set(floor))
            return None
        ratio = {g: e[g] / (RULE_K * max(floor[g], RULE_ABS)) for g in floor}
        failed = [g for g, x in ratio.items() if not x <= 1.0]
        return (not failed, ratio, failed)

    out: dict = {"k": RULE_K, "abs_floor": RULE_ABS, "f32_floor": f32_floor, "tag": tag, "seeds": seeds,
                 "rows": {}, "verdicts": {}}  # fmt: skip
    labels = sorted({(lv, lb) for lv, lb, _ in rows if not lb.startswith("torch")})
    for lv, lb in labels:
        for sd in seeds:
            j = judge(lv, lb, sd)
            if j is not None:
                out["rows"][f"{lv}:{lb}:s{sd}"] = {
                    "passed": j[0], "failed": j[2], "worst": max(j[1].items(), key=lambda kv: kv[1])}  # fmt: skip

    def all_seeds(level, label, want_pass: bool, groups=None):
        """True / False / None (undecided) over every seed: the row passes (or fails, on ``groups``)."""
        res = []
        for sd in seeds:
            j = judge(level, label, sd)
            if j is None:
                res.append(None)
            elif want_pass:
                res.append(j[0])
            else:
                res.append(all(g in j[2] for g in groups) if groups else not j[0])
        return _three(res)

    vouch = []
    for sd in seeds:
        f32 = rows.get(("model", "torch+f32", sd))
        fl = rows.get(("model", f32_floor, sd))
        if f32 is None or fl is None:
            vouch.append(None)
            continue
        gate = ("linear_attn.A_log", "linear_attn.dt_bias")
        vouch.append(
            all(f32[g] <= 1e-3 for g in gate)
            and all(RULE_K * max(fl[g], RULE_ABS) <= 0.05 for g in gate)
        )
    v_iii = [all_seeds("model", "wrong-dg+f32" + tag, False, ["linear_attn.A_log", "linear_attn.dt_bias"]),
             all_seeds("op32", "wrong-dg" + tag, False, ["dA_log", "ddt_bias"])]  # fmt: skip
    parts = [_three(vouch), *v_iii]
    out["verdicts"]["float32 check can vouch for A_log/dt_bias"] = _three(parts)
    out["verdicts"]["vouch parts (i+ii, iii model, iii op)"] = parts
    wrong = [all_seeds("model", "wrong-dg+fused+f32" + tag, False), all_seeds("model", "wrong-dg+f32" + tag, False),
             all_seeds("op32", "wrong-dg+fused" + tag, False), all_seeds("op32", "wrong-dg" + tag, False)]  # fmt: skip
    d = _three(wrong)
    for name, (m32, op, bf) in {"fused": ("fixed+fused+f32", "fixed+fused", "fixed+compile+fused"),
                                "shipped": ("fixed+f32", "fixed", "fixed+compile")}.items():  # fmt: skip
        parts = [all_seeds("model", m32 + tag, True), all_seeds("op32", op + tag, True),
                 all_seeds("model", bf, True), d]  # fmt: skip
        if tag:  # rule v3: precondition (P), the dot audit of the tf32x3 runs' Triton cache
            parts.append(audit)
        out["verdicts"][f"{name} path correct"] = _three(parts)
        p_part = ", P dot audit" if tag else ""
        out["verdicts"][
            f"{name} parts (A model f32, B op32, C bf16, D wrong rows fail{p_part})"
        ] = parts
    if mismatched:
        out["undecided: groups missing from the row or its floor"] = mismatched
    return out


def rule_v2(models: list, ops32: list, seeds: list[int]) -> dict:
    """Rule v2 (sixth session): float32 rows against ``torch+tf32``, Triton's default dots."""
    return _rule(models, ops32, seeds, "torch+tf32", "")


def rule_v3(models: list, ops32: list, seeds: list[int], audit=None) -> dict:
    """Rule v3 (seventh session): fla's float32 rows run with ``--f32-dots tf32x3`` (labels ``@tf32x3``)
    against ``torch+f32`` (TF32 off); ``audit``: precondition (P) from ``--dot-audit`` (None: not measured)."""
    return _rule(models, ops32, seeds, "torch+f32", X3, audit)


def print_rule(res: dict, name: str = "v2") -> None:
    print(f"\nrule {name} (k {res['k']}, floor clamp {res['abs_floor']:g}, float32 floor {res['f32_floor']}; "
          "error / tol per row, worst group):")  # fmt: skip
    for key, r in res["rows"].items():
        w = r["worst"]
        print(f"  {key:40s} {'pass' if r['passed'] else 'FAIL':4s}  worst {w[0]} {w[1]:.2f}x tol"
              + (f"  failed: {', '.join(r['failed'])}" if r["failed"] else ""))  # fmt: skip
    for k, v in res["verdicts"].items():
        print(f"  {k}: {v}")


print_rule_v2 = print_rule


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="gradcheck.json")
    p.add_argument("--skip-compile", action="store_true")
    p.add_argument("--skip-op", action="store_true", help="model level only")
    p.add_argument(
        "--models", nargs="*", default=None,
        help="model-level rows to run, e.g. fixed fixed+compile+fused wrong-dg+fused fixed+conv torch "
        "(backend + compile / fused / conv / f32); default: every row",
    )  # fmt: skip
    p.add_argument(
        "--seeds", type=int, nargs="+", default=[0],
        help="run every model row once per seed (tiny model's weights and batch)",
    )  # fmt: skip
    p.add_argument(
        "--f32-tol", type=float, default=1e-2,
        help="tolerance of +f32 rows (no autocast; Triton's float32 dots use TF32)",
    )  # fmt: skip
    p.add_argument(
        "--op32", nargs="*", default=None, choices=OP32_ROWS,
        help=f"op-level float32 rows of rule v2, once per seed, before the model rows (none given: {OP32_ROWS})",
    )  # fmt: skip
    p.add_argument(
        "--op32-cpu-rng", action="store_true",
        help="op32 inputs from a CPU generator: the same inputs as bench/gradcheck_interp.py --op32",
    )  # fmt: skip
    p.add_argument(
        "--judge", nargs="+", default=None, metavar="JSON",
        help="only print a rule's verdicts over the rows of these output files (no GPU)",
    )  # fmt: skip
    p.add_argument("--rule", choices=["v2", "v3"], default="v3", help="the rule --judge applies")
    p.add_argument(
        "--audit", default=None, metavar="JSON",
        help="--judge --rule v3: the --dot-audit json of the tf32x3 runs' Triton cache (precondition P)",
    )  # fmt: skip
    p.add_argument(
        "--f32-dots", choices=["default", "tf32x3"], default="default",
        help="tf32x3: every float32 tl.dot of fla's gated delta rule in 3xTF32 (rule v3; TRITON_F32_DEFAULT "
        "plus fla's explicit solve_tril precision); use a Triton cache of its own",
    )  # fmt: skip
    p.add_argument("--one-config", action="store_true", help="autotuners keep their first config")
    p.add_argument(
        "--dot-audit", nargs="+", default=None, metavar="DIR",
        help="only count the tt.dot input precisions in these Triton caches' TTIR (no GPU)",
    )  # fmt: skip
    args = p.parse_args()
    if args.dot_audit:
        res = dot_audit(args.dot_audit)
        for k, c in sorted(res["kernels"].items()):
            if c:
                print(f"  {k:60s} " + ", ".join(f"{n} x {v}" for v, n in sorted(c.items())))
        print(
            f"dot audit: {res['f32_dots']} float32 dots, {res['f32_plain_tf32']} at plain TF32; ok = {res['ok']}"
        )
        json.dump(res, open(args.out, "w"), indent=1)
        return 0
    if args.judge:
        models, ops32 = [], []
        for f in args.judge:
            d = json.load(open(f))
            models += d.get("model", [])
            ops32 += d.get("op32", [])
        if args.rule == "v2":
            res = rule_v2(models, ops32, args.seeds)
        else:
            res = rule_v3(
                models, ops32, args.seeds, json.load(open(args.audit))["ok"] if args.audit else None
            )
        print_rule(res, args.rule)
        json.dump(res, open(args.out, "w"), indent=1)
        return 0
    forced = force_f32_dots(args.f32_dots) if args.f32_dots != "default" else None
    if args.one_config:
        one_config()
    import torch
    import triton

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    env = {
        "gpu": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
        "torch": torch.__version__,
        "triton": triton.__version__,
        "f32_dots": forced or "default",
        "one_config": args.one_config,
    }
    print(json.dumps(env), flush=True)
    must = {
        "stock-bypassed": None,
        "stock": None,
        "fixed": True,
        "wrong-dg": False,
    }  # None: report only

    memoize_reference()
    t0 = time.time()
    ops32, ops, models = [], [], []

    def partial() -> None:  # rows so far, in case a budget stops the run before the summary
        with open(args.out + ".partial", "w") as fh:
            json.dump({"env": env, "op32": ops32, "op": ops, "model": models}, fh, indent=1)

    for seed in args.seeds if args.op32 is not None else []:
        for path in args.op32 or OP32_ROWS:
            ops32.append(op32_check(path, seed, device=dev, cpu_rng=args.op32_cpu_rng))
            print(f"OP32 t={time.time() - t0:.0f}s", json.dumps(ops32[-1]), flush=True)
            partial()
    for b in [] if args.skip_op else must:
        ops.append(op_check(b))
        print(f"OP t={time.time() - t0:.0f}s", json.dumps(ops[-1]), flush=True)
    names = ["fixed", "wrong-dg", "fixed+compile", "fixed+conv", "fixed+compile+fused", "wrong-dg+fused",
             "torch", "stock-bypassed", "stock"]  # fmt: skip
    if args.skip_compile:
        names = [n for n in names if "compile" not in n]
    names = args.models if args.models is not None else names
    for name in names:
        b, *flags = name.split("+")
        unknown = set(flags) - {"compile", "fused", "conv", "f32"}
        if b == "torch":
            unknown = set(flags) - {"f32", "tf32"} if len(flags) <= 1 else {"+".join(flags)}
        if unknown or b not in {*must, "torch"}:
            raise SystemExit(f"unknown model row {name!r}")
    for seed in args.seeds:
        for name in names:
            b, *flags = name.split("+")
            if b == "torch":
                prec = flags[0] if flags else "bf16"
                models.append(torch_model_check_child(seed, prec, args.f32_tol))
            else:
                models.append(model_check(b, "compile" in flags, "fused" in flags, "conv" in flags,
                                          seed=seed, f32="f32" in flags, f32_tol=args.f32_tol))  # fmt: skip
            print(
                f"MODEL t={time.time() - t0:.0f}s wall={time.time():.0f}",
                json.dumps(models[-1]),
                flush=True,
            )
            partial()

    if ops32:
        cols32 = ("o", "dq", "dk", "dv", "da", "db", "dA_log", "ddt_bias")
        print(
            "\nop level, float32 inputs, against float64 (rule v2; T=1024, 2 q/k + 4 value heads, K=V=128):"
        )
        print(f"{'path':22s} " + " ".join(f"{n:>9s}" for n in cols32))
    for r in ops32:
        tag = f"{r['path']} s{r['seed']}"
        if "refused" in r:
            print(f"{tag:22s} refused: {r['refused'][:90]}")
        else:
            print(f"{tag:22s} " + " ".join(f"{r['errors'][n]:9.2e}" for n in cols32))
    if ops:
        print(f"\nop level (bf16 inputs, T=1024, H=4, K=V=128; tol {OP_TOL:g}):")
        print(
            f"{'backend':16s} "
            + " ".join(f"{n:>8s}" for n in ("o", "dq", "dk", "dv", "dg", "dbeta"))
            + "  verdict"
        )
    for r in ops:
        if "refused" in r:
            print(f"{r['backend']:16s} refused: {r['refused'][:90]}")
        else:
            e = r["errors"]
            print(
                f"{r['backend']:16s} "
                + " ".join(f"{e[n]:8.1e}" for n in e)
                + f"  {'PASS' if r['passed'] else 'FAIL'}"
            )
    groups = sorted({g for r in models if "errors" in r for g in r["errors"]})
    print("\nmodel level (tiny Qwen3.5, checkpointing; max rel err per group; tol bf16 0.05, +f32 "
          f"{args.f32_tol:g}):")  # fmt: skip
    cols = [row_label(r) + (f" s{r.get('seed')}" if len(args.seeds) > 1 else "") for r in models]
    print(f"{'group':34s} " + " ".join(f"{c:>19s}" for c in cols))
    for gname in groups:
        print(
            f"{gname:34s} "
            + " ".join(
                f"{r['errors'][gname]:19.1e}" if "errors" in r else f"{'refused':>19s}"
                for r in models
            )
        )
    print(
        f"{'verdict':34s} "
        + " ".join(
            f"{('PASS' if r['passed'] else 'FAIL') if 'errors' in r else 'refused':>19s}"
            for r in models
        )
    )

    ok = True
    for r in ops + models:
        want = {"torch": True}.get(r["backend"], must.get(r["backend"]))
        if r["backend"] == "torch" and (r.get("f32") or r.get("tf32")):
            want = None  # rule v2's floors: report only
        if want is not None and r.get("passed") is not want:
            ok = False
            print(
                f"UNEXPECTED: {r['backend']} compile={r.get('compile')} fused={r.get('fused')} "
                f"conv={r.get('conv')} f32={r.get('f32')} seed={r.get('seed')} passed={r.get('passed')} (wanted {want})"
            )
    res = rule_v3(models, ops32, args.seeds)  # (P) and rows of other runs: --judge --audit
    print_rule(res, "v3 (this run's rows only; P not measured here)")
    with open(args.out, "w") as fh:
        json.dump({"env": env, "op": ops, "op32": ops32, "model": models, "as_expected": ok,
                   "rule_v3_this_run": res}, fh, indent=1)  # fmt: skip
    print("\nall paths as expected" if ok else "\nSOME PATHS NOT AS EXPECTED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
