"""``heap_allocator`` (CPU training): large blocks are reused from the heap instead of being
faulted in afresh on every allocation, and glibc's behaviour comes back on exit."""

from __future__ import annotations

import platform
import resource

import pytest
import torch

from ssdlib.train.allocator import heap_allocator

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the settings are glibc's (elsewhere heap_allocator is a no-op, tested below)",
)

MIB = 1 << 20


def faults(block: int, rounds: int) -> list[int]:
    """Minor page faults of each allocate-touch-free round of one ``block``-byte tensor."""
    out = []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty(block, dtype=torch.uint8).fill_(1)
        out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return out


def test_large_blocks_are_reused_inside_and_mapped_afresh_after(monkeypatch):
    monkeypatch.delenv("SSD_MALLOC", raising=False)
    page = resource.getpagesize()
    # 64 MiB is above glibc's largest mmap threshold (32 MiB): by default every round maps a
    # fresh block and faults in every page
    assert min(faults(64 * MIB, 3)) > 0.5 * 64 * MIB / page
    with heap_allocator() as applied:
        assert applied
        inside = faults(64 * MIB, 8)
    # the heap settles within a few rounds (growth, alignment), then the block is reused as is
    assert sum(inside[-3:]) < 0.05 * 64 * MIB / page, inside
    # restored: a block larger than anything the heap holds is mapped afresh every time again
    assert min(faults(512 * MIB, 2)) > 0.5 * 512 * MIB / page


def test_switched_off_by_env_or_argument(monkeypatch):
    monkeypatch.setenv("SSD_MALLOC", "default")
    with heap_allocator() as applied:
        assert not applied
    monkeypatch.delenv("SSD_MALLOC")
    with heap_allocator(enabled=False) as applied:
        assert not applied
