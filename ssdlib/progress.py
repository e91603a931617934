"""Progress of long steps (generation, grading, training), from the kernel to the runner's console.

A notebook runs in a Jupyter kernel whose output goes to the executed notebook and the log file,
not to the terminal. So long steps report progress as JSON lines appended to the file named by
``$SSD_PROGRESS`` (the runner sets it for the kernel and every process the kernel starts); the
runner tails that file and draws one line with a bar and an ETA (:class:`ProgressLine`).
Without ``$SSD_PROGRESS`` (JupyterLab, tests) :func:`update` does nothing.

One event: ``{"step": "generate", "label": "smollm2", "done": 40, "total": 120, "unit": "samples",
"initial": <done when the step began>, "t0": <unix s when the step began>, "t": <unix s now>}``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

PROGRESS_ENV = "SSD_PROGRESS"
MIN_INTERVAL_S = 0.5  # at most two events per second per step (the last one is always written)

_last_write: dict[str, float] = {}
_started: dict[str, tuple[float, int]] = {}  # step key -> (unix s it began, done at that moment)
_last_done: dict[str, int] = {}


def update(step: str, done: int, total: int, unit: str, label: str = "", postfix: str = "") -> None:
    """Report that ``done`` of ``total`` ``unit`` of ``step`` are finished (``postfix``: a short
    note drawn after the rate, such as ``"40/120 samples"``).

    Call with ``done=0`` when the step begins (its clock starts then, so the ETA includes
    warm-up such as an engine start); a step begins with its first call or when ``done`` goes
    back (the same step run again). Calls closer than :data:`MIN_INTERVAL_S` are dropped except
    the first and the final one (``done >= total``). Never raises: progress must not break a run.
    """
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    key = f"{step}|{label}|{os.getpid()}"
    now = time.time()
    begins = key not in _started or done < _last_done.get(
        key, 0
    )  # new step, or the same step again
    if begins:
        _started[key] = (
            now,
            int(done),
        )  # a resumed step begins past 0: its rate counts new work only
    _last_done[key] = done
    finished = done >= total
    if not (begins or finished) and now - _last_write.get(key, 0.0) < MIN_INTERVAL_S:
        return
    _last_write[key] = now
    t0, initial = _started[key]
    event = {
        "step": step,
        "label": label,
        "done": int(done),
        "total": int(total),
        "unit": unit,
        "initial": initial,
        "t0": t0,
        "t": now,
    }
    if postfix:
        event["postfix"] = postfix
    if finished:
        _started.pop(key, None)
    try:
        # One write of one short line on an O_APPEND file: lines from several processes
        # (data-parallel engines, grading) do not interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(event) + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def read_events(path: Path, offset: int) -> tuple[list[dict], int]:
    """Complete event lines after byte ``offset``; returns them and the new offset."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            blob = fh.read()
    except FileNotFoundError:
        return [], offset
    end = blob.rfind(b"\n") + 1  # a half-written last line waits for the next read
    events = []
    for line in blob[:end].splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events, offset + end


def format_event(prefix: str, ev: dict, now: float, ascii_bar: bool, ncols: int = 110) -> str:
    """``prefix generate smollm2:  40%|####      | 40/120 [00:21<00:32, 1.90 samples/s]`` (tqdm's meter)."""
    from tqdm import tqdm

    name = " ".join(x for x in (ev["step"], ev.get("label", "")) if x)
    elapsed = max(0.0, (ev["t"] if ev["done"] >= ev["total"] else now) - ev["t0"])
    return tqdm.format_meter(
        ev["done"],
        ev["total"],
        elapsed,
        ncols=ncols,
        prefix=f"{prefix} {name}",
        ascii=ascii_bar,
        unit=ev["unit"],
        initial=ev.get("initial", 0),
        postfix=ev.get("postfix") or None,
    )


class ProgressLine:
    """Draw a notebook's progress on ``stream`` while it runs (a background thread).

    On a terminal one line is redrawn in place; otherwise (a pipe, CI, ``make demo > log``) a
    line is printed when a step starts, every ``every_s`` seconds while it runs and when it ends.
    """

    def __init__(
        self,
        progress_file: Path,
        prefix: str,
        stream: TextIO | None = None,
        poll_s: float = 0.5,
        every_s: float = 30.0,
    ):
        self.path = Path(progress_file)
        self.prefix = prefix
        self.stream = stream if stream is not None else sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.poll_s, self.every_s = poll_s, every_s
        self._offset = 0
        self._current: dict | None = None
        self._printed: dict[tuple, float] = {}
        self._width = 0
        self._t0 = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ssd-progress", daemon=True)

    def __enter__(self) -> ProgressLine:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")  # a fresh run starts a fresh file
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()
        self.clear()

    def clear(self) -> None:
        """Erase the in-place line (terminal only) so the next print starts clean."""
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def _clocked(self, now: float) -> str:
        """The prefix and the notebook's own clock: ``[ssd] 03_baselines 2:41``."""
        return f"{self.prefix} {_clock(now - self._t0)}"

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._poll()

    def _poll(self) -> None:
        events, self._offset = read_events(self.path, self._offset)
        now = time.time()
        for ev in events:
            self._current = ev
            if not self.tty:
                self._print_line(ev, now)
        if self.tty:
            self._draw(now)
        elif self._current is not None and self._current["done"] < self._current["total"]:
            self._print_line(self._current, now)

    def _print_line(self, ev: dict, now: float) -> None:
        key = (ev["step"], ev.get("label", ""), ev["t0"])
        last = self._printed.get(key)
        done = ev["done"] >= ev["total"]
        if last is None or done or now - last >= self.every_s:
            if done and last == float("inf"):
                return
            self.stream.write(format_event(self._clocked(now), ev, now, ascii_bar=True) + "\n")
            self.stream.flush()
            self._printed[key] = float("inf") if done else now

    def _draw(self, now: float) -> None:
        if self._current is None:
            line = f"{self._clocked(now)} running"
        else:
            # One column short of the terminal: a line that wraps cannot be redrawn in place.
            ncols = min(110, shutil.get_terminal_size((110, 24)).columns - 1)
            line = format_event(
                self._clocked(now), self._current, now, ascii_bar=False, ncols=ncols
            )[:ncols]
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:d}:{s:02d}"
