"""Loaders for the training sources: MATH (levels 4-5) and NuminaMath-CoT.

Neither source has an answer column: the gold answer is the last ``\\boxed{}`` of the solution.
It is kept for monitoring only (SSD does not filter on correctness), but a row without one is
dropped so every training prompt is at least gradable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from ssdlib.data.answers import last_boxed
from ssdlib.data.base import LoadResult, SkipRow, clean_text, concat_results, map_dataset, open_dataset
from ssdlib.data.filters import is_multiple_answers, is_multiple_choice, is_proof

MATH_HF_ID = "EleutherAI/hendrycks_math"
MATH_CONFIGS: tuple[str, ...] = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)
NUMINA_HF_ID = "AI-MO/NuminaMath-CoT"
_LEVEL = re.compile(r"^Level\s+([1-5])$")


def _math_mapper(levels: set[int]):
    def mapper(row: dict, idx: int) -> dict:
        problem = clean_text(row["problem"])
        if not problem:
            raise SkipRow("empty_problem")
        m = _LEVEL.match(clean_text(row["level"]))
        if m is None:  # "Level ?" exists in the real data
            raise SkipRow("unknown_level")
        level = int(m.group(1))
        if level not in levels:
            raise SkipRow("level_filtered")
        answer = last_boxed(row["solution"])
        if answer is None or not answer.strip():
            raise SkipRow("no_boxed_answer")
        return {
            "id": idx,
            "problem": problem,
            "answer": answer.strip(),
            "difficulty": float(level),
            "meta": {"type": clean_text(row.get("type")), "level": level},
        }

    return mapper


def load_math(
    path: str | Path | None = None,
    *,
    configs: Iterable[str] | None = MATH_CONFIGS,
    split: str = "train",
    levels: Iterable[int] = (4, 5),
    hf_id: str = MATH_HF_ID,
) -> LoadResult:
    """MATH (hendrycks) problems of the given ``levels`` (1-5); difficulty = level.

    Hub: one dataset per subject config, ids ``math/<split>/<config>/<row>``; ``configs=None``
    loads a single-config mirror (e.g. ``hf_id="DigitalLearningGmbH/MATH-lighteval"``) with ids
    ``math/<split>/all/<row>``. Local file: ids ``math/<file stem>/<row>``. Drop reasons, checked
    in this order: empty_problem, unknown_level, level_filtered, no_boxed_answer.
    """
    mapper = _math_mapper({int(x) for x in levels})
    required = ["problem", "level", "solution"]
    if path is not None:
        ds = open_dataset("math", path, MATH_HF_ID, None, split)
        return _prefixed(map_dataset("math", ds, mapper, required, ["type"]), Path(path).stem)
    results = []
    for config in [None] if configs is None else configs:
        ds = open_dataset("math", None, hf_id, config, split)
        results.append(_prefixed(map_dataset("math", ds, mapper, required, ["type"]), f"{split}/{config or 'all'}"))
    return concat_results(results)


def _prefixed(result: LoadResult, prefix: str) -> LoadResult:
    """Insert ``prefix`` after the source in every id (math/<row> -> math/<prefix>/<row>)."""
    frame = result.frame.copy()
    frame["id"] = [f"math/{prefix}/{i.split('/', 1)[1]}" for i in frame["id"]]
    return LoadResult(frame, result.drops, result.n_raw)


def _numina_mapper(include: set[str] | None, exclude: set[str]):
    def mapper(row: dict, idx: int) -> dict:
        src = clean_text(row.get("source"))
        if (include is not None and src not in include) or src in exclude:
            raise SkipRow("source_filtered")
        problem = clean_text(row["problem"])
        if not problem:
            raise SkipRow("empty_problem")
        if is_proof(problem):  # before the boxed check: most proofs box nothing, and "proof" says why
            raise SkipRow("proof")
        solution = row["solution"] or ""
        boxed = last_boxed(solution)
        if boxed is None:
            raise SkipRow("no_boxed_answer")
        answer = boxed.strip()
        if is_proof(problem, answer):
            raise SkipRow("proof")
        if is_multiple_choice(problem, answer):
            raise SkipRow("multiple_choice")
        if is_multiple_answers(solution, answer):
            raise SkipRow("multiple_answers")
        return {"id": idx, "problem": problem, "answer": answer, "meta": {"numina_source": src}}

    return mapper


def load_numinamath(
    path: str | Path | None = None,
    *,
    split: str = "train",
    sources: Iterable[str] | None = None,
    exclude_sources: Iterable[str] = (),
) -> LoadResult:
    """NuminaMath-CoT problems with one checkable boxed answer; ids ``numinamath/<row>``.

    ``sources`` keeps only those values of Numina's ``source`` column (None = all);
    ``exclude_sources`` removes some (e.g. ``["synthetic_math"]``). Drop reasons, in order:
    source_filtered, empty_problem, proof (statement), no_boxed_answer, proof (answer),
    multiple_choice, multiple_answers (rules in ``ssdlib.data.filters``). Difficulty is NaN.
    """
    include = None if sources is None else {str(s) for s in sources}
    exclude = {str(s) for s in exclude_sources}
    mapper = _numina_mapper(include, exclude)
    ds = open_dataset("numinamath", path, NUMINA_HF_ID, None, split)
    required = ["problem", "solution"] + (["source"] if include is not None or exclude else [])
    # ``messages`` duplicates problem + solution: never read it (halves memory on 859k rows).
    return map_dataset("numinamath", ds, mapper, required, ["source"])
