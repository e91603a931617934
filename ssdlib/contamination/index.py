"""Exact candidate search with an inverted index over the (small) val n-gram sets.

Val (~1k rows) is tiny next to train (~860k rows), so we index VAL shingles (hash -> val
docs) and stream train once, in chunks: every train shingle is looked up with one
``searchsorted``, hits are expanded to (train doc, val doc) pairs, and a dense ``bincount``
over the chunk x val grid gives the exact intersection size of EVERY pair that shares at least
one n-gram. Jaccard follows from the set sizes. Nothing is approximate (unlike LSH), so the
best match of every val row is known too, flagged or not.

``self_join`` finds pairs inside one corpus (internal duplicates) by grouping equal shingles;
shingles shared by more than ``max_df`` documents (boilerplate) do not generate candidates but
are still accounted for by an upper bound, so the only misses are pairs whose overlap is made
almost entirely of boilerplate shingles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .ngrams import Shingled, shingle

# Cells of the dense chunk x val intersection grid (int64): 4M cells = 32 MB per chunk.
_GRID_CELLS = 4_000_000


@dataclass
class ValIndex:
    """Inverted index of a shingled corpus: sorted unique hashes -> postings (kept-doc indices)."""

    sh: Shingled
    uniq: np.ndarray
    ptr: np.ndarray
    docs: np.ndarray


def build_index(sh: Shingled) -> ValIndex:
    """Build the hash -> documents postings of ``sh`` (CSR over sorted unique hashes)."""
    d = sh.doc_of_hash
    order = np.argsort(sh.hashes, kind="stable")
    h, d = sh.hashes[order], d[order]
    if len(h):
        new = np.ones(len(h), dtype=bool)
        new[1:] = h[1:] != h[:-1]
        starts = np.flatnonzero(new)
    else:
        starts = np.zeros(0, dtype=np.int64)
    ptr = np.append(starts, len(h)).astype(np.int64)
    return ValIndex(sh=sh, uniq=h[starts], ptr=ptr, docs=d)


def intersections(index: ValIndex, q: Shingled) -> np.ndarray:
    """Dense (len(q.keep), n_val) int64 matrix of exact shared-shingle counts."""
    m, nv = len(q.keep), len(index.sh.keep)
    if m == 0 or nv == 0 or len(index.uniq) == 0:
        return np.zeros((m, nv), dtype=np.int64)
    pos = np.searchsorted(index.uniq, q.hashes)
    np.minimum(pos, len(index.uniq) - 1, out=pos)
    hit = index.uniq[pos] == q.hashes
    qd = q.doc_of_hash[hit]
    vi = pos[hit]
    cnt = index.ptr[vi + 1] - index.ptr[vi]
    total = int(cnt.sum())
    # Posting offsets of every hit, flattened: ptr[vi] + 0..cnt-1 for each hit.
    offs = np.repeat(index.ptr[vi] - (np.cumsum(cnt) - cnt), cnt) + np.arange(total, dtype=np.int64)
    key = np.repeat(qd, cnt) * nv + index.docs[offs]
    return np.bincount(key, minlength=m * nv).reshape(m, nv)


@dataclass
class ScanResult:
    """What one streaming pass of train against val found (positions are input positions).

    pairs_train, pairs_val, pairs_jaccard: every pair with hashed-shingle Jaccard >= min_jaccard
    exact_train, exact_val: pairs whose normalised texts are identical
    best_jaccard, best_train: per kept val doc, the best train Jaccard (0.0, -1 when none)
    val_keep: input positions of the kept val docs; train_skipped / val_skipped: skipped positions
    """

    pairs_train: np.ndarray
    pairs_val: np.ndarray
    pairs_jaccard: np.ndarray
    exact_train: np.ndarray
    exact_val: np.ndarray
    best_jaccard: np.ndarray
    best_train: np.ndarray
    val_keep: np.ndarray
    train_skipped: np.ndarray
    val_skipped: np.ndarray
    stats: dict = field(default_factory=dict)


def chunk_rows_for(n_val: int) -> int:
    """Train rows per chunk so that the dense chunk x val grid stays ~32 MB."""
    return int(np.clip(_GRID_CELLS // max(n_val, 1), 64, 20_000))


def scan(
    train_texts: Sequence,
    val_sh: Shingled,
    n: int,
    min_jaccard: float,
    chunk_rows: int | None = None,
) -> ScanResult:
    """Stream ``train_texts`` against shingled val: exact pairs above ``min_jaccard`` + best per val."""
    index = build_index(val_sh)
    nv = len(val_sh.keep)
    val_sizes = val_sh.sizes
    exact_key: dict[str, list[int]] = {}
    for i, t in enumerate(val_sh.norm):
        exact_key.setdefault(t, []).append(i)
    chunk_rows = chunk_rows or chunk_rows_for(nv)
    best_j = np.zeros(nv)
    best_t = np.full(nv, -1, dtype=np.int64)
    pt, pv, pj, et, ev, skipped = [], [], [], [], [], []
    n_hits = 0
    for start in range(0, len(train_texts), chunk_rows):
        q = shingle(train_texts[start : start + chunk_rows], n)
        skipped.append(q.skipped + start)
        if len(q.keep) == 0 or nv == 0:
            continue
        for i, t in enumerate(q.norm):
            for j in exact_key.get(t, ()):
                et.append(int(q.keep[i]) + start)
                ev.append(j)
        inter = intersections(index, q)
        n_hits += int(np.count_nonzero(inter))
        union = q.sizes[:, None] + val_sizes[None, :] - inter
        jac = inter / union
        arg = jac.argmax(axis=0)
        col_best = jac[arg, np.arange(nv)]
        better = col_best > best_j
        best_j[better] = col_best[better]
        best_t[better] = q.keep[arg[better]] + start
        qi, vi = np.nonzero((jac >= min_jaccard) & (inter > 0))
        pt.append(q.keep[qi] + start)
        pv.append(vi)
        pj.append(jac[qi, vi])

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return ScanResult(
        pairs_train=cat(pt, np.int64),
        pairs_val=val_sh.keep[cat(pv, np.int64)],
        pairs_jaccard=cat(pj, np.float64),
        exact_train=np.asarray(et, dtype=np.int64),
        exact_val=val_sh.keep[np.asarray(ev, dtype=np.int64)],
        best_jaccard=best_j,
        best_train=best_t,
        val_keep=val_sh.keep,
        train_skipped=cat(skipped, np.int64),
        val_skipped=val_sh.skipped,
        stats={"pairs_sharing_an_ngram": n_hits, "chunk_rows": chunk_rows},
    )


def self_join(
    sh: Shingled, min_jaccard: float, max_df: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (a < b, kept-doc indices) inside one corpus with shingle Jaccard >= ``min_jaccard``.

    Shingles in more than ``max_df`` documents generate no candidates (None: no cap). A pair is
    re-checked exactly when its upper-bound Jaccard (rare shared count + the smaller number of
    capped shingles of the two) reaches ``min_jaccard``, so capping only misses pairs that share
    no uncapped shingle at all. Returns (a, b, jaccard).
    """
    m = len(sh.keep)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if m < 2:
        return empty
    d = sh.doc_of_hash
    order = np.argsort(sh.hashes, kind="stable")
    h, d = sh.hashes[order], d[order]
    new = np.ones(len(h), dtype=bool)
    new[1:] = h[1:] != h[:-1]
    starts = np.flatnonzero(new)
    gsize = np.diff(np.append(starts, len(h)))
    cap = max_df if max_df is not None else m
    capped_entries = np.repeat(gsize > cap, gsize)
    n_capped = np.bincount(d[capped_entries], minlength=m)
    keys = []
    for s in np.unique(gsize[(gsize >= 2) & (gsize <= cap)]).tolist():
        st = starts[gsize == s]
        M = d[st[:, None] + np.arange(s)]
        iu, ju = np.triu_indices(s, 1)
        a, b = M[:, iu].ravel(), M[:, ju].ravel()
        keys.append(np.minimum(a, b) * m + np.maximum(a, b))
    if not keys:
        return empty
    key, count = np.unique(np.concatenate(keys), return_counts=True)
    a, b = key // m, key % m
    sizes = sh.sizes
    bonus = np.minimum(n_capped[a], n_capped[b])
    upper = (count + bonus) / (sizes[a] + sizes[b] - count - bonus)
    cand = np.flatnonzero(upper >= min_jaccard)
    a, b, count = a[cand], b[cand], count[cand]
    if cap < m:
        # Exact counts for candidates whose capped shingles might also be shared.
        count = count.copy()
        for k in np.flatnonzero(bonus[cand] > 0).tolist():
            count[k] = len(np.intersect1d(sh.doc(a[k]), sh.doc(b[k]), assume_unique=True))
    jac = count / (sizes[a] + sizes[b] - count)
    keep = jac >= min_jaccard
    return a[keep], b[keep], jac[keep]
