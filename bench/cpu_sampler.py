"""Top-k + top-p sampling on vLLM-CPU: vLLM's full-vocabulary sort vs the sliced plugin.

``ssdlib.generation.cpu_sampler`` (a vLLM general plugin) computes the top-k + top-p mask on each
row's top-k slice instead of sorting the whole vocabulary. This bench runs the same generations
with the plugin off (``SSD_FAST_CPU_SAMPLER=0``: vLLM's own function) and on, one child process
each (the plugin is installed when the engine starts), alternating which goes first over the
rounds. Every call generates ``--prompts`` x ``--n`` x ``--max-tokens`` tokens (``ignore_eos``),
on one engine computing on every core (``backend.cpu_threads: all``).

    flock /tmp/ssd-vllm.lock .venv/bin/python bench/cpu_sampler.py

``--old-rev REV`` adds a third child: the plugin as it was at git revision REV (``ssdlib`` of that
revision first on PYTHONPATH), so a change to the plugin is measured side by side with its
predecessor; ``--sampling`` picks which sampling settings each child runs (default: all).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ARMS = {
    "top_k=20": dict(temperature=1.0, top_k=20),
    "top_k=20 top_p=0.95": dict(temperature=1.0, top_k=20, top_p=0.95),
    "top_k=20 top_p=0.95 pp=1.5": dict(temperature=1.0, top_k=20, top_p=0.95, presence_penalty=1.5),
    "top_p=0.95 (no top_k: vLLM's path)": dict(temperature=1.0, top_p=0.95),
}


def child(args) -> None:
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    from _arms import smoke_llm
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    import ssdlib.generation.run as gen_run
    from ssdlib.config import load_params
    from ssdlib.data.synthetic import generate_problems
    from ssdlib.generation.backends import cpu_thread_env

    os.environ.update(cpu_thread_env(load_params("03_baselines", args.profile).backend))
    llm, p = smoke_llm(args.profile)
    tok = llm.get_tokenizer()
    rendered = gen_run.render_prompts(
        generate_problems(args.prompts, seed=0), tok, p.prompt, p.model.thinking
    )
    prompts = [TokensPrompt(prompt_token_ids=ids) for ids in rendered["prompt_token_ids"]]
    llm.generate(prompts[:2], SamplingParams(max_tokens=8, top_k=20, top_p=0.9), use_tqdm=False)
    res = {}
    for name, kw in ARMS.items():
        if args.sampling and name not in args.sampling:
            continue
        sp = SamplingParams(n=args.n, max_tokens=args.max_tokens, ignore_eos=True, **kw)
        rates = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            outs = llm.generate(prompts, sp, use_tqdm=False)
            dt = time.perf_counter() - t0
            rates.append(sum(len(c.token_ids) for o in outs for c in o.outputs) / dt)
        res[name] = rates
    print("RESULT " + json.dumps(res), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--prompts", type=int, default=40)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--old-rev", help="also run the plugin as of this git revision")
    ap.add_argument("--sampling", nargs="+", choices=list(ARMS), help="sampling rows to run")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    arms = ["0", "1"]
    old_root = None
    if args.old_rev:
        old_root = tempfile.mkdtemp(prefix="ssd-old-plugin-")
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        tar = subprocess.run(
            ["git", "-C", repo, "archive", args.old_rev, "ssdlib", "params"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", old_root], input=tar, check=True)
        arms.append(f"@{args.old_rev}")
    rates: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for plugin in arms if r % 2 == 0 else list(reversed(arms)):
            env = dict(os.environ, SSD_FAST_CPU_SAMPLER="0" if plugin == "0" else "1")
            if plugin.startswith("@"):
                env["PYTHONPATH"] = os.pathsep.join([old_root, env.get("PYTHONPATH", "")])
            cmd = [sys.executable, __file__, "--child", *sys.argv[1:]]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if out.returncode or not line:
                print(out.stderr[-8000:], file=sys.stderr)
                raise SystemExit(f"child with SSD_FAST_CPU_SAMPLER={plugin} failed")
            for name, v in json.loads(line[-1][7:]).items():
                rates.setdefault((name, plugin), []).extend(v)
                print(f"round {r} plugin={plugin} {name:36s} {statistics.median(v):7.1f} tok/s")
    shape = f"{args.prompts} prompts x n={args.n} x {args.max_tokens} tokens per call"
    print(f"\nload avg {os.getloadavg()[0]:.1f}; {shape}; median over {args.rounds} rounds")
    old = f" plugin {arms[2]} tok/s | x |" if len(arms) > 2 else ""
    print(f"| sampling | vLLM's sort tok/s | sliced plugin tok/s | x |{old}")
    print("|:--|--:|--:|--:|" + ("--:|--:|" if old else ""))
    for name in ARMS:
        if (name, "0") not in rates:
            continue
        off = statistics.median(rates[(name, "0")])
        on = statistics.median(rates[(name, "1")])
        row = f"| {name} | {off:.1f} | {on:.1f} | {on / off:.2f} |"
        if old:
            then = statistics.median(rates[(name, arms[2])])
            row += f" {then:.1f} | {then / off:.2f} |"
        print(row)


if __name__ == "__main__":
    main()
