"""Parameters that passed validation before issue #18 now get the one-line error (exit code 2).

Each case was tried on the code before the fix: sweep values ran unchecked (T=-1 planned, min-p 5
accepted), n had no upper bound and took ``true``, ``timeout_s: .inf`` passed, a non-UTF-8 byte or
a directory in place of a YAML file gave a traceback, nested aliases expanded exponentially,
``--profile ../../x`` wrote outside outputs/, and ``-p profile=...`` blamed a YAML file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ssdlib import cli, config, runs


@pytest.fixture
def params(tmp_path, monkeypatch):
    """A private params/ with a copy of smoke, at ``<tmp>/repo/params`` (two levels below tmp)."""
    root = tmp_path / "repo" / "params"
    shutil.copytree(config.params_dir() / "smoke", root / "smoke")
    monkeypatch.setattr(config, "params_dir", lambda: root)
    return root


def error(notebook: str, overrides=None, profile: str = "smoke") -> str:
    with pytest.raises(config.ConfigError) as err:
        config.load_params(notebook, profile, overrides)
    msg = str(err.value)
    assert "\n" not in msg
    # a private params/ (fixture) is outside the repo, so its files show as absolute paths
    return msg.replace(f"{config.params_dir().parent}/", "")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


# ---------------------------------------------------------------- sweeps follow the preset rules


@pytest.mark.parametrize(
    "override, where, says",
    [
        (
            "temperature_sweep.values=[0.6, -1.0]",
            "temperature_sweep.values.1",
            "temperature -1.0: Input should be greater than or equal to 0",
        ),
        ("temperature_sweep.values=[50]", "temperature_sweep.values.0", "less than or equal to 10"),
        ("temperature_sweep.values=[.nan]", "temperature_sweep.values.0", "finite number"),
        (
            "min_p_sweep.values=[5.0]",
            "min_p_sweep.values.0",
            "min_p 5.0: Input should be less than or equal to 1",
        ),
        ("min_p_sweep.values=[-0.1]", "min_p_sweep.values.0", "greater than or equal to 0"),
    ],
)
def test_sweep_values_are_checked_like_presets(override, where, says):
    msg = error("03_baselines", [override])
    assert msg.startswith(f"command line -p: {where}: ") and says in msg, msg


def test_sweep_value_in_a_yaml_file_names_the_file(params):
    edit(
        params / "smoke" / "03_baselines.yaml",
        "values: [0.6, 1.0, 1.3]",
        "values: [0.6, -1.0, 1.3]",
    )
    msg = error("03_baselines")
    assert msg.startswith(
        "params/smoke/03_baselines.yaml: temperature_sweep.values.1: temperature -1.0"
    )


def test_t_eval_sweep_is_checked_like_eval_decode():
    assert error("06_eval", ["t_eval_sweep=[0.7, .inf]"]).startswith(
        "command line -p: t_eval_sweep.1:"
    )
    assert "greater than or equal to 0" in error("06_eval", ["t_eval_sweep=[-0.5]"])


# ---------------------------------------------------------------- bounds, finiteness, booleans


@pytest.mark.parametrize(
    "override, says",
    [
        (
            "presets.general.n=1000000000000000",
            "presets.general.n: Input should be less than or equal to 1024",
        ),
        ("presets.general.n=true", "presets.general.n: Value error, booleans are not numbers"),
        (
            "presets.general.max_tokens=10000000",
            "presets.general.max_tokens: Input should be less than or equal to",
        ),
        (
            "presets.general.temperature=.inf",
            "presets.general.temperature: Input should be a finite number",
        ),
        ("presets.general.top_p=.nan", "presets.general.top_p: Input should be a finite number"),
        ("grading.timeout_s=.inf", "grading.timeout_s: Input should be a finite number"),
        ("grading.timeout_s=86400", "grading.timeout_s: Input should be less than or equal to 600"),
        (
            "model.max_model_len=1000000000",
            "model.max_model_len: Input should be less than or equal to",
        ),
        (
            "temperature_sweep.values=[true]",
            "temperature_sweep.values: Value error, booleans are not numbers",
        ),
        ("limit_prompts=false", "limit_prompts: Value error, booleans are not numbers"),
        ("model.thinking=1", "model.thinking: Value error, must be true or false"),
    ],
)
def test_bounds_finiteness_and_booleans(override, says):
    msg = error("03_baselines", [override])
    assert msg.startswith("command line -p: ") and says in msg, msg


def test_huge_n_in_a_yaml_file_is_refused_before_planning(params, capsys):
    edit(
        params / "smoke" / "03_baselines.yaml",
        "max_tokens: 128, n: 4}",
        "max_tokens: 128, n: 1.0e+15}",
    )
    assert error("03_baselines").startswith("params/smoke/03_baselines.yaml: presets.general.n: ")
    assert cli.main(["plan", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: {params}/smoke/03_baselines.yaml: presets.general.n:")
        and err.count("\n") == 1
    )


# ---------------------------------------------------------------- YAML files


def test_non_utf8_byte_names_file_and_line(params):
    path = params / "smoke" / "03_baselines.yaml"
    path.write_bytes(
        path.read_bytes().replace(b"budgets: [val300, val]", b"budgets: [val300, val] # caf\xe9")
    )
    line = path.read_bytes().split(b"\n").index(b"budgets: [val300, val] # caf\xe9") + 1
    assert error("03_baselines") == (
        f"params/smoke/03_baselines.yaml: line {line} is not UTF-8 (byte 0xe9); "
        "save the file as UTF-8"
    )


@pytest.mark.parametrize("name", ["common.yaml", "03_baselines.yaml"])
def test_a_directory_where_a_yaml_file_should_be(params, name):
    path = params / "smoke" / name
    path.unlink()
    path.mkdir()
    assert error("03_baselines").startswith(
        f"params/smoke/{name}: is not a readable YAML file (Is a directory"
    )


def test_alias_bomb_is_refused_at_the_first_alias(params):
    # Nested mapping aliases: 10^11 leaves in < 2 KB. Before #18 the loader walked every copy:
    # depth 7 took 17 s, each level x10 more.
    bomb = ["a0: &a0 {" + ", ".join(f"k{j}: x" for j in range(10)) + "}"]
    bomb += [
        f"a{i}: &a{i} {{" + ", ".join(f"k{j}: *a{i - 1}" for j in range(10)) + "}"
        for i in range(1, 12)
    ]
    (params / "smoke" / "03_baselines.yaml").write_text("\n".join(bomb) + "\n")
    msg = error("03_baselines")
    assert (
        msg.startswith("params/smoke/03_baselines.yaml: line 2 is not valid YAML")
        and "alias *a0 refused" in msg
    )


def test_alias_in_an_override_is_not_expanded():
    msg = error("03_baselines", ["temperature_sweep.values=[&a 0.6, *a]"])
    assert msg.startswith("command line -p: temperature_sweep.values:"), msg


def test_a_key_written_twice_is_refused(params):
    edit(params / "smoke" / "common.yaml", "seed: 0\n", "seed: 0\nseed: 1\n")
    msg = error("03_baselines")
    assert (
        msg.startswith("params/smoke/common.yaml: line 5 is not valid YAML")
        and "'seed' appears twice" in msg
    )


# ---------------------------------------------------------------- profile names and outputs


@pytest.mark.parametrize(
    "name", ["../../somewhere", "a/b", "..", ".", "/abs", "smoke/../smoke", ""]
)
def test_profile_must_be_a_plain_name(name):
    msg = error("03_baselines", profile=name)
    assert msg.startswith(
        f"command line: profile {name!r} must be a plain folder name under params/"
    )
    with pytest.raises(config.ConfigError):
        runs.profile_paths(name)


def test_crafted_profile_outside_params_writes_nothing(params, tmp_path, monkeypatch, capsys):
    # A complete profile two levels above params/ and above outputs/: before #18 `ssd run` wrote
    # manifests and an executed notebook to <outputs>/../../somewhere.
    outside = params.parent.parent / "somewhere"
    shutil.copytree(params / "smoke", outside)
    edit(outside / "common.yaml", "profile: smoke", "profile: ../../somewhere")
    outputs = tmp_path / "repo" / "outputs"
    monkeypatch.setenv(runs.OUTPUTS_ENV, str(outputs))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert cli.main(["run", "04", "--profile", "../../somewhere"]) == 2
    assert "must be a plain folder name under params/" in capsys.readouterr().err
    assert (
        sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    )  # nothing written anywhere


@pytest.mark.parametrize(
    "verb", ["report", "doctor", "plan", "run 04", "pipeline", "store compact"]
)
def test_every_verb_refuses_a_path_as_profile(verb, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(runs.OUTPUTS_ENV, str(tmp_path / "a" / "outputs"))
    assert cli.main(verb.split() + ["--profile", "../x"]) == 2
    assert "must be a plain folder name under params/" in capsys.readouterr().err
    assert not (tmp_path / "a" / "x").exists()


def test_run_result_reports_the_profile_it_ran(tmp_path, monkeypatch):
    # cli._report used to recover the profile from the executed notebook's path (wrong for a
    # nested profile); the result carries it now.
    assert "profile" in runs.RunResult.__dataclass_fields__
    monkeypatch.setenv(runs.OUTPUTS_ENV, str(tmp_path))
    res = runs.RunResult(
        "04_variance", "ok", tmp_path / "x" / "y.ipynb", tmp_path / "m.json", 0.0, profile="smoke"
    )
    assert (
        cli._report([res]) == 0 and (tmp_path / "smoke").is_dir() and not (tmp_path / "x").exists()
    )


# ---------------------------------------------------------------- overrides name the command line


def test_profile_override_names_the_command_line():
    msg = error("03_baselines", ["profile=qwen3.5-4b"])
    assert (
        msg
        == "command line -p: profile: cannot be overridden (it is the params/ folder); use --profile qwen3.5-4b"
    )
    assert "params/smoke/common.yaml" not in msg


def test_plan_cli_error_is_one_line_with_exit_2(capsys):
    assert cli.main(["plan", "--profile", "smoke", "-p", "min_p_sweep.values=[5.0]"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: command line -p: min_p_sweep.values.0: min_p 5.0")
        and err.count("\n") == 1
    )


def test_real_profiles_still_validate():
    for profile in ("smoke", "qwen3.5-4b"):
        for nb in config.NOTEBOOKS:
            config.load_params(nb, profile)
    assert os.path.isdir(config.params_dir() / "smoke")
