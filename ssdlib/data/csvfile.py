"""Read a local CSV source record by record, reporting bad records with file and line.

``datasets``' csv builder (pandas underneath) stops the whole file on one undecodable byte
(``UnicodeDecodeError``, no file, no line) or on a record with too many fields. Here the file is
split into records with the ``csv`` module first (quoted fields may span lines); a record with
bytes that are not UTF-8 or with the wrong number of fields is skipped and reported as
``file:line`` (the line the record starts on), and the good records are then parsed by pandas
and ``datasets`` exactly as the csv builder would, so column types (``Year`` an int, ``Answer``
``042`` an int 42) are unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ssdlib.data.jsonfile import NOT_UTF8, BadLine, JsonRows

WRONG_FIELDS = "wrong_field_count"
_SURROGATE = re.compile("[\udc80-\udcff]")  # undecodable bytes, kept by surrogateescape


def read_csv_rows(path: str | Path) -> JsonRows:
    """Good records of a CSV file as rows (Python types as ``datasets`` infers them) + bad ones.

    The first record is the header; an empty file or one without a header raises ValueError
    naming the file.
    """
    import datasets
    import pandas as pd

    p = Path(path)
    text = p.read_bytes().decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or _SURROGATE.search("".join(header)):
        raise ValueError(f"{p}:1: no readable CSV header")
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    bad: list[BadLine] = []
    start = reader.line_num + 1
    for record in reader:
        line, start = start, reader.line_num + 1
        if not record:
            continue  # a blank line
        m = next((_SURROGATE.search(f) for f in record if _SURROGATE.search(f)), None)
        if m is not None:
            byte = m.group(0).encode("utf-8", errors="surrogateescape").hex()
            bad.append(BadLine(str(p), line, NOT_UTF8, f"byte 0x{byte} is not UTF-8"))
        elif len(record) != len(header):
            what = f"{len(record)} fields, the header has {len(header)}"
            bad.append(BadLine(str(p), line, WRONG_FIELDS, what))
        else:
            writer.writerow(record)
    out.seek(0)
    frame = pd.read_csv(out)
    rows = datasets.Dataset.from_pandas(frame, preserve_index=False).to_list()
    return JsonRows(p, rows, bad)
