"""The 05_train run: which prompts, which run folder, training once (resumably), what it left.

A run lives in ``outputs/<profile>/checkpoints/<run_name>/``: ``checkpoint-<step>/`` folders
(standalone models), ``train_log.jsonl`` and ``run.json``, the record of everything that decides
what the run trains on and how (model, prompt, SSD decode, prompts used, training settings).
Rerunning the notebook with the same record resumes (generation from the store, training from
the newest checkpoint, nothing at all once ``max_steps`` is reached); a different record in a
folder that already holds checkpoints is refused, so two recipes never mix in one run.
``06_eval`` labels each checkpoint's generations with the record's hash, so a retrained run
never silently reuses another run's samples.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ssdlib.config import TrainParams, repo_root
from ssdlib.data.io import read_problems
from ssdlib.files import HANDOFFS
from ssdlib.train.checkpoints import LOG_NAME, list_checkpoints, read_log

CLEAN_TRAIN = HANDOFFS["train_clean"].filename
RAW_TRAIN = HANDOFFS["train"].filename
RUN_RECORD = "run.json"
SSD_DATASET = HANDOFFS["ssd_dataset"].filename
CONTROL_DATASET = HANDOFFS["control_dataset"].filename


class RunMismatch(ValueError):
    """The run folder holds checkpoints trained with a different recipe."""


# ----------------------------------------------------------------------------- prompts


def load_train_problems(
    data_dir: str | Path, n_prompts: int | None = None
) -> tuple[pd.DataFrame, str]:
    """The first ``n_prompts`` decontaminated train problems, and the file they came from.

    ``train_clean.parquet`` (02_contamination) is the real input. Without it the raw
    ``train.parquet`` is used with a warning: validation problems may leak into training.
    """
    data_dir = Path(data_dir)
    clean = data_dir / CLEAN_TRAIN
    if clean.exists():
        path = clean
    else:
        path = data_dir / RAW_TRAIN
        if not path.exists():
            raise FileNotFoundError(
                f"neither {clean} nor {path} exists: run 01_data (and 02_contamination) first"
            )
        warnings.warn(
            f"{CLEAN_TRAIN} not found: training on the UNFILTERED {RAW_TRAIN} "
            "(run 02_contamination first; validation problems may leak into training)",
            stacklevel=2,
        )
    problems = read_problems(path)
    if n_prompts is not None:
        problems = problems.head(n_prompts)
    return problems.reset_index(drop=True), path.name


# ----------------------------------------------------------------------------- run record


def run_record(
    params: TrainParams,
    problems: pd.DataFrame,
    train_file: str,
    *,
    role: str = "ssd",
    control_of: str | None = None,
) -> dict[str, Any]:
    """What decides the training: model, prompt, SSD decode, the prompts, the filters, the recipe.

    Launch details (launcher, accelerate config) are left out: they change how, not what.
    ``num_processes`` stays in, since it changes the global batch. ``role="control"`` (with
    ``control_of`` = the SSD run's name) marks a control run; pass :func:`control_params`.
    """
    if role not in ("ssd", "control"):
        raise ValueError(f"role must be ssd or control, got {role!r}")
    ids = "\n".join(problems["id"].astype(str))
    train = params.train.model_dump(mode="json", exclude={"launcher", "accelerate_config"})
    record = {
        "run_name": params.run_name,
        "model_id": params.model.id,
        "thinking": params.model.thinking,
        "prompt_template": params.prompt.template,
        "seed": params.seed,
        "ssd_decode": params.ssd_decode.model_dump(mode="json"),
        "ssd_config_id": params.ssd_decode.config_id,
        "train_file": train_file,
        "n_prompts": int(len(problems)),
        "prompt_ids_sha": hashlib.sha256(ids.encode()).hexdigest()[:16],
        "min_response_tokens": params.min_response_tokens,
        "drop_shortest_fraction": params.drop_shortest_fraction,
        "drop_length_stopped": params.drop_length_stopped,
        "train": train,
    }
    if role == "control":
        # Marks the folder as the control of the SSD run ``control_of``: 06 finds it by this.
        record["role"], record["control_of"] = "control", control_of
    record["hash"] = record_hash(record)
    return record


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]


def read_run_record(run_dir: str | Path) -> dict[str, Any] | None:
    path = Path(run_dir) / RUN_RECORD
    return json.loads(path.read_text()) if path.exists() else None


def _diff_keys(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        if k == "hash":
            continue
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff_keys(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: {va!r} -> {vb!r}")
    return out


def prepare_run_dir(root: str | Path, record: dict[str, Any]) -> Path:
    """``root/<run_name>/`` with ``run.json`` written; refuse a folder trained with another recipe."""
    run_dir = Path(root) / record["run_name"]
    old = read_run_record(run_dir)
    if old is not None and old.get("hash") != record["hash"] and list_checkpoints(run_dir):
        changes = "; ".join(_diff_keys(old, record)[:6])
        raise RunMismatch(
            f"{run_dir} holds checkpoints of a different recipe ({changes}). "
            "Set run_name to a new name, or move that folder away to retrain."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RUN_RECORD).write_text(json.dumps(record, indent=1, sort_keys=True))
    return run_dir


# ----------------------------------------------------------------------------- control run


def control_params(params: TrainParams) -> TrainParams:
    """The control run's params: ``ssd_decode`` replaced by ``control_decode`` (T = 1, top-p 1,
    top-k off, min-p 0, no presence penalty; same cap, n and seed), ``run_name`` by the control's.
    Everything else -- prompts, filters, training recipe, steps -- is the SSD run's."""
    return params.model_copy(
        update={"ssd_decode": params.control_decode, "run_name": params.control_run_name}
    )


