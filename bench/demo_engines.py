"""Evaluating several fine-tunes of one model: a fresh vLLM engine per model vs one reused engine.

06_eval on the smoke profile evaluates the base model, each SSD checkpoint and the control's
checkpoints (six engine starts before #16). This bench runs the same small workload on
``--models`` models of one architecture (the base plus nudged copies of its weights, written as a
trainer writes checkpoints) in one process, two ways, timed side by side:

    (a) fresh:  ``SSD_REUSE_ENGINE=0``: each model gets its own engine (start, generate, shut down)
    (b) reused: one engine from ``ssdlib.generation.engine_pool``; each further model's weights
                are swapped in place (``reload_weights`` + prefix-cache reset + reseed)

Both go through ``make_backend`` (what ``generate_samples`` uses), with the profile's engine
settings; each model generates ``--prompts`` x ``--n`` samples of ``--max-tokens`` at T 0.7.
Arms alternate order over ``--reps`` repetitions (fresh first in the first repetition, so a
warm file cache never favours (b)); the table reports each repetition and the median ratio.

Run under the shared vLLM lock:  flock /tmp/ssd-vllm.lock .venv/bin/python bench/demo_engines.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path


def make_checkpoints(base: Path, root: Path, k: int) -> list[Path]:
    """``k`` copies of the base with weights nudged (different models, same architecture)."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from ssdlib.generation.engine_pool import SIGNATURE_FILES

    weights = load_file(str(base / "model.safetensors"))
    out = []
    for i in range(k):
        d = root / f"checkpoint-{i + 1}"
        d.mkdir(parents=True)
        for name in SIGNATURE_FILES:
            if (base / name).is_file():
                shutil.copy(base / name, d / name)
        g = torch.Generator().manual_seed(i)
        nudged = {
            n: w + 0.02 * w.std() * torch.randn(w.shape, generator=g, dtype=w.dtype)
            for n, w in weights.items()
        }
        save_file(nudged, str(d / "model.safetensors"), metadata={"format": "pt"})
        out.append(d)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--models", type=int, default=5, help="models evaluated (base + models-1 fine-tunes)"
    )
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--profile", default="smoke")
    args = ap.parse_args()
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")

    from transformers import AutoTokenizer

    from ssdlib.config import DecodeCfg, load_params
    from ssdlib.data.synthetic import generate_problems
    from ssdlib.generation import engine_pool
    from ssdlib.generation.backends import Request
    from ssdlib.generation.engine_pool import make_backend
    from ssdlib.generation.run import render_prompts
    from ssdlib.models import resolve_model

    p = load_params("06_eval", args.profile)
    base = Path(resolve_model(p.model.id))
    tmp = Path(tempfile.mkdtemp(prefix="bench_engines_"))
    models = [base, *make_checkpoints(base, tmp, args.models - 1)]
    tok = AutoTokenizer.from_pretrained(str(base))
    rendered = render_prompts(
        generate_problems(args.prompts, seed=0), tok, p.prompt, p.model.thinking
    )
    decode = DecodeCfg(temperature=0.7, top_p=0.95, top_k=20, max_tokens=args.max_tokens, n=args.n)
    reqs = [
        Request(r.prompt_id, r.prompt_token_ids, decode, list(range(args.n)), r.prompt_text)
        for r in rendered.itertuples()
    ]

    def arm(reuse: bool) -> dict:
        os.environ["SSD_REUSE_ENGINE"] = "1" if reuse else "0"
        engine_pool.release()
        acquire_s, gen_s, tokens = 0.0, 0.0, 0
        t_all = time.monotonic()
        for m in models:
            t = time.monotonic()
            with make_backend(str(m), p.model, p.backend, p.seed) as engine:
                acquire_s += time.monotonic() - t
                t = time.monotonic()
                got = []
                engine.run(reqs, lambda req, outs, got=got: got.extend(outs))
                gen_s += time.monotonic() - t
                tokens += sum(o.n_tokens for o in got)
                assert len(got) == len(reqs) * args.n
        engine_pool.release()
        close_s = time.monotonic() - t_all - acquire_s - gen_s
        return {
            "total_s": time.monotonic() - t_all,
            "engine_s": acquire_s + close_s,
            "gen_s": gen_s,
            "tokens": tokens,
        }

    print(
        f"# {platform.node()} {os.cpu_count()} CPUs; profile {args.profile}; {len(models)} models x "
        f"{args.prompts} prompts x n={args.n}, max_tokens {args.max_tokens}, T 0.7"
    )
    print("| rep | arm | total s | engine start/swap/stop s | generate s | gen tok/s |")
    print("|---:|:--|---:|---:|---:|---:|")
    ratios = []
    for rep in range(args.reps):
        order = [False, True] if rep % 2 == 0 else [True, False]
        res = {reuse: arm(reuse) for reuse in order}
        for reuse in (False, True):
            r = res[reuse]
            print(
                f"| {rep} | {'reused' if reuse else 'fresh'} | {r['total_s']:.1f} | {r['engine_s']:.1f} | "
                f"{r['gen_s']:.1f} | {r['tokens'] / r['gen_s']:.0f} |"
            )
        ratios.append(res[False]["total_s"] / res[True]["total_s"])
        print(
            f"| {rep} | **fresh / reused** | **{ratios[-1]:.2f}x** | "
            f"{res[False]['engine_s'] / res[True]['engine_s']:.2f}x | | |"
        )
    print(
        f"\nmedian total-time ratio fresh/reused over {args.reps} rep(s): {statistics.median(ratios):.2f}x"
    )


if __name__ == "__main__":
    main()
