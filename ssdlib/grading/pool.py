"""A small process pool whose workers can be killed: per-task deadlines, no hung runs.

Why not concurrent.futures / multiprocessing.Pool: neither can kill the one worker stuck
on a task (C-level sympy/big-integer work ignores math-verify's signal.alarm) without
tearing the whole pool down. Here each worker owns a pipe; the parent hands out one task
at a time, waits on all pipes with the nearest deadline as timeout, and SIGKILLs and
replaces a worker whose task is past its deadline. A worker that dies (segfault, OOM kill)
is replaced too; its task is reported as crashed. Results come back in input order.

Workers start through the "forkserver" method with math-verify preloaded, so a
replacement costs a fork (milliseconds) rather than a fresh interpreter importing sympy
(about a second), and no parent state (threads, CUDA, open files) leaks into workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

# Imported once by the forkserver (which warms math-verify up), so forked workers start warm.
_PRELOAD = ["ssdlib.grading._preload"]

# A worker says this once it is up; a worker that dies before saying it failed to START
# (e.g. an unimportable __main__), which is the pool's problem, not the task's.
_READY = "__ready__"
# Consecutive start failures after which run_killable gives up instead of looping.
_MAX_START_FAILURES = 3
# Extra seconds a task may wait for a worker that is still starting.
_START_GRACE_S = 60.0

STATUS_OK = "ok"
STATUS_ERROR = "error"  # the task raised; ``error`` holds the repr
STATUS_TIMEOUT = "timeout"  # past its deadline: the worker was killed
STATUS_CRASH = "crash"  # the worker died on its own while running the task


@dataclass(frozen=True)
class TaskResult:
    """Outcome of one task: ``value`` (None unless ok), ``status``, ``error`` text, and
    ``seconds`` = wall time from hand-out to result (or to the kill)."""

    value: Any
    status: str
    error: str | None
    seconds: float


def _limit_memory(extra_mb: int | None) -> None:
    """Cap the worker's address space at its current size + ``extra_mb`` MiB.

    Relative to the current size because a worker forked from a big process already maps a
    lot; an absolute cap could make every allocation fail. A runaway allocation then raises
    MemoryError inside math-verify instead of pushing the machine into the OOM killer.
    """
    if not extra_mb:
        return
    try:
        with open("/proc/self/statm") as fh:
            vm_pages = int(fh.read().split()[0])
        current = vm_pages * os.sysconf("SC_PAGE_SIZE")
        limit = current + extra_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):  # not Linux, or the limit cannot be lowered: run uncapped
        pass


def _worker_main(conn, fn: Callable, memory_limit_mb: int | None) -> None:
    """Worker loop: receive ``(index, args)``, reply ``(index, status, value, error)``."""
    _limit_memory(memory_limit_mb)
    conn.send(_READY)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        index, args = msg
        try:
            reply = (index, STATUS_OK, fn(*args), None)
        except Exception as exc:  # the task's failure, not the worker's
            reply = (index, STATUS_ERROR, None, repr(exc)[:500])
        except BaseException as exc:  # e.g. a stray alarm-based TimeoutException
            reply = (index, STATUS_ERROR, None, repr(exc)[:500])
        try:
            conn.send(reply)
        except Exception as exc:  # unpicklable result
            conn.send((index, STATUS_ERROR, None, f"result not sendable: {exc!r}"[:500]))


class _Worker:
    """One worker process, its pipe and the task it is running (if any)."""

    def __init__(self, ctx, fn: Callable, memory_limit_mb: int | None):
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child_conn, fn, memory_limit_mb), daemon=True)
        self.proc.start()
        child_conn.close()  # so that the parent sees EOF when the worker dies
        self.conn = parent_conn
        self.ready = False
        self.task: int | None = None
        self.timeout_s = 0.0
        self.started = 0.0
        self.deadline = 0.0

    def assign(self, index: int, args: tuple, timeout_s: float) -> None:
        self.conn.send((index, args))  # buffered by the pipe until the worker is up
        self.task = index
        self.timeout_s = timeout_s
        self._start_clock(grace=0.0 if self.ready else _START_GRACE_S)

    def _start_clock(self, grace: float) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + self.timeout_s + grace

    def mark_ready(self) -> None:
        """The worker is up: the running task's budget starts now, without start-up time."""
        self.ready = True
        if self.task is not None:
            self._start_clock(grace=0.0)

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        """Ask an idle worker to exit; kill it if it does not within a second."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(timeout=1)
        self.kill()


def _context():
    try:
        ctx = mp.get_context("forkserver")
        # Only takes effect when this process starts its forkserver; harmless afterwards.
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    except ValueError:  # platforms without forkserver
        return mp.get_context("spawn")


def default_workers() -> int:
    """All cores: ``os.cpu_count()`` (1 if unknown)."""
    return os.cpu_count() or 1


def run_killable(
    fn: Callable,
    tasks: Sequence[tuple],
    *,
    timeout_s: float,
    workers: int | None = None,
    memory_limit_mb: int | None = 4096,
) -> list[TaskResult]:
    """Run ``fn(*args)`` for every ``args`` in ``tasks`` in killable worker processes.

    ``fn`` must be picklable by reference (a module-level function; builtins such as
    ``time.sleep`` work). Each task gets ``timeout_s`` seconds of wall time from the moment
    a worker receives it; past that its worker is SIGKILLed and replaced and the task is
    reported with status "timeout". ``workers`` defaults to all cores (never more than the
    number of tasks). ``memory_limit_mb`` caps each worker's extra address space (None: no
    cap). Returns one TaskResult per task, in input order. Never hangs: the total time is
    bounded by about ``len(tasks) * timeout_s / workers`` plus worker start-up.
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    n = len(tasks)
    if n == 0:
        return []
    n_workers = max(1, min(workers or default_workers(), n))
    ctx = _context()
    results: list[TaskResult | None] = [None] * n
    pending = deque(range(n))
    pool: list[_Worker] = []
    start_failures = 0
    try:
        pool = [_Worker(ctx, fn, memory_limit_mb) for _ in range(n_workers)]
        while pending or any(w.task is not None for w in pool):
            for i, w in enumerate(pool):
                while w.task is None and pending:
                    index = pending.popleft()
                    try:
                        w.assign(index, tasks[index], timeout_s)
                    except (OSError, ValueError):  # died while idle: replace, retry the task
                        pending.appendleft(index)
                        w.kill()
                        w = pool[i] = _Worker(ctx, fn, memory_limit_mb)
            busy = [w for w in pool if w.task is not None]
            now = time.monotonic()
            wait_s = max(0.0, min(w.deadline for w in busy) - now)
            ready = set(wait([w.conn for w in busy], timeout=wait_s))
            now = time.monotonic()
            for i, w in enumerate(pool):
                if w.task is None:
                    continue
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        msg = None
                    if msg == _READY:
                        w.mark_ready()
                        start_failures = 0
                        continue
                    if msg is not None:
                        index, status, value, error = msg
                        results[index] = TaskResult(value, status, error, now - w.started)
                        w.task = None
                        continue
                    if not w.ready:  # died before it was up: retry the task elsewhere
                        start_failures += 1
                        if start_failures >= _MAX_START_FAILURES:
                            raise RuntimeError(
                                f"grading workers die while starting ({start_failures} in a row, exit code "
                                f"{w.proc.exitcode}); is the main module importable by multiprocessing?"
                            )
                        pending.appendleft(w.task)
                    else:
                        results[w.task] = TaskResult(None, STATUS_CRASH, "worker died", now - w.started)
                elif now >= w.deadline:
                    results[w.task] = TaskResult(None, STATUS_TIMEOUT, f"killed after {timeout_s:g} s", now - w.started)
                else:
                    continue
                w.kill()
                pool[i] = None  # type: ignore[call-overload]
            # Replace dead workers only while there is work left for them.
            n_missing = sum(w is None for w in pool)
            pool = [w for w in pool if w is not None]
            pool += [_Worker(ctx, fn, memory_limit_mb) for _ in range(min(n_missing, len(pending)))]
    finally:
        for w in pool:
            if w.task is None:
                w.stop()
            else:
                w.kill()
    return results  # type: ignore[return-value]