def check_stored_decode(samples: pd.DataFrame, decode) -> None:
    """Raise unless every stored sample was drawn with ``decode`` (read from the store's own
    per-sample decode columns: temperature, top_p, top_k, min_p, presence_penalty, max_tokens).

    ``top_k`` 0 and -1 both mean "off" (vLLM's spelling is -1). This is the check that the
    control was trained on T = 1, untruncated samples, and SSD on its shifted, truncated ones.
    """
    want = {
        "temperature": decode.temperature,
        "top_p": decode.top_p,
        "top_k": decode.top_k,
        "min_p": decode.min_p,
        "presence_penalty": decode.presence_penalty,
        "max_tokens": decode.max_tokens,
    }
    missing = [c for c in want if c not in samples.columns]
    if missing:
        raise ValueError(
            f"samples lack the stored decode columns {missing}: cannot check how they were drawn"
        )
    for col, value in want.items():
        have = pd.to_numeric(samples[col])
        if col == "top_k":
            have, value = have.where(have > 0, 0), max(int(value), 0)
        bad = ~np.isclose(have.to_numpy(float), float(value))
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} of {len(samples)} samples were drawn with {col} "
                f"{sorted(set(have[bad]))[:3]}, not {value} (config {decode.config_id})"
            )


def find_control_run(checkpoints_root: str | Path, run_name: str) -> Path | None:
    """The folder of the control run of SSD run ``run_name``: the one under ``checkpoints_root``
    whose ``run.json`` says ``role: control, control_of: <run_name>`` (None when there is none).

    Raises when two folders claim to be that control (a renamed control left behind)."""
    found = []
    for rec_path in sorted(Path(checkpoints_root).glob(f"*/{RUN_RECORD}")):
        rec = json.loads(rec_path.read_text())
        if rec.get("role") == "control" and rec.get("control_of") == run_name:
            found.append(rec_path.parent)
    if len(found) > 1:
        raise ValueError(f"several control runs of {run_name!r}: {[str(f) for f in found]}")
    return found[0] if found else None


