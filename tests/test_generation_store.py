"""The crash-safe generations store: round trip, torn tails, duplicates, shards, pandas."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ssdlib.generation.store import GenerationStore, StoreWarning, read_all, slug
from ssdlib.schema import SAMPLE_COLUMNS, SAMPLE_KEY

MODEL = "Org/Some-Model"
CFG = "t1-p0.95-k20-mp0-pp0-mt64"


def rec(pid: str, idx: int, cfg: str = CFG, response: str | None = None) -> dict:
    return {
        "prompt_id": pid,
        "sample_idx": idx,
        "config_id": cfg,
        "model_id": MODEL,
        "prompt_hash": "abc123",
        "response": response if response is not None else f"answer {pid}/{idx} \\boxed{{{idx}}} é",
        "n_tokens": 10 + idx,
        "finish_reason": "stop" if idx % 2 == 0 else "length",
    }


def test_layout_and_round_trip(tmp_path):
    records = [rec(f"p{i}", j) for i in range(3) for j in range(2)]
    with GenerationStore(tmp_path, MODEL, CFG) as store:
        assert store.append(records[:4]) == 4
        assert store.append(records[4:]) == 2
    assert store.path == tmp_path / "Org__Some-Model" / f"{CFG}.jsonl"
    assert slug(MODEL) == "Org__Some-Model"
    lines = store.path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 6 and all(line.endswith(b"\n") for line in lines)
    # A fresh reader (another process, later) sees exactly what was written, in order.
    again = GenerationStore(tmp_path, MODEL, CFG)
    assert again.records() == records
    assert again.done() == {f"p{i}": {0: "abc123", 1: "abc123"} for i in range(3)}
    df = again.read()
    assert set(SAMPLE_COLUMNS) <= set(df.columns)
    assert len(df) == 6 and df["response"].tolist() == [r["response"] for r in records]


def test_empty_store_reads_as_empty_frame_with_key_columns(tmp_path):
    store = GenerationStore(tmp_path, MODEL, CFG)
    assert store.files() == [] and store.records() == [] and store.done() == {}
    df = store.read()
    assert df.empty and list(df.columns) == list(SAMPLE_KEY)


def test_torn_last_line_is_ignored_then_repaired_before_appending(tmp_path):
    with GenerationStore(tmp_path, MODEL, CFG) as store:
        store.append([rec("p0", 0), rec("p0", 1)])
    good = store.path.read_bytes()
    # A writer killed mid-record leaves a partial line without its newline.
    torn = json.dumps(rec("p1", 0)).encode()[:37]
    with open(store.path, "ab") as fh:
        fh.write(torn)
    reader = GenerationStore(tmp_path, MODEL, CFG)
    assert [r["prompt_id"] for r in reader.records()] == ["p0", "p0"]
    assert set(reader.done()) == {"p0"}
    assert len(read_all(tmp_path)) == 2
    # Opening for append cuts the torn tail first, so the next record starts on its own line.
    with GenerationStore(tmp_path, MODEL, CFG) as writer:
        assert writer.path.read_bytes() == good
        writer.append([rec("p1", 0)])
    raw = store.path.read_bytes()
    assert raw.startswith(good) and raw.endswith(b"\n")
    assert [json.loads(line) for line in raw.splitlines()] == [
        rec("p0", 0),
        rec("p0", 1),
        rec("p1", 0),
    ]


def test_torn_only_line_is_cut_to_empty(tmp_path):
    store = GenerationStore(tmp_path, MODEL, CFG)
    store.dir.mkdir(parents=True)
    store.path.write_bytes(b'{"prompt_id": "p0", "sampl')
    assert store.records() == []
    with store:
        assert store.path.read_bytes() == b""
        store.append([rec("p0", 0)])
    assert GenerationStore(tmp_path, MODEL, CFG).records() == [rec("p0", 0)]


def test_long_torn_tail_beyond_one_chunk_is_repaired(tmp_path):
    # The repair walks back in 4 KiB chunks: a torn record longer than that must still go.
    with GenerationStore(tmp_path, MODEL, CFG) as store:
        store.append([rec("p0", 0)])
    good = store.path.read_bytes()
    with open(store.path, "ab") as fh:
        fh.write(json.dumps(rec("p1", 0, response="x" * 10_000)).encode()[:9_000])
    with GenerationStore(tmp_path, MODEL, CFG) as writer:
        assert writer.path.read_bytes() == good


def test_duplicate_keys_are_dropped_on_read_keeping_the_first(tmp_path):
    first = rec("p0", 0, response="first")
    with GenerationStore(tmp_path, MODEL, CFG) as store:
        store.append([first, rec("p0", 1), rec("p0", 0, response="second"), rec("p1", 0)])
    reader = GenerationStore(tmp_path, MODEL, CFG)
    with pytest.warns(StoreWarning, match=r"line 3: duplicate of line 1"):  # counted, not silent
        recs = reader.records()
    assert len(recs) == 3 and recs[0]["response"] == "first"
    keys = [tuple(r[k] for k in SAMPLE_KEY) for r in recs]
    assert len(set(keys)) == len(keys)
    with pytest.warns(StoreWarning):
        df = read_all(tmp_path)
    assert (
        len(df) == 3
        and df.loc[(df.prompt_id == "p0") & (df.sample_idx == 0), "response"].item() == "first"
    )


def test_corrupt_complete_line_is_skipped_not_fatal(tmp_path):
    with GenerationStore(tmp_path, MODEL, CFG) as store:
        store.append([rec("p0", 0)])
    with open(store.path, "ab") as fh:
        fh.write(b"{not json}\n")
    with GenerationStore(tmp_path, MODEL, CFG) as store:
        store.append([rec("p1", 0)])
    with pytest.warns(StoreWarning, match=r"line 2: not JSON"):
        assert [r["prompt_id"] for r in GenerationStore(tmp_path, MODEL, CFG).records()] == [
            "p0",
            "p1",
        ]


def test_shard_files_are_merged_with_the_main_file(tmp_path):
    with GenerationStore(tmp_path, MODEL, CFG) as main:
        main.append([rec("p0", 0)])
    with GenerationStore(tmp_path, MODEL, CFG, shard="dp0") as s0:
        s0.append([rec("p1", 0), rec("p1", 1)])
    with GenerationStore(tmp_path, MODEL, CFG, shard="dp1") as s1:
        s1.append([rec("p2", 0), rec("p0", 0, response="dup from a shard")])
    # Another config whose id starts with this one's must not be picked up.
    with GenerationStore(tmp_path, MODEL, CFG + "0", shard="dp0") as other:
        other.append([rec("p9", 0, cfg=CFG + "0")])
    assert s0.path.name == f"{CFG}@dp0.jsonl" and s1.path.name == f"{CFG}@dp1.jsonl"
    reader = GenerationStore(tmp_path, MODEL, CFG)
    assert [p.name for p in reader.files()] == [
        f"{CFG}.jsonl",
        f"{CFG}@dp0.jsonl",
        f"{CFG}@dp1.jsonl",
    ]
    with pytest.warns(StoreWarning, match=rf"@dp1.jsonl: .*line 2: duplicate of {CFG}.jsonl:1"):
        df = reader.read()
    assert sorted(zip(df.prompt_id, df.sample_idx)) == [("p0", 0), ("p1", 0), ("p1", 1), ("p2", 0)]
    assert df.loc[df.prompt_id == "p0", "response"].item() != "dup from a shard"
    with pytest.warns(StoreWarning):
        assert reader.done() == {
            "p0": {0: "abc123"},
            "p1": {0: "abc123", 1: "abc123"},
            "p2": {0: "abc123"},
        }
        everything = read_all(tmp_path, MODEL)
    assert len(everything) == 5 and set(everything.config_id) == {CFG, CFG + "0"}


def test_files_are_plain_jsonl_that_pandas_reads(tmp_path):
    records = [rec(f"p{i}", j) for i in range(4) for j in range(2)]
    with GenerationStore(tmp_path, MODEL, CFG) as store:
        store.append(records)
    df = pd.read_json(store.path, lines=True, dtype=False)
    assert len(df) == 8 and set(SAMPLE_COLUMNS) <= set(df.columns)
    assert df["response"].tolist() == [r["response"] for r in records]
    assert df["n_tokens"].dtype.kind == "i" and df["sample_idx"].tolist() == [0, 1] * 4
