"""06_eval logic (ssdlib.verdict.tables, ssdlib.verdict.figures) and the 05/06 config blocks, on small
constructed cases: paired numbers must equal ssdlib.stats, pass@k the closed form."""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssdlib import config as cfg
from ssdlib.config import BackendCfg, ConfigError, DecodeCfg, ModelCfg
from ssdlib.lockfork import study as lf_study
from ssdlib.stats import paired_comparison
from ssdlib.verdict import tables as v

EVAL = DecodeCfg(temperature=0.7, top_p=0.95, top_k=20, max_tokens=96, n=4)
BASE = DecodeCfg(temperature=1.0, top_p=0.95, top_k=20, max_tokens=96, n=2)


def _samples(
    correct: dict[str, list[int]], *, config_id: str, model_id: str, **extra
) -> pd.DataFrame:
    """Graded rows: one per (prompt, sample) with the given 0/1 correctness."""
    rows = []
    for pid, cs in correct.items():
        for i, c in enumerate(cs):
            rows.append(
                {
                    "prompt_id": pid,
                    "sample_idx": i,
                    "config_id": config_id,
                    "model_id": model_id,
                    "prompt_hash": f"h-{pid}",
                    "response": f"r{i}" if i % 3 else "",
                    "n_tokens": 10 + i,
                    "finish_reason": "stop",
                    "correct": float(c),
                    "boxed": 1.0,
                    "think_closed": 1.0,
                    "length_stop": 0.0,
                    "timed_out": False,
                    "source": "s" + pid[-1],
                    "difficulty": float(int(pid[-1]) % 2 + 1),
                    "temperature": 0.7,
                    **extra,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture
def case():
    """6 prompts; a baseline with 2 samples, the base model and one checkpoint with 4 each."""
    base_c = {f"p{i}": c for i, c in enumerate([[1, 0], [0, 0], [1, 1], [0, 1], [0, 0], [1, 0]])}
    m0 = {
        f"p{i}": c
        for i, c in enumerate(
            [[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0]]
        )
    }
    m1 = {
        f"p{i}": c
        for i, c in enumerate(
            [[1, 1, 0, 1], [1, 0, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0], [0, 0, 1, 0], [1, 1, 1, 0]]
        )
    }
    baseline = _samples(base_c, config_id=BASE.config_id, model_id="m")
    samples = pd.concat(
        [
            _samples(m0, config_id=EVAL.config_id, model_id="m", model="base", step=0),
            _samples(
                m1, config_id=EVAL.config_id, model_id="run-abc-ckpt-6", model="ckpt-6", step=6
            ),
        ],
        ignore_index=True,
    )
    return samples, baseline, m1


# ----------------------------------------------------------------------------- selection


def test_select_checkpoints():
    avail = [(6, Path("c6")), (3, Path("c3")), (9, Path("c9"))]
    assert v.select_checkpoints(avail, "all") == [(3, Path("c3")), (6, Path("c6")), (9, Path("c9"))]
    assert v.select_checkpoints(avail, "last") == [(9, Path("c9"))]
    assert v.select_checkpoints(avail, [9, 3]) == [(3, Path("c3")), (9, Path("c9"))]
    with pytest.raises(ValueError, match=r"\[4\] not found"):
        v.select_checkpoints(avail, [3, 4])
    with pytest.raises(FileNotFoundError, match="05_train"):
        v.select_checkpoints([], "all")


def test_checkpoint_model_id_and_eval_decodes():
    assert v.checkpoint_model_id("ssd", 50, "0123456789ab") == "ssd-01234567-ckpt-50"
    assert v.checkpoint_model_id("ssd", 50) == "ssd-ckpt-50"
    d = v.eval_decodes(EVAL, [0.6, 0.7, 1.0])
    assert list(d) == ["eval", "T=0.6", "T=1"]  # 0.7 is eval_decode itself: not listed twice
    assert (
        d["T=0.6"].temperature == 0.6 and d["T=0.6"].n == EVAL.n and d["T=0.6"].top_k == EVAL.top_k
    )


def test_engine_model_cfg_gives_an_explicit_dtype_on_gpu(tmp_path):
    model = ModelCfg(id="x", max_model_len=100, max_prompt_tokens=10, thinking=False, dtype="auto")
    cpu = BackendCfg(device="cpu")
    assert v.engine_model_cfg(model, cpu, str(tmp_path)).dtype == "auto"
    explicit = model.model_copy(update={"dtype": "bfloat16"})
    assert (
        v.engine_model_cfg(explicit, BackendCfg(device="cuda"), str(tmp_path)).dtype == "bfloat16"
    )
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "llama", "torch_dtype": "bfloat16"})
    )
    assert v.engine_model_cfg(model, BackendCfg(device="cuda"), str(tmp_path)).dtype == "bfloat16"


