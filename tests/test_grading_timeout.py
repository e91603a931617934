"""Killable workers: hung or crashing tasks are bounded and reported, the run goes on."""

from __future__ import annotations

import math
import os
import time

import pandas as pd

from ssdlib.grading import grade_one, grade_samples
from ssdlib.grading.grade import _apply, _run_with_retries
from ssdlib.grading.pool import (
    STATUS_CRASH,
    STATUS_TIMEOUT,
    TaskResult,
    default_workers,
    run_killable,
)


def test_pool_kills_a_hung_task_and_keeps_going():
    # time.sleep is the injected "slow function": it ignores no signal, but nothing in the
    # worker would ever stop it, so only the parent's kill can end the 60 s task.
    tasks = [(0.01,), (60,), (0.01,), (60,), (0.01,)]
    t0 = time.monotonic()
    res = run_killable(time.sleep, tasks, timeout_s=1.0, workers=2)
    elapsed = time.monotonic() - t0
    assert [r.status for r in res] == ["ok", "timeout", "ok", "timeout", "ok"]
    assert all(0.9 <= r.seconds < 3 for r in res if r.status == STATUS_TIMEOUT)
    assert elapsed < 10, elapsed


def test_pool_survives_crash_and_error_in_order():
    res = run_killable(math.sqrt, [(4.0,), (-1.0,), (9.0,)], timeout_s=5, workers=1)
    assert [r.status for r in res] == ["ok", "error", "ok"]
    assert [r.value for r in res] == [2.0, None, 3.0]
    assert "ValueError" in res[1].error
    crashed = run_killable(os._exit, [(3,), (3,)], timeout_s=5, workers=1)
    assert [r.status for r in crashed] == [STATUS_CRASH, STATUS_CRASH]


def test_default_workers_is_all_cores():
    assert default_workers() == (os.cpu_count() or 1)


def test_outer_kill_and_crash_results_fold_into_grade_rows():
    row = {"correct": False, "timed_out": False, "grade_note": None}
    _apply(row, TaskResult(None, STATUS_TIMEOUT, "killed", 5.0))
    assert (row["correct"], row["timed_out"], row["grade_note"]) == (False, True, "timeout")
    row = {"correct": False, "timed_out": False, "grade_note": None}
    _apply(row, TaskResult(None, STATUS_CRASH, "died", 0.1))
    assert (row["correct"], row["timed_out"], row["grade_note"]) == (False, False, "worker_crash")


def test_adversarial_answers_time_out_within_budget():
    hard = [
        r"9^{9^{9^{9^{9}}}}",
        r"(10!)!",
        r"10^{10^{9}}",
        "{" * 400 + "1" + "}" * 400,
    ]
    responses = [f"</think>\\boxed{{{h}}}" for h in hard] + ["</think>\\boxed{3}"]
    samples = pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(len(responses))],
            "response": responses,
            "answer": "3",
            "finish_reason": "stop",
        }
    )
    t0 = time.monotonic()
    out = grade_samples(samples, timeout_s=1.0, workers=2)
    elapsed = time.monotonic() - t0
    assert out["timed_out"].tolist()[:4] == [True] * 4
    assert not out["correct"].iloc[:4].any()
    assert out["correct"].iloc[4] and not out["timed_out"].iloc[4]
    # 4 timeouts of <= 1 s each on 2 workers, plus start-up: far below this bound.
    assert elapsed < 15, elapsed


def test_long_candidate_is_not_parsed():
    junk = "1+" * 1500 + "1"
    t0 = time.monotonic()
    out = grade_one(f"\\boxed{{{junk}}}", "3001", max_candidate_chars=1000)
    assert out["correct"] is False and out["timed_out"] is False
    assert out["grade_note"] == "candidate_too_long" and out["boxed"] is True
    assert time.monotonic() - t0 < 5


def test_timed_out_tasks_are_retried_on_fresh_workers():
    seen = []

    def timed_out(r):
        seen.append(r.status)
        return r.status == STATUS_TIMEOUT

    t0 = time.monotonic()
    res = _run_with_retries(
        time.sleep, [(0.01,), (60,)], timed_out, retries=2, timeout_s=0.5, workers=2
    )
    elapsed = time.monotonic() - t0
    assert [r.status for r in res] == ["ok", "timeout"]
    # three passes over the hung task (first try + 2 retries), each killed at 0.5 s
    assert seen.count(STATUS_TIMEOUT) == 2 and elapsed >= 1.5
    assert elapsed < 10


def test_worker_memory_cap_turns_runaway_allocation_into_an_error():
    # 8 GiB in one go: with a 256 MiB cap the worker gets MemoryError instead of the machine
    # swapping or the OOM killer picking a victim; the next task still runs.
    res = run_killable(
        bytearray, [(8 * 1024**3,), (16,)], timeout_s=10, workers=1, memory_limit_mb=256
    )
    assert res[0].status == "error" and "MemoryError" in res[0].error
    assert res[1].status == "ok" and res[1].value == bytearray(16)