def build_run_dataset(
    params: TrainParams, samples: pd.DataFrame, problems: pd.DataFrame, tokenizer
):
    """The training set of one run (SSD or control): ``build_ssd_dataset`` with the params' filters.

    Checks first that every stored sample was drawn with ``params.ssd_decode``
    (:func:`check_stored_decode`), and after that every training prompt is, by hash, the text
    the sample was generated from. Returns ``(dataset, report)``.
    """
    from ssdlib.prompts import check_prompt_hashes
    from ssdlib.train.ssd_set import build_ssd_dataset

    check_stored_decode(samples, params.ssd_decode)
    extra = [c for c in ("source", "difficulty") if c in samples.columns]
    dataset, report = build_ssd_dataset(
        samples.drop(columns=extra),
        problems,
        tokenizer=tokenizer,
        render_prompt=params.prompt.render,
        max_length=params.train.max_length,
        min_response_tokens=params.min_response_tokens,
        chat_template_kwargs={"enable_thinking": params.model.thinking},
        drop_shortest_fraction=params.drop_shortest_fraction,
        drop_length_stopped=params.drop_length_stopped,
    )
    gen_hash = samples.set_index(["prompt_id", "sample_idx"])["prompt_hash"]
    keys = list(zip(dataset["prompt_id"], dataset["sample_idx"]))
    check_prompt_hashes(
        dataset["prompt"],
        gen_hash.loc[keys].tolist(),
        [k[0] for k in keys],
        what="training prompts",
    )
    return dataset, report


