"""05_train helpers (ssdlib.train.run): prompt source with the clean fallback, the run record that
guards a run folder, monitoring tables, the checkpoint table, and "trained already: skip"."""

from __future__ import annotations

import inspect
import json
import shutil
import warnings

import pandas as pd
import pytest

from ssdlib import config as cfg
from ssdlib.train import run as tr


def _problems(n: int, prefix: str = "t") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"{prefix}/{i:03d}" for i in range(n)],
            "source": "synthetic",
            "problem": [f"Compute {i}+1." for i in range(n)],
            "answer": [str(i + 1) for i in range(n)],
            "difficulty": 1.0,
            "meta": "{}",
        }
    )


def test_load_train_problems_prefers_clean_and_warns_on_fallback(tmp_path):
    _problems(10).to_parquet(tmp_path / "train.parquet", index=False)
    with pytest.warns(UserWarning, match="train_clean.parquet not found"):
        df, name = tr.load_train_problems(tmp_path, 4)
    assert name == "train.parquet" and list(df.id) == [f"t/{i:03d}" for i in range(4)]
    _problems(6, "c").to_parquet(tmp_path / "train_clean.parquet", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df, name = tr.load_train_problems(tmp_path, None)
    assert name == "train_clean.parquet" and len(df) == 6 and df.id.iloc[0] == "c/000"
    with pytest.raises(FileNotFoundError, match="01_data"):
        tr.load_train_problems(tmp_path / "empty", None)


def test_run_record_guards_the_run_folder(tmp_path):
    p = cfg.load_params("05_train", "smoke")
    rec = tr.run_record(p, _problems(5), "train_clean.parquet")
    run_dir = tr.prepare_run_dir(tmp_path, rec)
    assert run_dir == tmp_path / p.run_name
    assert tr.read_run_record(run_dir)["hash"] == rec["hash"] == tr.record_hash(rec)
    # Launch details do not change the recipe; the learning rate or the prompts do.
    same = tr.run_record(
        cfg.load_params(
            "05_train",
            "smoke",
            ["train.launcher=accelerate", "train.accelerate_config=configs/accelerate/fsdp.yaml"],
        ),
        _problems(5),
        "train_clean.parquet",
    )
    assert same["hash"] == rec["hash"]
    other = tr.run_record(
        cfg.load_params("05_train", "smoke", ["train.learning_rate=1e-4"]),
        _problems(5),
        "train_clean.parquet",
    )
    assert other["hash"] != rec["hash"]
    assert tr.run_record(p, _problems(6), "train_clean.parquet")["hash"] != rec["hash"]
    assert tr.run_record(p, _problems(5), "train.parquet")["hash"] != rec["hash"]
    # Without checkpoints a new recipe just replaces the record; with checkpoints it is refused.
    tr.prepare_run_dir(tmp_path, other)
    (run_dir / "checkpoint-3").mkdir()
    with pytest.raises(tr.RunMismatch, match="learning_rate"):
        tr.prepare_run_dir(tmp_path, rec)
    tr.prepare_run_dir(tmp_path, other)  # the same recipe resumes


REPORT = {
    "n_samples": 10,
    "n_prompts": 10,
    "n_kept": 7,
    "n_dropped": 3,
    "dropped": {"empty": 1, "short": 0, "aborted": 0, "too_long": 2},
    "rates_all": {"correct": 0.3, "think_closed": 0.9, "length_stop": 0.2, "boxed": 0.8},
    "rates_kept": {"correct": 0.4, "think_closed": 1.0, "length_stop": 0.0, "boxed": 0.9},
    "tokens_all": {"mean": 100.0, "p50": 90.0, "p90": 180.0, "max": 300.0},
    "tokens_kept": {"mean": 80.0, "p50": 70.0, "p90": 120.0, "max": 150.0},
    "max_length": 200,
    "min_response_tokens": 4,
}


def test_monitoring_and_dropped_tables():
    mon = tr.monitoring_table(REPORT).set_index("metric")
    assert mon.loc["accuracy (monitoring only)", "all_samples"] == 0.3
    assert mon.loc["length-stop rate", "kept"] == 0.0
    assert mon.loc["samples", "kept"] == 7
    drop = tr.dropped_table(REPORT).set_index("reason")
    assert drop.loc["too_long", "count"] == 2 and drop.loc["total", "count"] == 3
    assert drop.loc["total", "share"] == pytest.approx(0.3)
    assert "200" in drop.loc["too_long", "meaning"]


def test_checkpoint_table_and_skip_when_trained(tmp_path, monkeypatch):
    run = tmp_path / "ssd"
    for s in (3, 6):
        (run / f"checkpoint-{s}").mkdir(parents=True)
        (run / f"checkpoint-{s}" / "model.safetensors").write_bytes(b"x")
    lines = [
        {"step": s, "loss": 1.0 / s, "learning_rate": 1e-5 * s, "session": 0} for s in range(1, 7)
    ]
    (run / "train_log.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    table = tr.checkpoint_table(run, relative_to=tmp_path)
    assert table.step.tolist() == [3, 6] and table.path.tolist() == [
        "ssd/checkpoint-3",
        "ssd/checkpoint-6",
    ]
    assert table.loss.tolist() == pytest.approx([1 / 3, 1 / 6]) and table.weights.all()
    assert tr.trained_steps(run) == 6 and tr.trained_steps(tmp_path / "none") == 0

    import ssdlib.train as train_pkg

    def boom(*a, **k):
        raise AssertionError("must not train again")

    monkeypatch.setattr(train_pkg, "train_sft", boom, raising=False)
    p = cfg.load_params("05_train", "smoke", ["train.max_steps=6"])
    out = tr.train_run(p, "model", None, "dataset.parquet", run)
    assert out["action"] == "skipped" and out["to_step"] == 6


def test_accelerate_launcher_runs_the_training_cli(tmp_path, monkeypatch):
    calls = []

    class Done:
        def __init__(self, rc):
            self.returncode = rc

    def fake_run(cmd, stdout=None, **kw):
        calls.append(cmd)
        stdout.write("boom: out of memory\n")
        # what `accelerate launch -m ssdlib.train` leaves: the checkpoints up to max_steps
        (tmp_path / "ssd" / "checkpoint-6").mkdir(parents=True, exist_ok=True)
        return Done(rc[0])

    rc = [0]
    monkeypatch.setattr(tr.subprocess, "run", fake_run)
    p = cfg.load_params(
        "05_train",
        "smoke",
        [
            "train.launcher=accelerate",
            "train.num_processes=2",
            "train.accelerate_config=configs/accelerate/fsdp.yaml",
        ],
    )
    run = tmp_path / "ssd"
    run.mkdir()
    out = tr.train_run(p, "/models/base", None, tmp_path / "ds.parquet", run)
    assert out["action"] == "trained" and out["to_step"] == 6
    cmd = calls[0]
    assert cmd[1:4] == ["-m", "accelerate.commands.launch", "--config_file"]
    assert cmd[4].endswith("configs/accelerate/fsdp.yaml")
    assert cmd[cmd.index("--num_processes") + 1] == "2"
    assert cmd[-4:-1] == ["-m", "ssdlib.train", "--config"]
    conf = json.loads((run / "train_config.json").read_text())
    assert conf["model_path"] == "/models/base" and conf["dataset_path"].endswith("ds.parquet")
    assert (
        conf["gradient_accumulation"] == p.train.gradient_accumulation_steps
        and conf["resume"] is True
    )
    from ssdlib.train import sft  # the CLI (train_from_config) passes these keys to train_sft

    allowed = set(inspect.signature(sft.train_sft).parameters) | {
        "model_path",
        "dataset_path",
        "output_dir",
    }
    assert set(conf) <= allowed
    # A failing launch raises with the end of its log.
    rc[0] = 1
    shutil.rmtree(run / "checkpoint-6")
    with pytest.raises(RuntimeError, match="out of memory"):
        tr.train_run(p, "/models/base", None, tmp_path / "ds.parquet", run)


def test_control_params_record_and_discovery(tmp_path):
    p = cfg.load_params("05_train", "smoke")
    assert p.control.enabled  # on in smoke
    c = tr.control_params(p)
    d = c.ssd_decode
    assert (d.temperature, d.top_p, d.top_k, d.min_p, d.presence_penalty) == (1.0, 1.0, 0, 0.0, 0.0)
    # Same recipe, steps, prompts, cap and filters as the SSD run; only the decode and the folder differ.
    assert c.train == p.train and d.max_tokens == p.ssd_decode.max_tokens and d.n == p.ssd_decode.n
    assert (
        c.drop_shortest_fraction == p.drop_shortest_fraction
        and c.run_name == f"{p.run_name}-control"
    )
    rec = tr.run_record(
        c, _problems(5), "train_clean.parquet", role="control", control_of=p.run_name
    )
    assert rec["role"] == "control" and rec["ssd_decode"]["temperature"] == 1.0
    assert rec["hash"] != tr.run_record(p, _problems(5), "train_clean.parquet")["hash"]
    assert tr.find_control_run(tmp_path, p.run_name) is None
    tr.prepare_run_dir(tmp_path, tr.run_record(p, _problems(5), "train_clean.parquet"))
    ctrl_dir = tr.prepare_run_dir(tmp_path, rec)
    assert tr.find_control_run(tmp_path, p.run_name) == ctrl_dir
    assert tr.find_control_run(tmp_path, "other") is None
    # A control that is no control (ssd_decode already at T=1 untruncated) is refused up front.
    with pytest.raises(cfg.ConfigError, match="control"):
        cfg.load_params(
            "05_train",
            "smoke",
            ["ssd_decode.temperature=1.0", "ssd_decode.top_p=1.0", "ssd_decode.top_k=0"],
        )


def test_control_samples_are_drawn_at_t1_untruncated(tmp_path):
    """Generate through the real store (transformers backend, embedded model, 4 tokens) and read
    back how each stored sample was drawn: the control's at T=1, top-k off, top-p 1."""
    from ssdlib.generation import generate_samples
    from ssdlib.models import resolve_model

    p = cfg.load_params("05_train", "smoke", ["backend.name=transformers", "backend.device=cpu"])
    c = tr.control_params(p)
    probs = _problems(2)
    kw = dict(
        model_path=resolve_model(p.model.id),
        model_id=p.model.id,
        model=p.model,
        backend=p.backend,
        prompt=p.prompt,
        store_root=tmp_path,
        seed=0,
    )
    small = {"max_tokens": 4}
    ctrl = generate_samples(probs, {"control": c.ssd_decode.model_copy(update=small)}, **kw)
    ssd = generate_samples(probs, {"ssd": p.ssd_decode.model_copy(update=small)}, **kw)
    assert len(ctrl) == len(ssd) == 2
    assert (ctrl.temperature == 1.0).all() and (ctrl.top_p == 1.0).all() and (ctrl.top_k <= 0).all()
    assert (ctrl.min_p == 0).all() and (ssd.top_k == 20).all() and (ssd.temperature == 1.1).all()
    tr.check_stored_decode(ctrl, c.ssd_decode.model_copy(update=small))
    tr.check_stored_decode(ssd, p.ssd_decode.model_copy(update=small))
    with pytest.raises(ValueError, match="temperature"):
        tr.check_stored_decode(
            ssd, c.ssd_decode.model_copy(update=small)
        )  # SSD's data is no control data
    with pytest.raises(ValueError, match="top_k"):
        tr.check_stored_decode(ctrl.assign(top_k=20), c.ssd_decode.model_copy(update=small))
    # vLLM spells "off" as -1: the same distribution.
    tr.check_stored_decode(ctrl.assign(top_k=-1), c.ssd_decode.model_copy(update=small))


def test_06_finds_control_checkpoints_and_compares_paired(tmp_path):
    from ssdlib.train import control as ctl

    p = cfg.load_params("05_train", "smoke")
    c = tr.control_params(p)
    rec = tr.run_record(
        c, _problems(5), "train_clean.parquet", role="control", control_of=p.run_name
    )
    ctrl_dir = tr.prepare_run_dir(tmp_path, rec)
    for s in (3, 6):
        (ctrl_dir / f"checkpoint-{s}").mkdir()
    found = tr.find_control_run(tmp_path, p.run_name)
    t = ctl.control_model_table(found, [6])
    assert t.to_dict("records") == [
        {
            "model": "control-6",
            "step": 6,
            "model_id": f"ssd-control-{rec['hash'][:8]}-ckpt-6",
            "path": str(ctrl_dir / "checkpoint-6"),
        }
    ]
    with pytest.raises(ValueError, match="no checkpoint at steps"):
        ctl.control_model_table(found, [9])

    # Paired accuracy on shared prompts: 4 prompts, 2 samples each.
    def rows(model, correct):
        return pd.DataFrame(
            [
                {
                    "model": model,
                    "prompt_id": f"p{i // 2}",
                    "sample_idx": i % 2,
                    "correct": c,
                    "config_id": "eval",
                    "model_id": model,
                }
                for i, c in enumerate(correct)
            ]
        )

    s = pd.concat(
        [
            rows("base", [0, 0, 1, 0, 0, 0, 1, 1]),
            rows("ckpt-6", [1, 1, 1, 1, 0, 1, 1, 1]),
            rows("control-6", [0, 1, 1, 0, 0, 0, 1, 1]),
        ]
    )
    acc = ctl.control_accuracy_table(s, [("ckpt-6", "control-6")], tier="screening").iloc[0]
    assert acc["base_accuracy"] == pytest.approx(0.375) and acc["ssd_accuracy"] == pytest.approx(
        0.875
    )
    assert acc["control_accuracy"] == pytest.approx(0.5)
    assert acc["ssd_minus_control"] == pytest.approx(0.375) and acc[
        "control_minus_base"
    ] == pytest.approx(0.125)
    assert (
        acc["ssd_minus_control_ci_low"]
        < acc["ssd_minus_control"]
        < acc["ssd_minus_control_ci_high"]
    )