# ----------------------------------------------------------------------------- tables


def _arms(samples, baseline):
    return {
        "baseline: b": baseline,
        "base": samples[samples.model == "base"],
        "ckpt-6": samples[samples.model == "ckpt-6"],
    }


def test_results_table_rows_columns_and_pass_at_k(case):
    samples, baseline, m1 = case
    table = v.results_table(
        _arms(samples, baseline),
        k_max=4,
        steps={"base": 0, "ckpt-6": 6},
        tier="screening",
        prompt_set="val300",
    )
    assert list(table.model) == ["baseline: b", "base", "ckpt-6"]
    assert table.step.tolist()[1:] == [0, 6] and np.isnan(table.step.iloc[0])
    assert table.tier.eq("screening").all() and table.prompt_set.eq("val300").all()
    assert {"think_close_rate", "boxed_rate", "length_stop_rate", "pass@1", "pass@4", "se"} <= set(
        table.columns
    )
    # pass@k is the unbiased estimator, checked against the closed form 1 - C(n-c,k)/C(n,k).
    ck = table.set_index("model").loc["ckpt-6"]
    for k in (1, 2, 3, 4):
        closed = np.mean([1 - math.comb(4 - sum(c), k) / math.comb(4, k) for c in m1.values()])
        assert ck[f"pass@{k}"] == pytest.approx(closed)
    assert ck["pass@1"] == pytest.approx(ck["accuracy"])
    # The baseline has 2 samples per prompt: pass@3 cannot be estimated, it is NaN, not a guess.
    assert np.isnan(table.set_index("model").loc["baseline: b", "pass@3"])
    with pytest.raises(ValueError, match="one decode config"):
        v.results_table({"x": pd.concat([samples, samples.assign(config_id="x")])}, k_max=1)


def test_sweep_table_is_holm_adjusted_and_curves(case):
    samples, baseline, _ = case
    hot = samples.assign(temperature=1.0, config_id="hot")
    sweep = v.sweep_table(pd.concat([samples, hot]), baseline, baseline_name="b")
    assert len(sweep) == 4 and set(sweep.temperature) == {0.7, 1.0}
    row = sweep[(sweep.model == "ckpt-6") & (sweep.temperature == 0.7)].iloc[0]
    ref = paired_comparison(baseline, samples[samples.model == "ckpt-6"], test="t")
    assert row["diff"] == pytest.approx(ref["diff"]) and row["p_value"] == pytest.approx(
        ref["p_value"]
    )
    assert (sweep.family_size == 4).all() and (sweep.p_holm >= sweep.p_value - 1e-12).all()
    curves = v.pass_at_k_curves(samples, baseline, baseline_name="b")
    assert curves.groupby("model").k.max().to_dict() == {"base": 4, "ckpt-6": 4, "baseline: b": 2}


def test_baseline_rows_are_read_from_03_by_name(case):
    _, baseline, _ = case
    g03 = pd.concat(
        [
            baseline.assign(config_name="general_no_pp,T=1"),
            baseline.assign(config_id="other", config_name="precise"),
        ]
    )
    assert v.decode_names(g03) == {
        "general_no_pp": BASE.config_id,
        "T=1": BASE.config_id,
        "precise": "other",
    }
    got = v.baseline_rows(g03, "T=1", "m")
    assert set(got.config_id) == {BASE.config_id} and len(got) == len(baseline)
    with pytest.raises(ValueError, match="no decode named 'nope'"):
        v.baseline_rows(g03, "nope", "m")
    with pytest.raises(ValueError, match="rerun 03_baselines"):
        v.baseline_rows(g03, "precise", "other-model")


def test_pick_responses_spreads_over_prompts_and_skips_empty(case):
    samples, _, _ = case
    base = samples[samples.model == "base"]
    picked = lf_study.pick_responses(base, 8)
    assert len(picked) == 8
    assert (picked.response.str.strip() != "").all()
    assert picked.prompt_id.iloc[:6].nunique() == 6  # one per prompt before any second sample
    assert lf_study.lockfork_engine_kwargs("vllm", "cpu") == {"enforce_eager": True}
    assert lf_study.lockfork_engine_kwargs("vllm", "cuda") is None
    assert lf_study.lockfork_engine_kwargs("transformers", "cpu") is None


# ----------------------------------------------------------------------------- figures


