"""Loaders for the validation / final-eval sources (answers given as a column).

BeyondAIME, Omni-MATH (+ Omni-MATH-2), OlympiadBench (English, text-only, maths), the two AIME
archives, and HMMT. Each keeps the native id when the source has one, else the row index.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ssdlib.data.base import (
    LoadResult,
    SkipRow,
    answer_to_str,
    clean_text,
    map_dataset,
    open_dataset,
    problem_text,
    require_nonempty,
)
from ssdlib.data.filters import (
    is_proof_answer,
    is_prose_answer,
    is_restated_claim,
    lists_several_answers,
)

_INTEGER = re.compile(r"^[+-]?\d+$")
# Hub ids and the split each one has: Omni-MATH-2 has a single ``train`` split (4,428 rows),
# the original Omni-MATH a ``test`` split.
OMNI_HF_ID = "KbsdJames/Omni-MATH"
OMNI2_HF_ID = "martheballon/Omni-MATH-2"
OMNI_SPLITS = {OMNI_HF_ID: "test", OMNI2_HF_ID: "train"}
OMNI_REQUIRED = ("problem", "answer")
OLYMPIADBENCH_REQUIRED = ("id", "question", "final_answer")
BEYOND_AIME_REQUIRED = ("problem", "answer")
AIME_ARCHIVE_REQUIRED = ("ID", "Question", "Answer")
_DOLLAR_WRAPPED = re.compile(r"^\$([^$]+)\$$")


def check_gold_answer(problem: str, answer: str) -> None:
    """SkipRow for a gold answer that cannot grade a response (rules in ``ssdlib.data.filters``).

    proof (the gold only says "proof" / "yes"), proof_claim (the gold restates a relation the
    statement asks to prove: a model restating the claim would be graded correct),
    prose_answer (``n \\text{ works if and only if ...}``), multiple_answers
    (``4122 \\text{ (minimum)}, 6049 \\text{ (maximum)}``, ``$69$,$84$``).
    """
    if is_proof_answer(answer):
        raise SkipRow("proof")
    if is_restated_claim(problem, answer):
        raise SkipRow("proof_claim")
    if is_prose_answer(answer):  # before the separator rule: "if and only if" is prose, not a list
        raise SkipRow("prose_answer")
    if lists_several_answers(answer):
        raise SkipRow("multiple_answers")


def unwrap_dollars(answer: str) -> str:
    """``$k=1$`` -> ``k=1``: one ``$...$`` around the whole answer is math-mode markup, not value."""
    m = _DOLLAR_WRAPPED.match(answer)
    return m.group(1).strip() if m else answer


def _integer_answer(x: Any) -> str:
    """AIME-style answer as a canonical integer string ("080" -> "80"); SkipRow otherwise."""
    s = answer_to_str(x)
    if not s:
        raise SkipRow("empty_answer")
    if not _INTEGER.match(s):
        raise SkipRow("non_integer_answer")
    return str(int(s))


# --- BeyondAIME ------------------------------------------------------------------------------


def load_beyond_aime(path: str | Path | None = None, *, split: str = "test") -> LoadResult:
    """ByteDance-Seed/BeyondAIME (100 rows; integer answers stored as str or int).

    Ids ``beyond_aime/<row>``. Drops: empty_problem, junk_only_problem, non_string_problem,
    empty_answer, boolean_answer, non_scalar_answer (``ssdlib.data.base``), and bad_line_* for a
    local JSON Lines file.
    """

    def mapper(row: dict, idx: int) -> dict:
        problem, answer = problem_text(row["problem"]), answer_to_str(row["answer"])
        require_nonempty(problem, answer)
        return {"id": idx, "problem": problem, "answer": answer}

    ds = open_dataset("beyond_aime", path, "ByteDance-Seed/BeyondAIME", None, split)
    return map_dataset("beyond_aime", ds, mapper, list(BEYOND_AIME_REQUIRED))


# --- Omni-MATH -------------------------------------------------------------------------------


def _omni_tags(value: Any) -> list[str]:
    """Omni-MATH-2 tags (proof / image / estimation) as a list, whether stored as list or "a, b"."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [
        t for t in (clean_text(i) for i in items) if t and t.lower() not in {"none", "null", "[]"}
    ]


