"""Trainer callbacks: an append-only JSONL log, and checkpoints that stand alone as model folders."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from ssdlib import progress
from ssdlib.train.checkpoints import LOG_NAME, list_checkpoints

# Files a checkpoint folder needs so that `from_pretrained(ckpt)` and vLLM load it as a model.
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")


class JsonlLogCallback(TrainerCallback):
    """Append every Trainer log event to ``<output_dir>/train_log.jsonl`` (main process only).

    Adds ``step``, ``epoch``, ``time_s`` (s since this process began training), ``session``
    (one more than the last session in the file, so a resume is visible), ``tokens_per_s``
    (non-padding input tokens, all ranks, per second since the previous event of this session;
    needs ``include_num_input_tokens_seen="non_padding"``) and, on GPU, ``max_memory_gib``
    (peak allocated on this rank, GiB). Also reports each optimizer step to
    :mod:`ssdlib.progress` (the runner's console bar; a no-op outside the runner).
    """

    def __init__(self, output_dir: str | Path):
        self.path = Path(output_dir) / LOG_NAME
        self.session = 0
        self._t0 = self._last_t = 0.0
        self._last_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        if self.path.exists():
            sessions = [
                json.loads(x).get("session", 0)
                for x in self.path.read_text().splitlines()
                if x.strip()
            ]
            self.session = max(sessions, default=-1) + 1
        self._t0 = self._last_t = time.perf_counter()
        self._last_tokens = state.num_input_tokens_seen
        progress.update(
            "train", state.global_step, state.max_steps, "steps"
        )  # a resume starts past 0

    def on_step_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            progress.update("train", state.global_step, state.max_steps, "steps")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        now = time.perf_counter()
        tokens = state.num_input_tokens_seen
        record = {"step": state.global_step, "epoch": state.epoch, "session": self.session}
        record.update(
            {k: v for k, v in logs.items() if isinstance(v, (int, float, str, bool)) or v is None}
        )
        record["time_s"] = now - self._t0
        dt = now - self._last_t
        record["tokens_per_s"] = (
            (tokens - self._last_tokens) / dt if dt > 0 and tokens > self._last_tokens else None
        )
        if torch.cuda.is_available():
            record["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        self._last_t, self._last_tokens = now, tokens
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")


class StandaloneCheckpointCallback(TrainerCallback):
    """After each save, make ``checkpoint-<step>`` a loadable model folder and prune old optimizer state.

    * Writes the processing class (tokenizer + chat template, or the full processor) into the
      folder when the trainer did not (the Trainer normally does; this is the guarantee).
    * Fails loudly if the folder has no full weights (e.g. FSDP with SHARDED_STATE_DICT), since
      such a checkpoint cannot be evaluated by vLLM.
    * With ``prune_optimizer_states``, deletes optimizer/scheduler/RNG state from all but the
      newest checkpoint: for a 4B model the fp32 AdamW state is ~32 GB per checkpoint, and only
      the newest one is needed to resume.
    """

    def __init__(self, processing_class, prune_optimizer_states: bool = True):
        self.processing_class = processing_class
        self.prune = prune_optimizer_states

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not (ckpt / "config.json").exists() or not any((ckpt / w).exists() for w in _WEIGHTS):
            raise RuntimeError(
                f"{ckpt} has no full model weights/config: use FULL_STATE_DICT under FSDP "
                "(configs/accelerate/fsdp.yaml) so that each checkpoint is a standalone model folder"
            )
        if not (ckpt / "tokenizer_config.json").exists() and self.processing_class is not None:
            self.processing_class.save_pretrained(ckpt)
        if self.prune:
            for step, path in list_checkpoints(args.output_dir):
                if step < state.global_step:
                    _drop_resume_state(path)


def _drop_resume_state(ckpt: Path) -> None:
    """Remove what only resuming needs (optimizer, scheduler, scaler, RNG, FSDP state) from a checkpoint."""
    for p in ckpt.iterdir():
        name = p.name
        # pytorch_model_fsdp*: FSDP's own copy of the weights for resuming (model.safetensors stays).
        if name.startswith(("optimizer", "scheduler", "scaler", "rng_state", "pytorch_model_fsdp")):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
