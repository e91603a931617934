"""Engine reuse across models (ssdlib.generation.engine_pool): when two model folders may share
one vLLM engine, and (slow) that swapping weights in place gives a fresh engine's outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psutil
import pytest
import torch

from ssdlib.config import DecodeCfg, load_params
from ssdlib.data.synthetic import generate_problems
from ssdlib.generation import engine_pool, render_prompts
from ssdlib.generation.backends import Request
from ssdlib.generation.engine_pool import SIGNATURE_FILES, engine_key, model_signature

SMOKE = load_params("06_eval", "smoke")


def small_files(src: Path, dst: Path, **config_updates) -> Path:
    """A model folder with ``src``'s tokenizer/config files (no weights), config edited."""
    dst.mkdir(parents=True)
    for name in SIGNATURE_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, dst / name)
    conf = json.loads((src / "config.json").read_text())
    conf.update(config_updates)
    (dst / "config.json").write_text(json.dumps(conf, indent=2))
    return dst


@pytest.fixture()
def base(tmp_path, embedded_model) -> Path:
    return small_files(Path(embedded_model), tmp_path / "base")


def test_trainer_checkpoint_shares_the_engine(base, tmp_path):
    # What a trainer writes differently: its folder name, use_cache off, its library version,
    # plus weights and trainer state that the signature must ignore.
    ckpt = small_files(
        base,
        tmp_path / "ckpt",
        _name_or_path="/x/checkpoint-3",
        use_cache=False,
        transformers_version="0.0.0",
    )
    (ckpt / "optimizer.pt").write_bytes(b"state")
    assert model_signature(ckpt) == model_signature(base)
    assert engine_key(str(ckpt), SMOKE.model, SMOKE.backend, 0) == engine_key(
        str(base), SMOKE.model, SMOKE.backend, 0
    )


def test_other_architecture_tokenizer_or_engine_settings_do_not(base, tmp_path):
    wider = small_files(base, tmp_path / "wider", hidden_size=640)
    assert model_signature(wider) != model_signature(base)
    tok = small_files(base, tmp_path / "tok")
    (tok / "tokenizer_config.json").write_text(
        (tok / "tokenizer_config.json").read_text().replace("}", ', "x_marker": 1}', 1)
    )
    assert model_signature(tok) != model_signature(base)
    key = engine_key(str(base), SMOKE.model, SMOKE.backend, 0)
    longer = SMOKE.model.model_copy(update={"max_model_len": 2048})
    assert engine_key(str(base), longer, SMOKE.backend, 0) != key
    assert engine_key(str(base), SMOKE.model, SMOKE.backend, 1) != key  # engine seed


def test_config_dtype_matters_only_when_the_engine_picks_it(base, tmp_path):
    bf16 = small_files(base, tmp_path / "bf16", dtype="bfloat16")
    assert model_signature(bf16) != model_signature(base)  # dtype auto: vLLM reads config.json
    assert model_signature(bf16, explicit_dtype=True) == model_signature(base, explicit_dtype=True)


def test_hub_ids_and_disabled_reuse_never_share(monkeypatch):
    assert model_signature("Qwen/Qwen3.5-4B") is None
    assert engine_key("Qwen/Qwen3.5-4B", SMOKE.model, SMOKE.backend, 0) is None
    monkeypatch.delenv("SSD_REUSE_ENGINE", raising=False)
    assert engine_pool.reuse_enabled("cpu") and not engine_pool.reuse_enabled(
        "cuda"
    )  # verified on CPU
    monkeypatch.setenv("SSD_REUSE_ENGINE", "0")
    assert not engine_pool.reuse_enabled("cpu")
    monkeypatch.setenv("SSD_REUSE_ENGINE", "1")
    assert engine_pool.reuse_enabled("cuda")


# ------------------------------------------------------------------ slow: real vLLM engines