def load_omni_math(
    path: str | Path | None = None,
    *,
    hf_id: str = OMNI_HF_ID,
    split: str | None = None,
    source_name: str = "omni_math",
    min_difficulty: float | None = None,
    drop_tagged: bool = True,
    check_answers: bool = True,
) -> LoadResult:
    """Omni-MATH (difficulty 0-10, ``domain`` list) mapped to the problems schema.

    Also serves Omni-MATH-2 (see :func:`load_omni_math_2`: integer ``id``, ``tags`` list, one
    ``train`` split). ``split=None`` takes the split the hub id has (:data:`OMNI_SPLITS`:
    ``test`` for Omni-MATH, ``train`` for Omni-MATH-2). Only ``problem`` and ``answer`` are
    required (plus ``difficulty`` when ``min_difficulty`` is set); ``id``/``domain``/``source``/
    ``tags`` are used when present. A row with tags (Omni-MATH-2: proof 112, image 57,
    estimation 49, "should delete" 25, ...) is dropped as ``tagged_<first tag>`` unless
    ``drop_tagged=False``. The tags do not catch everything the original set holds, so the gold
    answer is checked too (``check_answers``; :func:`check_gold_answer`). Drops: empty_problem,
    empty_answer, tagged_*, proof, proof_claim, multiple_answers, prose_answer, no_difficulty,
    below_min_difficulty.
    """
    if split is None:
        split = OMNI_SPLITS.get(hf_id, "test")

    def mapper(row: dict, idx: int) -> dict:
        problem, answer = problem_text(row["problem"]), answer_to_str(row["answer"])
        require_nonempty(problem, answer)
        tags = _omni_tags(row.get("tags"))
        if drop_tagged and tags:
            raise SkipRow("tagged_" + re.sub(r"\W+", "_", tags[0].lower()).strip("_"))
        if check_answers:
            check_gold_answer(problem, answer)
        raw = row.get("difficulty")
        difficulty = float(raw) if raw is not None else math.nan
        if min_difficulty is not None:
            if math.isnan(difficulty):
                raise SkipRow("no_difficulty")
            if difficulty < min_difficulty:
                raise SkipRow("below_min_difficulty")
        native = clean_text(row.get("id")) or idx
        meta = {"domain": row.get("domain") or [], "origin": clean_text(row.get("source"))}
        if tags:
            meta["tags"] = tags
        return {
            "id": native,
            "problem": problem,
            "answer": answer,
            "difficulty": difficulty,
            "meta": meta,
        }

    required = list(OMNI_REQUIRED) + (["difficulty"] if min_difficulty is not None else [])
    ds = open_dataset(source_name, path, hf_id, None, split)
    return map_dataset(
        source_name, ds, mapper, required, ["difficulty", "domain", "source", "id", "tags"]
    )


def load_omni_math_2(
    path: str | Path | None = None,
    *,
    hf_id: str = OMNI2_HF_ID,
    split: str = "train",
    source_name: str = "omni_math_2",
    min_difficulty: float | None = None,
    drop_tagged: bool = True,
    check_answers: bool = True,
) -> LoadResult:
    """Omni-MATH-2 (martheballon/Omni-MATH-2): a single ``train`` split of 4,428 rows, integer
    ``id``, ``tags`` list. Same options as :func:`load_omni_math`."""
    return load_omni_math(
        path,
        hf_id=hf_id,
        split=split,
        source_name=source_name,
        min_difficulty=min_difficulty,
        drop_tagged=drop_tagged,
        check_answers=check_answers,
    )


# --- OlympiadBench ---------------------------------------------------------------------------

_IMAGE_COLUMNS = tuple(f"image_{k}" for k in range(1, 6))


