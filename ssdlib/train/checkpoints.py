"""Find checkpoints and read the training log of a run folder (no torch needed).

A run folder (``output_dir``) holds ``checkpoint-<step>/`` folders written by the trainer, each a
standalone model folder (weights, config, tokenizer, chat template) that transformers and vLLM
load directly, and ``train_log.jsonl``, one JSON object per logging event.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

LOG_NAME = "train_log.jsonl"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Return ``[(step, path), ...]`` for every ``checkpoint-<step>`` folder, by increasing step."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _CKPT.match(p.name))
    ]
    return sorted(found)


def last_checkpoint(output_dir: str | Path) -> Path | None:
    """Path of the highest-step checkpoint, or None when there is none."""
    ckpts = list_checkpoints(output_dir)
    return ckpts[-1][1] if ckpts else None


def read_log(output_dir_or_file: str | Path) -> pd.DataFrame:
    """Load ``train_log.jsonl`` (a run folder or the file itself) as a DataFrame, one row per event.

    Columns include ``step``, ``epoch``, ``loss``, ``learning_rate``, ``grad_norm``,
    ``tokens_per_s`` (non-padding tokens per second since the previous log line, all ranks),
    ``max_memory_gib`` (GPU runs), ``time_s`` (seconds since this process began training) and
    ``session`` (increases by one at each start or resume). When a resumed run re-logs a step, the
    latest line for that step wins.
    """
    path = Path(output_dir_or_file)
    if path.is_dir():
        path = path / LOG_NAME
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    # Steps between the last checkpoint and a crash are trained again after a resume: keep the re-run.
    train_rows = frame[frame.get("loss").notna()] if "loss" in frame else frame.iloc[0:0]
    other = frame.drop(train_rows.index)
    train_rows = train_rows.drop_duplicates("step", keep="last")
    return (
        pd.concat([train_rows, other]).sort_values(["step"], kind="stable").reset_index(drop=True)
    )


def checkpoint_model_id(run_name: str, step: int, run_hash: str | None = None) -> str:
    """Store label of a checkpoint's generations: ``<run>-<recipe hash>-ckpt-<step>``.

    The hash (``run.json`` of the 05 run) keeps a retrained run from reusing stale samples.
    """
    return f"{run_name}-{run_hash[:8]}-ckpt-{step}" if run_hash else f"{run_name}-ckpt-{step}"
