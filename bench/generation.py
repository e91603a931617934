"""Generation overhead: raw vLLM ``LLM.generate`` vs ssdlib's ``generate_samples``, one engine.

Both paths run the same prompts (the synthetic generator's problems rendered with the profile's
chat template, as token ids) with the same sampling parameters on ONE vLLM engine, built once
before any timing (engine start is excluded). Measurements alternate order (raw, ssdlib,
ssdlib, raw, raw, ssdlib, ...) and the median of the repetitions is reported.

    (a) raw:    LLM.generate(TokensPrompt list, SamplingParams(n, temperature, ...)), nothing written
    (b) ssdlib: generate_samples(...) end to end: render + tokenize, context check, plan against the
                store, every request submitted to the engine step loop, each finished request
                appended to the JSONL store (fsync), then the samples read back. Each repetition
                writes a fresh store, so all samples are generated every time.

Throughput is generated tokens / wall second (sampling at T=1 gives slightly different lengths
per repetition, so tokens/s, not seconds, is compared). ratio = raw tok/s / ssdlib tok/s
(1.00 = no overhead; target <= 1.05).

Run under the shared vLLM lock:  flock /tmp/ssd-vllm.lock .venv/bin/python bench/generation.py
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument(
        "--profile", default="smoke", help="model and backend settings from params/<profile>"
    )
    args = ap.parse_args()
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # keep the table readable

    import pandas as pd
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    import ssdlib.generation.run as gen_run
    from ssdlib.config import DecodeCfg, load_params
    from ssdlib.data.synthetic import generate_problems
    from ssdlib.generation.backends import VLLMBackend
    from ssdlib.models import resolve_model

    p = load_params("03_baselines", args.profile)
    model_path = resolve_model(p.model.id)
    problems = generate_problems(args.prompts, seed=0)
    decode = DecodeCfg(
        temperature=args.temperature, top_p=1.0, top_k=0, max_tokens=args.max_tokens, n=args.n
    )

    t0 = time.monotonic()
    backend = VLLMBackend(model_path, p.model, p.backend, seed=p.seed)
    start_s = time.monotonic() - t0
    tok = backend.llm.get_tokenizer()
    rendered = gen_run.render_prompts(problems, tok, p.prompt, p.model.thinking)
    prompts = [TokensPrompt(prompt_token_ids=ids) for ids in rendered["prompt_token_ids"]]
    raw_params = SamplingParams(
        n=decode.n,
        temperature=decode.temperature,
        top_p=decode.top_p,
        top_k=-1,
        min_p=decode.min_p,
        presence_penalty=decode.presence_penalty,
        max_tokens=decode.max_tokens,
    )

    class Shared:
        """The already-started engine handed to generate_samples; closing it is left to us."""

        def __init__(self, inner):
            self.inner = inner

        def __enter__(self):
            return self.inner

        def __exit__(self, *exc):
            return False

    gen_run.make_backend = lambda *a, **k: Shared(backend)
    # Time spent inside the backend's engine loop during the ssdlib path (the rest of its wall
    # time is fixed per call: tokenizer load, rendering, store reads/writes, collecting).
    loop_s = []
    inner_run = backend.run

    def timed_run(requests, on_finished):
        t = time.monotonic()
        inner_run(requests, on_finished)
        loop_s.append(time.monotonic() - t)

    backend.run = timed_run

    def raw() -> tuple[float, int]:
        t = time.monotonic()
        outs = backend.llm.generate(prompts, raw_params, use_tqdm=False)
        dt = time.monotonic() - t
        assert len(outs) == len(prompts) and all(len(o.outputs) == decode.n for o in outs)
        return dt, sum(len(c.token_ids) for o in outs for c in o.outputs)

    def ssdlib(root: str) -> tuple[float, int]:
        t = time.monotonic()
        df = gen_run.generate_samples(
            problems,
            {"bench": decode},
            model_path=model_path,
            model_id=p.model.id,
            model=p.model,
            backend=p.backend,
            prompt=p.prompt,
            store_root=root,
            seed=p.seed,
        )
        dt = time.monotonic() - t
        assert len(df) == len(prompts) * decode.n
        return dt, int(df["n_tokens"].sum())

    # Warm-up (untimed): the first steps of a fresh engine allocate and are slower.
    backend.llm.generate(prompts[:4], SamplingParams(n=1, max_tokens=8), use_tqdm=False)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            order = ("raw", "ssdlib") if rep % 2 == 0 else ("ssdlib", "raw")
            for method in order:
                load = os.getloadavg()[0]
                dt, ntok = raw() if method == "raw" else ssdlib(os.path.join(tmp, f"rep{rep}"))
                loop = loop_s[-1] if method == "ssdlib" else float("nan")
                rows.append(
                    {
                        "rep": rep,
                        "method": method,
                        "seconds": dt,
                        "tokens": ntok,
                        "tok_s": ntok / dt,
                        "load": load,
                        "loop_s": loop,
                    }
                )
                extra = (
                    f"  engine loop {loop:5.2f} s, outside it {dt - loop:4.2f} s"
                    if method == "ssdlib"
                    else ""
                )
                print(
                    f"rep {rep} {method:>6}: {dt:6.2f} s  {ntok:5d} tokens  {ntok / dt:7.1f} tok/s  "
                    f"(loadavg {load:.2f}){extra}",
                    flush=True,
                )
    backend.close()

    df = pd.DataFrame(rows)
    med = df.groupby("method").agg(
        seconds=("seconds", "median"),
        tokens=("tokens", "median"),
        tok_s=("tok_s", "median"),
        tok_s_min=("tok_s", "min"),
        tok_s_max=("tok_s", "max"),
    )
    ratio = med.loc["raw", "tok_s"] / med.loc["ssdlib", "tok_s"]
    per_rep = (
        df.pivot(index="rep", columns="method", values="tok_s").eval("raw / ssdlib")
    ).tolist()
    print()
    print(
        f"model {p.model.id} ({model_path}); backend {p.backend.name} device {p.backend.device} "
        f"enforce_eager={p.backend.enforce_eager} gpu_memory_utilization={p.backend.gpu_memory_utilization}"
    )
    print(
        f"{args.prompts} prompts x n={decode.n}, max_tokens={decode.max_tokens}, temperature={decode.temperature}, "
        f"top_p=1, top_k off; {len(prompts)} prompts of {min(map(len, rendered.prompt_token_ids))}-"
        f"{max(map(len, rendered.prompt_token_ids))} tokens; engine start {start_s:.1f} s (excluded); "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    print()
    print(
        f"| method | median wall s ({args.reps} reps) | median tokens | median tok/s | min-max tok/s |"
    )
    print("|---|---:|---:|---:|---:|")
    names = {
        "raw": "(a) raw vLLM `LLM.generate` (token ids)",
        "ssdlib": "(b) ssdlib `generate_samples` + store",
    }
    for m in ("raw", "ssdlib"):
        r = med.loc[m]
        print(
            f"| {names[m]} | {r.seconds:.2f} | {r.tokens:.0f} | {r.tok_s:.1f} | {r.tok_s_min:.1f}-{r.tok_s_max:.1f} |"
        )
    print()
    print(
        f"ratio raw / ssdlib tok/s (median): {ratio:.3f}  (target <= 1.05); per repetition: "
        + ", ".join(f"{x:.3f}" for x in per_rep)
    )
    ss = df[df.method == "ssdlib"]
    outside = (ss.seconds - ss.loop_s).median()
    print(
        f"ssdlib fixed cost outside the engine loop (median): {outside:.2f} s per call "
        f"= {outside / ss.seconds.median():.1%} of its wall time; "
        f"engine-loop-only ratio raw / ssdlib tok/s: "
        f"{med.loc['raw', 'tok_s'] / (ss.tokens / ss.loop_s).median():.3f}"
    )


if __name__ == "__main__":
    main()
