"""Foreign lines in a generations store: read past, counted and reported with file:line; the
resume asks for exactly the missing samples; only ``ssd store compact`` removes them (kept aside).

Every case here stopped the resume with a traceback (array line, missing key, invalid UTF-8) or
was skipped silently and stayed on disk (garbage, duplicated valid line) before issue #18.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

from ssdlib import cli
from ssdlib.config import DecodeCfg
from ssdlib.generation.run import plan_generation
from ssdlib.generation.store import GenerationStore, StoreWarning, read_all
from ssdlib.generation.store_compact import compact

MODEL = "Org/Some-Model"
DECODE = DecodeCfg(temperature=1.0, top_p=0.95, top_k=20, max_tokens=64, n=2)
CFG = DECODE.config_id


def rec(pid: str, idx: int, **extra) -> dict:
    out = {
        "prompt_id": pid,
        "sample_idx": idx,
        "config_id": CFG,
        "model_id": MODEL,
        "prompt_hash": "h",
        "response": f"r {pid}/{idx} \\boxed{{{idx}}}",
        "n_tokens": 5,
        "finish_reason": "stop",
    }
    out.update(extra)
    return out


def line(r) -> bytes:
    return (json.dumps(r, sort_keys=True) + "\n").encode()


# (bad line, reason the report must give) -- one per kind a user can produce by hand
FOREIGN = [
    (b'["p9", 0, "x"]\n', "a JSON list, not an object"),
    (line({k: v for k, v in rec("p9", 0).items() if k != "prompt_id"}), "missing key 'prompt_id'"),
    (b'{"prompt_id": "p9", "response": "caf\xe9"}\n', "not UTF-8 (byte 0xe9"),
    (b"garbage that is not json\n", "not JSON"),
    (b"\n", "empty line"),
    (line(rec("p9", True)), "sample_idx is bool"),
    (line(rec("p9", "0")), "sample_idx is str"),
    (line(rec("p9", 0, config_id="t0.6-p0.95-k20-mp0-pp0-mt64")), "a sample of config"),
    (line(rec("p9", 0, model_id="Other/Model")), "a sample of model 'Other/Model'"),
    (line(rec("p9", 0, response=None)), "response is null"),
    (b'"just a string"\n', "a JSON str, not an object"),
    (b"[" * 100_000 + b"\n", "not JSON (nested too deeply)"),
    (b'{"prompt_id": "p9", "sample_idx": ' + b"9" * 5000 + b"}\n", "not JSON (Exceeds the limit"),
]


@pytest.fixture
def dirty(tmp_path):
    """A store with p0/0, p0/1, p1/0 valid, every foreign kind once, and p0/0 duplicated."""
    store = GenerationStore(tmp_path, MODEL, CFG)
    store.dir.mkdir(parents=True)
    body = [line(rec("p0", 0)), line(rec("p0", 1))]
    body += [bad for bad, _ in FOREIGN]
    body += [line(rec("p0", 0)), line(rec("p1", 0)), line(rec("p0", 1, response="other text"))]
    store.path.write_bytes(b"".join(body))
    return store


def test_every_foreign_line_is_skipped_and_reported_with_file_and_line(dirty):
    with pytest.warns(StoreWarning) as caught:
        recs = dirty.records()
    assert [(r["prompt_id"], r["sample_idx"]) for r in recs] == [("p0", 0), ("p0", 1), ("p1", 0)]
    report = dirty.report
    assert report.n_valid == 3 and report.n_skipped == len(FOREIGN) + 2
    # line numbers are 1-based file lines: the foreign block starts at line 3
    for i, (_, reason) in enumerate(FOREIGN):
        issue = report.issues[i]
        assert issue.path == dirty.path and issue.line == 3 + i and reason in issue.reason, issue
    dup_exact, dup_other = report.issues[-2:]
    assert dup_exact.line == 3 + len(FOREIGN) and dup_exact.reason.startswith("duplicate of line 1")
    assert dup_other.line == 5 + len(FOREIGN) and dup_other.reason.startswith("duplicate of line 2")
    msg = str(next(w.message for w in caught if w.category is StoreWarning))
    assert (
        str(dirty.path) in msg and f"skipped {len(FOREIGN) + 2} line(s)" in msg and "line 3:" in msg
    )


def test_resume_asks_for_exactly_the_missing_samples_and_leaves_the_file_alone(dirty):
    before = dirty.path.read_bytes()
    rendered = pd.DataFrame(
        {
            "prompt_id": ["p0", "p1", "p2"],
            "prompt_text": ["a", "b", "c"],
            "prompt_hash": ["h", "h", "h"],
            "prompt_token_ids": [[1], [2], [3]],
        }
    )
    with pytest.warns(StoreWarning):
        plan = plan_generation(rendered, {"d": DECODE}, dirty.root, MODEL)
    assert sorted((r.prompt_id, tuple(r.sample_idxs)) for r in plan.requests) == [
        ("p1", (1,)),
        ("p2", (0, 1)),
    ]
    assert plan.n_samples_missing == 3
    assert dirty.path.read_bytes() == before  # reading never rewrites
    # the writer appends after the junk (no repair of complete lines, no crash)
    with GenerationStore(dirty.root, MODEL, CFG) as w:
        w.append([rec("p1", 1)])
    with pytest.warns(StoreWarning):
        assert len(GenerationStore(dirty.root, MODEL, CFG).records()) == 4


def test_read_all_reports_too_and_a_clean_store_warns_nothing(dirty, tmp_path):
    with pytest.warns(StoreWarning, match="skipped"):
        df = read_all(dirty.root)
    assert len(df) == 3
    clean = GenerationStore(tmp_path / "clean", MODEL, CFG)
    with clean:
        clean.append([rec("p0", 0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(GenerationStore(tmp_path / "clean", MODEL, CFG).records()) == 1
        assert len(read_all(tmp_path / "clean")) == 1


def test_duplicate_across_shards_names_the_first_file(tmp_path):
    with GenerationStore(tmp_path, MODEL, CFG) as main:
        main.append([rec("p0", 0)])
    with GenerationStore(tmp_path, MODEL, CFG, shard="dp1") as s1:
        s1.append([rec("p1", 0), rec("p0", 0, response="again")])
    store = GenerationStore(tmp_path, MODEL, CFG)
    with pytest.warns(StoreWarning):
        recs = store.records()
    assert len(recs) == 2
    (issue,) = store.report.issues
    assert (
        issue.path == s1.path
        and issue.line == 2
        and issue.reason == f"duplicate of {CFG}.jsonl:1 (same key)"
    )


def test_compact_dry_run_lists_and_changes_nothing(dirty):
    before = dirty.path.read_bytes()
    (res,) = compact(dirty.path, dry_run=True)
    assert res.kept == 3 and len(res.dropped) == len(FOREIGN) + 2 and res.rejected_file is None
    assert dirty.path.read_bytes() == before
    assert not list(dirty.dir.glob("*.rejected-*"))


def test_compact_keeps_valid_lines_byte_for_byte_and_sets_the_rest_aside(dirty):
    before = dirty.path.read_bytes().splitlines(keepends=True)
    with open(dirty.path, "ab") as fh:
        fh.write(b'{"prompt_id": "torn')  # a killed writer's tail
    (res,) = compact(dirty.dir.parent)  # the generations root: every model, every config
    after = dirty.path.read_bytes().splitlines(keepends=True)
    assert after == [before[0], before[1], before[3 + len(FOREIGN)]]
    rejected = res.rejected_file.read_bytes()
    assert sorted(rejected.splitlines(keepends=True)[:-1]) == sorted(
        b for i, b in enumerate(before) if i not in (0, 1, 3 + len(FOREIGN))
    )
    assert rejected.endswith(b'{"prompt_id": "torn') and res.torn_bytes == len(
        b'{"prompt_id": "torn'
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left to report
        assert len(GenerationStore(dirty.root, MODEL, CFG).records()) == 3
    (again,) = compact(dirty.path)
    assert again.dropped == [] and again.rejected_file is None


def test_cli_store_compact(dirty, capsys):
    assert cli.main(["store", "compact", str(dirty.path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{dirty.path}: 3 samples kept, {len(FOREIGN) + 2} line(s) dropped (dry run" in out
    assert "would drop" in out
    assert cli.main(["store", "compact", str(dirty.path)]) == 0
    assert f"dropped {len(FOREIGN) + 2} line(s)" in capsys.readouterr().out
    assert cli.main(["store", "compact", str(dirty.root / "nowhere")]) == 2
    assert "no such store file or folder" in capsys.readouterr().err
