"""Scheduler-agnostic shards: ``ssd run NB --shard i/N`` generates one stable slice of a step.

A prompt belongs to shard ``sha256(prompt_id) mod N``: the partition depends on the prompt id
alone (not on row order, the other prompts or the machine), so N independent jobs -- a SLURM
array, a cloud batch queue, N shells -- agree on it without talking to each other. Each shard
writes its own store files (``<config>@s<i>of<N>[-...].jsonl``) on shared storage; every reader
(:class:`~ssdlib.generation.store.GenerationStore`) merges all files of a config, so the
follow-up run without ``--shard`` sees the union and generates only what is still missing.

A sharded notebook run is generation only: it stops (:class:`ShardDone`) right after its
first generation step, because what follows (grading, tables, SFT) needs every shard's samples
and must run once, not N times.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

SHARD_ENV = "SSD_SHARD"  # "i/N", set by `ssd run --shard` for the notebook's kernel


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self):
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= i < N and N >= 1")

    @property
    def label(self) -> str:
        """Store-file suffix of this shard's writers: ``s0of4`` (``@s0of4.jsonl``)."""
        return f"s{self.index}of{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, prompt_id: str) -> bool:
        return shard_of(prompt_id, self.count) == self.index


def shard_of(prompt_id: str, count: int) -> int:
    """Stable shard of one prompt id: the first 8 bytes of its SHA-256, modulo ``count``."""
    digest = hashlib.sha256(str(prompt_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse(text: str) -> Shard:
    """``"i/N"`` -> :class:`Shard` (0-based ``i``, as ``$SLURM_ARRAY_TASK_ID`` with
    ``--array=0-(N-1)``). Raises ``ValueError`` with the accepted form on anything else."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"--shard {text!r}: expected i/N with 0 <= i < N, e.g. 0/4")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or i >= n:
        raise ValueError(f"--shard {text!r}: expected i/N with 0 <= i < N (shards are 0-based)")
    return Shard(i, n)


def current() -> Shard | None:
    """The shard this process generates (from ``$SSD_SHARD``), or None for a whole run."""
    value = os.environ.get(SHARD_ENV, "").strip()
    return parse(value) if value else None


def writer_label(shard: Shard | None, sub: str | None) -> str | None:
    """Store-file suffix for one writer: the shard and/or the engine within the run
    (``s1of4-ray0``, ``s1of4``, ``ray0``, ``dp1``), None for the single-engine main file."""
    parts = [p for p in (shard.label if shard else None, sub) if p]
    return "-".join(parts) or None


class ShardDone(Exception):
    """A ``--shard`` run finished its part of the generation step and stops the notebook here.

    Raised on purpose (the runner reports it as success): the rest of the notebook needs all
    shards and runs in the follow-up job without ``--shard``.
    """
