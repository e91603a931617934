"""Shared loader machinery: open a source (hub id or local file), map rows, count drops.

Every loader is "open a ``datasets.Dataset`` + a per-row mapper". The mapper raises
:class:`SkipRow` with a reason for a row that must not be used; anything else odd about a row
(wrong types, missing values) is counted as ``malformed_row``. A run never crashes on a bad row,
but it does crash, naming source and column, when a column the mapper needs is absent.

Reasons every loader shares (through :func:`problem_text` / :func:`answer_to_str`):
empty_problem, junk_only_problem (only whitespace, NUL, zero-width spaces or a BOM),
non_string_problem (an int or a list where the statement should be), boolean_answer,
non_scalar_answer (a list or object as the gold), and for a local JSON Lines / CSV file
bad_line_not_utf8 / bad_line_not_json / bad_line_not_object / bad_line_wrong_field_count
(reported as ``file:line``).
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ssdlib.boxed import unwrap_boxes
from ssdlib.data.csvfile import read_csv_rows
from ssdlib.data.jsonfile import JsonRows, read_json_rows
from ssdlib.schema import PROBLEM_COLUMNS

log = logging.getLogger(__name__)

# Local file suffix -> ``datasets`` packaged builder.
_BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}
_JSON_SUFFIXES = (
    ".jsonl",
    ".json",
)  # read line by line here (ssdlib.data.jsonfile), not by datasets
_BATCH_ROWS = 10_000  # rows converted to Python per step: bounds memory on NuminaMath's 859k rows


class SkipRow(Exception):
    """Raised by a row mapper to drop the row; ``reason`` is the counter key."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LoadResult:
    """One source mapped into the problems schema.

    frame:  DataFrame with exactly ``PROBLEM_COLUMNS``
    drops:  rows dropped, by reason (a bad line of a JSON Lines file: ``bad_line_<why>``)
    n_raw:  rows read from the source before any filtering (bad lines included)
    bad_lines: ``"file:line: why (detail)"`` for every line of a local file that was not a row
    """

    frame: pd.DataFrame
    drops: Counter = field(default_factory=Counter)
    n_raw: int = 0
    bad_lines: tuple[str, ...] = ()

    @property
    def n_kept(self) -> int:
        """Rows kept (== len(frame))."""
        return len(self.frame)


def meta_json(meta: Mapping[str, Any]) -> str:
    """Serialise ``meta`` with sorted keys so identical metadata gives identical bytes."""
    return json.dumps(_plain(meta), sort_keys=True, ensure_ascii=False)


def _plain(x: Any) -> Any:
    """Convert numpy/arrow scalars and containers to JSON-native values (NaN -> None)."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        x = x.item()  # numpy scalar -> Python scalar
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    return str(x)


def _invisible(ch: str) -> bool:
    """Whitespace, control (NUL, ...) or format characters (zero-width space/joiners, BOM, ...)."""
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")


def strip_invisible(text: str) -> str:
    """``text`` without invisible characters (:func:`_invisible`) at either end; inside kept."""
    i, j = 0, len(text)
    while i < j and _invisible(text[i]):
        i += 1
    while j > i and _invisible(text[j - 1]):
        j -= 1
    return text[i:j]


def clean_text(x: Any) -> str:
    """Minimal cleaning: ``None``/NaN -> "", else ``str(x)`` with whitespace and invisible
    characters (NUL, zero-width spaces, BOM: :func:`strip_invisible`) stripped at both ends.
    Nothing inside the text is rewritten."""
    if x is None:
        return ""
    if isinstance(x, float) and math.isnan(x):
        return ""
    return strip_invisible(str(x))


def problem_text(x: Any) -> str:
    """A problem statement as clean text, or SkipRow naming why it cannot be one.

    ``None``/NaN/"" -> empty_problem; any non-string (an int ``12``, a list ``["What is",
    "2+2"]``: a mangled row, not a statement) -> non_string_problem; a string of only
    whitespace, NUL bytes, zero-width spaces or a BOM -> junk_only_problem.
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        raise SkipRow("empty_problem")
    if not isinstance(x, str):
        raise SkipRow("non_string_problem")
    if not x.strip():
        raise SkipRow("empty_problem")
    text = strip_invisible(x)
    if not text:
        raise SkipRow("junk_only_problem")
    return text


def answer_to_str(x: Any) -> str:
    """Gold answer as a string whether the source stores it as str, int or integral float.

    ``7`` / ``7.0`` / ``" 7 "`` -> ``"7"``; ``None``/NaN -> ``""``. A JSON ``true``/``false``
    raises SkipRow("boolean_answer") and a list/dict SkipRow("non_scalar_answer"): neither is a
    single answer (JSON Lines sources keep these types; see ``ssdlib.data.jsonfile``). A gold
    that is wholly one box, ``\\boxed{8}`` or ``\\boxed{\\boxed{8}}``, is unwrapped to ``8``.
    """
    if isinstance(x, bool):
        raise SkipRow("boolean_answer")
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x):
            return ""
        return str(int(x)) if x.is_integer() else repr(x)
    if isinstance(x, (list, tuple, dict)):
        raise SkipRow("non_scalar_answer")
    if x is not None and not isinstance(x, str):
        raise SkipRow("non_scalar_answer")
    return clean_text(unwrap_boxes(clean_text(x)))


