"""glibc's malloc during CPU training: keep large blocks in the heap instead of fresh mmaps.

glibc serves every block above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and
unmaps it on free. A CPU training step allocates and frees the same large tensors every step
(the logits of a batch, the embedding's gradient, AdamW's temporaries), so it faults the same
memory in again page by page: during 05's training on the smoke profile the kernel spent ~30% of
its CPU time in the kernel (``top``'s ``sy``), at ~125k page faults per second. Serving large
blocks from the heap and keeping freed memory for reuse removes those faults: ``train_sft`` ran
1.17x faster on 2 cores (``bench/cpu_malloc.py --workload train``). The peak memory is the same,
but it stays with the process until it exits or the settings are restored.

Applied around CPU training only: the same settings for the whole process made vLLM-CPU
generation slightly slower (0.96x, same bench, ``--workload generate``), and on GPU hosts the
large host blocks (e.g. a gathered full state dict) should go back to the OS.
``SSD_MALLOC=default`` leaves glibc as it is.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
from collections.abc import Iterator

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
# glibc's documented defaults, restored on exit (dynamic mmap-threshold adjustment stays off
# once any of these is set; the threshold keeps the value it had reached)
DEFAULTS = {M_TRIM_THRESHOLD: 128 * 1024, M_TOP_PAD: 128 * 1024, M_MMAP_MAX: 65536}
# No fresh mmaps for large blocks; never hand the heap's top back (~2 GiB, the int limit);
# grow the heap 64 MiB at a time.
HEAP = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: 2**31 - 1, M_TOP_PAD: 64 << 20}


def _libc():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _set(libc, settings: dict[int, int]) -> bool:
    return all(libc.mallopt(ctypes.c_int(k), ctypes.c_int(v)) == 1 for k, v in settings.items())


@contextlib.contextmanager
def heap_allocator(enabled: bool = True) -> Iterator[bool]:
    """Within the block, glibc keeps large blocks in the heap (see the module doc); yields whether
    the settings were applied (False off glibc, when ``enabled`` is False, or with
    ``SSD_MALLOC=default``). Restores glibc's defaults on exit."""
    libc = _libc() if enabled and os.environ.get("SSD_MALLOC", "").lower() != "default" else None
    applied = libc is not None and _set(libc, HEAP)
    try:
        yield applied
    finally:
        if applied:
            _set(libc, DEFAULTS)
