"""Lock/fork scores cached on disk, keyed by what determines them, so a rerun of 06 scores nothing.

A cache entry is one parquet file of :func:`ssdlib.lockfork.scoring.score_positions` output,
named by a hash of: the model's weights (content, sha256 of every weight file), its tokenizer and
config files (:func:`ssdlib.generation.engine_pool.model_signature`), the exact prompts and
responses, every scoring setting, and the source of ``scoring.py`` itself (a fix to the scorer
invalidates old scores without anyone remembering to clear a folder). Hashing a 0.5 GB
checkpoint takes ~1 s; the digest is memoised per (path, size, mtime) in ``weights.json``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
NOT_WEIGHTS = ("optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def weights_digest(model_path: str | os.PathLike, memo_file: Path | None = None) -> str:
    """sha256 over the weight files of a model folder (trainer state excluded); a hub id (no
    local folder) hashes to its name."""
    folder = Path(model_path)
    if not folder.is_dir():
        return hashlib.sha256(str(model_path).encode()).hexdigest()
    memo = (
        json.loads(memo_file.read_text()) if memo_file is not None and memo_file.is_file() else {}
    )
    h = hashlib.sha256()
    files = sorted(
        p
        for p in folder.iterdir()
        if p.suffix in WEIGHT_SUFFIXES and p.name not in NOT_WEIGHTS and p.is_file()
    )
    if not files:
        raise FileNotFoundError(
            f"{folder}: no weight files ({', '.join(WEIGHT_SUFFIXES)}) to score with"
        )
    for p in files:
        st = p.stat()
        stamp = f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        if stamp not in memo:
            memo[stamp] = _sha256_file(p)
        h.update(f"{p.name}:{memo[stamp]}\n".encode())
    if memo_file is not None:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(memo, indent=0, sort_keys=True))
        tmp.replace(memo_file)
    return h.hexdigest()


def score_key(
    model_path,
    prompts: Sequence[str],
    responses: Sequence[str],
    settings: Mapping,
    memo_file: Path | None = None,
) -> str:
    """The cache key: weights, tokenizer/config, texts, settings and the scorer's source."""
    from ssdlib.generation.engine_pool import model_signature
    from ssdlib.lockfork import scoring

    h = hashlib.sha256()
    for part in (
        weights_digest(model_path, memo_file),
        str(model_signature(model_path)),
        json.dumps(list(prompts)),
        json.dumps(list(responses)),
        json.dumps(dict(settings), sort_keys=True, default=str),
        inspect.getsource(scoring),
    ):
        h.update(hashlib.sha256(part.encode()).digest())
    return h.hexdigest()[:24]


def cached_score_positions(
    cache_dir: str | os.PathLike | None,
    model_path,
    prompts: Sequence[str],
    responses: Sequence[str],
    **kw,
) -> tuple[pd.DataFrame, bool]:
    """:func:`score_positions` through the cache; returns (scores, whether they were cached).

    ``cache_dir`` None scores every time. A new entry is written to a temporary file and renamed,
    so an interrupted run never leaves a half-written entry that a later run would trust.
    """
    from ssdlib.lockfork.scoring import score_positions

    if cache_dir is None:
        return score_positions(model_path, prompts, responses, **kw), False
    cache_dir = Path(cache_dir)
    key = score_key(model_path, prompts, responses, kw, memo_file=cache_dir / "weights.json")
    entry = cache_dir / f"{key}.parquet"
    if entry.is_file():
        return pd.read_parquet(entry), True
    scores = score_positions(model_path, prompts, responses, **kw)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_suffix(".tmp")
    scores.to_parquet(tmp, index=False)
    tmp.replace(entry)
    return scores, False
