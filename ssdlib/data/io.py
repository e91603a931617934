"""Byte-stable parquet files for problem tables.

Same frame -> same bytes: no pandas index, no schema metadata (pandas writes its version and
column dtypes there), fixed compression, one row group. Lets a rerun be checked with a hash.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ssdlib.schema import PROBLEM_COLUMNS, require_columns

COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3


def write_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` deterministically (atomic replace); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(
        table,
        tmp,
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        row_group_size=max(len(df), 1),
        store_schema=False,  # the arrow schema blob is metadata too; types are in the parquet schema
    )
    os.replace(tmp, path)  # a crash never leaves a half-written table under the final name
    return path


def read_problems(path: str | Path) -> pd.DataFrame:
    """Read a problems parquet written by :func:`write_parquet`; checks the schema columns."""
    df = pd.read_parquet(path)
    require_columns(df, PROBLEM_COLUMNS, str(path))
    return df