def report_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its per-sample lists (those stay in memory for tables and figures)."""
    return {k: v for k, v in report.items() if not k.startswith("all_")}


# ----------------------------------------------------------------------------- monitoring


def monitoring_table(report: dict[str, Any]) -> pd.DataFrame:
    """Rates of the SSD samples (all drawn / kept for training), from ``build_ssd_dataset``'s report.

    Accuracy and the behaviour rates are per-sample means for MONITORING only: no row was
    selected on them (the SSD recipe has no correctness filter).
    """
    names = {
        "correct": "accuracy (monitoring only)",
        "think_closed": "think-close rate",
        "boxed": "boxed-answer rate",
        "length_stop": "length-stop rate",
    }
    rows = [
        {"metric": "prompts", "all_samples": report["n_prompts"], "kept": None},
        {"metric": "samples", "all_samples": report["n_samples"], "kept": report["n_kept"]},
    ]
    for key, label in names.items():
        rows.append(
            {
                "metric": label,
                "all_samples": report["rates_all"].get(key),
                "kept": report["rates_kept"].get(key),
            }
        )
    for stat in ("mean", "p50", "p90", "max"):
        rows.append(
            {
                "metric": f"tokens per example, {stat} (prompt + completion)",
                "all_samples": report["tokens_all"].get(stat),
                "kept": report["tokens_kept"].get(stat),
            }
        )
    return pd.DataFrame(rows)


def dropped_table(report: dict[str, Any]) -> pd.DataFrame:
    """Rows dropped from the SSD set, by reason (never by correctness)."""
    why = {
        "empty": "empty / whitespace-only response",
        "short": f"fewer than {report['min_response_tokens']} response tokens",
        "aborted": "aborted by the engine",
        "too_long": f"prompt + completion over max_length {report['max_length']:,} (dropped, never cut)",
        "shortest": f"the {report.get('drop_shortest_fraction', 0):.0%} shortest responses by characters "
        "(ml-ssd's filter)",
        "length_stopped": "hit the generation cap (drop_length_stopped)",
    }
    n = max(report["n_samples"], 1)
    rows = [
        {"reason": r, "meaning": why.get(r, r), "count": c, "share": c / n}
        for r, c in report["dropped"].items()
    ]
    rows.append(
        {
            "reason": "total",
            "meaning": "dropped",
            "count": report["n_dropped"],
            "share": report["n_dropped"] / n,
        }
    )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- training


def trained_steps(run_dir: str | Path) -> int:
    """Step of the newest checkpoint (0 when there is none)."""
    ckpts = list_checkpoints(run_dir)
    return ckpts[-1][0] if ckpts else 0


def train_run(
    params: TrainParams, model_path: str, dataset, dataset_path: str | Path, run_dir: str | Path
) -> dict:
    """Train (or resume) up to ``params.train.max_steps``; do nothing when that step is checkpointed.

    ``launcher: inprocess`` calls :func:`ssdlib.train.train_sft` here; ``accelerate`` runs
    ``accelerate launch -m ssdlib.train`` on the saved dataset in a subprocess (FSDP over
    ``num_processes`` GPUs), its output in ``<run_dir>/launch.log``.
    Returns ``{"action": "skipped"|"trained"|"resumed", "from_step", "to_step", "seconds"}``.
    """
    import time

    t = params.train
    run_dir = Path(run_dir)
    start = trained_steps(run_dir)
    if start >= t.max_steps:
        return {"action": "skipped", "from_step": start, "to_step": start, "seconds": 0.0}
    t0 = time.monotonic()
    kwargs = {**t.sft_kwargs(), "seed": params.seed, "resume": True}
    if t.launcher == "inprocess":
        from ssdlib.train import train_sft

        train_sft(model_path, dataset, run_dir, **kwargs)
    else:
        launch_accelerate(
            t.accelerate_config, t.num_processes, model_path, dataset_path, run_dir, kwargs
        )
    end = trained_steps(run_dir)
    if end < t.max_steps:
        raise RuntimeError(
            f"training stopped at step {end} < max_steps {t.max_steps}; see {run_dir}"
        )
    return {
        "action": "resumed" if start else "trained",
        "from_step": start,
        "to_step": end,
        "seconds": round(time.monotonic() - t0, 1),
    }


def launch_accelerate(
    config_file: str,
    num_processes: int,
    model_path: str,
    dataset_path: str | Path,
    run_dir: Path,
    kwargs: dict,
) -> None:
    """``accelerate launch --config_file ... -m ssdlib.train --config <run_dir>/train_config.json``."""
    cfg = {
        "model_path": str(model_path),
        "dataset_path": str(dataset_path),
        "output_dir": str(run_dir),
        **kwargs,
    }
    cfg_path = run_dir / "train_config.json"
    cfg_path.write_text(json.dumps(cfg, indent=1))
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(repo_root() / config_file),
        "--num_processes",
        str(num_processes),
        "-m",
        "ssdlib.train",
        "--config",
        str(cfg_path),
    ]
    log_path = run_dir / "launch.log"
    with open(log_path, "a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        rc = subprocess.run(
            cmd, stdout=log, stderr=subprocess.STDOUT, cwd=repo_root(), env=os.environ.copy()
        ).returncode
    if rc != 0:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-30:])
        raise RuntimeError(f"accelerate launch exited with {rc}; last lines of {log_path}:\n{tail}")


def checkpoint_table(run_dir: str | Path, relative_to: str | Path | None = None) -> pd.DataFrame:
    """One row per checkpoint: step, path, the logged loss and learning rate at that step."""
    run_dir = Path(run_dir)
    ckpts = list_checkpoints(run_dir)
    log = read_log(run_dir) if (run_dir / LOG_NAME).exists() else pd.DataFrame()
    steps = log[log["loss"].notna()].set_index("step") if "loss" in log else pd.DataFrame()
    rows = []
    for step, path in ckpts:
        rows.append(
            {
                "step": step,
                "path": str(path.relative_to(relative_to)) if relative_to else str(path),
                "loss": float(steps.loc[step, "loss"]) if step in steps.index else None,
                "learning_rate": float(steps.loc[step, "learning_rate"])
                if step in steps.index and "learning_rate" in steps
                else None,
                "weights": any(path.glob("*.safetensors")) or any(path.glob("pytorch_model*.bin")),
            }
        )
    return pd.DataFrame(rows, columns=["step", "path", "loss", "learning_rate", "weights"])
