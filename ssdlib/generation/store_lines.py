"""Reading store files line by line: what is a valid sample, and a report of every line that is not.

A store file is written only by :class:`ssdlib.generation.store.GenerationStore`, but people
concatenate, copy and edit files. Any complete line that is not a valid sample of this file
(not UTF-8, not JSON, not an object, a key field missing or of the wrong type, a sample of
another config or model, a second copy of a key already read) is skipped, counted and reported
with its file and line number; it never stops a resume. Nothing is removed from disk here:
``ssd store compact`` does that on request (:mod:`ssdlib.generation.store_compact`).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# field -> accepted types (bool is excluded from int below: True is not a sample index)
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "prompt_id": str,
    "sample_idx": int,
    "config_id": str,
    "model_id": str,
    "prompt_hash": str,
    "response": str,
    "n_tokens": int,
    "finish_reason": str,
}


class StoreWarning(UserWarning):
    """Lines of a store file were skipped (the message names file, lines and reasons)."""


@dataclass(frozen=True)
class LineIssue:
    path: Path
    line: int  # 1-based
    reason: str
    raw: bytes = field(repr=False, default=b"")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class StoreReport:
    """What a read found: valid samples per file, skipped lines, torn tails (bytes)."""

    valid: dict[Path, int] = field(default_factory=dict)
    issues: list[LineIssue] = field(default_factory=list)
    torn: dict[Path, int] = field(default_factory=dict)

    @property
    def n_valid(self) -> int:
        return sum(self.valid.values())

    @property
    def n_skipped(self) -> int:
        return len(self.issues)

    def by_file(self) -> dict[Path, list[LineIssue]]:
        out: dict[Path, list[LineIssue]] = {}
        for i in self.issues:
            out.setdefault(i.path, []).append(i)
        return out

    def summary(self, max_lines: int = 5) -> str:
        """One line per file with skipped lines: count, first few line numbers with reasons."""
        parts = []
        for path, issues in self.by_file().items():
            shown = "; ".join(f"line {i.line}: {i.reason}" for i in issues[:max_lines])
            more = f"; ... {len(issues) - max_lines} more" if len(issues) > max_lines else ""
            parts.append(
                f"{path}: skipped {len(issues)} line(s) that are not new valid samples "
                f"({shown}{more})"
            )
        return "\n".join(parts)

    def warn(self) -> None:
        """A StoreWarning per file with skipped lines (torn tails are normal after a kill: silent)."""
        for line in self.summary().splitlines():
            warnings.warn(
                f"{line}; `ssd store compact <file>` rewrites the file without them",
                StoreWarning,
                stacklevel=3,
            )


def config_of(path: Path) -> str:
    """The config id a store file holds: ``t1-...-mt64@dp0.jsonl`` -> ``t1-...-mt64``."""
    return path.name[: -len(".jsonl")].split("@", 1)[0]


def slug(text: str) -> str:
    """Filesystem-safe name for a model id or path ("Qwen/Qwen3.5-4B" -> "Qwen__Qwen3.5-4B")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "__", text).strip("_") or "model"


def _type_name(v) -> str:
    return "null" if v is None else type(v).__name__


def problem(rec, *, config_id: str | None, model_dir: str | None) -> str | None:
    """Why ``rec`` (a parsed JSON line) is not a valid sample of this file, or None if it is."""
    if not isinstance(rec, dict):
        return f"a JSON {_type_name(rec)}, not an object"
    for key, kind in REQUIRED.items():
        if key not in rec:
            return f"missing key {key!r}"
        v = rec[key]
        if isinstance(v, bool) or not isinstance(v, kind):
            return f"{key} is {_type_name(v)} {v!r:.40}, not {kind.__name__}"
    if rec["sample_idx"] < 0 or rec["n_tokens"] < 0:
        return "negative sample_idx or n_tokens"
    if config_id is not None and rec["config_id"] != config_id:
        return f"a sample of config {rec['config_id']!r}, not of this file's {config_id!r}"
    if model_dir is not None and slug(rec["model_id"]) != model_dir:
        return f"a sample of model {rec['model_id']!r}, not of this folder's {model_dir!r}"
    return None


def parse(
    raw: bytes, *, config_id: str | None, model_dir: str | None
) -> tuple[dict | None, str | None]:
    """One complete line (with its newline) -> (record, None) or (None, reason)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})"
    if not text.strip():
        return None, "empty line"
    try:
        rec = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and a few ValueErrors of odd numbers
        return None, f"not JSON ({exc})"
    except RecursionError:  # [[[[...]]]] nested deeper than the parser's stack
        return None, "not JSON (nested too deeply)"
    why = problem(rec, config_id=config_id, model_dir=model_dir)
    return (None, why) if why else (rec, None)


def scan(
    path: Path, report: StoreReport, check_owner: bool = True
) -> Iterator[tuple[int, bytes, dict]]:
    """Yield (line number, raw bytes, record) of the valid lines of one file; record every other
    complete line in ``report``. A last line without a newline is a torn write: counted, skipped."""
    cfg = config_of(path) if check_owner else None
    model_dir = path.parent.name if check_owner else None
    report.valid.setdefault(path, 0)
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                report.torn[path] = len(raw)  # torn tail of a killed run: never trusted
                break
            rec, why = parse(raw, config_id=cfg, model_dir=model_dir)
            if why is not None:
                report.issues.append(LineIssue(path, n, why, raw))
                continue
            yield n, raw, rec


def read_files(
    paths: Iterable[Path], report: StoreReport, key_fields: tuple[str, ...]
) -> Iterator[tuple[Path, int, bytes, dict]]:
    """Valid, first-seen samples of ``paths`` in order; later copies of a key are reported."""
    seen: dict[tuple, tuple[Path, int]] = {}
    for path in paths:
        for n, raw, rec in scan(path, report):
            key = tuple(rec[k] for k in key_fields)
            if key in seen:
                first_path, first_line = seen[key]
                where = (
                    f"line {first_line}"
                    if first_path == path
                    else f"{first_path.name}:{first_line}"
                )
                report.issues.append(LineIssue(path, n, f"duplicate of {where} (same key)", raw))
                continue
            seen[key] = (path, n)
            report.valid[path] += 1
            yield path, n, raw, rec
