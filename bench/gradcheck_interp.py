"""Gradient check of the fla training paths on a CPU, with fla's Triton kernels run by Triton's interpreter.

``bench/gradcheck_gpu.py`` checks the kernels as the GPU compiles them (where fla's Hopper
miscompile lives) but needs device time. This script checks, on any CPU box that has the carried
fla wheels, that the *code paths* are right: fla's real kernel source (conv1d, the chunk gated
delta rule with grouped q/k heads and the gate and beta sigmoid computed in the kernel,
``ssdlib.train.fla_hopper_fix``'s backward) run through ``TRITON_INTERPRET=1`` (numpy, float32)
inside the tiny Qwen3.5 model, against transformers' torch code in float64
(``ssdlib.train.gradcheck.run_gradcheck``: float32 path, tolerance 1e-3). What it does not show:
anything about Triton's GPU code generation (bf16 tensor-core paths, the sm_90 miscompile).

Two accommodations for the interpreter, applied to a private copy of the wheels (never to an
install the study uses): autotuners keep their first config (the interpreter cannot time
kernels), and ``i_t.to(tl.int64)`` on a ``range`` loop index, a plain int in the interpreter,
becomes ``tl.cast(i_t, tl.int64)`` (the same value on the GPU).

Usage (CPU; ~1-2 min per row on one core)::

    OMP_NUM_THREADS=1 .venv/bin/python bench/gradcheck_interp.py --wheels .cache/train_wheels \
        --out bench/results/<date>_cpu_interp_gradcheck.json

``--op32 PATH...``: instead of the model rows, ``bench/gradcheck_gpu.py``'s op-level float32 rows
(rule v2; T = 1024, ~2-3 min per row) with fla's ``tl.dot`` operands as ``--dots`` says: ``ieee``
(the interpreter's float32 matmul), ``tf32-rne`` (operands of every TF32 dot rounded to TF32,
nearest even, as cuBLAS's TF32 does) or ``tf32-trunc`` (low 13 mantissa bits dropped: what the GPU's
tensor cores do with the float32 registers Triton's default TF32 ``tl.dot`` passes them,
triton-lang/triton#4574). Inputs come from a CPU generator, so they differ from the GPU rows'.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile

ROWS = {  # name: (run_gradcheck kwargs, install fla_hopper_fix, must pass)
    "fla": ({}, False, True),
    "fla+fix": ({}, True, True),
    "fla+fix+conv": ({"fla_conv1d": True}, True, True),
    "fla+fix+fused": ({"fused_gdn": True}, True, True),
    "wrong-dg+fused": ({"fused_gdn": True, "inject": "scale_dg"}, True, False),
}

_LOOP_INDEX_TO = re.compile(r"\b(i_t|i_s)\.to\(tl\.int64\)")

CHILD = """
import json, sys
import triton.runtime.autotuner as at
at.Autotuner.prune_configs = lambda self, kwargs: self.configs[:1]  # the interpreter cannot time configs
from ssdlib.train.gradcheck import fla_importable, run_gradcheck
assert fla_importable(), "fla did not import from the unpacked wheels"
kw, fix = json.loads(sys.argv[1]), sys.argv[2] == "1"
if fix:
    from ssdlib.train.fla_hopper_fix import install
    install()
r = run_gradcheck(device="cpu", **kw)
print("RESULT " + json.dumps({"path": r.path, "errors": r.errors, "passed": r.passed,
                              "tolerance": r.tolerance, "loss": r.loss, "failed_groups": r.failed_groups}))
"""


OP32_CHILD = """
import json, sys
import numpy as np
import triton.runtime.autotuner as at
import triton.runtime.interpreter as I
at.Autotuner.prune_configs = lambda self, kwargs: self.configs[:1]
dots, seed, T, paths = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
seen = {}
orig = I.InterpreterBuilder.create_dot
trunc = lambda x: (np.asarray(x, dtype=np.float32).view(np.uint32) & np.uint32(0xFFFFE000)).view(np.float32)
cast = {"tf32-rne": I._round_f32_to_tf32, "tf32-trunc": trunc}.get(dots)

def create_dot(self, a, b, d, input_precision, max_num_imprecise_acc):
    s = str(input_precision)
    seen[s] = seen.get(s, 0) + 1
    if cast and s.upper().endswith("TF32") and a.data.dtype == np.float32 and b.data.dtype == np.float32:
        a, b = I.TensorHandle(cast(a.data), a.dtype), I.TensorHandle(cast(b.data), b.dtype)
    return orig(self, a, b, d, input_precision, max_num_imprecise_acc)

