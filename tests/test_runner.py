"""The headless runner through the ``ssd`` command: manifests, reproducible outputs, failures.

Each test executes notebooks/01_data.ipynb with papermill into a temporary outputs root
($SSD_OUTPUTS), so nothing under the repo's outputs/ is touched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from importlib import metadata

import nbformat
import pytest

from ssdlib import config

pytestmark = pytest.mark.slow  # each case executes a notebook (a kernel start + 01_data: ~5 s)

SPLITS = ("train.parquet", "val.parquet", "val300.parquet")


def ssd(outputs, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SSD_OUTPUTS=str(outputs), HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "ssdlib.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs")
    return out, ssd(out, "run", "01_data", "--profile", "smoke")


def test_run_writes_an_ok_manifest(first_run):
    out, res = first_run
    assert res.returncode == 0, res.stderr[-3000:]
    root = out / "smoke"
    m = json.loads((root / "manifests" / "01_data.json").read_text())
    assert m["status"] == "ok" and m["error"] is None
    assert m["notebook"] == "01_data" and m["profile"] == "smoke" and m["overrides"] == []
    assert re.fullmatch(r"[0-9a-f]{40}", m["git"]["sha"]) and isinstance(m["git"]["dirty"], bool)
    assert m["params"] == config.injectable(config.load_params("01_data", "smoke"))
    assert m["params_hash"] == config.params_hash(config.load_params("01_data", "smoke"))
    assert m["packages"]["pandas"] == metadata.version("pandas") and "pydantic" in m["packages"]
    started, finished = (dt.datetime.fromisoformat(m[k]) for k in ("started", "finished"))
    # the notebook's own wall time: positive, and inside the manifest's started..finished window
    assert 0 < m["seconds"] <= (finished - started).total_seconds() + 0.1
    # A timestamped copy in history/, and the executed notebook with its outputs.
    history = list((root / "manifests" / "history").glob("*_01_data.json"))
    assert len(history) == 1 and json.loads(history[0].read_text()) == m
    executed = nbformat.read(m["executed_notebook"], as_version=4)
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")
    for name in SPLITS:
        assert (root / "data" / name).stat().st_size > 0
    assert str(root / "notebooks") in res.stdout
    # Quiet: kernel and library chatter went to the log, not to the terminal.
    assert m["log"] == str(root / "logs" / "01_data.log")
    assert "Executing notebook with kernel" in (root / "logs" / "01_data.log").read_text()
    for chatter in ("IPKernelApp", "WARNING", "Executing notebook"):
        assert chatter not in res.stdout + res.stderr


def test_pipeline_to_01_reproduces_the_splits_byte_for_byte(first_run, tmp_path):
    out, res = first_run
    assert res.returncode == 0
    again = ssd(tmp_path, "pipeline", "--profile", "smoke", "--to", "01")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (
        "[ssd] running 01_data on profile smoke" in again.stdout
        and "[ssd] 01_data: ok" in again.stdout
    )
    assert "02_contamination" not in again.stdout
    manifests = sorted(p.name for p in (tmp_path / "smoke" / "manifests").glob("*.json"))
    assert manifests == ["01_data.json"]
    for name in SPLITS:
        a = (out / "smoke" / "data" / name).read_bytes()
        b = (tmp_path / "smoke" / "data" / name).read_bytes()
        assert a == b, f"{name} differs between two runs"


def test_failing_cell_exits_1_prints_the_error_and_records_it(tmp_path):
    # Valid params (every key and rule checks out) that prepare_data cannot satisfy at run time:
    # the synthetic generator makes 12 val problems but the val budget asks for more.
    overrides = ["sources.synthetic.n_val=12", "sources.synthetic.n_planted=0"]
    config.load_params("01_data", "smoke", overrides)
    res = ssd(
        tmp_path, "run", "01_data", "--profile", "smoke", *[a for o in overrides for a in ("-p", o)]
    )
    assert res.returncode == 1
    budget = config.load_params("01_data", "smoke").val.budgets["synthetic"]
    err = f"ValueError: val budget for 'synthetic' is {budget} but only 12 rows are available"
    assert f"FAILED 01_data: {err}" in res.stderr
    # The failing cell's source, the error and where the full log is.
    assert "failing cell [" in res.stderr and "    | " in res.stderr
    assert f"log:               {tmp_path / 'smoke' / 'logs' / '01_data.log'}" in res.stderr
    m = json.loads((tmp_path / "smoke" / "manifests" / "01_data.json").read_text())
    assert m["status"] == "failed" and m["error"].startswith(err) and "(cell [" in m["error"]
    assert m["overrides"] == overrides and m["params"]["sources"]["synthetic"]["n_val"] == 12
    assert not (tmp_path / "smoke" / "data" / "train.parquet").exists()


def test_config_error_exits_2_before_any_kernel(tmp_path):
    res = ssd(tmp_path, "run", "01_data", "--profile", "smoke", "-p", "val300.budgets.synthetic=99")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: command line -p: val300.budgets.synthetic: val300 takes 99 rows but val has only "
        f"{config.load_params('01_data', 'smoke').val.budgets['synthetic']} from this source 'synthetic'"
    ]
    assert not (tmp_path / "smoke" / "manifests").exists()