def perturbed_checkpoint(base_dir: Path, dst: Path) -> Path:
    """A 'fine-tune' of the base: its files as a trainer writes them, weights nudged. The tied
    embedding (= lm_head) is nudged too: a reload that kept the old packed lm_head would show."""
    import torch
    from safetensors.torch import load_file, save_file

    small_files(base_dir, dst, use_cache=False, _name_or_path=str(dst))
    weights = load_file(str(base_dir / "model.safetensors"))
    g = torch.Generator().manual_seed(0)
    for name, w in weights.items():
        if name.endswith("embed_tokens.weight") or ".layers.0." in name:
            weights[name] = w + 0.05 * w.std() * torch.randn(w.shape, generator=g, dtype=w.dtype)
    save_file(weights, str(dst / "model.safetensors"), metadata={"format": "pt"})
    return dst


def greedy(engine, rendered) -> dict[str, tuple[str, int, str]]:
    decode = DecodeCfg(temperature=0.0, max_tokens=48)
    reqs = [
        Request(r.prompt_id, r.prompt_token_ids, decode, [0], r.prompt_text)
        for r in rendered.itertuples()
    ]
    got = {}
    counts: list[int] = []
    engine.run(
        reqs,
        lambda req, outs: got.__setitem__(
            req.prompt_id, (outs[0].text, outs[0].n_tokens, outs[0].finish_reason)
        ),
        counts.append,
    )
    assert len(got) == len(reqs)
    # The progress counter on a real engine: monotone, and its last count is every token decoded.
    assert counts == sorted(counts) and counts[-1] == sum(n for _, n, _ in got.values())
    return got


@pytest.mark.slow
def test_reloaded_engine_decodes_like_a_fresh_engine(embedded_model, tmp_path):
    from transformers import AutoTokenizer

    from ssdlib.generation.backends import VLLMBackend

    base_dir = Path(embedded_model)
    ckpt = perturbed_checkpoint(base_dir, tmp_path / "checkpoint-1")
    # The smoke backend as shipped: one engine computing on both cores (cpu_threads "all"), whose
    # matmuls split work across threads, so this also checks that a swap leaves no per-thread state.
    backend = SMOKE.backend
    model = SMOKE.model.model_copy(update={"max_model_len": 512})
    tok = AutoTokenizer.from_pretrained(embedded_model)
    rendered = render_prompts(generate_problems(6, seed=3), tok, SMOKE.prompt, thinking=False)

    set_num_threads = torch.set_num_threads
    with VLLMBackend(str(ckpt), model, backend, seed=0) as fresh:  # no pool, no extension
        want = greedy(fresh, rendered)

    engine_pool.release()
    before = dict(engine_pool.STATS)
    try:
        engine = engine_pool.acquire(str(base_dir), model, backend, 0)
        # The smoke backend runs its engine in this process (backend.cpu_engine: in_process):
        # no EngineCore or worker process, and the swaps below go through the in-process worker.
        assert type(engine.llm.llm_engine.engine_core).__name__ == "InprocClient"
        assert not [p for p in psutil.Process().children() if "VLLM" in p.name()]
        base_out = greedy(engine, rendered)
        assert (
            engine_pool.acquire(str(ckpt), model, backend, 0) is engine
        )  # same engine, new weights
        assert engine_pool.STATS["reloaded"] == before["reloaded"] + 1
        assert engine_pool.STATS["started"] == before["started"] + 1
        got = greedy(engine, rendered)
        assert engine_pool.acquire(str(base_dir), model, backend, 0) is engine
        back = greedy(engine, rendered)
    finally:
        engine_pool.release()
    # The in-process worker's no-op torch.set_num_threads is gone with the engine.
    assert torch.set_num_threads is set_num_threads
    assert base_out != want, "the perturbed checkpoint must decode differently from the base"
    assert got == want  # text, token count and finish reason of every prompt
    assert back == base_out  # and the swap back restores the base model exactly
