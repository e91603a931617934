"""The runner's console: quiet by default (chatter to the log file), a progress bar, clear failures.

The notebook tests run tiny notebooks written into tmp_path through the real runner
(``runs.execute``: papermill, a real ipykernel, vLLM's real logging set-up) and assert on what
reached the terminal, captured at file-descriptor level (``capfd``: the kernel and its child
processes inherit those descriptors, so anything they leak is caught).
"""

from __future__ import annotations

import io
import json
import re
import sys
import textwrap
import time

import nbformat
import pytest

from ssdlib import failures, progress, runs

# What an engine start looks like from the kernel: vLLM configures its logging the way LLM()
# does and logs its config; an engine-core child process does the same and also prints raw
# lines on both descriptors; a C extension writes to fd 2 directly.
ENGINE_CHILD = textwrap.dedent("""
    import sys
    from vllm.config.logging import LoggingConfig
    from vllm.logger import configure_logging, init_logger
    configure_logging(LoggingConfig())
    init_logger("vllm.v1.engine.core").info("ENGINECORE-INFO Initializing a V1 LLM engine")
    print("ENGINECORE-PRINT", flush=True)
    print("ENGINECORE-STDERR", file=sys.stderr, flush=True)
""")

CHATTY_CELL = textwrap.dedent(f"""
    import os, subprocess, sys, time
    from vllm.config.logging import LoggingConfig
    from vllm.logger import configure_logging, init_logger
    from ssdlib import progress
    configure_logging(LoggingConfig())  # what vllm.LLM does when an engine starts
    init_logger("vllm.config").info("ENGINE-CONFIG-DUMP model=tiny dtype=bfloat16")
    subprocess.run([sys.executable, "-c", {ENGINE_CHILD!r}], check=True)
    os.write(2, b"KERNEL-FD2-WARNING NUMA binding\\n")
    print("CELL-STDOUT", n)
    print("CELL-STDERR", file=sys.stderr)
    for i in range(n + 1):
        progress.update("generate", i, n, "samples", "tiny")
        time.sleep(0.05)
""")

CHATTER = (
    "ENGINE-CONFIG-DUMP",
    "ENGINECORE-INFO",
    "ENGINECORE-PRINT",
    "ENGINECORE-STDERR",
    "KERNEL-FD2-WARNING",
    "CELL-STDOUT",
    "CELL-STDERR",
)


