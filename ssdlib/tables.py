"""Tables are saved one way: CSV for machines and Markdown for write-ups, side by side."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def save_table(
    df: pd.DataFrame, tables_dir: str | Path, name: str, floatfmt: str = ".4g"
) -> list[Path]:
    """Write ``<name>.csv`` and ``<name>.md`` under ``tables_dir``; return both paths."""
    out = Path(tables_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv, md = out / f"{name}.csv", out / f"{name}.md"
    df.to_csv(csv, index=False)
    md.write_text(df.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    return [csv, md]
