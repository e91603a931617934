"""One streaming pass of train against val for the #13 rule: candidate pairs of every path.

Each train chunk is tokenised ONCE (math-aware canonical tokens); from that pass come
    - word-5-gram intersections with all val rows (inverted index, exact; ``index.intersections``)
    - word-3-gram intersections with the SHORT val rows only (the short-text path)
    - exact keys (whitespace-free canonical strings)
    - numeric-signature keys: the signature and each of its one-number-smaller subsets, so
      equal signatures and signatures differing by one added / dropped number meet by hashing.
Candidates are returned as (train position, val position) pairs; features and answers are
computed on them afterwards (search.py).
"""

from __future__ import annotations

import re

import numpy as np

from .canon import _canon_number, math_tokens
from .index import build_index, chunk_rows_for, intersections
from .ngrams import Shingled, shingle, tokenize

_NUM_TOKEN = re.compile(r"(?<!\S)\d[\d.]*")


def _sig_from_norm(norm: str) -> frozenset[str]:
    """``canon.signature`` computed from an already canonical token string (one regex call)."""
    nums = _NUM_TOKEN.findall(norm)
    if not nums:
        return frozenset()
    return frozenset(n if n[0] != "0" and "." not in n else _canon_number(n) for n in nums)


def _sig_keys(sig: frozenset[str], max_size: int = 12) -> tuple[int, list[int]]:
    """(key of the signature, keys of its one-smaller subsets); 0 = empty signature.

    Keys are Python's frozenset hashes: stable within one process, which is all a scan needs
    (val and train are keyed in the same call). Huge signatures only match in full.
    """
    if not sig:
        return 0, []
    if len(sig) < 2 or len(sig) > max_size:
        return hash(sig), []
    return hash(sig), [hash(sig - {x}) for x in sig]


def scan_candidates(
    train_texts,
    val_texts,
    *,
    min_j5: float,
    min_j3: float,
    short_max_tokens: int,
    chunk_rows: int | None = None,
) -> dict:
    """Candidate pairs of every path (input positions) plus the best 5-gram match per val row.

    Returns a dict: t, v (candidates from text overlap or exact keys), sig_t, sig_v (candidates
    ONLY from the numeric signature; these can fire only when the answers agree), best_train / best_j5
    (per kept val row), val_keep, train_skipped / val_skipped, stats.
    """
    vt = tokenize(val_texts, math_tokens)
    v5 = shingle(None, 5, tokenized=vt)
    v3 = shingle(None, 3, tokenized=vt)
    nv = len(vt.keep)
    idx5 = build_index(v5)
    short_v = (
        np.flatnonzero(np.asarray(vt.lengths) <= short_max_tokens) if nv else np.zeros(0, np.int64)
    )
    # Index of the short val rows' 3-grams only (postings hold positions into short_v).
    keep3 = np.isin(v3.doc_of_hash, short_v)
    sub3 = Shingled(
        keep=np.asarray(vt.keep)[short_v],
        norm=[vt.norm[i] for i in short_v],
        ptr=np.concatenate([[0], np.cumsum(v3.sizes[short_v])]).astype(np.int64),
        hashes=v3.hashes[keep3],
        skipped=np.zeros(0, np.int64),
    )
    idx3 = build_index(sub3)
    exact_key: dict[str, list[int]] = {}
    sig_full: dict[int, list[int]] = {}
    sig_minus: dict[int, list[int]] = {}
    for j, norm in enumerate(vt.norm):
        exact_key.setdefault(norm.replace(" ", ""), []).append(j)
        full, minus = _sig_keys(_sig_from_norm(norm))
        if full:
            sig_full.setdefault(full, []).append(j)
        for k in minus:
            if k:
                sig_minus.setdefault(k, []).append(j)
    chunk_rows = chunk_rows or chunk_rows_for(nv)
    best_j = np.zeros(nv)
    best_t = np.full(nv, -1, dtype=np.int64)
    ts, vs, sts, svs, skipped = [], [], [], [], []
    counts = {"j5": 0, "j3": 0, "exact": 0, "signature": 0}
    val_keep = np.asarray(vt.keep, dtype=np.int64)
    for start in range(0, len(train_texts), chunk_rows):
        tk = tokenize(train_texts[start : start + chunk_rows], math_tokens)
        skipped.append(np.asarray(tk.skipped, dtype=np.int64) + start)
        if not tk.keep or nv == 0:
            continue
        tkeep = np.asarray(tk.keep, dtype=np.int64) + start
        q5 = shingle(None, 5, tokenized=tk)
        inter = intersections(idx5, q5)
        jac = inter / (q5.sizes[:, None] + v5.sizes[None, :] - inter)
        arg = jac.argmax(axis=0)
        col = jac[arg, np.arange(nv)]
        better = col > best_j
        best_j[better], best_t[better] = col[better], tkeep[arg[better]]
        qi, vi = np.nonzero((jac >= min_j5) & (inter > 0))
        ts.append(tkeep[qi])
        vs.append(val_keep[vi])
        counts["j5"] += len(qi)
        if len(short_v):
            q3 = shingle(None, 3, tokenized=tk)
            i3 = intersections(idx3, q3)
            j3 = i3 / (q3.sizes[:, None] + sub3.ptr[1:][None, :] - sub3.ptr[:-1][None, :] - i3)
            qi, si = np.nonzero((j3 >= min_j3) & (i3 > 0))
            ts.append(tkeep[qi])
            vs.append(sub3.keep[si])
            counts["j3"] += len(qi)
        et, ev, st, sv = [], [], [], []
        for i, norm in enumerate(tk.norm):
            for j in exact_key.get(norm.replace(" ", ""), ()):
                et.append(i)
                ev.append(j)
            full, minus = _sig_keys(_sig_from_norm(norm))
            if not full:
                continue
            for j in sig_full.get(full, ()):  # equal signatures
                st.append(i)
                sv.append(j)
            for j in sig_minus.get(full, ()):  # train = val minus one number
                st.append(i)
                sv.append(j)
            for k in minus:  # val = train minus one number
                for j in sig_full.get(k, ()):
                    st.append(i)
                    sv.append(j)
        counts["exact"] += len(et)
        counts["signature"] += len(st)
        ts.append(tkeep[np.asarray(et, dtype=np.int64)])
        vs.append(val_keep[np.asarray(ev, dtype=np.int64)])
        sts.append(tkeep[np.asarray(st, dtype=np.int64)])
        svs.append(val_keep[np.asarray(sv, dtype=np.int64)])
    base = len(val_texts) + 1
    text_key = np.unique(
        np.concatenate(ts + [np.zeros(0, np.int64)]).astype(np.int64) * base
        + np.concatenate(vs + [np.zeros(0, np.int64)])
    )
    sig_key = np.unique(
        np.concatenate(sts + [np.zeros(0, np.int64)]).astype(np.int64) * base
        + np.concatenate(svs + [np.zeros(0, np.int64)])
    )
    sig_key = np.setdiff1d(sig_key, text_key, assume_unique=True)
    return {
        "t": text_key // base,
        "v": text_key % base,
        "sig_t": sig_key // base,
        "sig_v": sig_key % base,
        "best_train": best_t,
        "best_j5": best_j,
        "val_keep": val_keep,
        "train_skipped": np.concatenate(skipped) if skipped else np.zeros(0, np.int64),
        "val_skipped": np.asarray(vt.skipped, dtype=np.int64),
        "stats": {**{f"candidates_{k}": n for k, n in counts.items()}, "chunk_rows": chunk_rows},
    }
