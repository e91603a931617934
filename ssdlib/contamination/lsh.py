"""Candidate search with datasketch MinHash-LSH (the text-dedup / BigCode approach).

Val MinHashes are inserted into a ``MinHashLSH``; each train MinHash queries it. LSH only
proposes candidates (its recall near the threshold is probabilistic), so every candidate's
Jaccard is then computed exactly from the two shingle sets and filtered at ``min_jaccard``.
To push recall of pairs at ``min_jaccard`` towards 1, the LSH runs at a LOWER threshold
(``lsh_threshold``, default ``0.7 * min_jaccard``) and weights false negatives 9x.

Kept as the measured alternative to ``index.scan`` (see bench/contamination.md): the inverted
index is exact and faster at val ~1k, so ``method="auto"`` picks it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasketch import MinHash, MinHashLSH

from .index import ScanResult
from .ngrams import Shingled, shingle

_LOW32 = np.uint64(0xFFFFFFFF)


def _identity(x):
    # Shingles are already well-mixed 64-bit hashes; datasketch's default SHA1 would re-hash
    # every shingle in Python for nothing.
    return x


def _minhashes(sh: Shingled, num_perm: int, seed: int) -> list[MinHash]:
    low = sh.hashes & _LOW32
    sets = [low[sh.ptr[i] : sh.ptr[i + 1]].tolist() for i in range(len(sh.keep))]
    return MinHash.bulk(sets, num_perm=num_perm, seed=seed, hashfunc=_identity)


def lsh_scan(
    train_texts: Sequence,
    val_sh: Shingled,
    n: int,
    min_jaccard: float,
    *,
    num_perm: int = 128,
    lsh_threshold: float | None = None,
    seed: int = 1,
    chunk_rows: int = 5000,
) -> ScanResult:
    """Same contract as ``index.scan`` except ``best_*`` only covers LSH candidates."""
    lsh_threshold = lsh_threshold if lsh_threshold is not None else 0.7 * min_jaccard
    lsh = MinHashLSH(threshold=lsh_threshold, num_perm=num_perm, weights=(0.1, 0.9))
    for j, mh in enumerate(_minhashes(val_sh, num_perm, seed)):
        lsh.insert(j, mh)
    exact_key: dict[str, list[int]] = {}
    for j, t in enumerate(val_sh.norm):
        exact_key.setdefault(t, []).append(j)
    nv = len(val_sh.keep)
    best_j = np.zeros(nv)
    best_t = np.full(nv, -1, dtype=np.int64)
    pt, pv, pj, et, ev, skipped = [], [], [], [], [], []
    n_cand = 0
    for start in range(0, len(train_texts), chunk_rows):
        q = shingle(train_texts[start : start + chunk_rows], n)
        skipped.extend((q.skipped + start).tolist())
        for i, mh in enumerate(_minhashes(q, num_perm, seed)):
            tpos = int(q.keep[i]) + start
            for j in exact_key.get(q.norm[i], ()):
                et.append(tpos)
                ev.append(j)
            for j in lsh.query(mh):
                n_cand += 1
                inter = len(np.intersect1d(q.doc(i), val_sh.doc(j), assume_unique=True))
                jac = inter / (q.sizes[i] + val_sh.sizes[j] - inter)
                if jac > best_j[j]:
                    best_j[j], best_t[j] = jac, tpos
                if jac >= min_jaccard:
                    pt.append(tpos)
                    pv.append(j)
                    pj.append(jac)
    return ScanResult(
        pairs_train=np.asarray(pt, dtype=np.int64),
        pairs_val=val_sh.keep[np.asarray(pv, dtype=np.int64)],
        pairs_jaccard=np.asarray(pj, dtype=np.float64),
        exact_train=np.asarray(et, dtype=np.int64),
        exact_val=val_sh.keep[np.asarray(ev, dtype=np.int64)],
        best_jaccard=best_j,
        best_train=best_t,
        val_keep=val_sh.keep,
        train_skipped=np.asarray(skipped, dtype=np.int64),
        val_skipped=val_sh.skipped,
        stats={"lsh_candidates": n_cand, "lsh_threshold": lsh_threshold, "chunk_rows": chunk_rows},
    )
