"""Grade samples: extract in the parent, check equivalence in killable worker processes.

Per-sample flags (schema.GRADE_COLUMNS) plus a diagnostic ``grade_note``:

    extracted     str|None  content of the last \\boxed{} of the answer region
    correct       bool      equivalent to the gold by math-verify, and the sample finished
    boxed         bool      an answer was extracted
    think_closed  bool      "</think>" occurs in the response
    length_stop   bool      finish_reason == "length" (hit the generation cap)
    timed_out     bool      grading ran past its per-sample budget on every try (worker
                            killed or math-verify's alarm fired); counted as not correct
    grade_note    str|None  why a sample could not be credited normally: "no_gold",
                            "gold_unparsed", "pred_unparsed", "candidate_too_long",
                            "timeout", "verify_error", "worker_crash"; None otherwise

A sample that did not finish (finish_reason "length" or "abort") is never correct, even if
an earlier \\boxed{} matches the gold (a known false positive of other harnesses).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from ssdlib.grading import equivalence as eq
from ssdlib.grading.extraction import extract
from ssdlib.grading.pool import STATUS_CRASH, STATUS_OK, STATUS_TIMEOUT, TaskResult, run_killable
from ssdlib.schema import GRADE_COLUMNS, require_columns

NOTE_COLUMN = "grade_note"
NOTE_NO_GOLD = "no_gold"
NOTE_TOO_LONG = "candidate_too_long"
NOTE_WORKER_CRASH = "worker_crash"

# finish_reason values meaning the response was cut off: never credited.
UNFINISHED = frozenset({"length", "abort"})


def _gold_text(gold) -> str:
    """Gold answer as a string; "" for missing values (None, NaN, pd.NA)."""
    if gold is None or (not isinstance(gold, str) and pd.isna(gold)):
        return ""
    return str(gold).strip()


def _flags(
    response: str, finish_reason, thinking: bool | None, max_candidate_chars: int
) -> tuple[dict, bool]:
    """Extraction flags for one sample and whether its candidate should be verified."""
    ex = extract(response if isinstance(response, str) else "", thinking)
    row = {
        "extracted": ex.extracted,
        "correct": False,
        "boxed": ex.boxed,
        "think_closed": ex.think_closed,
        "length_stop": finish_reason == "length",
        "timed_out": False,
        NOTE_COLUMN: None,
    }
    if ex.extracted is not None and len(ex.extracted) > max_candidate_chars:
        # Long junk candidates can eat the whole timeout in math-verify's regexes and parser.
        row[NOTE_COLUMN] = NOTE_TOO_LONG
        return row, False
    return row, ex.extracted is not None and finish_reason not in UNFINISHED


def _timed_out_check(result: TaskResult) -> bool:
    """Did a check_answer task run out of time (parent kill or math-verify's own alarm)?"""
    return result.status == STATUS_TIMEOUT or (
        result.status == STATUS_OK and result.value[1] == eq.NOTE_TIMEOUT
    )


def _run_with_retries(
    fn, tasks: list[tuple], timed_out, *, retries: int, **pool_kw
) -> list[TaskResult]:
    """run_killable, then re-run the tasks that ``timed_out`` up to ``retries`` more times.

    Budgets are wall-clock, so on a loaded machine a normal 0.2 s check can miss a 2 s
    alarm; a second try on a fresh worker separates such misfires from inputs that are
    really slow (those time out again, costing one more budget each).
    """
    results = run_killable(fn, tasks, **pool_kw)
    for _ in range(retries):
        again = [i for i, r in enumerate(results) if timed_out(r)]
        if not again:
            break
        for i, r in zip(again, run_killable(fn, [tasks[i] for i in again], **pool_kw), strict=True):
            results[i] = r
    return results


def _apply(row: dict, result) -> None:
    """Fold one worker TaskResult of eq.check_answer into a grade row."""
    if result.status == STATUS_OK:
        verdict, note = result.value
        row["correct"] = verdict is True
        row["timed_out"] = note == eq.NOTE_TIMEOUT
        row[NOTE_COLUMN] = note
    elif result.status == STATUS_TIMEOUT:
        row["timed_out"] = True
        row[NOTE_COLUMN] = eq.NOTE_TIMEOUT
    elif result.status == STATUS_CRASH:
        row[NOTE_COLUMN] = NOTE_WORKER_CRASH
    else:
        row[NOTE_COLUMN] = eq.NOTE_VERIFY_ERROR


def _grade_rows(
    responses: Sequence,
    golds: Sequence,
    finish_reasons: Sequence,
    *,
    thinking: bool | None,
    max_candidate_chars: int,
    timeout_s: float,
    workers: int | None,
    memory_limit_mb: int | None,
    retries: int,
) -> list[dict]:
    rows: list[dict] = []
    # Identical (gold, candidate) pairs are checked once: samples of one prompt often agree.
    task_of: dict[tuple[str, str], int] = {}
    tasks: list[tuple] = []
    row_task: list[int | None] = []
    for response, gold, finish in zip(responses, golds, finish_reasons, strict=True):
        row, check = _flags(response, finish, thinking, max_candidate_chars)
        gold = _gold_text(gold)
        if check and not gold:
            row[NOTE_COLUMN] = NOTE_NO_GOLD
            check = False
        rows.append(row)
        if not check:
            row_task.append(None)
            continue
        key = (gold, row["extracted"])
        if key not in task_of:
            task_of[key] = len(tasks)
            tasks.append((gold, row["extracted"], timeout_s))
        row_task.append(task_of[key])
    results = _run_with_retries(
        eq.check_answer,
        tasks,
        _timed_out_check,
        timeout_s=timeout_s,
        workers=workers,
        memory_limit_mb=memory_limit_mb,
        retries=retries,
        progress_step="grade",
    )
    for row, t in zip(rows, row_task, strict=True):
        if t is not None:
            _apply(row, results[t])
    return rows


def grade_one(
    response: str,
    gold: str,
    finish_reason: str = "stop",
    *,
    thinking: bool | None = None,
    max_candidate_chars: int = 1000,
    timeout_s: float = 5.0,
    retries: int = 1,
) -> dict:
    """Grade one response against its gold answer (hard timeout via a one-off worker).

    ``thinking``: True for thinking models (answer only after the last ``</think>``), False
    for non-thinking ones (whole response), None = thinking iff a think tag appears. Pass
    True for Qwen3.5: its template may pre-fill ``<think>`` so an unclosed response can hold
    no tag at all. ``max_candidate_chars``: longer boxed candidates are not parsed (not
    correct, note "candidate_too_long"). ``timeout_s``: grading budget in seconds (wall
    clock). ``retries``: times a timed-out sample is re-graded on a fresh worker before it
    is marked timed_out. Returns a dict with the GRADE_COLUMNS keys plus "grade_note".
    """
    return _grade_rows(
        [response],
        [gold],
        [finish_reason],
        thinking=thinking,
        max_candidate_chars=max_candidate_chars,
        timeout_s=timeout_s,
        workers=1,
        memory_limit_mb=4096,
        retries=retries,
    )[0]


def _resolve_gold(samples: pd.DataFrame, problems: pd.DataFrame | None, gold_col: str) -> pd.Series:
    """Gold answer per sample row: samples[gold_col], else problems[gold_col] joined on id."""
    if gold_col in samples.columns:
        return samples[gold_col]
    if problems is None:
        raise ValueError(f"samples has no {gold_col!r} column and no problems table was given")
    require_columns(problems, ["id", gold_col], "problems")
    if problems["id"].duplicated().any():
        raise ValueError("problems has duplicated ids; cannot join gold answers")
    gold = samples["prompt_id"].map(problems.set_index("id")[gold_col])
    missing = ~samples["prompt_id"].isin(problems["id"])
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} sample(s) have a prompt_id not in problems, "
            f"e.g. {samples.loc[missing, 'prompt_id'].iloc[0]!r}"
        )
    return gold


