"""The crash-safe generations store: one JSON line per sample, appended as samples finish.

Layout: ``<root>/<model_slug>/<config_id>[@<shard>].jsonl``. Every line is one complete sample
record keyed by (prompt_id, sample_idx, config_id, model_id). Writes are line-buffered and
fsync'd per flush, so a SIGKILL loses at most the samples in flight: the only possible damage is
a torn last line, which :meth:`GenerationStore.open` truncates away before appending again and
the reader ignores. Any other line that is not a valid sample of the file (see
:mod:`ssdlib.generation.store_lines`), and any later copy of a key already read, is skipped,
counted and reported (a :class:`StoreWarning` naming file and line; ``store.report``) -- never
fatal, never silently dropped from disk: ``ssd store compact`` rewrites a file without them.
One process writes a store file at a time (:mod:`ssdlib.generation.lock`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ssdlib.generation import lock as _lock
from ssdlib.generation.store_lines import StoreReport, StoreWarning, read_files, slug
from ssdlib.schema import SAMPLE_KEY

__all__ = ["GenerationStore", "StoreReport", "StoreWarning", "read_all", "slug"]


def _repair_tail(path: Path) -> int:
    """Cut a torn final line (no trailing newline) left by a killed writer; return bytes removed."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with open(path, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return 0
        # Walk back to the previous newline; everything after it is the torn record.
        pos = size - 1
        chunk = 4096
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            buf = fh.read(pos - start)
            idx = buf.rfind(b"\n")
            if idx >= 0:
                cut = start + idx + 1
                fh.truncate(cut)
                return size - cut
            pos = start
        fh.truncate(0)
        return size


class GenerationStore:
    """Append-only sample store for one model and one decode config."""

    def __init__(self, root: str | Path, model_id: str, config_id: str, shard: str | None = None):
        self.root = Path(root)
        self.model_id = model_id
        self.config_id = config_id
        self.dir = self.root / slug(model_id)
        # "@" separates the data-parallel shard: config ids themselves contain dots.
        name = config_id if shard is None else f"{config_id}@{shard}"
        self.path = self.dir / f"{name}.jsonl"
        self._fh = None
        self._lock = None
        self.report = StoreReport()

    # -- reading -------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """This config's file plus any data-parallel shard files."""
        if not self.dir.exists():
            return []
        main = self.dir / f"{self.config_id}.jsonl"
        shards = sorted(self.dir.glob(f"{self.config_id}@*.jsonl"))
        return ([main] if main.exists() else []) + shards

    def records(self) -> list[dict]:
        """Valid samples of this config, first copy of each key; skipped lines go to
        ``self.report`` and a :class:`StoreWarning` (file, line, reason)."""
        report = StoreReport()
        out = [rec for _, _, _, rec in read_files(self.files(), report, SAMPLE_KEY)]
        self.report = report
        report.warn()
        return out

    def read(self) -> pd.DataFrame:
        """All stored samples as a DataFrame (empty frame with the key columns if none)."""
        recs = self.records()
        if not recs:
            return pd.DataFrame(columns=list(SAMPLE_KEY))
        return pd.DataFrame.from_records(recs)

    def done(self) -> dict[str, dict[int, str]]:
        """prompt_id -> {sample_idx: prompt_hash} of the finished samples."""
        out: dict[str, dict[int, str]] = {}
        for rec in self.records():
            out.setdefault(rec["prompt_id"], {})[int(rec["sample_idx"])] = rec.get(
                "prompt_hash", ""
            )
        return out

    # -- writing -------------------------------------------------------------------------

    def open(self, lock_timeout_s: float = 0.0) -> GenerationStore:
        """Open for appending: take the one-writer lock (:class:`StoreBusy` names the holder if
        another process has it), cut a torn tail, then append."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock.acquire(self.path, lock_timeout_s)
        _repair_tail(self.path)
        self._fh = open(self.path, "a", encoding="utf-8")
        return self

    def append(self, records: Iterable[dict]) -> int:
        """Write finished samples and make them durable before returning (fsync)."""
        if self._fh is None:
            self.open()
        n = 0
        for rec in records:
            self._fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return n

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()


def read_all(root: str | Path, model_id: str | None = None) -> pd.DataFrame:
    """Every valid sample under ``root`` (optionally one model's), first copy of each key;
    skipped lines are reported as in :meth:`GenerationStore.records`."""
    root = Path(root)
    dirs = [root / slug(model_id)] if model_id else sorted(d for d in root.glob("*") if d.is_dir())
    paths = [p for d in dirs for p in sorted(d.glob("*.jsonl"))]
    report = StoreReport()
    recs = [rec for _, _, _, rec in read_files(paths, report, SAMPLE_KEY)]
    report.warn()
    if not recs:
        return pd.DataFrame(columns=list(SAMPLE_KEY))
    return pd.DataFrame.from_records(recs)
