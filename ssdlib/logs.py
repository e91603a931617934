"""Where a headless notebook run's chatter goes: ``outputs/<profile>/logs/<notebook>.log``.

Three sources end up in that one file, in time order:

* the kernel process's own stdout/stderr (kernel warnings, and everything written at file
  descriptor level by C extensions and child processes such as vLLM's engine core: ipykernel
  copies fd-level output to the kernel's original descriptors, which the runner points here);
* vLLM's logger (engine config dumps, INFO records), routed by ``VLLM_LOGGING_CONFIG_PATH`` to a
  file handler in the kernel and in every engine process it starts (they inherit the variable);
* the cells' stdout/stderr streams (papermill's ``stdout_file``/``stderr_file``), which also stay
  in the executed notebook.

Lines written at descriptor level appear twice (once from the kernel, once as cell output).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

# vLLM's own record layout, without colour codes (the file is read with less/grep).
VLLM_FORMAT = "(%(processName)s pid=%(process)d) %(levelname)s %(asctime)s [%(filename)s:%(lineno)d] %(message)s"


def vllm_logging_config(log_file: Path, level: str = "INFO") -> dict:
    """A ``logging.config.dictConfig`` that sends the ``vllm`` logger to ``log_file`` (appending)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"vllm": {"format": VLLM_FORMAT, "datefmt": "%m-%d %H:%M:%S"}},
        "handlers": {
            "vllm_file": {
                "class": "logging.FileHandler",
                "filename": str(log_file),
                "mode": "a",
                "formatter": "vllm",
                "level": level,
            },
        },
        "loggers": {"vllm": {"handlers": ["vllm_file"], "level": level, "propagate": False}},
    }


def kernel_env(log_file: Path, progress_file: Path | None, quiet: bool) -> dict[str, str]:
    """Environment variables for the kernel (and the processes it starts).

    Quiet: vLLM logs to ``log_file`` (its config is written next to it as ``<name>.vllm.json``)
    and progress events go to ``progress_file``. Verbose: vLLM keeps its default (stdout).
    """
    env: dict[str, str] = {}
    if progress_file is not None:
        from ssdlib.progress import PROGRESS_ENV

        env[PROGRESS_ENV] = str(progress_file)
    if quiet:
        cfg_path = log_file.with_suffix(".vllm.json")
        cfg_path.write_text(json.dumps(vllm_logging_config(log_file), indent=1))
        env.update(VLLM_CONFIGURE_LOGGING="1", VLLM_LOGGING_CONFIG_PATH=str(cfg_path))
    return env


def kernel_manager_class(env: dict[str, str], log_file: Path | None):
    """A jupyter_client kernel manager that starts the kernel with ``env`` added to its environment
    and, when ``log_file`` is given, the kernel's stdout and stderr appended to that file."""
    from jupyter_client import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw["env"] = {**(kw.get("env") or os.environ), **env}
            if log_file is None:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            with open(log_file, "ab") as fh:  # Popen duplicates the descriptor; ours can close
                kw["stdout"], kw["stderr"] = fh, subprocess.STDOUT
                return await super()._async_launch_kernel(kernel_cmd, **kw)

    return LoggedKernelManager


@contextmanager
def papermill_logging(log_file: Path, console: TextIO | None) -> Iterator[None]:
    """Route papermill's logger (kernel start, timeouts, and with ``-v`` the cells' output) to
    ``console`` when given, else to ``log_file``; restore the logger afterwards."""
    logger = logging.getLogger("papermill")
    if console is not None:
        handler: logging.Handler = logging.StreamHandler(console)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.FileHandler(log_file, mode="a")
        handler.setFormatter(logging.Formatter("[papermill] %(levelname)s %(asctime)s %(message)s"))
    saved = (logger.level, logger.propagate, logger.disabled, logging.root.manager.disable)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    # A library in this process may have switched logging off globally and left it so (vLLM's
    # suppress_logging() calls logging.disable(INFO) without a finally) or disabled existing
    # loggers through dictConfig: -v would then lose the cells' stdout (papermill logs it at INFO).
    logger.disabled = False
    if logging.root.manager.disable >= logging.INFO:
        logging.disable(logging.NOTSET)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(saved[0])
        logger.propagate, logger.disabled = saved[1], saved[2]
        logging.disable(saved[3])
