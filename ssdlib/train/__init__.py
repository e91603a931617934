"""SFT of the model on its own samples (the SSD step), with TRL's SFTTrainer.

Public API (``train_sft`` and friends import torch/trl lazily, so reading logs needs neither)::

    train_sft(model_path, dataset, output_dir, *, max_length, max_steps, ...) -> TrainResult
    list_checkpoints(output_dir) -> list[(step, path)]
    read_log(output_dir) -> DataFrame

Command line (multi-GPU through accelerate; see ``ssdlib.train.sft`` for the config keys)::

    accelerate launch --config_file configs/accelerate/fsdp.yaml --num_processes 8 \\
        -m ssdlib.train --config run.yaml
"""

from __future__ import annotations

from ssdlib.train.checkpoints import LOG_NAME, last_checkpoint, list_checkpoints, read_log

_LAZY = {
    "train_sft",
    "make_trainer",
    "SFTSettings",
    "TrainResult",
    "load_training_set",
    "train_from_config",
    "read_config",
    "result_summary",
}

__all__ = ["LOG_NAME", "last_checkpoint", "list_checkpoints", "read_log", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        from ssdlib.train import sft

        return getattr(sft, name)
    raise AttributeError(name)
