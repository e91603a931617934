"""What each profile source asks of the Hugging Face hub, and whether the hub has it.

``hub_targets(name, spec)`` turns a profile source spec into the (repo, config, split, columns)
its loader will open, without loading anything. ``inspect_target`` checks them against the hub's
parquet conversion (branch ``refs/convert/parquet``: ``<config>/<split>/*.parquet``), reading
only the directory listing and one parquet footer through ``huggingface_hub.HfFileSystem``: a
wrong split ("Unknown split 'test'"), config or missing column is found in seconds, before a GPU
job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ssdlib.data import loaders_eval as ev
from ssdlib.data import loaders_train as tr

PARQUET_REF = "refs%2Fconvert%2Fparquet"


@dataclass(frozen=True)
class HubTarget:
    source: str
    repo: str
    config: str | None
    split: str
    columns: tuple[str, ...]

    @property
    def label(self) -> str:
        return (
            f"{self.repo}" + (f" [{self.config}]" if self.config else "") + f" split {self.split!r}"
        )


# loader -> (default repo, default configs, default split, required columns)
_DEFAULTS: dict[str, tuple[str, tuple[str | None, ...], str | None, tuple[str, ...]]] = {
    "math": (tr.MATH_HF_ID, tr.MATH_CONFIGS, "train", tr.MATH_REQUIRED),
    "numinamath": (tr.NUMINA_HF_ID, (None,), "train", tr.NUMINA_REQUIRED),
    "beyond_aime": ("ByteDance-Seed/BeyondAIME", (None,), "test", ev.BEYOND_AIME_REQUIRED),
    "omni_math": (ev.OMNI_HF_ID, (None,), None, ev.OMNI_REQUIRED),
    "omni_math_2": (ev.OMNI2_HF_ID, (None,), "train", ev.OMNI_REQUIRED),
    "olympiadbench": (
        "Hothan/OlympiadBench",
        ("OE_TO_maths_en_COMP",),
        "train",
        ev.OLYMPIADBENCH_REQUIRED,
    ),
    "aime_archive": ("di-zhang-fdu/AIME_1983_2024", (None,), "train", ev.AIME_ARCHIVE_REQUIRED),
    "aime": ("di-zhang-fdu/AIME_1983_2024", (None,), "train", ev.AIME_ARCHIVE_REQUIRED),
    "aimo_aime": ("AI-MO/aimo-validation-aime", (None,), "train", ("problem", "answer")),
    "hmmt": ("MathArena/hmmt_feb_2025", (None,), "train", ("problem", "answer")),
}


def hub_targets(name: str, spec: Mapping[str, Any]) -> list[HubTarget]:
    """The hub (repo, config, split, columns) source ``name`` reads; [] for a local path or synthetic."""
    loader = spec.get("loader", name)
    if spec.get("path") or loader not in _DEFAULTS:
        return []
    repo, configs, split, columns = _DEFAULTS[loader]
    repo = spec.get("hf_id", repo)
    if "configs" in spec:
        configs = tuple(spec["configs"]) if spec["configs"] is not None else (None,)
    if "config" in spec:
        configs = (spec["config"],)
    split = spec.get("split", split)
    if split is None:  # omni_math: the split follows the repo (Omni-MATH-2 has only `train`)
        split = ev.OMNI_SPLITS.get(repo, "test")
    if loader in ("omni_math", "omni_math_2") and spec.get("min_difficulty") is not None:
        columns = (*columns, "difficulty")
    if (
        loader == "numinamath"
        and spec.get("sources", ()) is None
        and not spec.get("exclude_sources")
    ):
        columns = tuple(c for c in columns if c != "source")
    return [HubTarget(name, repo, c, split, tuple(columns)) for c in configs]


def inspect_target(fs, t: HubTarget) -> str | None:
    """None if the hub's parquet conversion has ``t``'s config, split and columns; else the problem.

    ``fs`` is a ``huggingface_hub.HfFileSystem`` (or any fsspec filesystem with the same layout).
    """
    import pyarrow.parquet as pq

    root = f"datasets/{t.repo}@{PARQUET_REF}"
    config = t.config or "default"
    try:
        configs = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(root, detail=False))
    except FileNotFoundError:
        return f"{t.repo}: no such dataset on the hub (or no access: huggingface-cli login)"
    if config not in configs:
        return f"{t.repo}: no config {config!r} (configs: {configs})"
    splits = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{root}/{config}", detail=False))
    if t.split not in splits:
        return f"{t.repo} [{config}]: Unknown split {t.split!r}; should be one of {splits}"
    files = sorted(
        p for p in fs.ls(f"{root}/{config}/{t.split}", detail=False) if p.endswith(".parquet")
    )
    if not files:
        return f"{t.label}: no parquet files in the hub's conversion"
    with fs.open(files[0], "rb") as fh:
        have = pq.read_schema(fh).names
    missing = [c for c in t.columns if c not in have]
    if missing:
        return f"{t.label}: missing column(s) {missing} (columns: {have})"
    return None
