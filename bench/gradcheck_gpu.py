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
import json
import subprocess
import sys
import time

OP_TOL = 2e-2


def reference_recurrence(q, k, v, g, beta, scale):
    """Gated delta rule, token by token, in the inputs' dtype (call with float64).

    Shapes: q, k, v [B, T, H, D]; g, beta [B, T, H].
    """
    import torch
    import torch.nn.functional as F

    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
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
            "tolerance": rep.tolerance, "loss": rep.loss, "failed_groups": rep.failed_groups}  # fmt: skip


def torch_model_check_child(seed: int = 0) -> dict:
    """The torch GDN path under bf16 autocast, in a child process that cannot import fla."""
    code = (
        "import sys, json; sys.modules['fla'] = None\n"
        "from ssdlib.train.gradcheck import run_gradcheck\n"
        f"r = run_gradcheck(seed={int(seed)})\n"
        f"print('RESULT ' + json.dumps({{'backend': 'torch', 'compile': False, 'seed': {int(seed)}, "
        "'errors': r.errors, "
        "'passed': r.passed, 'tolerance': r.tolerance, 'loss': r.loss, 'failed_groups': r.failed_groups}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if not lines:
        return {
            "backend": "torch",
            "compile": False,
            "refused": proc.stderr.strip().splitlines()[-1][:200],
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
    args = p.parse_args()
    import torch
    import triton

    env = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
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
    ops = []
    for b in [] if args.skip_op else must:
        ops.append(op_check(b))
        print(f"OP t={time.time() - t0:.0f}s", json.dumps(ops[-1]), flush=True)
    names = ["fixed", "wrong-dg", "fixed+compile", "fixed+conv", "fixed+compile+fused", "wrong-dg+fused",
             "torch", "stock-bypassed", "stock"]  # fmt: skip
    if args.skip_compile:
        names = [n for n in names if "compile" not in n]
    names = args.models if args.models is not None else names
    models = []
    for name in names:
        b, *flags = name.split("+")
        unknown = set(flags) - {"compile", "fused", "conv", "f32"}
        if unknown or b not in {*must, "torch"} or (b == "torch" and flags):
            raise SystemExit(f"unknown model row {name!r}")
    for seed in args.seeds:
        for name in names:
            b, *flags = name.split("+")
            if b == "torch":
                models.append(torch_model_check_child(seed))
            else:
                models.append(model_check(b, "compile" in flags, "fused" in flags, "conv" in flags,
                                          seed=seed, f32="f32" in flags, f32_tol=args.f32_tol))  # fmt: skip
            print(
                f"MODEL t={time.time() - t0:.0f}s wall={time.time():.0f}",
                json.dumps(models[-1]),
                flush=True,
            )

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
    print("\nmodel level (tiny Qwen3.5, bf16 autocast + checkpointing; max rel err per group; tol "
          f"{models[0].get('tolerance', '?')}):")  # fmt: skip
    cols = [
        r["backend"]
        + "".join(f"+{f}" for f in ("compile", "fused", "conv", "f32") if r.get(f))
        + (f" s{r['seed']}" if len(args.seeds) > 1 else "")
        for r in models
    ]
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
        if want is not None and r.get("passed") is not want:
            ok = False
            print(
                f"UNEXPECTED: {r['backend']} compile={r.get('compile')} fused={r.get('fused')} "
                f"conv={r.get('conv')} f32={r.get('f32')} seed={r.get('seed')} passed={r.get('passed')} (wanted {want})"
            )
    with open(args.out, "w") as fh:
        json.dump({"env": env, "op": ops, "model": models, "as_expected": ok}, fh, indent=1)
    print("\nall paths as expected" if ok else "\nSOME PATHS NOT AS EXPECTED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
