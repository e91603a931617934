"""Source name -> loader, so profiles can name a source as a string."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ssdlib.data.base import LoadResult
from ssdlib.data.loaders_eval import (
    load_aime_archive,
    load_aimo_aime,
    load_beyond_aime,
    load_hmmt,
    load_olympiadbench,
    load_omni_math,
    load_omni_math_2,
)
from ssdlib.data.loaders_train import load_math, load_numinamath

Loader = Callable[..., LoadResult]

SOURCES: dict[str, Loader] = {
    "math": load_math,
    "numinamath": load_numinamath,
    "beyond_aime": load_beyond_aime,
    "omni_math": load_omni_math,
    "omni_math_2": load_omni_math_2,
    "olympiadbench": load_olympiadbench,
    "aime_archive": load_aime_archive,
    "aimo_aime": load_aimo_aime,
    "hmmt": load_hmmt,
    # "aime" = the backfill archive: 1983-2024 already contains the 2022-2024 problems that
    # aimo-validation-aime holds, so loading both would only add duplicates.
    "aime": load_aime_archive,
}


def load_source(name: str, path: str | Path | None = None, **opts) -> LoadResult:
    """Load source ``name`` (a key of ``SOURCES``) from ``path`` or the hub, with loader ``opts``."""
    try:
        loader = SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; known: {sorted(SOURCES)}") from None
    return loader(path, **opts)
