"""Loaders for the validation / final-eval sources (answers given as a column).

BeyondAIME, Omni-MATH (+ Omni-MATH-2), OlympiadBench (English, text-only, maths), the two AIME
archives, and HMMT. Each keeps the native id when the source has one, else the row index.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ssdlib.data.base import LoadResult, SkipRow, answer_to_str, clean_text, map_dataset, open_dataset, require_nonempty

_INTEGER = re.compile(r"^[+-]?\d+$")


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

    Ids ``beyond_aime/<row>``. Drops: empty_problem, empty_answer, malformed_answer.
    """

    def mapper(row: dict, idx: int) -> dict:
        problem, answer = clean_text(row["problem"]), answer_to_str(row["answer"])
        require_nonempty(problem, answer)
        return {"id": idx, "problem": problem, "answer": answer}

    ds = open_dataset("beyond_aime", path, "ByteDance-Seed/BeyondAIME", None, split)
    return map_dataset("beyond_aime", ds, mapper, ["problem", "answer"])


# --- Omni-MATH -------------------------------------------------------------------------------


def _omni_tags(value: Any) -> list[str]:
    """Omni-MATH-2 tags (proof / image / estimation) as a list, whether stored as list or "a, b"."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [t for t in (clean_text(i) for i in items) if t and t.lower() not in {"none", "null", "[]"}]


def load_omni_math(
    path: str | Path | None = None,
    *,
    hf_id: str = "KbsdJames/Omni-MATH",
    split: str = "test",
    source_name: str = "omni_math",
    min_difficulty: float | None = None,
    drop_tagged: bool = True,
) -> LoadResult:
    """Omni-MATH (difficulty 0-10, ``domain`` list) mapped to the problems schema.

    Also serves Omni-MATH-2 (see :func:`load_omni_math_2`), whose columns are unverified: only
    ``problem`` and ``answer`` are required (plus ``difficulty`` when ``min_difficulty`` is set),
    ``id``/``domain``/``source``/``tags`` are used when present. Rows with a non-empty ``tags``
    value (Omni-MATH-2's proof/image/estimation labels) are dropped as ``tagged`` unless
    ``drop_tagged=False``. Drops: empty_problem, empty_answer, tagged, no_difficulty,
    below_min_difficulty.
    """

    def mapper(row: dict, idx: int) -> dict:
        problem, answer = clean_text(row["problem"]), answer_to_str(row["answer"])
        require_nonempty(problem, answer)
        tags = _omni_tags(row.get("tags"))
        if drop_tagged and tags:
            raise SkipRow("tagged")
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
        return {"id": native, "problem": problem, "answer": answer, "difficulty": difficulty, "meta": meta}

    required = ["problem", "answer"] + (["difficulty"] if min_difficulty is not None else [])
    ds = open_dataset(source_name, path, hf_id, None, split)
    return map_dataset(source_name, ds, mapper, required, ["difficulty", "domain", "source", "id", "tags"])


def load_omni_math_2(path: str | Path | None = None, **opts) -> LoadResult:
    """Omni-MATH-2 (martheballon/Omni-MATH-2; columns assumed like Omni-MATH, unverified).

    Same options as :func:`load_omni_math`; source name ``omni_math_2``. ``split`` defaults to
    "test" like Omni-MATH; pass ``split=`` if the hub repo names it differently.
    """
    opts.setdefault("hf_id", "martheballon/Omni-MATH-2")
    opts.setdefault("source_name", "omni_math_2")
    return load_omni_math(path, **opts)


# --- OlympiadBench ---------------------------------------------------------------------------

_IMAGE_COLUMNS = tuple(f"image_{k}" for k in range(1, 6))


def load_olympiadbench(
    path: str | Path | None = None,
    *,
    config: str = "OE_TO_maths_en_COMP",
    split: str = "train",
) -> LoadResult:
    """OlympiadBench open-ended English maths (text-only config), one final answer per problem.

    ``final_answer`` is a list; the answer is its single element. ``context`` (a shared
    preamble, when present) is prepended to the question. Ids ``olympiadbench/<id>``; ``unit``
    and ``answer_type`` go to meta. Drops, in order: empty_problem, has_image (any image_k set),
    multi_answer (``is_multiple_answer``), not_one_final_answer, empty_answer.
    """

    def mapper(row: dict, idx: int) -> dict:
        question = clean_text(row["question"])
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
        answer = answer_to_str(finals[0])
        require_nonempty(question, answer)
        meta = {
            "unit": row.get("unit"),
            "answer_type": clean_text(row.get("answer_type")),
            "subfield": clean_text(row.get("subfield")),
            "difficulty_label": clean_text(row.get("difficulty")),
            "has_context": bool(context),
        }
        problem = f"{context}\n\n{question}" if context else question
        return {"id": row["id"], "problem": problem, "answer": answer, "meta": meta}

    optional = ["context", "is_multiple_answer", "unit", "answer_type", "subfield", "difficulty", *_IMAGE_COLUMNS]
    ds = open_dataset("olympiadbench", path, "Hothan/OlympiadBench", config, split)
    return map_dataset("olympiadbench", ds, mapper, ["id", "question", "final_answer"], optional)


# --- AIME archives ---------------------------------------------------------------------------


def load_aime_archive(path: str | Path | None = None, *, split: str = "train") -> LoadResult:
    """di-zhang-fdu/AIME_1983_2024 (933 rows); ids ``aime_archive/<ID>`` (e.g. "1983-1").

    Answers are canonical integer strings. Drops: empty_problem, empty_answer, non_integer_answer.
    """

    def mapper(row: dict, idx: int) -> dict:
        problem = clean_text(row["Question"])
        require_nonempty(problem)
        answer = _integer_answer(row["Answer"])
        meta = {"year": row.get("Year"), "number": row.get("Problem Number"), "part": clean_text(row.get("Part"))}
        return {"id": clean_text(row["ID"]) or idx, "problem": problem, "answer": answer, "meta": meta}

    ds = open_dataset("aime_archive", path, "di-zhang-fdu/AIME_1983_2024", None, split)
    return map_dataset("aime_archive", ds, mapper, ["ID", "Question", "Answer"], ["Year", "Problem Number", "Part"])


def load_aimo_aime(path: str | Path | None = None, *, split: str = "train") -> LoadResult:
    """AI-MO/aimo-validation-aime (90 rows, AIME 2022-2024); ids ``aimo_aime/<id>``; url in meta."""

    def mapper(row: dict, idx: int) -> dict:
        problem = clean_text(row["problem"])
        require_nonempty(problem)
        answer = _integer_answer(row["answer"])
        native = clean_text(row.get("id")) or idx
        return {"id": native, "problem": problem, "answer": answer, "meta": {"url": clean_text(row.get("url"))}}

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
        problem, answer = clean_text(row["problem"]), answer_to_str(row["answer"])
        require_nonempty(problem, answer)
        native = row.get("problem_idx")
        meta = {"problem_type": row.get("problem_type") or []}
        return {"id": native if native is not None else idx, "problem": problem, "answer": answer, "meta": meta}

    ds = open_dataset(source_name, path, hf_id, None, split)
    return map_dataset(source_name, ds, mapper, ["problem", "answer"], ["problem_idx", "problem_type"])
