"""Resume after a real crash: a generating subprocess is SIGKILLed, then the run is repeated.

The subprocess runs ``generate_samples`` with the transformers backend on the embedded model
(12 prompts x n=2, 16 tokens, batches of 4 prompts) and is killed once the store holds some
but not all samples. The rerun must finish the job without touching what was already written;
a run with nothing missing must not even build a backend.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ssdlib.generation.run as gen_run
from ssdlib.config import DecodeCfg, PromptCfg, load_params
from ssdlib.data.synthetic import generate_problems
from ssdlib.generation import GenerationStore, generate_samples
from ssdlib.schema import SAMPLE_COLUMNS, SAMPLE_KEY

N_PROMPTS, N = 12, 2
TOTAL = N_PROMPTS * N
MODEL_ID = "resume-test"
DECODE = DecodeCfg(temperature=1.0, top_p=0.95, top_k=20, max_tokens=16, n=N)


def problems():
    return generate_problems(N_PROMPTS, seed=3)


def generate(model_path: str, store_root: str, template: str | None = None):
    """The one generation both the killed subprocess and the reruns perform."""
    p = load_params("03_baselines", "smoke")
    backend = p.backend.model_copy(
        update={"name": "transformers", "batch_size": 4, "device": "cpu"}
    )
    prompt = p.prompt if template is None else PromptCfg(template=template)
    return generate_samples(
        problems(),
        {"resume": DECODE},
        model_path=model_path,
        model_id=MODEL_ID,
        model=p.model,
        backend=backend,
        prompt=prompt,
        store_root=store_root,
        seed=0,
    )


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # The CPU machines' 2 cores are shared: two spinning OpenMP threads make transformers
    # generation ~40x slower than one (measured). vLLM's CPU backend caps itself the same way.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _complete_lines(path: Path) -> bytes:
    raw = path.read_bytes() if path.exists() else b""
    return raw[: raw.rfind(b"\n") + 1]


@pytest.fixture(scope="module")
def crashed(tmp_path_factory, embedded_model):
    """Store root, the store's bytes at the kill (complete lines only), and the store path."""
    root = tmp_path_factory.mktemp("gens")
    store = GenerationStore(root, MODEL_ID, DECODE.config_id)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_generation_resume as t; "
        "t.generate(sys.argv[2], sys.argv[3])"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    log = root / "child.log"
    with open(log, "wb") as fh:
        child = subprocess.Popen(
            [sys.executable, "-c", code, str(Path(__file__).parent), embedded_model, str(root)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 300
            while _complete_lines(store.path).count(b"\n") < 1:
                if child.poll() is not None:
                    pytest.fail(
                        f"generator exited ({child.returncode}) before writing:\n{log.read_text()[-3000:]}"
                    )
                if time.monotonic() > deadline:
                    pytest.fail("generator wrote nothing within 300 s")
                time.sleep(0.05)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    before = _complete_lines(store.path)
    n_before = before.count(b"\n")
    assert 0 < n_before < TOTAL, f"kill landed after {n_before} of {TOTAL} samples"
    print(f"[resume] killed after {n_before} of {TOTAL} samples")
    # A kill in the middle of a write leaves half a record; make sure this run has one.
    with open(store.path, "ab") as fh:
        fh.write(
            b'{"config_id": "' + DECODE.config_id.encode() + b'", "prompt_id": "synthetic/gen/000'
        )
    return root, before, store.path


@pytest.fixture(scope="module")
def resumed(crashed, embedded_model):
    root, before, path = crashed
    df = generate(embedded_model, str(root))
    return df, path.read_bytes()


def test_rerun_completes_exactly_once_per_key(crashed, resumed):
    df, raw = resumed
    assert len(df) == TOTAL
    assert set(SAMPLE_COLUMNS) <= set(df.columns)
    keys = list(zip(df.prompt_id, df.sample_idx))
    assert len(set(keys)) == TOTAL
    assert set(keys) == {(pid, i) for pid in problems()["id"] for i in range(N)}
    # On disk too: one line per sample (nothing written twice), every line a whole record.
    lines = raw.splitlines(keepends=True)
    assert len(lines) == TOTAL and all(line.endswith(b"\n") for line in lines)
    recs = [json.loads(line) for line in lines]
    assert len({tuple(r[k] for k in SAMPLE_KEY) for r in recs}) == TOTAL
    assert all(0 < r["n_tokens"] <= DECODE.max_tokens for r in recs)
    assert {r["finish_reason"] for r in recs} <= {"stop", "length"}


def test_samples_finished_before_the_kill_are_kept_byte_for_byte(crashed, resumed):
    _, before, _ = crashed
    _, raw = resumed
    # The torn half-record was cut; everything complete before the kill is the file's prefix.
    assert raw.startswith(before)
    kept = [json.loads(line) for line in before.splitlines()]
    df = resumed[0].set_index(["prompt_id", "sample_idx"])
    for r in kept:
        row = df.loc[(r["prompt_id"], r["sample_idx"])]
        assert row["response"] == r["response"] and row["finished_s"] == r["finished_s"]


def test_second_rerun_builds_no_backend(crashed, resumed, embedded_model, monkeypatch):
    root, _, path = crashed

    def no_backend(*args, **kwargs):
        raise AssertionError("a backend was built although nothing is missing")

    monkeypatch.setattr(gen_run, "make_backend", no_backend)
    df = generate(embedded_model, str(root))
    assert path.read_bytes() == resumed[1]
    assert df.drop(columns="config_name").equals(resumed[0].drop(columns="config_name"))


def test_changed_template_is_refused_as_stale(crashed, resumed, embedded_model, monkeypatch):
    root, _, path = crashed
    monkeypatch.setattr(
        gen_run, "make_backend", lambda *a, **k: pytest.fail("backend built for a stale store")
    )
    with pytest.raises(ValueError, match=r"different prompt text") as err:
        generate(embedded_model, str(root), template="Answer this: {problem}")
    msg = str(err.value)
    assert str(path) in msg and "synthetic/gen/" in msg and "move that file away" in msg
    assert path.read_bytes() == resumed[1]
