"""One writer per store file, checked with real processes.

Before issue #18 there was no lock: two runs on one store each generated everything (80 lines
for 40 samples, 40 duplicate keys) and both exited 0.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ssdlib.generation.lock import StoreBusy, writer_lock
from ssdlib.generation.store import GenerationStore

MODEL = "Org/Some-Model"
CFG = "t1-p0.95-k20-mp0-pp0-mt64"
ROOT = Path(__file__).resolve().parents[1]

HOLD = """
import sys, time
from ssdlib.generation.store import GenerationStore
with GenerationStore(sys.argv[1], "Org/Some-Model", "t1-p0.95-k20-mp0-pp0-mt64") as s:
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def holder(root: Path, seconds: float) -> subprocess.Popen:
    """A second process that opens the store for writing and keeps it open ``seconds``."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "holding"
    return child


def test_second_writer_fails_naming_the_holder(tmp_path):
    child = holder(tmp_path, 30)
    try:
        store = GenerationStore(tmp_path, MODEL, CFG)
        with pytest.raises(StoreBusy) as err:
            store.open()
        msg = str(err.value)
        assert str(store.path) in msg and f"pid {child.pid} on host {socket.gethostname()}" in msg
        assert " since 20" in msg  # the holder's start time (ISO, UTC)
        assert store._fh is None  # nothing was opened, nothing can be appended
    finally:
        child.kill()
        child.communicate()
    # The kernel drops the lock with its holder (SIGKILL included): no stale lock to clean up.
    with GenerationStore(tmp_path, MODEL, CFG) as s:
        s.append([{"prompt_id": "p0"}])


def test_second_writer_may_wait_for_the_first(tmp_path):
    child = holder(tmp_path, 1.0)
    t0 = time.monotonic()
    with writer_lock(GenerationStore(tmp_path, MODEL, CFG).path, timeout_s=60):
        waited = time.monotonic() - t0
    child.communicate()
    assert 0.3 < waited < 60  # it waited for the holder to finish, then got the lock
    with pytest.raises(StoreBusy, match="after waiting 0.2s"):
        child = holder(tmp_path, 30)
        try:
            GenerationStore(tmp_path, MODEL, CFG).open(lock_timeout_s=0.2)
        finally:
            child.kill()
            child.communicate()


def test_lock_is_per_file_and_reentrant_in_one_process(tmp_path):
    main = GenerationStore(tmp_path, MODEL, CFG)
    shard = GenerationStore(tmp_path, MODEL, CFG, shard="dp0")
    # generate_samples holds the lock from planning on, and its own writer takes it again;
    # a shard file is another lock.
    with writer_lock(main.path), main, shard:
        main.append([{"prompt_id": "a"}])
        shard.append([{"prompt_id": "b"}])
    child = holder(tmp_path, 0)  # released: another process gets it at once
    child.communicate()
    assert child.returncode == 0


GENERATE = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
import transformers  # imports done before the start signal, so both runs race fairly
import test_bad_input_store_lock as t
from ssdlib.generation.lock import StoreBusy
print("ready", flush=True)
while not os.path.exists(sys.argv[4]):
    time.sleep(0.01)
try:
    t.generate(sys.argv[2], sys.argv[3])
except StoreBusy as exc:
    print("BUSY", exc, flush=True)
    sys.exit(3)
"""


def generate(model_path: str, store_root: str):
    """A tiny real generation (transformers backend, embedded model): 4 prompts x n=2."""
    from ssdlib.config import DecodeCfg, load_params
    from ssdlib.data.synthetic import generate_problems
    from ssdlib.generation import generate_samples

    p = load_params("03_baselines", "smoke")
    backend = p.backend.model_copy(
        update={"name": "transformers", "batch_size": 4, "device": "cpu"}
    )
    decode = DecodeCfg(temperature=1.0, top_p=0.95, top_k=20, max_tokens=24, n=2)
    return generate_samples(
        generate_problems(4, seed=5),
        {"d": decode},
        model_path=model_path,
        model_id="lock-test",
        model=p.model,
        backend=backend,
        prompt=p.prompt,
        store_root=store_root,
        seed=0,
    )


@pytest.mark.slow
def test_two_real_runs_on_one_store_generate_each_sample_once(tmp_path, embedded_model):
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    go = tmp_path / "go"
    root = tmp_path / "gens"
    args = [
        sys.executable,
        "-c",
        GENERATE,
        str(Path(__file__).parent),
        embedded_model,
        str(root),
        str(go),
    ]
    runs = [
        subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    for r in runs:
        assert r.stdout.readline().strip() == "ready"
    go.touch()  # both start generate_samples now
    outs = [r.communicate(timeout=300)[0] for r in runs]
    codes = sorted(r.returncode for r in runs)
    assert codes == [0, 3], outs  # one generated, the other stopped at the lock
    winner = next(r for r in runs if r.returncode == 0)
    busy = next(o for r, o in zip(runs, outs) if r.returncode == 3)
    (store,) = root.glob("lock-test/*.jsonl")
    assert f"BUSY {store}: another process is writing this store" in busy
    assert f"pid {winner.pid} on host {socket.gethostname()}" in busy
    keys = [
        (r["prompt_id"], r["sample_idx"]) for r in map(json.loads, store.read_text().splitlines())
    ]
    assert len(keys) == 8 and len(set(keys)) == 8  # every sample once, no duplicates
    # A rerun finds everything stored and generates nothing.
    go2 = tmp_path / "go2"
    go2.touch()
    again = subprocess.run(
        args[:-1] + [str(go2)],
        check=False,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert store.read_text().count("\n") == 8
