"""One writer per store file: an OS lock (``filelock``: ``flock`` on Unix) that names its holder.

The lock lives next to the store file (``<file>.lock``). The holder writes who it is (pid, host,
when it took the lock, its command line) into that file, so a second writer that finds the
lock taken can say which process holds it. ``flock`` is released by the kernel when the holder
dies (SIGKILL included), so a crashed run never leaves a stale lock behind.

Locks are re-entrant within one process (one lock object per path): ``generate_samples`` holds
the lock from planning to the last append, and the store writer it opens takes it again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout


class StoreBusy(RuntimeError):
    """Another process is writing the same store file."""


def lock_path(store_file: str | Path) -> Path:
    """``<root>/<model>/<config>.jsonl`` -> ``<root>/<model>/<config>.jsonl.lock``."""
    p = Path(store_file)
    return p.with_name(p.name + ".lock")


def _write_owner(fd: int) -> None:
    """Called by filelock with the lock held: record who holds it (the file is ours now)."""
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cmd": " ".join(sys.argv)[:300],
    }
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (json.dumps(owner) + "\n").encode())


def holder(store_file: str | Path) -> dict | None:
    """What the current (or last) holder wrote into the lock file; None if unreadable."""
    try:
        return json.loads(lock_path(store_file).read_text())
    except (OSError, ValueError):
        return None


def _lock(store_file: str | Path) -> FileLock:
    path = lock_path(store_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    # is_singleton: one object per path in this process, so taking it twice nests (re-entrant).
    return FileLock(str(path), is_singleton=True, thread_local=False, on_acquired=_write_owner)


def _busy_message(store_file: str | Path, timeout_s: float) -> str:
    h = holder(store_file) or {}
    who = (
        f"pid {h.get('pid', '?')} on host {h.get('host', '?')} since {h.get('since', '?')}"
        f" ({h.get('cmd', 'command unknown')})"
    )
    waited = f" after waiting {timeout_s:g}s" if timeout_s > 0 else ""
    return (
        f"{store_file}: another process is writing this store{waited}: {who}. Two runs on one store "
        f"would generate the same samples twice; wait for it to finish or stop that process."
    )


@contextmanager
def writer_lock(store_file: str | Path, timeout_s: float = 0.0) -> Iterator[None]:
    """Hold the one-writer lock of ``store_file`` for the block.

    Args:
        store_file: the ``.jsonl`` store file that will be written.
        timeout_s: seconds to wait for another holder to finish (0: fail at once).

    Raises:
        StoreBusy: another process holds the lock; the message names it (pid, host, since, command).
    """
    lock = acquire(store_file, timeout_s)
    try:
        yield
    finally:
        lock.release()


def acquire(store_file: str | Path, timeout_s: float = 0.0) -> FileLock:
    """Take the lock without a ``with`` block (the store writer's open/close); release with
    ``.release()``. Same errors as :func:`writer_lock`."""
    lock = _lock(store_file)
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout:
        raise StoreBusy(_busy_message(store_file, timeout_s)) from None
    return lock