I.InterpreterBuilder.create_dot = create_dot
sys.path.insert(0, "bench")
from gradcheck_gpu import op32_check
for p in paths:
    r = op32_check(p, seed, T=T, device="cpu")
    r.update(dots=dots, dot_precisions_seen=dict(seen))
    print("RESULT " + json.dumps(r), flush=True)
"""


def unpack_fla(wheels: str, dst: str) -> list[str]:
    """Unzip the fla wheels into ``dst`` and apply the interpreter's loop-index shim; returns files changed."""
    found = sorted(glob.glob(os.path.join(wheels, "fla_core-*.whl")))
    found += sorted(glob.glob(os.path.join(wheels, "flash_linear_attention-*.whl")))
    if len(found) != 2:
        raise SystemExit(
            f"{wheels}: need one fla_core-*.whl and one flash_linear_attention-*.whl, got {found}"
        )
    for whl in found:
        with zipfile.ZipFile(whl) as z:
            z.extractall(dst)
    changed = []
    for path in glob.glob(os.path.join(dst, "fla", "**", "*.py"), recursive=True):
        src = open(path).read()
        new = _LOOP_INDEX_TO.sub(r"tl.cast(\1, tl.int64)", src)
        if new != src:
            open(path, "w").write(new)
            changed.append(os.path.relpath(path, dst))
    return changed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wheels", default=".cache/train_wheels")
    p.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--out", default="gradcheck_interp.json")
    p.add_argument(
        "--op32",
        nargs="+",
        default=None,
        help="op-level float32 rows instead (e.g. fixed fixed+fused)",
    )
    p.add_argument("--dots", default="ieee", choices=["ieee", "tf32-rne", "tf32-trunc"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--T", type=int, default=1024)
    args = p.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = []
    with tempfile.TemporaryDirectory(prefix="fla_interp_") as site:
        changed = unpack_fla(args.wheels, site)
        env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=os.pathsep.join([repo, site]))
        env.setdefault("OMP_NUM_THREADS", "1")
        if args.op32:
            return op32_rows(args, env, repo, changed)
        for name in args.rows:
            kw, fix, want = ROWS[name]
            t0 = time.time()
            proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(kw), "1" if fix else "0"],
                                  capture_output=True, text=True, env=env, cwd=repo)  # fmt: skip
            got = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            row = json.loads(got[-1][7:]) if got else {"error": proc.stderr.strip()[-600:]}
            row.update(name=name, must_pass=want, seconds=round(time.time() - t0, 1))
            results.append(row)
            verdict = ("PASS" if row["passed"] else "FAIL") if "passed" in row else "ERROR"
            worst = max(row.get("errors", {"-": float("nan")}).items(), key=lambda kv: kv[1])
            print(
                f"{name:18s} {verdict:5s} worst {worst[0]} {worst[1]:.2e} ({row['seconds']} s)",
                flush=True,
            )
            if "error" in row:
                print(row["error"], file=sys.stderr)
    groups = sorted({g for r in results for g in r.get("errors", {})})
    print(
        f"\n{'group (max rel err, float32, tol 1e-3)':40s} "
        + " ".join(f"{r['name']:>15s}" for r in results)
    )
    for g in groups:
        print(
            f"{g:40s} "
            + " ".join(
                f"{r['errors'][g]:15.1e}" if "errors" in r else f"{'-':>15s}" for r in results
            )
        )
    ok = all(r.get("passed") is r["must_pass"] for r in results)
    with open(args.out, "w") as fh:
        json.dump(
            {"interpreter_shim_files": changed, "rows": results, "as_expected": ok}, fh, indent=1
        )
    print("\nall rows as expected" if ok else "\nSOME ROWS NOT AS EXPECTED")
    return 0 if ok else 1


def op32_rows(args, env: dict, repo: str, changed: list[str]) -> int:
    """The op-level float32 rows in one child per seed; prints and saves their errors."""
    rows = []
    for seed in args.seeds:
        t0 = time.time()
        cmd = [sys.executable, "-c", OP32_CHILD, args.dots, str(seed), str(args.T), *args.op32]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=repo)
        got = [json.loads(x[7:]) for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if not got:
            print(proc.stderr.strip()[-600:], file=sys.stderr)
        for r in got:
            r["seconds_for_seed"] = round(time.time() - t0, 1)
            rows.append(r)
            e = r.get("errors", {})
            print(
                f"{args.dots:10s} s{seed} {r['path']:14s} "
                + " ".join(f"{k}={v:.2e}" for k, v in e.items()),
                flush=True,
            )
    with open(args.out, "w") as fh:
        json.dump(
            {"interpreter_shim_files": changed, "dots": args.dots, "op32": rows}, fh, indent=1
        )
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