def write_notebook(path, *cells: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("n = 1", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def executed_text(path) -> str:
    nb = nbformat.read(path, as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


@pytest.mark.slow  # a kernel start and two vLLM imports: ~20-40 s on 2 cores
def test_quiet_console_has_progress_and_no_chatter(tmp_path, capfd):
    src = write_notebook(tmp_path / "chatty.ipynb", CHATTY_CELL)
    log = tmp_path / "logs" / "chatty.log"
    run = runs.execute(
        src, tmp_path / "out.ipynb", {"n": 20}, log_file=log, console=sys.stdout, errors=sys.stderr
    )
    out, err = capfd.readouterr()
    assert run.status == "ok", run.failure
    console = out + err
    for marker in CHATTER + ("IPKernelApp", "INFO", "WARNING"):
        assert marker not in console, f"{marker!r} reached the console:\n{console}"
    lines = [x for x in console.splitlines() if x.strip()]
    assert all(x.startswith("[ssd] chatty") for x in lines), console
    assert re.search(r"\[ssd\] chatty \d+:\d\d generate tiny: +100%\|#+\| 20/20 \[", console), (
        console
    )
    assert re.search(r"\[ssd\] chatty: ok in \d+s", lines[-1])
    # Everything went to the log instead: the vLLM records with their level, raw prints, cells.
    text = log.read_text()
    for marker in CHATTER:
        assert marker in text, marker
    assert re.search(r"INFO .*ENGINE-CONFIG-DUMP", text) and re.search(
        r"INFO .*ENGINECORE-INFO", text
    )
    # The engine's log records are not in the executed notebook either; the cell's own print is.
    nb_text = executed_text(tmp_path / "out.ipynb")
    assert "ENGINE-CONFIG-DUMP" not in nb_text and "ENGINECORE-INFO" not in nb_text
    assert "CELL-STDOUT 20" in nb_text


@pytest.mark.slow
# Known issue, not understood yet: passes alone and with test_config.py, but when the WHOLE suite is
# collected the streamed stdout records (log_output INFO) do not reach the console while stderr ones
# do -- even when execute() runs in a fresh subprocess. Kept running (not skipped) so a fix shows as
# XPASS; `ssd run -v` from the command line streams everything. Suspected cause (#16, not confirmed
# under the full suite): global logging state left switched off by a library in this process
# (logging.disable / a disabled papermill logger); papermill_logging now lifts both while streaming
# (test_verbose_stream_survives_logging_switched_off_by_a_library). An XPASS here confirms it.
@pytest.mark.xfail(
    strict=False, reason="stdout records missing from the -v stream under full-suite collection"
)
def test_verbose_restores_the_stream(tmp_path, capfd):
    src = write_notebook(tmp_path / "chatty.ipynb", CHATTY_CELL)
    log = tmp_path / "logs" / "chatty.log"
    run = runs.execute(
        src,
        tmp_path / "out.ipynb",
        {"n": 3},
        log_file=log,
        verbose=True,
        console=sys.stdout,
        errors=sys.stderr,
    )
    out, err = capfd.readouterr()
    assert run.status == "ok", run.failure
    console = out + err
    for marker in CHATTER:
        assert marker in console, f"{marker!r} missing from the verbose console"
    assert "CELL-STDOUT 3" in log.read_text()  # the log still records the cells


@pytest.mark.slow
def test_failing_notebook_prints_the_cell_its_error_and_the_log_path(tmp_path, capfd):
    src = write_notebook(
        tmp_path / "broken.ipynb",
        "print('before the failure')",
        "values = [1, 2, 3]\nlimit = n\nraise ValueError(f'budget {len(values)} exceeds limit {limit}')",
        "print('never runs')",
    )
    log = tmp_path / "logs" / "broken.log"
    out_nb = tmp_path / "out.ipynb"
    run = runs.execute(src, out_nb, {"n": 2}, log_file=log, console=sys.stdout, errors=sys.stderr)
    out, err = capfd.readouterr()
    assert run.status == "failed"
    assert (
        run.error == "ValueError: budget 3 exceeds limit 2 (cell [4])"
    )  # papermill injects a parameters cell
    assert re.search(r"\[ssd\] broken: failed in \d+s", out)
    assert "failing cell [4]" in err
    assert "    | values = [1, 2, 3]" in err
    assert "    | raise ValueError(f'budget {len(values)} exceeds limit {limit}')" in err
    assert "error: ValueError: budget 3 exceeds limit 2" in err
    assert f"log:               {log}" in err and f"executed notebook: {out_nb}" in err
    assert "never runs" not in out + err and "IPKernelApp" not in out + err
    text = log.read_text()
    assert (
        "before the failure" in text
        and "# FAILED" in text
        and "ValueError: budget 3 exceeds limit 2" in text
    )


def test_verbose_stream_survives_logging_switched_off_by_a_library(tmp_path):
    """-v streams papermill's records (the cells' stdout at INFO) even when something in this
    process left logging disabled (vLLM's suppress_logging has no finally) or the logger
    disabled (dictConfig), and leaves that state as it found it."""
    import logging

    from ssdlib import logs

    pm = logging.getLogger("papermill")
    before = (logging.root.manager.disable, pm.disabled)
    console = io.StringIO()
    logging.disable(logging.INFO)
    pm.disabled = True
    try:
        with logs.papermill_logging(tmp_path / "x.log", console):
            pm.info("CELL-STDOUT 1")
            pm.warning("CELL-STDERR")
        assert "CELL-STDOUT 1" in console.getvalue() and "CELL-STDERR" in console.getvalue()
        assert logging.root.manager.disable == logging.INFO and pm.disabled  # restored
    finally:
        logging.disable(before[0])
        pm.disabled = before[1]


# ------------------------------------------------------------ progress events (no kernel)


def test_update_is_a_no_op_outside_the_runner(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    progress.update("generate", 1, 2, "samples")
    assert list(tmp_path.iterdir()) == []


def test_update_throttles_but_always_writes_the_start_and_the_end(tmp_path, monkeypatch):
    path = tmp_path / "p.jsonl"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(path))
    for _ in range(50):  # a pool waiting for its workers reports 0 done over and over
        progress.update("grade", 0, 200, "checks")
    for i in range(201):
        progress.update("grade", i, 200, "checks")
    events, offset = progress.read_events(path, 0)
    assert offset == path.stat().st_size
    assert events[0]["done"] == 0 and events[-1]["done"] == 200
    assert len(events) < 10  # 201 calls within well under a second
    assert all(e["t0"] == events[0]["t0"] and e["total"] == 200 for e in events)


def test_resumed_step_rate_counts_only_new_work(tmp_path, monkeypatch):
    path = tmp_path / "p.jsonl"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(path))
    progress.update("train", 4, 10, "steps")  # resumed at step 4
    ev = progress.read_events(path, 0)[0][0]
    assert ev["initial"] == 4
    line = progress.format_event(
        "[ssd] 05_train", dict(ev, done=6, t=ev["t0"] + 4), ev["t0"] + 4, ascii_bar=True
    )
    # 2 new steps in 4 s -> 0.5 steps/s, 4 left -> 8 s to go (not 6 steps in 4 s).
    assert "6/10 [00:04<00:08" in line, line


def test_format_event_has_bar_counts_and_eta():
    ev = {
        "step": "generate",
        "label": "smollm2",
        "done": 10,
        "total": 20,
        "unit": "samples",
        "initial": 0,
        "t0": 100.0,
        "t": 110.0,
    }
    line = progress.format_event("[ssd] 03_baselines", ev, now=110.0, ascii_bar=True)
    assert re.fullmatch(
        r"\[ssd\] 03_baselines generate smollm2: +50%\|[#0-9]+ +\| 10/20 \[00:10<00:10, +1\.00samples/s\]",
        line,
    ), line


def test_partial_last_line_waits(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        '{"step": "a", "done": 1, "total": 2, "unit": "x", "t0": 0, "t": 1}\n{"step": "b", "do'
    )
    events, offset = progress.read_events(path, 0)
    assert [e["step"] for e in events] == ["a"] and offset == path.read_text().index("{", 1)


class Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stream_cls", [io.StringIO, Tty])
def test_progress_line_draws_from_events(tmp_path, monkeypatch, stream_cls):
    path = tmp_path / "p.jsonl"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(path))
    stream = stream_cls()
    with progress.ProgressLine(path, "[ssd] nb", stream, poll_s=0.05):
        progress.update("generate", 0, 4, "samples", "m")
        time.sleep(0.3)
        progress.update("generate", 4, 4, "samples", "m")
        time.sleep(0.3)
    text = stream.getvalue()
    assert re.search(r"\[ssd\] nb 0:0\d generate m:", text) and "4/4" in text and "0/4" in text
    if stream_cls is Tty:
        assert "\r" in text and "\n" not in text  # redrawn in place, erased at the end
        assert text.endswith("\r")
    else:
        assert "\r" not in text
        assert sum("4/4" in x for x in text.splitlines()) == 1  # the end is printed once


@pytest.mark.slow
def test_real_engine_records_go_to_the_log_not_the_notebook(smoke_pipeline):
    # 03 starts vLLM engines: their start-up records (config dump included) are in the log.
    log = (smoke_pipeline / "logs" / "03_baselines.log").read_text()
    assert re.search(r"INFO .*Initializing a V1 LLM engine", log), log[-3000:]
    assert "Initializing a V1 LLM engine" not in executed_text(
        smoke_pipeline / "notebooks" / "03_baselines.ipynb"
    )
    for nb in runs.available_notebooks():
        m = json.loads((smoke_pipeline / "manifests" / f"{nb}.json").read_text())
        assert m["log"] == str(smoke_pipeline / "logs" / f"{nb}.log")


def test_traceback_summary_keeps_the_cells_frames_of_the_last_exception():
    # IPython's traceback entries as papermill hands them over (ANSI colours, a chained KeyError).
    red = "\x1b[0;31m"
    entries = [
        f"{red}---------------------------------------------------------------------------\x1b[0m",
        f"{red}KeyError\x1b[0m                                  Traceback (most recent call last)",
        "File \x1b[0;32m/venv/pandas/core/indexes/base.py:3816\x1b[0m, in Index.get_loc(self, key)\n"
        "   3815 try:\n-> 3816     return self._engine.get_loc(casted_key)\n   3817 except KeyError as err:\n",
        f"{red}KeyError\x1b[0m: 'missing'",
        "\nThe above exception was the direct cause of the following exception:\n",
        f"{red}KeyError\x1b[0m                                  Traceback (most recent call last)",
        "Cell \x1b[0;32mIn[3], line 4\x1b[0m\n      1 import pandas as pd\n      3     return x['missing']\n"
        "----> 4 f(pd.DataFrame({'a':[1]}))\n",
        "Cell In[3], line 3, in f(x)\n      2 def f(x):\n----> 3     return x['missing']\n",
        "File /venv/pandas/core/frame.py:4330, in DataFrame.__getitem__(self, key)\n   4329 \n"
        "-> 4330             indexer = self.columns.get_loc(key)\n   4331 \n",
        f"{red}KeyError\x1b[0m: 'missing'",
    ]
    assert failures._traceback_summary(entries) == [
        "Cell In[3], line 4",
        "      1 import pandas as pd",
        "      3     return x['missing']",
        "----> 4 f(pd.DataFrame({'a':[1]}))",
        "Cell In[3], line 3, in f(x)",
        "      2 def f(x):",
        "----> 3     return x['missing']",
        "File /venv/pandas/core/frame.py:4330, in DataFrame.__getitem__(self, key)",
        "-> 4330             indexer = self.columns.get_loc(key)",
    ]
