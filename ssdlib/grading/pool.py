"""A small process pool whose workers can be killed: per-task deadlines, no hung runs.

Why not concurrent.futures / multiprocessing.Pool: neither can kill the one worker stuck
on a task (C-level sympy/big-integer work ignores math-verify's signal.alarm) without
tearing the whole pool down. Here each worker owns a pipe and a short queue of tasks
(``prefetch``); the parent waits on all pipes with the nearest deadline as timeout, and
SIGKILLs and replaces a worker whose running task is past its deadline (the tasks queued
behind it go to other workers). A worker that dies (segfault, OOM kill) is replaced too;
its task is reported as crashed. Results come back in input order.

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

from ssdlib import progress

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
    ``seconds`` = wall time from when its worker could start it to its result (or kill)."""

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
        except BaseException as exc:  # the task's failure (incl. math-verify's BaseException
            reply = (index, STATUS_ERROR, None, repr(exc)[:500])  # timeouts), not the worker's
        try:
            conn.send(reply)
        except Exception as exc:  # unpicklable result
            conn.send((index, STATUS_ERROR, None, f"result not sendable: {exc!r}"[:500]))


class _Worker:
    """One worker process, its pipe, and the tasks handed to it, oldest (= running) first.

    Up to ``prefetch`` tasks wait in the pipe so the worker never idles while the parent
    gets scheduled (on a loaded machine that round trip costs milliseconds per task). Only
    the head task runs; its clock starts when the previous result arrives.
    """

    def __init__(self, ctx, fn: Callable, memory_limit_mb: int | None, timeout_s: float):
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(
            target=_worker_main, args=(child_conn, fn, memory_limit_mb), daemon=True
        )
        self.proc.start()
        child_conn.close()  # so that the parent sees EOF when the worker dies
        self.conn = parent_conn
        self.ready = False
        self.queue: deque[int] = deque()
        self.timeout_s = timeout_s
        self.started = 0.0
        self.deadline = 0.0

    @property
    def task(self) -> int | None:
        """Index of the running task (None when idle)."""
        return self.queue[0] if self.queue else None

    def assign(self, index: int, args: tuple) -> None:
        self.conn.send((index, args))  # buffered by the pipe until the worker gets to it
        self.queue.append(index)
        if len(self.queue) == 1:
            self._start_clock()

    def _start_clock(self) -> None:
        # A worker still starting gets a grace period; mark_ready restarts the clock.
        self.started = time.monotonic()
        self.deadline = self.started + self.timeout_s + (0.0 if self.ready else _START_GRACE_S)

    def mark_ready(self) -> None:
        """The worker is up: the head task's budget starts now, without start-up time."""
        self.ready = True
        if self.queue:
            self._start_clock()

    def finish_head(self) -> None:
        """The head task's result arrived: the next queued task starts running now."""
        self.queue.popleft()
        if self.queue:
            self._start_clock()

    def kill(self, wait_s: float = 5.0) -> None:
        """SIGKILL the worker. ``wait_s``: how long to wait for it to be reaped; the pool
        passes 0 mid-run, because a process freeing gigabytes can take seconds to die and
        other workers' deadlines must not wait for that (run_killable reaps it at the end)."""
        if self.proc.is_alive():
            self.proc.kill()
        if wait_s > 0:
            self.proc.join(timeout=wait_s)
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
    prefetch: int = 4,
    progress_step: str | None = None,
) -> list[TaskResult]:
    """Run ``fn(*args)`` for every ``args`` in ``tasks`` in killable worker processes.

    ``fn`` must be picklable by reference (a module-level function; builtins such as
    ``time.sleep`` work). Each task gets ``timeout_s`` seconds of wall time from the moment
    its worker can start it; past that the worker is SIGKILLed and replaced, the task is
    reported with status "timeout" and the tasks queued behind it go to other workers.
    ``workers`` defaults to all cores (never more than the number of tasks); ``prefetch``
    tasks are queued per worker; ``memory_limit_mb`` caps each worker's extra address space
    (None: no cap). Returns one TaskResult per task, in input order. Never hangs: the total
    time is bounded by about ``len(tasks) * timeout_s / workers`` plus worker start-up.
    Raises RuntimeError if workers keep dying before they are up (e.g. the main module
    cannot be imported by multiprocessing). ``progress_step``: name under which finished
    tasks are reported to :mod:`ssdlib.progress` (the runner's console bar).
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    n = len(tasks)
    if n == 0:
        return []
    n_workers = max(1, min(workers or default_workers(), n))
    prefetch = max(1, prefetch)
    ctx = _context()
    results: list[TaskResult | None] = [None] * n
    pending = deque(range(n))
    pool: list[_Worker] = []
    dying: list[_Worker] = []
    start_failures = 0

    def new_worker() -> _Worker:
        return _Worker(ctx, fn, memory_limit_mb, timeout_s)

    def retire(w: _Worker) -> None:
        """Kill ``w``; the tasks queued behind its head go back to the front of pending."""
        w.kill(wait_s=0)
        dying.append(w)
        pending.extendleft(reversed(list(w.queue)[1:]))

    try:
        pool = [new_worker() for _ in range(n_workers)]
        while pending or any(w.queue for w in pool):
            if progress_step:
                progress.update(
                    progress_step, n - len(pending) - sum(len(w.queue) for w in pool), n, "checks"
                )
            # Fill level by level (every worker gets a first task before any gets a second),
            # so that a few slow tasks at the front do not all queue behind one worker.
            for depth in range(1, prefetch + 1):
                for i in range(len(pool)):
                    w = pool[i]
                    if len(w.queue) >= depth or not pending:
                        continue
                    index = pending.popleft()
                    try:
                        w.assign(index, tasks[index])
                    except (OSError, ValueError):  # the worker is gone: its head task killed it
                        pending.appendleft(index)
                        if w.queue:
                            elapsed = time.monotonic() - w.started
                            results[w.queue[0]] = TaskResult(
                                None, STATUS_CRASH, "worker died", elapsed
                            )
                        retire(w)
                        pool[i] = new_worker()
            busy = [w for w in pool if w.queue]
            wait_s = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = set(wait([w.conn for w in busy], timeout=wait_s))
            for i, w in enumerate(pool):
                now = (
                    time.monotonic()
                )  # fresh for each worker: handling the previous one takes time
                if not w.queue:
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
                        w.finish_head()
                        continue
                    if not w.ready:  # died before it was up: the pool's failure, not the task's
                        start_failures += 1
                        w.proc.join(timeout=1)
                        if start_failures >= _MAX_START_FAILURES:
                            raise RuntimeError(
                                f"grading workers die while starting ({start_failures} in a row, exit code "
                                f"{w.proc.exitcode}); is the main module importable by multiprocessing?"
                            )
                        pending.appendleft(w.queue[0])
                    else:
                        results[w.task] = TaskResult(
                            None, STATUS_CRASH, "worker died", now - w.started
                        )
                elif now >= w.deadline:
                    results[w.task] = TaskResult(
                        None, STATUS_TIMEOUT, f"killed after {timeout_s:g} s", now - w.started
                    )
                else:
                    continue
                retire(w)
                pool[i] = None  # type: ignore[call-overload]
            # Replace dead workers only while there is work left for them.
            n_missing = sum(w is None for w in pool)
            pool = [w for w in pool if w is not None]
            pool += [new_worker() for _ in range(min(n_missing, len(pending)))]
        if progress_step:
            progress.update(progress_step, n, n, "checks")
    finally:
        for w in pool:
            if w is None:
                continue
            if w.queue:
                w.kill()
            else:
                w.stop()
        for w in dying:
            w.proc.join(timeout=5)
    return results  # type: ignore[return-value]
