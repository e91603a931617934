"""``--shard i/N``: a stable partition by prompt id, one store file per shard, readers merge them.

The end-to-end test runs two shards as two separate processes at the same time (as a SLURM
array would, the shard coming from ``$SSD_SHARD``) and a single unsharded run into another
store; the merged shards must equal the single run row for row (greedy decoding on the
embedded model through transformers, one prompt per batch, so texts are comparable exactly).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from ssdlib.config import DecodeCfg, load_params
from ssdlib.data.synthetic import generate_problems
from ssdlib.generation import GenerationStore
from ssdlib.generation.backends import Request
from ssdlib.generation.run import GenerationPlan, plan_shard
from ssdlib.generation.shards import (
    SHARD_ENV,
    Shard,
    ShardDone,
    parse,
    shard_of,
    writer_label,
)

N_PROMPTS = 10
MODEL_ID = "shard-test"
DECODE = DecodeCfg(temperature=0.0, max_tokens=8, n=1)


def problems():
    return generate_problems(N_PROMPTS, seed=11)


def generate(model_path: str, store_root: str):
    """One generation as a shard job or a whole run (the shard comes from $SSD_SHARD)."""
    from ssdlib.generation import generate_samples

    p = load_params("03_baselines", "smoke")
    backend = p.backend.model_copy(
        update={"name": "transformers", "batch_size": 1, "device": "cpu"}
    )
    return generate_samples(
        problems(),
        {"greedy": DECODE},
        model_path=model_path,
        model_id=MODEL_ID,
        model=p.model,
        backend=backend,
        prompt=p.prompt,
        store_root=store_root,
        seed=0,
    )


# ------------------------------------------------------------------ partition (fast)


def test_partition_depends_on_the_id_only_not_row_order_or_the_other_ids():
    ids = [f"omni/{i}" for i in range(2000)]
    assign = {i: shard_of(i, 4) for i in ids}
    shuffled = ids[:]
    random.Random(0).shuffle(shuffled)
    assert {i: shard_of(i, 4) for i in shuffled[:500]} == {i: assign[i] for i in shuffled[:500]}
    counts = pd.Series(assign).value_counts()
    assert set(counts.index) == {0, 1, 2, 3}
    assert counts.min() > 0.8 * 500 and counts.max() < 1.2 * 500  # hash spreads evenly
    # Every prompt in exactly one shard.
    owners = [[s for s in range(4) if Shard(s, 4).owns(i)] for i in ids[:200]]
    assert all(len(o) == 1 for o in owners)


def test_partition_is_the_same_in_another_interpreter():
    # Python's own hash() is salted per process; SLURM tasks are different processes.
    ids = [f"beyondaime/{i}" for i in range(50)]
    code = (
        "import json, sys; from ssdlib.generation.shards import shard_of; "
        "print(json.dumps([shard_of(i, 3) for i in json.loads(sys.argv[1])]))"
    )
    outs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        res = subprocess.run(
            [sys.executable, "-c", code, json.dumps(ids)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outs.append(json.loads(res.stdout))
    assert outs[0] == outs[1] == [shard_of(i, 3) for i in ids]


@pytest.mark.parametrize("bad", ["4/4", "1", "a/b", "-1/3", "2/0", "1/2/3"])
def test_bad_shard_is_refused_with_the_accepted_form(bad):
    with pytest.raises(ValueError, match=r"expected i/N"):
        parse(bad)


def test_parse_and_labels():
    assert parse(" 3/8 ") == Shard(3, 8) and str(Shard(3, 8)) == "3/8"
    assert writer_label(Shard(1, 4), "ray0") == "s1of4-ray0"
    assert writer_label(Shard(1, 4), None) == "s1of4"
    assert writer_label(None, "dp1") == "dp1" and writer_label(None, None) is None


def test_plan_shard_keeps_only_the_shards_prompts():
    reqs = [Request(f"p{i}", [1], DECODE, [0, 1]) for i in range(40)]
    plan = GenerationPlan(reqs, 40, 80, 80)
    parts = [plan_shard(plan, Shard(s, 3)) for s in range(3)]
    assert sorted(r.prompt_id for p in parts for r in p.requests) == sorted(
        r.prompt_id for r in reqs
    )
    for s, p in enumerate(parts):
        assert all(shard_of(r.prompt_id, 3) == s for r in p.requests)
        assert p.n_samples_missing == 2 * len(p.requests) and p.n_samples_total == 80


def test_cli_rejects_a_bad_shard_before_anything_runs(capsys):
    from ssdlib import cli

    assert cli.main(["run", "03", "--profile", "smoke", "--shard", "2/2"]) == 2
    assert "--shard '2/2': expected i/N" in capsys.readouterr().err


def test_runner_passes_the_shard_to_the_kernel_and_counts_shard_done_as_success(tmp_path):
    from ssdlib import runs

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import os\nfrom ssdlib.generation.shards import current, ShardDone\n"
            "s = current()\nif s is not None:\n    raise ShardDone(f'shard {s} done')"
        ),
        nbformat.v4.new_code_cell("open('reached_the_end', 'w').write('yes')"),
    ]
    src = tmp_path / "nb.ipynb"
    nbformat.write(nb, src)
    sharded = runs.execute(
        src, tmp_path / "out1.ipynb", {}, log_file=tmp_path / "l1.log", extra_env={SHARD_ENV: "1/3"}
    )
    assert sharded.status == "ok" and sharded.note == "shard 1/3 done" and sharded.error is None
    assert not (tmp_path / "reached_the_end").exists()  # stopped at the generation step
    whole = runs.execute(
        src, tmp_path / "out2.ipynb", {}, log_file=tmp_path / "l2.log", extra_env={SHARD_ENV: ""}
    )
    assert whole.status == "ok" and whole.note is None
    assert (tmp_path / "reached_the_end").read_text() == "yes"


# ------------------------------------------------------------------ two shard jobs vs one run (slow)


def _run(model: str, root: Path, shard: str | None, log: Path) -> subprocess.Popen:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_generation_shards as t; "
        "t.generate(sys.argv[2], sys.argv[3])"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env[SHARD_ENV] = shard or ""
    return subprocess.Popen(
        [sys.executable, "-c", code, str(Path(__file__).parent), model, str(root)],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )


@pytest.fixture(scope="module")
def shard_runs(tmp_path_factory, embedded_model):
    base = tmp_path_factory.mktemp("shards")
    sharded, single = base / "sharded", base / "single"
    jobs = [_run(embedded_model, sharded, f"{i}/2", base / f"shard{i}.log") for i in range(2)]
    jobs.append(_run(embedded_model, single, None, base / "single.log"))
    for j in jobs:
        j.wait(timeout=600)
    logs = [(base / n).read_text() for n in ("shard0.log", "shard1.log", "single.log")]
    return sharded, single, [j.returncode for j in jobs], logs


@pytest.mark.slow
def test_each_shard_job_writes_only_its_prompts_to_its_own_file_and_stops(shard_runs):
    sharded, _, codes, logs = shard_runs
    for i in range(2):
        # The job ends with ShardDone (the notebook runner turns that into success).
        assert codes[i] == 1 and f"ShardDone: shard {i}/2:" in logs[i], logs[i][-2000:]
        path = GenerationStore(sharded, MODEL_ID, DECODE.config_id, shard=f"s{i}of2").path
        ids = [json.loads(x)["prompt_id"] for x in path.read_text().splitlines()]
        assert ids and all(shard_of(pid, 2) == i for pid in ids)
    assert not GenerationStore(sharded, MODEL_ID, DECODE.config_id).path.exists()  # no main file


@pytest.mark.slow
def test_merged_shards_equal_a_single_run(shard_runs):
    sharded, single, codes, logs = shard_runs
    assert codes[2] == 0, logs[2][-2000:]
    cols = [
        "prompt_id",
        "sample_idx",
        "config_id",
        "model_id",
        "prompt_hash",
        "response",
        "n_tokens",
        "finish_reason",
    ]
    merged = GenerationStore(sharded, MODEL_ID, DECODE.config_id).read()
    whole = GenerationStore(single, MODEL_ID, DECODE.config_id).read()
    assert len(merged) == len(whole) == N_PROMPTS
    key = ["prompt_id", "sample_idx"]
    a = merged[cols].sort_values(key, ignore_index=True)
    b = whole[cols].sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(a, b)
    print(
        f"[shards] merged {len(merged)} rows from 2 shard files == single run ({len(whole)} rows)"
    )


@pytest.mark.slow
def test_the_follow_up_run_reads_all_shards_and_generates_nothing(
    shard_runs, embedded_model, monkeypatch
):
    import ssdlib.generation.run as gen_run

    sharded = shard_runs[0]
    monkeypatch.setenv(SHARD_ENV, "")
    monkeypatch.setattr(
        gen_run, "make_backend", lambda *a, **k: pytest.fail("backend built, nothing missing")
    )
    df = generate(embedded_model, str(sharded))
    assert len(df) == N_PROMPTS and df["prompt_id"].is_unique
    # Asking a shard job again is a no-op that still stops at its step.
    monkeypatch.setenv(SHARD_ENV, "0/2")
    with pytest.raises(
        ShardDone, match=r"0 sample\(s\) generated in this run; the step has 10 of 10"
    ):
        generate(embedded_model, str(sharded))
