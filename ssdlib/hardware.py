"""What this machine's CPU computes natively, and the dtype the smoke profile's ``auto`` becomes.

bf16 is fast on a CPU only where it has a bf16 dot product: AVX512-BF16 or AMX on x86, BF16 on
aarch64. Elsewhere (an AVX2-only x86 such as the AMD EPYC some of our boxes are) every bf16
matmul is converted to float32 and back around the kernel: measured on such a box, a 1024^3
matmul ran at 0.5 GFLOP/s in bf16 against 25.6 in float32, and vLLM-CPU generated 4.7x more tokens
per second in float32 (``bench/cpu_dtype.py``). vLLM's ``dtype: auto`` picks the checkpoint's bf16
on every x86 CPU regardless, so ``auto`` is resolved here for CPU engines and CPU training.
"""

from __future__ import annotations

import functools
import platform


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has a bf16 dot product (x86: AVX512-BF16 or AMX-BF16; aarch64: BF16)."""
    flags = _cpu_flags()
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "bf16" in flags
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def _cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (x86 ``flags``, aarch64 ``Features``); torch's
    own probe where /proc is absent."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() in ("flags", "features"):
                    return set(value.split())
    except OSError:
        pass
    import torch

    return {"avx512_bf16"} if torch.cpu._is_avx512_bf16_supported() else set()


def cpu_compute_dtype(requested: str) -> str:
    """The dtype a CPU engine runs ``requested`` in: ``auto`` becomes ``float32`` on a CPU
    without a bf16 dot product and stays ``auto`` (the checkpoint's dtype) elsewhere; an explicit
    dtype is kept."""
    if requested == "auto" and not cpu_has_native_bf16():
        return "float32"
    return requested
