"""``heap_allocator`` (CPU training): large blocks are reused from the heap instead of being
faulted in afresh on every allocation, and glibc's behaviour comes back on exit."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from ssdlib.train.allocator import heap_allocator

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the settings are glibc's (elsewhere heap_allocator is a no-op, tested below)",
)

MIB = 1 << 20

# Run in a fresh interpreter: glibc's state depends on the process's history (after any training
# in the same test session the heap may already hold free 64 MiB chunks, and then even "default"
# glibc reuses them).
CHILD = """
import json, resource, torch
from ssdlib.train.allocator import heap_allocator
MIB = 1 << 20


def faults(block, rounds):
    out = []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty(block, dtype=torch.uint8).fill_(1)
        out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return out


default = faults(64 * MIB, 3)
with heap_allocator() as applied:
    inside = faults(64 * MIB, 8)
after = faults(512 * MIB, 2)
print(json.dumps(dict(default=default, applied=applied, inside=inside, after=after,
                      page=resource.getpagesize())))
"""


def test_large_blocks_are_reused_inside_and_mapped_afresh_after():
    env = {k: v for k, v in os.environ.items() if k != "SSD_MALLOC" and not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    pages = 64 * MIB / r["page"]
    # 64 MiB is above glibc's largest mmap threshold (32 MiB): by default every round maps a
    # fresh block and faults in every page
    assert min(r["default"]) > 0.5 * pages, r
    assert r["applied"]
    # the heap settles within a few rounds (growth, alignment), then the block is reused as is
    assert sum(r["inside"][-3:]) < 0.05 * pages, r
    # restored: a block larger than anything the heap holds is mapped afresh every time again
    assert min(r["after"]) > 0.5 * 8 * pages, r


def test_switched_off_by_env_or_argument(monkeypatch):
    monkeypatch.setenv("SSD_MALLOC", "default")
    with heap_allocator() as applied:
        assert not applied
    monkeypatch.delenv("SSD_MALLOC")
    with heap_allocator(enabled=False) as applied:
        assert not applied
