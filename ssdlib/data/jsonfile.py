"""Read a local JSON Lines (or JSON array) source row by row, reporting bad lines.

Why not ``datasets``' json builder: it stops the whole file at the first undecodable or non-JSON
line with an error that names neither file nor line, and when a column mixes types it casts the
whole column to JSON text (``"What is 1+1?"`` keeps its quotes, an int problem becomes ``"12"``,
``true`` becomes the gold ``"true"``). Here each line is decoded on its own, rows keep their
Python types (so the loaders' mappers can reject an int problem or a list answer by reason), and
a bad line is skipped, counted and named as ``file:line``.

Formats: ``.jsonl`` is always JSON Lines. ``.json`` is a JSON array when its first non-blank
character is ``[`` (all or nothing: one syntax error stops it, with file, line and column),
otherwise JSON Lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Bad-line reasons: the drop counter key is "bad_line_<reason>".
NOT_UTF8 = "not_utf8"
NOT_JSON = "not_json"
NOT_OBJECT = "not_object"


@dataclass(frozen=True)
class BadLine:
    """One line of a source file that is not a row: where it is and why."""

    path: str
    line: int  # 1-based line number (JSON array: the element's index, 0-based, in ``detail``)
    reason: str  # NOT_UTF8 | NOT_JSON | NOT_OBJECT
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason} ({self.detail})"


class JsonRows:
    """The rows of one JSON(L) file, Python types kept, and its ``bad_lines``.

    ``column_names`` lists every key seen, in order of first appearance (a key missing from a
    row reads as None there), so the loaders' column checks work as on a ``datasets.Dataset``.
    A JSON Lines file is scanned once here (keys, bad lines) and read again, line by line, by
    :meth:`iter_rows`: memory stays one row, not the file (a local NuminaMath copy is GBs).
    """

    def __init__(self, path: str | Path, rows: list[dict] | None = None, bad_lines=None):
        self.path = str(path)
        self._rows = rows  # a JSON array, already in memory; None: stream the JSON Lines file
        if rows is None:
            keys: dict[str, None] = {}
            bad: list[BadLine] = []
            n = 0
            for item in _scan_jsonl(Path(path)):
                if isinstance(item, BadLine):
                    bad.append(item)
                else:
                    n += 1
                    keys.update(dict.fromkeys(item))
            self.column_names, self.bad_lines, self.n_rows = list(keys), bad, n
        else:
            self.column_names = list(dict.fromkeys(k for r in rows for k in r))
            self.bad_lines, self.n_rows = list(bad_lines or []), len(rows)

    def iter_rows(self, columns: list[str]) -> Iterator[dict]:
        """Each good row as ``{column: value or None}``, in file order."""
        rows = self._rows if self._rows is not None else _scan_jsonl(Path(self.path))
        for r in rows:
            if not isinstance(r, BadLine):
                yield {c: r.get(c) for c in columns}


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _scan_jsonl(path: Path) -> Iterator[dict | BadLine]:
    """Each line of a JSON Lines file as a dict, or a BadLine saying why it is not a row."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield BadLine(str(path), lineno, NOT_UTF8, f"byte {exc.start}: {exc.reason}")
                continue
            if lineno == 1:
                text = text.removeprefix("\ufeff")  # a BOM before the first line is encoding noise
            if not text.strip():
                continue  # blank lines (a trailing newline, padding) are not rows
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield BadLine(str(path), lineno, NOT_JSON, f"{exc.msg}: {_short(text.strip())!r}")
                continue
            if not isinstance(value, dict):
                yield BadLine(str(path), lineno, NOT_OBJECT, f"a JSON {type(value).__name__}")
                continue
            yield value


def _json_array(path: Path, text: str) -> JsonRows:
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        # An array is one document: past a syntax error its structure is unknown, so stop here.
        raise ValueError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); "
            "a JSON array loads all or nothing (use JSON Lines to skip bad rows)"
        ) from None
    rows: list[dict] = []
    bad: list[BadLine] = []
    for i, value in enumerate(values):
        if isinstance(value, dict):
            rows.append(value)
        else:
            what = f"array element {i} is a JSON {type(value).__name__}"
            bad.append(BadLine(str(path), 0, NOT_OBJECT, what))
    return JsonRows(path, rows, bad)


def read_json_rows(path: str | Path) -> JsonRows:
    """Rows of a ``.jsonl`` / ``.json`` file (see the module docstring for the rules)."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        with p.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
        if head.startswith("["):
            try:
                text = p.read_bytes().decode("utf-8").removeprefix("\ufeff")
            except UnicodeDecodeError as exc:
                line = p.read_bytes()[: exc.start].count(b"\n") + 1
                raise ValueError(
                    f"{p}:{line}: not UTF-8 (byte {exc.start}); a JSON array loads all or nothing"
                ) from None
            return _json_array(p, text)
    return JsonRows(p)
