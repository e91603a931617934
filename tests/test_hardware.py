"""The smoke profile's ``auto`` precision follows what the CPU computes natively (ssdlib.hardware)."""

from __future__ import annotations

import pytest

from ssdlib import hardware
from ssdlib.config import ConfigError, load_params
from ssdlib.train.sft import SFTSettings

AVX2 = {"fpu", "sse4_2", "avx", "avx2", "fma"}  # an AMD EPYC (Zen 1) box: no bf16 dot product


@pytest.fixture
def cpu(monkeypatch):
    """Set the CPU's flags and architecture for ssdlib.hardware."""

    def set_cpu(flags: set[str], machine: str = "x86_64"):
        hardware.cpu_has_native_bf16.cache_clear()
        monkeypatch.setattr(hardware, "_cpu_flags", lambda: set(flags))
        monkeypatch.setattr(hardware.platform, "machine", lambda: machine)

    yield set_cpu
    hardware.cpu_has_native_bf16.cache_clear()


@pytest.mark.parametrize(
    "flags, machine, native",
    [
        (AVX2, "x86_64", False),
        (AVX2 | {"avx512f", "avx512bw"}, "x86_64", False),  # AVX-512 without its bf16 extension
        (AVX2 | {"avx512f", "avx512_bf16"}, "x86_64", True),
        (AVX2 | {"amx_tile", "amx_bf16"}, "x86_64", True),
        ({"fp", "asimd", "bf16"}, "aarch64", True),
        ({"fp", "asimd"}, "aarch64", False),
    ],
)
def test_native_bf16_is_read_from_the_cpu_flags(cpu, flags, machine, native):
    cpu(flags, machine)
    assert hardware.cpu_has_native_bf16() is native
    assert hardware.cpu_compute_dtype("auto") == ("auto" if native else "float32")
    s = SFTSettings(max_length=64, max_steps=1, learning_rate=1e-5, bf16="auto")
    assert s.autocast_bf16(cuda=False) is native


def test_explicit_settings_are_kept(cpu):
    cpu(AVX2)
    assert hardware.cpu_compute_dtype("bfloat16") == "bfloat16"
    assert hardware.cpu_compute_dtype("float32") == "float32"
    s = SFTSettings(max_length=64, max_steps=1, learning_rate=1e-5, bf16=True)
    assert s.autocast_bf16(cuda=False) is True
    assert SFTSettings(max_length=64, max_steps=1, bf16=False).autocast_bf16(cuda=True) is False


def test_this_machine_is_probed_without_error():
    hardware.cpu_has_native_bf16.cache_clear()
    assert isinstance(hardware.cpu_has_native_bf16(), bool)


@pytest.mark.parametrize(
    "bf16, cuda, flags, want",
    [
        (None, True, AVX2, True),
        (None, False, AVX2, False),
        ("auto", True, AVX2, True),
        ("auto", False, AVX2, False),
        ("auto", False, AVX2 | {"avx512_bf16"}, True),
        (True, False, AVX2, True),  # asked for explicitly: kept, however slow
        (False, True, AVX2, False),
    ],
)
def test_training_autocast(cpu, bf16, cuda, flags, want):
    cpu(flags)
    s = SFTSettings(max_length=64, max_steps=1, learning_rate=1e-5, bf16=bf16)
    assert s.autocast_bf16(cuda) is want
    assert s.sft_config_kwargs(__import__("pathlib").Path("/tmp/x"), cuda)["bf16"] is want


def test_smoke_profile_asks_for_auto_and_a_typo_is_named():
    assert load_params("05_train", "smoke").train.bf16 == "auto"
    with pytest.raises(ConfigError) as e:
        load_params("05_train", "smoke", ["train.bf16=sometimes"])
    assert "train.bf16" in str(e.value)


def test_cpu_engines_get_the_resolved_dtype(cpu, monkeypatch):
    """make_backend hands a CPU vLLM engine float32 where auto would be emulated bf16."""
    from ssdlib.generation import engine_pool

    seen = []
    monkeypatch.setattr(
        engine_pool, "lease", lambda path, model, backend, seed=0: seen.append(model)
    )
    p = load_params("03_baselines", "smoke")
    assert p.model.dtype == "auto" and p.backend.device == "cpu"
    cpu(AVX2)
    engine_pool.make_backend("m", p.model, p.backend)
    cpu(AVX2 | {"avx512_bf16"})
    engine_pool.make_backend("m", p.model, p.backend)
    assert [m.dtype for m in seen] == ["float32", "auto"]
    gpu = p.backend.model_copy(update={"device": "cuda"})
    cpu(AVX2)
    engine_pool.make_backend("m", p.model, gpu)
    assert seen[-1].dtype == "auto"  # GPUs keep vLLM's choice