def load_olympiadbench(
    path: str | Path | None = None,
    *,
    config: str = "OE_TO_maths_en_COMP",
    split: str = "train",
) -> LoadResult:
    """OlympiadBench open-ended English maths (text-only config), one final answer per problem.

    ``final_answer`` is always a one-element list; a multi-answer problem stores ONE joined
    string (``'$69$,$84$'``), so ``is_multiple_answer`` is what marks it (and a listed answer is
    dropped even when that flag is missing). One ``$...$`` around the whole answer is removed
    (``$k=1$`` -> ``k=1``). ``context`` (a shared preamble, when present) is prepended to the
    question. Ids ``olympiadbench/<id>``; ``unit`` and ``answer_type`` go to meta. Drops, in
    order: empty_problem, has_image (any image_k set), multi_answer (``is_multiple_answer``),
    not_one_final_answer (list shape, never seen in the real data), empty_answer, then
    :func:`check_gold_answer` (proof, proof_claim, multiple_answers, prose_answer): statements
    that say "prove" but have a final answer (~1%) are kept unless the gold is the claim.
    """

    def mapper(row: dict, idx: int) -> dict:
        question = problem_text(row["question"])
        context = clean_text(row.get("context"))
        if not question:
            raise SkipRow("empty_problem")
        if any(row.get(c) is not None for c in _IMAGE_COLUMNS):
            raise SkipRow("has_image")
        if bool(row.get("is_multiple_answer")):
            raise SkipRow("multi_answer")
        finals = row["final_answer"]
        finals = [finals] if isinstance(finals, str) else list(finals or [])
        if len(finals) != 1:
            raise SkipRow("not_one_final_answer")
        answer = unwrap_dollars(answer_to_str(finals[0]))
        require_nonempty(question, answer)
        check_gold_answer(question, answer)
        meta = {
            "unit": row.get("unit"),
            "answer_type": clean_text(row.get("answer_type")),
            "subfield": clean_text(row.get("subfield")),
            "difficulty_label": clean_text(row.get("difficulty")),
            "has_context": bool(context),
        }
        problem = f"{context}\n\n{question}" if context else question
        return {"id": row["id"], "problem": problem, "answer": answer, "meta": meta}

    optional = [
        "context",
        "is_multiple_answer",
        "unit",
        "answer_type",
        "subfield",
        "difficulty",
        *_IMAGE_COLUMNS,
    ]
    ds = open_dataset("olympiadbench", path, "Hothan/OlympiadBench", config, split)
    return map_dataset("olympiadbench", ds, mapper, list(OLYMPIADBENCH_REQUIRED), optional)


# --- AIME archives ---------------------------------------------------------------------------


def load_aime_archive(path: str | Path | None = None, *, split: str = "train") -> LoadResult:
    """di-zhang-fdu/AIME_1983_2024 (933 rows); ids ``aime_archive/<ID>`` (e.g. "1983-1").

    Answers are canonical integer strings. Drops: empty_problem, empty_answer, non_integer_answer.
    """

    def mapper(row: dict, idx: int) -> dict:
        problem = problem_text(row["Question"])
        require_nonempty(problem)
        answer = _integer_answer(row["Answer"])
        meta = {
            "year": row.get("Year"),
            "number": row.get("Problem Number"),
            "part": clean_text(row.get("Part")),
        }
        return {
            "id": clean_text(row["ID"]) or idx,
            "problem": problem,
            "answer": answer,
            "meta": meta,
        }

    ds = open_dataset("aime_archive", path, "di-zhang-fdu/AIME_1983_2024", None, split)
    return map_dataset(
        "aime_archive", ds, mapper, list(AIME_ARCHIVE_REQUIRED), ["Year", "Problem Number", "Part"]
    )


def load_aimo_aime(path: str | Path | None = None, *, split: str = "train") -> LoadResult:
    """AI-MO/aimo-validation-aime (90 rows, AIME 2022-2024); ids ``aimo_aime/<id>``; url in meta."""

    def mapper(row: dict, idx: int) -> dict:
        problem = problem_text(row["problem"])
        require_nonempty(problem)
        answer = _integer_answer(row["answer"])
        native = clean_text(row.get("id")) or idx
        return {
            "id": native,
            "problem": problem,
            "answer": answer,
            "meta": {"url": clean_text(row.get("url"))},
        }

    ds = open_dataset("aimo_aime", path, "AI-MO/aimo-validation-aime", None, split)
    return map_dataset("aimo_aime", ds, mapper, ["problem", "answer"], ["id", "url"])


# --- HMMT ------------------------------------------------------------------------------------


def load_hmmt(
    path: str | Path | None = None,
    *,
    hf_id: str = "MathArena/hmmt_feb_2025",
    split: str = "train",
    source_name: str = "hmmt_feb_2025",
) -> LoadResult:
    """MathArena HMMT set (30 rows, LaTeX answers); ids ``<source_name>/<problem_idx>``."""

    def mapper(row: dict, idx: int) -> dict:
        problem, answer = problem_text(row["problem"]), answer_to_str(row["answer"])
        require_nonempty(problem, answer)
        native = row.get("problem_idx")
        meta = {"problem_type": row.get("problem_type") or []}
        return {
            "id": native if native is not None else idx,
            "problem": problem,
            "answer": answer,
            "meta": meta,
        }

    ds = open_dataset(source_name, path, hf_id, None, split)
    return map_dataset(
        source_name, ds, mapper, ["problem", "answer"], ["problem_idx", "problem_type"]
    )