def open_dataset(source: str, path: str | Path | None, hf_id: str, config: str | None, split: str):
    """Open ``path`` (parquet/jsonl/json/csv) or, if ``path`` is None, the hub dataset ``hf_id``.

    Hub and parquet give a ``datasets.Dataset``; ``.jsonl``/``.json`` and ``.csv`` give
    :class:`~ssdlib.data.jsonfile.JsonRows` (read line by line / record by record: a bad line is
    skipped and reported with file and line, the rest loads; ``ssdlib.data.jsonfile``,
    ``ssdlib.data.csvfile``). :func:`map_dataset` takes either. A parquet file that cannot be
    read stops with an error naming the source and the file (parquet is all or nothing: it has
    no lines to skip).
    """
    import datasets  # imported here: ``import ssdlib.data`` stays light for grading workers

    if path is None:
        return datasets.load_dataset(hf_id, config, split=split)
    p = Path(path)
    builder = _BUILDERS.get(p.suffix.lower())
    if builder is None:
        raise ValueError(f"{source}: cannot load {p} (suffix must be one of {sorted(_BUILDERS)})")
    if not p.exists():
        raise FileNotFoundError(f"{source}: no such file {p}")
    if not p.is_file():
        raise ValueError(f"{source}: {p} is not a file")
    if p.suffix.lower() in _JSON_SUFFIXES:
        return read_json_rows(p)
    if p.suffix.lower() == ".csv":
        return read_csv_rows(p)
    try:
        return datasets.load_dataset(builder, data_files=str(p), split="train")
    except Exception as exc:  # noqa: BLE001 - arrow/pandas errors name neither source nor file
        cause = exc.__cause__ or exc
        raise ValueError(f"{source}: cannot read {p}: {type(cause).__name__}: {cause}") from exc


def require_source_columns(source: str, columns: Iterable[str], required: Iterable[str]) -> None:
    """Raise ValueError naming ``source`` and the first required column that is missing."""
    have = list(columns)
    for col in required:
        if col not in have:
            raise ValueError(f"{source}: required column {col!r} is missing (columns: {have})")


Mapper = Callable[[dict, int], dict]


def map_dataset(
    source: str,
    ds,
    mapper: Mapper,
    required: Iterable[str],
    optional: Iterable[str] = (),
) -> LoadResult:
    """Run ``mapper(row, row_index)`` over ``ds`` and build the problems frame.

    The mapper returns ``{"id": native id, "problem", "answer", "difficulty", "meta"}``; the
    final id is ``f"{source}/{native id}"``. Columns outside ``required``/``optional`` are not
    read (saves memory on wide sources); image columns are never decoded.
    """
    required = list(required)
    bad_lines: list = []
    if isinstance(ds, JsonRows):
        bad_lines = ds.bad_lines
        for bad in bad_lines:
            log.warning("%s: skipped %s", source, bad)
        if not ds.n_rows and bad_lines:
            raise ValueError(f"{source}: {ds.path}: no line is a row (first: {bad_lines[0]})")
    require_source_columns(source, ds.column_names, required)
    keep = [c for c in dict.fromkeys(required + list(optional)) if c in ds.column_names]
    drops: Counter = Counter(f"bad_line_{b.reason}" for b in bad_lines)
    records: list[dict] = []
    seen: set[str] = set()
    n_raw = 0
    for row in _iter_rows(ds, keep):
        idx = n_raw  # index among the rows (bad lines not counted), as datasets numbers them
        n_raw += 1
        try:
            rec = mapper(row, idx)
        except SkipRow as skip:
            drops[skip.reason] += 1
            continue
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            # A row with unexpected types must not stop a 800k-row load; it is counted.
            log.debug("%s row %d malformed: %r", source, idx, exc)
            drops["malformed_row"] += 1
            continue
        rid = f"{source}/{rec['id']}"
        if rid in seen:
            drops["duplicate_id"] += 1
            continue
        seen.add(rid)
        records.append(
            {
                "id": rid,
                "source": source,
                "problem": rec["problem"],
                "answer": rec["answer"],
                "difficulty": rec.get("difficulty", math.nan),
                "meta": meta_json(rec.get("meta", {})),
            }
        )
    bad = tuple(str(b) for b in bad_lines)
    return LoadResult(problems_frame(records), drops, n_raw + len(bad_lines), bad)


def _iter_rows(ds, columns: list[str]):
    """Rows of ``ds`` (a ``datasets.Dataset`` or JsonRows) as dicts of ``columns``."""
    if isinstance(ds, JsonRows):
        yield from ds.iter_rows(columns)
        return
    ds = ds.select_columns(columns).with_format("arrow")  # arrow: no image decoding, fast batches
    for batch in ds.iter(batch_size=_BATCH_ROWS):
        yield from batch.to_pylist()


def problems_frame(records: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Frame with exactly ``PROBLEM_COLUMNS`` and fixed dtypes (str columns, float difficulty)."""
    df = pd.DataFrame(records, columns=list(PROBLEM_COLUMNS))
    for col in PROBLEM_COLUMNS:
        if col == "difficulty":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        else:
            df[col] = df[col].astype(str)
    return df.reset_index(drop=True)


def concat_results(results: Iterable[LoadResult]) -> LoadResult:
    """Concatenate several LoadResults of one source (e.g. MATH's subject configs)."""
    results = list(results)
    drops: Counter = Counter()
    for r in results:
        drops.update(r.drops)
    frame = (
        problems_frame(pd.concat([r.frame for r in results], ignore_index=True))
        if results
        else problems_frame([])
    )
    dup = frame["id"].duplicated()
    if dup.any():
        drops["duplicate_id"] += int(dup.sum())
        frame = frame[~dup].reset_index(drop=True)
    bad = tuple(b for r in results for b in r.bad_lines)
    return LoadResult(frame, drops, sum(r.n_raw for r in results), bad)


def require_nonempty(problem: str, answer: str | None = None) -> None:
    """SkipRow("empty_problem") / SkipRow("empty_answer") for blank text (answer checked if given)."""
    if not problem:
        raise SkipRow("empty_problem")
    if answer is not None and not answer:
        raise SkipRow("empty_answer")
