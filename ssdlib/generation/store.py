"""The crash-safe generations store: one JSON line per sample, appended as samples finish.

Layout: ``<root>/<model_slug>/<config_id>[@<shard>].jsonl``. Every line is one complete sample
record keyed by (prompt_id, sample_idx, config_id, model_id). Writes are line-buffered and
fsync'd per flush, so a SIGKILL loses at most the samples in flight: the only possible damage is
a torn last line, which :meth:`GenerationStore.open` truncates away before appending again and
the reader ignores. Duplicate keys (never written by us, but possible if a user concatenates
files) are dropped on read, keeping the first record.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ssdlib.schema import SAMPLE_KEY


def slug(text: str) -> str:
    """Filesystem-safe name for a model id or path ("Qwen/Qwen3.5-4B" -> "Qwen__Qwen3.5-4B")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "__", text).strip("_") or "model"


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


def _read_lines(path: Path) -> Iterable[dict]:
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # torn tail of a killed run: never trusted
            try:
                yield json.loads(raw)
            except json.JSONDecodeError:
                continue


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

    # -- reading -------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """This config's file plus any data-parallel shard files."""
        if not self.dir.exists():
            return []
        main = self.dir / f"{self.config_id}.jsonl"
        shards = sorted(self.dir.glob(f"{self.config_id}@*.jsonl"))
        return ([main] if main.exists() else []) + shards

    def records(self) -> list[dict]:
        seen: set[tuple] = set()
        out = []
        for path in self.files():
            for rec in _read_lines(path):
                key = tuple(rec.get(k) for k in SAMPLE_KEY)
                if key in seen:
                    continue
                seen.add(key)
                out.append(rec)
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
            out.setdefault(rec["prompt_id"], {})[int(rec["sample_idx"])] = rec.get("prompt_hash", "")
        return out

    # -- writing -------------------------------------------------------------------------

    def open(self) -> "GenerationStore":
        self.dir.mkdir(parents=True, exist_ok=True)
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

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()


def read_all(root: str | Path, model_id: str | None = None) -> pd.DataFrame:
    """Every sample under ``root`` (optionally one model's), deduplicated by key."""
    root = Path(root)
    dirs = [root / slug(model_id)] if model_id else [d for d in root.glob("*") if d.is_dir()]
    frames = []
    for d in dirs:
        for path in sorted(d.glob("*.jsonl")):
            recs = list(_read_lines(path))
            if recs:
                frames.append(pd.DataFrame.from_records(recs))
    if not frames:
        return pd.DataFrame(columns=list(SAMPLE_KEY))
    df = pd.concat(frames, ignore_index=True)
    return df.drop_duplicates(subset=list(SAMPLE_KEY), keep="first").reset_index(drop=True)
