"""``ssd store compact``: rewrite store files without the lines the reader skips.

Only on request: a normal read never changes a file. Compaction works per config (the main
file and its ``@shard`` files together, in reader order, so a key duplicated across shards
keeps the copy the reader uses), takes every file's writer lock (a running generation makes it
fail with the holder's name), keeps valid lines byte for byte, and moves every dropped line
(and a torn tail) into ``<file>.rejected-<UTC stamp>`` so nothing is lost. ``dry_run`` only lists.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ssdlib.generation.lock import writer_lock
from ssdlib.generation.store_lines import StoreReport, config_of, read_files
from ssdlib.schema import SAMPLE_KEY


@dataclass
class Compacted:
    """One file's outcome: lines kept, lines dropped (with reasons), where the dropped went."""

    path: Path
    kept: int
    dropped: list  # LineIssue
    torn_bytes: int
    rejected_file: Path | None

    def line(self) -> str:
        if not self.dropped and not self.torn_bytes:
            return f"{self.path}: {self.kept} samples, nothing to drop"
        reasons = "; ".join(f"line {i.line}: {i.reason}" for i in self.dropped[:5])
        more = f"; ... {len(self.dropped) - 5} more" if len(self.dropped) > 5 else ""
        torn = f", torn tail of {self.torn_bytes} bytes" if self.torn_bytes else ""
        where = (
            f" -> {self.rejected_file.name}" if self.rejected_file else " (dry run: file unchanged)"
        )
        return (
            f"{self.path}: {self.kept} samples kept, {len(self.dropped)} line(s) dropped{torn}"
            f"{where}" + (f" ({reasons}{more})" if reasons else "")
        )


def config_groups(target: Path) -> list[list[Path]]:
    """Store files under ``target`` grouped per (model folder, config), each group in reader order
    (main file, then shards sorted). ``target`` may be a file, a model folder or a generations root."""
    target = Path(target)
    if target.is_file():
        siblings = sorted(target.parent.glob("*.jsonl"))
        files = [p for p in siblings if config_of(p) == config_of(target)]
    elif target.is_dir():
        files = sorted(target.glob("*.jsonl")) + sorted(target.glob("*/*.jsonl"))
    else:
        raise FileNotFoundError(f"{target}: no such store file or folder")
    groups: dict[tuple[Path, str], list[Path]] = {}
    for p in files:
        groups.setdefault((p.parent, config_of(p)), []).append(p)
    # main file (no "@") first, then shards by name: the order GenerationStore.files() reads
    return [sorted(g, key=lambda p: ("@" in p.name, p.name)) for g in groups.values()]


def compact_group(files: list[Path], dry_run: bool = False) -> list[Compacted]:
    """Compact one config's files (see module doc); returns one :class:`Compacted` per file."""
    with ExitStack() as stack:
        if not dry_run:
            for p in files:
                stack.enter_context(writer_lock(p))
        report = StoreReport()
        kept: dict[Path, list[bytes]] = {p: [] for p in files}
        for path, _, raw, _ in read_files(files, report, SAMPLE_KEY):
            kept[path].append(raw)
        by_file = report.by_file()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        out = []
        for p in files:
            dropped = by_file.get(p, [])
            torn = report.torn.get(p, 0)
            rejected = None
            if (dropped or torn) and not dry_run:
                rejected = p.with_name(f"{p.name}.rejected-{stamp}")
                with open(rejected, "ab") as fh:
                    fh.writelines(issue.raw for issue in dropped)
                    if torn:
                        fh.write(p.read_bytes()[-torn:])
                    fh.flush()
                    os.fsync(fh.fileno())
                _rewrite(p, kept[p])
            out.append(Compacted(p, len(kept[p]), dropped, torn, rejected))
        return out


def _rewrite(path: Path, lines: list[bytes]) -> None:
    """Replace ``path`` atomically (write a sibling, fsync, rename) with ``lines``."""
    tmp = path.with_name(path.name + ".compact-tmp")
    with open(tmp, "wb") as fh:
        fh.writelines(lines)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def compact(target: str | Path, dry_run: bool = False) -> list[Compacted]:
    """Compact every config under ``target`` (a store file, a model folder, a generations root)."""
    return [c for group in config_groups(Path(target)) for c in compact_group(group, dry_run)]
