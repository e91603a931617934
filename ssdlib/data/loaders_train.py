"""Loaders for the training sources: MATH (levels 4-5) and NuminaMath-CoT.

Neither source has an answer column: the gold answer is the last ``\\boxed{}`` of the solution.
It is kept for monitoring only (SSD does not filter on correctness), but a row without one, or
with a letter / several answers, is dropped so every training prompt is at least gradable.

A solution that boxes something besides its final answer is resolved after the scan, in one
math-verify batch over killable workers (:func:`resolve_box_variants`): the same value in
another form (``15\\frac{39}{40}`` and ``\\frac{639}{40}``) keeps the row, anything else drops
it as ``multiple_answers``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from ssdlib.boxed import last_boxed_answer
from ssdlib.data.base import (
    LoadResult,
    SkipRow,
    clean_text,
    concat_results,
    map_dataset,
    meta_json,
    open_dataset,
    problem_text,
    problems_frame,
)
from ssdlib.data.filters import (
    box_variants,
    is_multiple_choice,
    is_proof,
    lists_several_answers,
    variants_equivalent,
)

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
# Numina's competition sources except ``math`` (MATH train reformatted: it duplicates the MATH
# pool). Together ~20% of Numina by its card; the seeds want hard, competition-level problems.
COMPETITION_SOURCES: tuple[str, ...] = ("olympiads", "aops_forum", "amc_aime")
MATH_REQUIRED = ("problem", "level", "solution")
NUMINA_REQUIRED = ("problem", "solution", "source")
_VARIANTS = "_box_variants"  # meta key carrying other boxed contents until they are resolved
_LEVEL = re.compile(r"^Level\s+([1-5])$")


def _math_mapper(levels: set[int]):
    def mapper(row: dict, idx: int) -> dict:
        problem = problem_text(row["problem"])
        m = _LEVEL.match(clean_text(row["level"]))
        if m is None:  # "Level ?" exists in the real data
            raise SkipRow("unknown_level")
        level = int(m.group(1))
        if level not in levels:
            raise SkipRow("level_filtered")
        solution = row["solution"] or ""
        answer = last_boxed_answer(solution)
        if answer is None or not answer.strip():
            raise SkipRow("no_boxed_answer")
        answer = answer.strip()
        # MATH has a few letter answers (\text{(C)}, ~3 in 500): meaningless without the options.
        if is_multiple_choice(problem, answer):
            raise SkipRow("multiple_choice")
        if lists_several_answers(answer):
            raise SkipRow("multiple_answers")
        meta = {"type": clean_text(row.get("type")), "level": level}
        variants = box_variants(solution, answer)
        if variants:
            meta[_VARIANTS] = variants
        return {
            "id": idx,
            "problem": problem,
            "answer": answer,
            "difficulty": float(level),
            "meta": meta,
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
    in this order: empty_problem, unknown_level, level_filtered, no_boxed_answer, multiple_choice
    (letter answer or lettered options outside ``[asy]`` code), multiple_answers (a listed answer,
    or another boxed value that math-verify finds different; ``10,\\!080`` is one number).
    """
    mapper = _math_mapper({int(x) for x in levels})
    required = list(MATH_REQUIRED)
    if path is not None:
        ds = open_dataset("math", path, MATH_HF_ID, None, split)
        return resolve_box_variants(
            _prefixed(map_dataset("math", ds, mapper, required, ["type"]), Path(path).stem)
        )
    results = []
    for config in [None] if configs is None else configs:
        ds = open_dataset("math", None, hf_id, config, split)
        results.append(
            _prefixed(
                map_dataset("math", ds, mapper, required, ["type"]), f"{split}/{config or 'all'}"
            )
        )
    return resolve_box_variants(concat_results(results))


def resolve_box_variants(result: LoadResult, timeout_s: float = 5.0) -> LoadResult:
    """Drop (as ``multiple_answers``) rows whose solution boxes a value different from the answer.

    Rows carry their other boxed contents in meta (``_box_variants``); all of them are checked
    in one math-verify batch (``ssdlib.data.filters.variants_equivalent``) and the key is removed.
    """
    frame = result.frame
    metas = [json.loads(m) for m in frame["meta"]]
    todo = [i for i, m in enumerate(metas) if _VARIANTS in m]
    if not todo:
        return result
    same = variants_equivalent(
        [(frame["answer"].iat[i], metas[i][_VARIANTS]) for i in todo], timeout_s=timeout_s
    )
    drop = {i for i, ok in zip(todo, same) if not ok}
    for i in todo:
        metas[i].pop(_VARIANTS)
        metas[i]["boxed_several_forms"] = True  # kept: the same value boxed in several forms
    keep = [i for i in range(len(frame)) if i not in drop]
    out = frame.assign(meta=[meta_json(m) for m in metas]).iloc[keep]
    drops = result.drops.copy()
    if drop:
        drops["multiple_answers"] += len(drop)
    return LoadResult(problems_frame(out), drops, result.n_raw)


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
        problem = problem_text(row["problem"])
        if is_proof(
            problem
        ):  # before the boxed check: most proofs box nothing, and "proof" says why
            raise SkipRow("proof")
        solution = row["solution"] or ""
        boxed = last_boxed_answer(solution)
        if boxed is None:
            raise SkipRow("no_boxed_answer")
        answer = boxed.strip()
        if is_proof(problem, answer):
            raise SkipRow("proof")
        if is_multiple_choice(problem, answer):
            raise SkipRow("multiple_choice")
        if lists_several_answers(answer):
            raise SkipRow("multiple_answers")
        meta = {"numina_source": src}
        variants = box_variants(solution, answer)
        if variants:
            meta[_VARIANTS] = variants
        return {"id": idx, "problem": problem, "answer": answer, "meta": meta}

    return mapper


def load_numinamath(
    path: str | Path | None = None,
    *,
    split: str = "train",
    sources: Iterable[str] | None = COMPETITION_SOURCES,
    exclude_sources: Iterable[str] = (),
) -> LoadResult:
    """NuminaMath-CoT problems with one checkable boxed answer; ids ``numinamath/<row>``.

    ``sources`` keeps only those values of Numina's ``source`` column; the default,
    :data:`COMPETITION_SOURCES`, is the competition sources without ``math`` (a copy of MATH
    train). ``None`` keeps all; ``exclude_sources`` removes some. Drop reasons, in order:
    source_filtered, empty_problem, proof (statement), no_boxed_answer, proof (answer),
    multiple_choice, multiple_answers (rules in ``ssdlib.data.filters``). Difficulty is NaN.
    """
    include = None if sources is None else {str(s) for s in sources}
    exclude = {str(s) for s in exclude_sources}
    mapper = _numina_mapper(include, exclude)
    ds = open_dataset("numinamath", path, NUMINA_HF_ID, None, split)
    required = ["problem", "solution"] + (["source"] if include is not None or exclude else [])
    # ``messages`` duplicates problem + solution: never read it (halves memory on 859k rows).
    return resolve_box_variants(map_dataset("numinamath", ds, mapper, required, ["source"]))
