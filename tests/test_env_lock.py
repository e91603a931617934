"""The pinned GPU environment: environment.yml, requirements/gpu.in and requirements/gpu-lock.txt
name the same packages at the same versions, and environment.yml uses the lock."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_REQ = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")


def _name(s: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", s).lower()


def lock_versions() -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements" / "gpu-lock.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)", line)
        if m:
            out[_name(m.group(1))] = m.group(3)
    return out


def direct_inputs() -> dict[str, str]:
    """gpu.in: name -> extras ('' if none)."""
    out = {}
    for line in (ROOT / "requirements" / "gpu.in").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            m = _REQ.match(line)
            out[_name(m.group(1))] = m.group(2) or ""
    return out


def env_pip() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pips) == 1
    return pips[0]


def test_environment_uses_the_lock():
    entries = env_pip()
    assert "-c requirements/gpu-lock.txt" in entries
    assert (ROOT / "requirements" / "gpu-lock.txt").exists()
    header = (ROOT / "requirements" / "gpu-lock.txt").read_text().splitlines()[:2]
    assert (
        "uv pip compile --python-platform x86_64-unknown-linux-gnu --python-version 3.11 "
        "requirements/gpu.in -o requirements/gpu-lock.txt" in header[1]
    )


def test_environment_and_lock_name_the_same_packages_at_the_same_versions():
    lock = lock_versions()
    direct = direct_inputs()
    pinned = {}
    for entry in env_pip():
        if entry.startswith("-"):
            continue
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)$", entry)
        assert m, f"environment.yml: {entry!r} is not pinned with =="
        pinned[_name(m.group(1))] = (m.group(2) or "", m.group(3))
    assert set(pinned) == set(direct), (
        f"environment.yml and requirements/gpu.in list different packages: only in environment.yml "
        f"{sorted(set(pinned) - set(direct))}, only in gpu.in {sorted(set(direct) - set(pinned))}. Add a new "
        "dependency to requirements/gpu.in, re-run the uv command in gpu-lock.txt, then scripts/pin_gpu_env.py"
    )
    for name, (extras, version) in pinned.items():
        assert name in lock, f"{name} is not in gpu-lock.txt"
        assert version == lock[name], (
            f"{name}: environment.yml pins {version}, the lock {lock[name]}"
        )
        assert extras == direct[name], f"{name}: extras differ between environment.yml and gpu.in"


def test_lock_is_a_cuda_linux_resolution_meeting_the_studys_floors():
    lock = lock_versions()
    major_minor = lambda v: tuple(int(x) for x in re.findall(r"\d+", v)[:3])  # noqa: E731
    assert major_minor(lock["vllm"]) >= (0, 17)  # Qwen3.5 support
    assert major_minor(lock["triton"]) >= (3, 7, 1)  # fla's Gated DeltaNet gradients on Hopper
    assert "flash-linear-attention" in lock
    assert any(n.startswith("nvidia-") for n in lock), (
        "no CUDA runtime packages: not a linux CUDA resolution"
    )
    assert "+cpu" not in lock["torch"]