def test_figures_have_titles_and_save(case, tmp_path):
    import matplotlib.pyplot as plt

    from ssdlib.plots import save_figure
    from ssdlib.stats.metrics import summarize
    from ssdlib.verdict import figures as fe
    from ssdlib.verdict.contrasts import contrast_table, family, headline

    samples, baseline, _ = case
    arms = _arms(samples, baseline)
    table = v.results_table(arms, k_max=4, steps={"base": 0, "ckpt-6": 6})
    con = contrast_table(
        arms,
        family(
            ["ssd_vs_baseline", "ssd_vs_base", "base_vs_baseline"],
            ["ckpt-6"],
            baseline_label="baseline: b",
        ),
        tier="screening",
        prompt_set="val300",
    )
    sweep = v.sweep_table(
        pd.concat([samples, samples.assign(temperature=1.0, config_id="hot")]),
        baseline,
        baseline_name="b",
    )
    both = pd.concat([samples, baseline.assign(model="baseline: b")])
    label = "screening (val300, 6 prompts)"
    figs = {
        "steps": fe.plot_accuracy_by_step(table, con, label, ["ckpt-6"]),
        "passk": fe.plot_pass_at_k(v.pass_at_k_curves(samples, baseline, baseline_name="b"), label),
        "sweep": fe.plot_temperature_sweep(sweep, table.iloc[0], label),
        "breakdown": fe.plot_breakdown(
            summarize(both, by=["model", "source"]),
            summarize(both, by=["model", "difficulty"]),
            label,
        ),
        "contrasts": fe.plot_contrasts(con, "screening (val300): " + headline(con)),
    }
    for name, fig in figs.items():
        paths = save_figure(fig, tmp_path, name)
        assert all(p.exists() and p.stat().st_size > 0 for p in paths)
        title = fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title()
        assert title.startswith("screening (val300")
        plt.close(fig)
    steps_title = figs["steps"]._suptitle.get_text()
    assert (
        "exploratory" in steps_title and "best" not in steps_title
    )  # screening never names a winner


# ----------------------------------------------------------------------------- config


def test_train_cfg_maps_to_train_sft_arguments():
    from ssdlib.train import sft

    p = cfg.load_params("05_train", "smoke")
    kw = p.train.sft_kwargs()
    assert kw["gradient_accumulation"] == p.train.gradient_accumulation_steps
    assert "gradient_accumulation_steps" not in kw and "launcher" not in kw
    accepted = set(inspect.signature(sft.train_sft).parameters)
    assert set(kw) <= accepted, set(kw) - accepted
    q = cfg.load_params("05_train", "qwen3.5-4b").train
    assert q.per_device_batch_size == 1 and q.global_batch_size == 32


@pytest.mark.parametrize(
    ("notebook", "override", "key"),
    [
        ("05_train", ["train.num_processes=2"], "train.num_processes"),
        (
            "05_train",
            ["train.launcher=accelerate", "train.accelerate_config=null"],
            "train.accelerate_config",
        ),
        (
            "05_train",
            ["train.launcher=accelerate", "train.accelerate_config=nope.yaml"],
            "train.accelerate_config",
        ),
        ("05_train", ["train.max_length=100000"], "train.max_length"),
        ("05_train", ["run_name=a/b"], "run_name"),
        ("06_eval", ["baseline=nope"], "baseline"),
        ("06_eval", ["checkpoints=[0]"], "checkpoints"),
        ("06_eval", ["candidates.rule=steps"], "candidates.steps"),
        ("06_eval", ["candidates.steps=[3]"], "candidates.steps"),
        ("06_eval", ["contrasts=[ssd_vs_baseline,ssd_vs_baseline]"], "contrasts"),
        ("06_eval", ["contrasts=[ssd_vs_nothing]"], "contrasts.0"),
        ("06_eval", ["alpha=1.5"], "alpha"),
        ("06_eval", ["control.enabled=false"], "contrasts"),
        (
            "06_eval",
            ["lockfork.backend=vllm", "lockfork.entropy_col=entropy_full"],
            "lockfork.entropy_col",
        ),
        ("06_eval", ["lockfork.n_boot=5"], "lockfork.n_boot"),
    ],
)
def test_bad_params_fail_with_one_line_naming_the_key(notebook, override, key):
    with pytest.raises(ConfigError) as err:
        cfg.load_params(notebook, "smoke", override)
    msg = str(err.value)
    assert "\n" not in msg and f": {key}:" in msg


def test_lockfork_block_is_accepted_by_lock_fork_summary_keys():
    from ssdlib.lockfork import DEFAULT_PARAMS, SCORING_PARAM_KEYS

    fields = set(cfg.LockForkCfg.model_fields)
    assert fields <= set(DEFAULT_PARAMS) | set(SCORING_PARAM_KEYS), (
        fields - set(DEFAULT_PARAMS) - set(SCORING_PARAM_KEYS)
    )