def grade_samples(
    samples: pd.DataFrame,
    problems: pd.DataFrame | None = None,
    *,
    gold_col: str = "answer",
    workers: int | None = None,
    timeout_s: float = 5.0,
    thinking: bool | None = None,
    max_candidate_chars: int = 1000,
    memory_limit_mb: int | None = 4096,
    retries: int = 1,
) -> pd.DataFrame:
    """Return a copy of ``samples`` with GRADE_COLUMNS (and ``grade_note``) added.

    ``samples`` needs prompt_id, response, finish_reason; the gold answer is
    ``samples[gold_col]`` if present, else ``problems[gold_col]`` joined on
    ``prompt_id == problems.id`` (an unknown prompt_id raises ValueError; an empty gold
    gives correct=False with note "no_gold"). Row order and index are preserved; existing
    grade columns are overwritten. ``workers``: processes (None = all cores);
    ``timeout_s``: per-sample grading budget in seconds, after which the worker is killed
    and the sample is timed_out and not correct; ``memory_limit_mb``: extra address space
    per worker. See :func:`grade_one` for ``thinking``, ``max_candidate_chars`` and
    ``retries``. Worst-case time: about (1 + retries) * timeout_s * n_slow / workers on top
    of the normal grading time, where n_slow counts the distinct slow answers.
    """
    require_columns(samples, ["prompt_id", "response", "finish_reason"], "samples")
    gold = _resolve_gold(samples, problems, gold_col)
    rows = _grade_rows(
        samples["response"].tolist(),
        gold.tolist(),
        samples["finish_reason"].tolist(),
        thinking=thinking,
        max_candidate_chars=max_candidate_chars,
        timeout_s=timeout_s,
        workers=workers,
        memory_limit_mb=memory_limit_mb,
        retries=retries,
    )
    out = samples.copy()
    for col in (*GRADE_COLUMNS, NOTE_COLUMN):
        # Text columns stay object with None for "nothing" (as grade_one returns); flags bool.
        dtype = object if col in ("extracted", NOTE_COLUMN) else bool
        out[col] = pd.Series([r[col] for r in rows], index=samples.index, dtype=dtype)
    return out


def answers_equivalent_batch(
    pairs: Iterable[tuple[str, str]], timeout_s: float = 5.0, workers: int | None = None
) -> list[bool | None]:
    """For each ``(a, b)`` pair of reference answers: equivalent (True/False) by math-verify,
    in either direction, or None when empty/unparseable/timed out (``timeout_s`` seconds per
    pair, hard). ``workers`` = processes (None = all cores). Order preserved."""
    tasks = [(str(a), str(b), timeout_s) for a, b in pairs]
    unique = list(dict.fromkeys(tasks))
    # None can mean "timed out" (worth one more try, see _run_with_retries) or "unparseable"
    # (cheap to repeat), so every None is retried once.
    results = _run_with_retries(
        eq.equivalent,
        unique,
        lambda r: r.status != STATUS_OK or r.value is None,
        timeout_s=timeout_s,
        workers=workers,
        retries=1,
    )
    verdict = {
        t: (r.value if r.status == STATUS_OK else None)
        for t, r in zip(unique, results, strict=True)
    }
    return [verdict[t] for t in tasks]


def answers_equivalent(a: str, b: str, timeout_s: float = 5.0) -> bool | None:
    """Are two reference answers equivalent (see :func:`answers_equivalent_batch`)?"""
    return answers_equivalent_batch([(a, b)], timeout_s=timeout_s, workers=1)[0]
