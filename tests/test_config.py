"""Profiles: both validate; every mistake is one line naming the file and the key; overrides; CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from ssdlib import config
from ssdlib.nbparams import cell_values, parameters_cell
from ssdlib.runs import available_notebooks, notebook_path

PROFILES = ("smoke", "qwen3.5-4b")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("notebook", config.NOTEBOOKS)
def test_profiles_validate_for_every_notebook(profile, notebook):
    p = config.load_params(notebook, profile)
    assert isinstance(p, config.PARAM_MODELS[notebook]) and p.profile == profile
    assert len(config.params_hash(p)) == 12


def test_profiles_are_discovered():
    assert set(PROFILES) <= set(config.profiles())


@pytest.mark.parametrize("notebook", available_notebooks())
def test_notebook_parameters_cell_equals_the_smoke_profile(notebook):
    nb = nbformat.read(notebook_path(notebook), as_version=4)
    assert cell_values(parameters_cell(nb).source) == config.injectable(
        config.load_params(notebook, "smoke")
    )


# ------------------------------------------------------------------ a broken copy of smoke


@pytest.fixture
def profile(tmp_path, monkeypatch):
    """A private copy of params/smoke that the tests may break; ``edit(file, old, new)``."""
    root = tmp_path / "params"
    shutil.copytree(config.params_dir() / "smoke", root / "smoke")
    monkeypatch.setattr(config, "params_dir", lambda: root)

    def edit(name: str, old: str, new: str) -> None:
        path = root / "smoke" / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1))

    return edit


def config_error(notebook: str, overrides=None) -> str:
    with pytest.raises(config.ConfigError) as err:
        config.load_params(notebook, "smoke", overrides)
    msg = str(err.value)
    assert "\n" not in msg, f"not one line: {msg!r}"
    return msg


@pytest.mark.parametrize(
    "name, old, new, notebook, where, key, hint",
    [
        # a nested misspelling: the real key is now "missing" too, the misspelling must win
        (
            "03_baselines.yaml",
            "precise:       {temperature",
            "precise:       {temprature",
            "03_baselines",
            "params/smoke/03_baselines.yaml",
            "presets.precise.temprature",
            "did you mean 'temperature'?",
        ),
        (
            "02_contamination.yaml",
            "ngram: 5",
            "ngrams: 5",
            "02_contamination",
            "params/smoke/02_contamination.yaml",
            "ngrams",
            "did you mean 'ngram'?",
        ),
        (
            "common.yaml",
            "  enforce_eager: true",
            "  enforce_eagr: true",
            "03_baselines",
            "params/smoke/common.yaml",
            "backend.enforce_eagr",
            "did you mean 'enforce_eager'?",
        ),
        (
            "05_train.yaml",
            "  warmup_steps: 1",
            "  warmup_step: 1",
            "05_train",
            "params/smoke/05_train.yaml",
            "train.warmup_step",
            "did you mean 'warmup_steps'?",
        ),
    ],
)
def test_misspelled_key_names_file_key_and_suggestion(
    profile, name, old, new, notebook, where, key, hint
):
    profile(name, old, new)
    msg = config_error(notebook)
    assert re.fullmatch(
        rf"\S*{re.escape(where)}: {re.escape(key)}: unknown key \({re.escape(hint)}\)", msg
    ), msg


def test_wrong_type_names_the_file_that_set_it(profile):
    profile("common.yaml", "max_model_len: 1024", "max_model_len: lots")
    msg = config_error("03_baselines")
    assert (
        "params/smoke/common.yaml: model.max_model_len:" in msg
        and "integer" in msg
        and "'lots'" in msg
    )


@pytest.mark.parametrize(
    "old, new, needle",
    [
        (
            "  gradient_checkpointing: false",
            "  gradient_checkpointing: true\n  keep_activation_tokens: -5",
            "greater than or equal to 0",
        ),
        (
            "  num_processes: 1",
            "  num_processes: 1\n  keep_activation_tokens: 64",
            "needs train.gradient_checkpointing: true",
        ),
        (
            "  gradient_checkpointing: false",
            "  gradient_checkpointing: true\n  keep_activation_layers: 2\n  keep_activation_tokens: 64",
            "not both",
        ),
    ],
)
def test_bad_keep_activation_tokens_names_the_file_and_key(profile, old, new, needle):
    profile("05_train.yaml", old, new)
    msg = config_error("05_train")
    assert "params/smoke/05_train.yaml: train.keep_activation_tokens:" in msg and needle in msg, msg


def test_keep_activation_layers_without_checkpointing_is_refused(profile):
    profile(
        "05_train.yaml", "  num_processes: 1", "  num_processes: 1\n  keep_activation_layers: 2"
    )
    msg = config_error("05_train")
    assert "params/smoke/05_train.yaml: train.keep_activation_layers:" in msg, msg
    assert "needs train.gradient_checkpointing: true" in msg


def test_notebook_file_overriding_a_common_key_is_blamed(profile):
    profile("04_variance.yaml", "budget: val", "budget: val\nmodel: {thinking: sometimes}")
    msg = config_error("04_variance")
    assert "params/smoke/04_variance.yaml: model.thinking:" in msg and "'sometimes'" in msg
    # ... while the other notebooks, which do not read that file, are unaffected.
    config.load_params("03_baselines", "smoke")


def test_prompt_plus_max_tokens_over_the_context_window(profile):
    # smoke: max_prompt_tokens 384, max_model_len 1024 -> max_tokens 640 fits, 641 does not
    profile(
        "03_baselines.yaml",
        "presence_penalty: 1.5, max_tokens: 128",
        "presence_penalty: 1.5, max_tokens: 640",
    )
    config.load_params("03_baselines", "smoke")
    profile("03_baselines.yaml", "max_tokens: 640", "max_tokens: 641")
    msg = config_error("03_baselines")
    assert msg.startswith(str(config.params_dir() / "smoke" / "03_baselines.yaml"))
    assert "presets.general.max_tokens:" in msg and "1025 exceeds model.max_model_len (1024)" in msg
    # The same rule guards the SSD and evaluation decodes.
    for nb, key in (
        ("05_train", "ssd_decode.max_tokens=700"),
        ("06_eval", "eval_decode.max_tokens=700"),
    ):
        assert (
            f"command line -p: {key.split('=')[0]}: prompt (384) + max_tokens (700)"
            in config_error(nb, [key])
        )


def test_val300_larger_than_val(profile):
    profile("01_data.yaml", "budgets: {synthetic: 16}", "budgets: {synthetic: 41}")
    msg = config_error("01_data")
    assert (
        "params/smoke/01_data.yaml: val300.budgets.synthetic: val300 takes 41 rows but val has only 40"
        in msg
    )


def test_unknown_source_option_fails_before_any_notebook_runs(profile):
    profile("01_data.yaml", "    n_planted: 4", "    n_plantd: 4")
    msg = config_error("01_data")
    assert msg.startswith(
        str(config.params_dir() / "smoke" / "01_data.yaml") + ": sources.synthetic: "
    )
    assert "'n_plantd'" in msg


def test_source_specs_checked_against_the_loader():
    assert "unknown loader 'nope'" in config_error("01_data", ["sources.synthetic.loader=nope"])
    msg = config_error("01_data", ["sources.extra={loader: math, role: train, levls: [4]}"])
    assert msg.startswith("command line -p: sources.extra: ") and "has no option 'levls'" in msg
    assert "no role given" in config_error("01_data", ["sources.extra={loader: math}"])
    # A real loader option passes validation (nothing is loaded: MATH is not on this machine).
    p = config.load_params(
        "01_data", "smoke", ["sources.extra={loader: math, role: train, levels: [4, 5]}"]
    )
    assert p.sources["extra"]["levels"] == [4, 5]


def test_other_data_rules():
    assert "fractions sum to 0.5, not 1" in config_error("01_data", ["train.mix.synthetic=0.5"])
    assert "'other' is used by a split" in config_error(
        "01_data", ["val.budgets.other=1", "val300.budgets.other=0"]
    )


def test_cross_key_rules_of_other_notebooks():
    assert "temperature_sweep.base: 'nope' is not one of presets" in config_error(
        "03_baselines", ["temperature_sweep.base=nope"]
    )
    assert "train.warmup_steps: 6 >= max_steps 6" in config_error(
        "05_train", ["train.warmup_steps=6"]
    )
    assert "lockfork.lock_quantile: must be below fork_quantile" in config_error(
        "06_eval", ["lockfork.lock_quantile=0.95"]
    )
    assert "threshold_same_answer: must not exceed" in config_error(
        "02_contamination", ["threshold_same_answer=0.9"]
    )


# ------------------------------------------------------------------ overrides


def test_overrides_parse_values_as_yaml():
    p = config.load_params(
        "03_baselines",
        "smoke",
        [
            "presets.general.top_k=5",
            "presets.general.temperature=0.7",
            "temperature_sweep.values=[0.5, 0.9]",
            "limit_prompts=3",
            "model.thinking=true",
            "prompt.template=Q = {problem}",
        ],
    )
    g = p.presets["general"]
    assert (g.top_k, g.temperature, g.presence_penalty, g.n) == (
        5,
        0.7,
        1.5,
        4,
    )  # untouched keys stay
    assert (
        p.temperature_sweep.values == [0.5, 0.9]
        and p.limit_prompts == 3
        and p.model.thinking is True
    )
    assert p.prompt.template == "Q = {problem}"
    assert config.load_params("03_baselines", "smoke", ["limit_prompts=null"]).limit_prompts is None
    assert (
        config.load_params("03_baselines", "smoke", {"presets.precise.n": 2}).presets["precise"].n
        == 2
    )
    assert config.parse_override("x.y=[1, 2]") == (("x", "y"), [1, 2])


def test_bad_overrides():
    assert config_error("03_baselines", ["limit_prompts=0"]).startswith(
        "command line -p: limit_prompts:"
    )
    assert "must look like key=value" in config_error("03_baselines", ["limit_prompts"])
    with pytest.raises(
        config.ConfigError, match=r"^command line -p: nonsense\.key: unknown key in notebooks"
    ):
        config.overrides_for("01_data", ["nonsense.key=1"])
    assert config.overrides_for("01_data", ["presets.general.n=2", "seed=3"]) == ["seed=3"]


def test_unknown_profile_and_notebook():
    with pytest.raises(config.ConfigError, match="unknown profile 'nope'"):
        config.load_params("01_data", "nope")
    with pytest.raises(config.ConfigError, match="unknown notebook '07_x'"):
        config.load_params("07_x", "smoke")


# ------------------------------------------------------------------ the ssd command


def ssd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ssdlib.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_config_error_exits_2_with_one_line():
    res = ssd("plan", "--profile", "smoke", "-p", "presets.general.temprature=1")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: command line -p: presets.general.temprature: unknown key (did you mean 'temperature'?)"
    ]
    assert "total" not in res.stdout


def test_cli_plan_prints_the_total_token_budget():
    from ssdlib.plan import plan_profile

    res = ssd("plan", "--profile", "qwen3.5-4b")
    assert res.returncode == 0, res.stderr
    m = re.search(r"^total generated-token budget: ([\d,]+)$", res.stdout, re.M)
    assert m, res.stdout
    expected = int(plan_profile("qwen3.5-4b").token_budget.sum())
    assert int(m.group(1).replace(",", "")) == expected > 10**9
    assert "03_baselines" in res.stdout and "06_eval" in res.stdout
