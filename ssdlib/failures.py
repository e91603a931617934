"""How a failed notebook run is told: one line for the manifest, a block for the console.

The block is what a newcomer needs without opening anything: the failing cell's source, the
traceback trimmed to the notebook's own frames (library frames by location only), the error,
and where the full log and the executed notebook are.
"""

from __future__ import annotations

import re
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TRACEBACK_LINES = 20  # tail of the traceback shown on the console (the notebook keeps all of it)
SOURCE_LINES = 15  # lines of the failing cell shown on the console


def one_line(exc: Exception) -> str:
    """The failing cell's exception as one readable line (papermill's error carries it)."""
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f" (cell [{cell}])" if cell is not None else ""
    return f"{ename}: {evalue}{where}"


def _traceback_summary(entries: list[str]) -> list[str]:
    """IPython's traceback entries (one per frame) of the last exception in the chain: a cell's
    frame with its context lines, a library frame as its location and the line that ran."""
    entries = [_ANSI.sub("", e) for e in entries]
    starts = [i for i, e in enumerate(entries) if "Traceback (most recent call last)" in e]
    frames = entries[starts[-1] + 1 : -1] if starts else entries[:-1]
    out: list[str] = []
    for e in frames:
        rows = [x for x in e.splitlines() if x.strip()]
        if not rows:
            continue
        if rows[0].startswith("Cell In["):
            out += rows
        else:
            out += [rows[0]] + [x for x in rows[1:] if x.lstrip().startswith(("->", "---->"))][:1]
    return out


def describe(exc: Exception, log_file: Path, executed: Path) -> str:
    """The failing cell's source, its error, the traceback's last lines, where the log is.

    ``exc`` is papermill's ``PapermillExecutionError`` (cell index, execution count, source,
    error name/value, traceback); anything else (a kernel that died, a timeout) is shown by type.
    """
    lines = []
    source = getattr(exc, "source", None)
    if source is not None:
        index, count = getattr(exc, "cell_index", None), getattr(exc, "exec_count", None)
        lines.append(f"failing cell [{count}] (cell {index} of the notebook, counting from 0):")
        src = source.rstrip().splitlines()
        shown = src[-SOURCE_LINES:]
        if len(src) > len(shown):
            lines.append(f"    | ... ({len(src) - len(shown)} lines above)")
        lines += [f"    | {x}" for x in shown]
        tb = _traceback_summary(getattr(exc, "traceback", None) or [])
        if tb:
            lines.append("traceback (the notebook's frames in full, library frames by location):")
            lines += [f"    {x}" for x in tb[-TRACEBACK_LINES:]]
    lines.append(
        f"error: {getattr(exc, 'ename', type(exc).__name__)}: {getattr(exc, 'evalue', exc)}"
    )
    lines.append(f"log:               {log_file}")
    lines.append(f"executed notebook: {executed}")
    return "\n".join(lines)
