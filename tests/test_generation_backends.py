"""Backends on the embedded model: context check, transformers sampling, presence penalty,
determinism, data parallelism, and (slow) vLLM end to end through ``generate_samples``."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import torch

import ssdlib.generation.run as gen_run
from ssdlib.config import DecodeCfg, ModelCfg, load_params
from ssdlib.data.synthetic import generate_problems
from ssdlib.generation import (
    ContextOverflow,
    GenerationStore,
    collect_samples,
    generate_samples,
    render_prompts,
)
from ssdlib.generation.backends import Request, TransformersBackend
from ssdlib.generation.run import check_context
from ssdlib.schema import SAMPLE_COLUMNS, SAMPLE_KEY

SMOKE = load_params("03_baselines", "smoke")
TF_BACKEND = SMOKE.backend.model_copy(
    update={"name": "transformers", "batch_size": 2, "device": "cpu"}
)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # Shared 2-core machines: one OpenMP thread is ~40x faster than two spinning ones (measured).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def backend(embedded_model):
    with TransformersBackend(embedded_model, SMOKE.model, TF_BACKEND, seed=0) as b:
        yield b


@pytest.fixture(scope="module")
def rendered(backend):
    return render_prompts(generate_problems(3, seed=5), backend.tok, SMOKE.prompt, thinking=False)


def run(backend, rendered, decode: DecodeCfg) -> dict[str, list]:
    """prompt_id -> outputs, asserting each request is reported exactly once with n outputs."""
    reqs = [
        Request(r.prompt_id, r.prompt_token_ids, decode, list(range(decode.n)), r.prompt_text)
        for r in rendered.itertuples()
    ]
    got: dict[str, list] = {}

    def on_finished(req, outs):
        assert req.prompt_id not in got, "request reported twice"
        assert len(outs) == decode.n
        got[req.prompt_id] = outs

    backend.run(reqs, on_finished)
    assert set(got) == set(rendered.prompt_id)
    return got


# ------------------------------------------------------------------ context check


def _problems_with_one_long() -> pd.DataFrame:
    probs = generate_problems(3, seed=1)[["id", "problem"]]
    long = pd.DataFrame(
        {"id": ["synthetic/long-7"], "problem": ["Compute " + " + ".join(map(str, range(1, 80)))]}
    )
    return pd.concat([probs, long], ignore_index=True)


def test_context_overflow_fails_before_any_backend(embedded_model, tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded_model)
    probs = _problems_with_one_long()
    lens = (
        render_prompts(probs, tok, SMOKE.prompt, False)
        .set_index("prompt_id")["prompt_token_ids"]
        .map(len)
    )
    assert lens.idxmax() == "synthetic/long-7"
    longest = int(lens.max())
    model = ModelCfg(
        id="embedded:smollm2-135m",
        max_model_len=longest + 20,
        max_prompt_tokens=longest + 10,
        thinking=False,
    )
    fits, over = (
        DecodeCfg(temperature=1.0, max_tokens=20),
        DecodeCfg(temperature=1.0, max_tokens=21),
    )

    built = []
    monkeypatch.setattr(
        gen_run, "make_backend", lambda *a, **k: built.append(a) or pytest.fail("backend built")
    )
    kwargs = dict(
        model_path=embedded_model,
        model_id="ctx",
        model=model,
        backend=SMOKE.backend,
        prompt=SMOKE.prompt,
        store_root=tmp_path / "gens",
        tokenizer=tok,
    )
    with pytest.raises(ContextOverflow) as err:
        generate_samples(probs, {"fits": fits, "too_long": over}, **kwargs)
    msg = str(err.value)
    assert "\n" not in msg
    assert "'synthetic/long-7'" in msg and f"{longest} tokens" in msg and "too_long" in msg
    assert f"{longest + 21} > model.max_model_len {longest + 20}" in msg
    assert built == [] and not (tmp_path / "gens").exists()

    # Exactly at the limit is fine: the check passes and only then is a backend asked for.
    rendered = render_prompts(probs, tok, SMOKE.prompt, False)
    check_context(rendered, {"fits": fits}, model)
    # The prompt alone is also capped, independently of max_tokens.
    tight = model.model_copy(update={"max_prompt_tokens": longest - 1})
    with pytest.raises(ContextOverflow, match=r"'synthetic/long-7'.*max_prompt_tokens"):
        check_context(rendered, {"fits": DecodeCfg(temperature=1.0, max_tokens=1)}, tight)


def test_no_problems_is_an_empty_result_not_a_crash(embedded_model, tmp_path, monkeypatch):
    monkeypatch.setattr(
        gen_run, "make_backend", lambda *a, **k: pytest.fail("backend built for nothing")
    )
    empty = generate_problems(2, seed=0).iloc[:0]
    df = generate_samples(
        empty,
        {"a": DecodeCfg(temperature=1.0, max_tokens=8)},
        model_path=embedded_model,
        model_id="empty",
        model=SMOKE.model,
        backend=SMOKE.backend,
        prompt=SMOKE.prompt,
        store_root=tmp_path,
    )
    assert df.empty


# ------------------------------------------------------------------ transformers backend


def test_transformers_gives_n_samples_per_prompt_capped_at_max_tokens(backend, rendered):
    d = DecodeCfg(temperature=1.0, top_p=0.95, top_k=20, max_tokens=8, n=3)
    got = run(backend, rendered, d)  # 3 prompts in batches of 2: a full and a partial batch
    outs = [o for v in got.values() for o in v]
    assert len(outs) == 9
    for o in outs:
        assert o.finish_reason in {"stop", "length"}
        assert 0 < o.n_tokens <= d.max_tokens
        if o.finish_reason == "length":
            assert o.n_tokens == d.max_tokens
    # Math problems do not finish in 8 tokens: the cap is what stops them.
    assert sum(o.finish_reason == "length" for o in outs) >= 6


def test_greedy_length_stop_is_reported_as_length(backend, rendered):
    got = run(backend, rendered, DecodeCfg(temperature=0.0, max_tokens=8, n=2))
    for outs in got.values():
        assert [(o.n_tokens, o.finish_reason) for o in outs] == [(8, "length")] * 2
        assert outs[0].text and "<|im_end|>" not in outs[0].text


def test_eos_stop_counts_the_eos_token_and_strips_it_from_text(backend):
    probs = pd.DataFrame({"id": ["q"], "problem": ["What is 2+2? Answer with a single number."]})
    r = render_prompts(
        probs, backend.tok, SMOKE.prompt.model_copy(update={"template": "{problem}"}), False
    )
    (o,) = run(backend, r, DecodeCfg(temperature=0.0, max_tokens=32, n=1))["q"]
    assert o.finish_reason == "stop" and o.n_tokens < 32
    assert "4" in o.text and "<|im_end|>" not in o.text
    assert o.n_tokens == len(backend.tok(o.text, add_special_tokens=False)["input_ids"]) + 1


def test_temperature_zero_is_deterministic(backend, rendered):
    d = DecodeCfg(temperature=0.0, max_tokens=10, n=2)
    first = run(backend, rendered, d)
    second = run(backend, rendered, d)
    for pid in first:
        a = [(o.text, o.n_tokens, o.finish_reason) for o in first[pid]]
        assert a == [(o.text, o.n_tokens, o.finish_reason) for o in second[pid]]
        assert a[0] == a[1]  # n greedy samples of one prompt are the same sample
    assert len({v[0].text for v in first.values()}) == 3  # ... but prompts are not mixed up


def test_presence_penalty_processor_lowers_generated_tokens_only(backend):
    assert backend._processors(DecodeCfg(temperature=1.0, max_tokens=4), prompt_len=3) is None
    (proc,) = backend._processors(
        DecodeCfg(temperature=1.0, max_tokens=4, presence_penalty=1.5), prompt_len=3
    )
    vocab = 10
    ids = torch.tensor(
        [
            [1, 2, 3, 5, 7, 5],  # prompt 1 2 3; generated 5 7 5 (5 twice)
            [4, 4, 4, 9, 9, 9],
        ]
    )
    scores = torch.arange(20, dtype=torch.float32).reshape(2, vocab)
    out = proc(ids, scores.clone())
    expected = scores.clone()
    expected[0, [5, 7]] -= 1.5  # presence, not frequency: token 5 is lowered once
    expected[1, 9] -= 1.5  # prompt token 4 is not penalised
    assert torch.equal(out, expected)
    # Nothing generated yet: scores unchanged.
    assert torch.equal(proc(ids[:, :3], scores.clone()), scores)
    # A negative penalty (allowed, -2..2) raises them instead.
    (neg,) = backend._processors(
        DecodeCfg(temperature=1.0, max_tokens=4, presence_penalty=-1.0), prompt_len=3
    )
    assert neg(ids, scores.clone())[0, 7] == scores[0, 7] + 1.0


def test_presence_penalty_reaches_generate(backend, rendered):
    plain = run(backend, rendered, DecodeCfg(temperature=0.0, max_tokens=16, n=1))
    penal = run(
        backend, rendered, DecodeCfg(temperature=0.0, max_tokens=16, n=1, presence_penalty=2.0)
    )
    assert any(plain[p][0].text != penal[p][0].text for p in plain)


# ------------------------------------------------------------------ data parallel


def test_data_parallel_engines_get_the_visible_gpus(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gen_run.dp_device_groups(2, 2) == [["0", "1"], ["2", "3"]]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    assert gen_run.dp_device_groups(2, 2) == [["4", "5"], ["6", "7"]]
    assert gen_run.dp_device_groups(4, 1) == [["4"], ["5"], ["6"], ["7"]]
    with pytest.raises(ValueError, match=r"needs 8 GPUs; CUDA_VISIBLE_DEVICES='4,5,6,7' allows 4"):
        gen_run.dp_device_groups(4, 2)


@pytest.mark.slow
def test_data_parallel_writes_one_shard_per_engine(embedded_model, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the spawned engines read it at import
    probs = generate_problems(5, seed=2)
    decodes = {"a": DecodeCfg(temperature=1.0, max_tokens=8, n=2)}
    be = TF_BACKEND.model_copy(update={"data_parallel_size": 2})
    df = generate_samples(
        probs,
        decodes,
        model_path=embedded_model,
        model_id="dp-test",
        model=SMOKE.model,
        backend=be,
        prompt=SMOKE.prompt,
        store_root=tmp_path,
    )
    store = GenerationStore(tmp_path, "dp-test", decodes["a"].config_id)
    names = [p.name for p in store.files()]
    assert names == [f"{decodes['a'].config_id}@dp0.jsonl", f"{decodes['a'].config_id}@dp1.jsonl"]
    shards = [
        {json.loads(line)["prompt_id"] for line in p.read_text().splitlines()}
        for p in store.files()
    ]
    assert not shards[0] & shards[1] and shards[0] | shards[1] == set(probs.id)
    assert sorted(map(len, shards)) == [2, 3]  # 5 prompts dealt round-robin
    again = collect_samples(probs, decodes, tmp_path, "dp-test")
    assert len(df) == len(again) == 10
    assert len(again.drop_duplicates(list(SAMPLE_KEY))) == 10
    assert (again.groupby("prompt_id").size() == 2).all()


# ------------------------------------------------------------------ vLLM


@pytest.mark.slow
def test_vllm_end_to_end(embedded_model, tmp_path, monkeypatch):
    probs = generate_problems(4, seed=4)
    decode = SMOKE.presets["general"].model_copy(update={"max_tokens": 32, "n": 2})
    p = SMOKE
    kwargs = dict(
        model_path=embedded_model,
        model_id=p.model.id,
        model=p.model,
        backend=p.backend,
        prompt=p.prompt,
        store_root=tmp_path,
        seed=p.seed,
    )
    assert p.backend.name == "vllm"
    df = generate_samples(probs, {"general": decode}, **kwargs)
    assert len(df) == 8 and set(SAMPLE_COLUMNS) <= set(df.columns)
    assert sorted(zip(df.prompt_id, df.sample_idx)) == sorted(
        (i, s) for i in probs.id for s in range(2)
    )
    assert df.finish_reason.isin(["stop", "length"]).all()
    assert df.n_tokens.between(1, decode.max_tokens).all()
    assert (df.loc[df.finish_reason == "length", "n_tokens"] == decode.max_tokens).all()
    assert (df.config_id == decode.config_id).all() and (df.model_id == p.model.id).all()
    assert (
        (df.presence_penalty == 1.5).all()
        and (df.top_k == 20).all()
        and (df.max_tokens == 32).all()
    )
    assert df.response.str.len().gt(0).all() and df.prompt_hash.str.len().eq(16).all()
    lines = GenerationStore(tmp_path, p.model.id, decode.config_id).path.read_text().splitlines()
    assert len(lines) == 8 and all(set(SAMPLE_COLUMNS) <= set(json.loads(x)) for x in lines)
    # Everything is stored: asking again starts no engine.
    monkeypatch.setattr(
        gen_run, "make_backend", lambda *a, **k: pytest.fail("engine started again")
    )
    assert generate_samples(probs, {"general": decode}, **kwargs).equals(df)


def test_one_cpu_engine_computes_on_every_core_unless_told_otherwise():
    from ssdlib.generation.backends import cpu_thread_env

    cpus = sorted(os.sched_getaffinity(0))
    env = cpu_thread_env(SMOKE.backend, environ={})
    # vLLM's own default reserves a core: the engine must be told the full list and no reserve.
    assert env == {
        "VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, cpus)),
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
    }
    # A binding the user set wins; several engines on one machine keep vLLM's binding.
    assert cpu_thread_env(SMOKE.backend, environ={"VLLM_CPU_OMP_THREADS_BIND": "0"}) == {}
    assert cpu_thread_env(SMOKE.backend, environ={"SSD_SHARD": "0/2"}) == {}
    assert cpu_thread_env(SMOKE.backend, environ={"SSD_SHARD": ""}) == env
    for update in (
        {"cpu_threads": "vllm"},
        {"data_parallel_size": 2},
        {"launcher": "ray"},
        {"tensor_parallel_size": 2},
    ):
        assert cpu_thread_env(SMOKE.backend.model_copy(update=update), environ={}) == {}


def test_one_local_cpu_engine_runs_in_process_unless_told_otherwise():
    from ssdlib.generation.backends import cpu_engine_in_process

    assert cpu_engine_in_process(SMOKE.backend, environ={})
    # The user's own setting wins, either way.
    assert not cpu_engine_in_process(SMOKE.backend, environ={"VLLM_ENABLE_V1_MULTIPROCESSING": "0"})
    # Several engines or ranks need vLLM's processes (each binds its own threads).
    for update in (
        {"cpu_engine": "processes"},
        {"data_parallel_size": 2},
        {"launcher": "ray"},
        {"tensor_parallel_size": 2},
    ):
        assert not cpu_engine_in_process(SMOKE.backend.model_copy(update=update), environ={})
