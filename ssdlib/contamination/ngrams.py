"""Word n-gram shingles of normalised problems, as sorted 64-bit hash sets stored CSR-style.

A corpus of m documents becomes ``ptr`` (m + 1 offsets) and ``hashes`` (the concatenated,
per-document sorted and de-duplicated shingle hashes), so that set sizes are ``diff(ptr)``
and every set operation over many documents is a numpy operation rather than a Python loop.

Hashing: each distinct token gets a stable 64-bit hash (blake2b, cached per process); an
n-gram's hash is a position-weighted sum of its token hashes (mod 2^64) passed through the
splitmix64 finaliser. Distinct n-grams collide with probability ~2^-64 per pair, and every
flagged pair is re-checked on the n-gram strings anyway (``jaccard_exact``).
A document shorter than n tokens has one shingle: all of its tokens (so short exact copies
still match).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .normalize import tokens as _tokens

_MASK64 = (1 << 64) - 1
# Fixed odd multipliers, one per position in the n-gram (order matters: "a b" != "b a").
_POS_MULT = np.random.default_rng(20240917).integers(
    1, 2**63, size=64, dtype=np.uint64
) * np.uint64(2) + np.uint64(1)

_token_cache: dict[str, int] = {}


def _token_hash(tok: str) -> int:
    h = _token_cache.get(tok)
    if h is None:
        h = int.from_bytes(hashlib.blake2b(tok.encode("utf-8"), digest_size=8).digest(), "little")
        if len(_token_cache) < 5_000_000:  # bound memory on adversarial vocabularies
            _token_cache[tok] = h
    return h


def _splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (vectorised, wraps mod 2^64): spreads the combined hash's bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@dataclass
class Shingled:
    """Shingle hash sets of the usable documents of one corpus.

    keep:    positions (into the input sequence) of the documents that were usable
    norm:    normalised text of each kept document (exact-match key)
    ptr:     int64 offsets, len(keep) + 1; document i owns hashes[ptr[i]:ptr[i+1]]
    hashes:  uint64, sorted within each document, no duplicates within a document
    skipped: input positions that were not usable (non-string, empty, or no tokens)
    """

    keep: np.ndarray
    norm: list[str]
    ptr: np.ndarray
    hashes: np.ndarray
    skipped: np.ndarray

    @cached_property
    def sizes(self) -> np.ndarray:
        """Number of distinct shingles per kept document (int64)."""
        return np.diff(self.ptr)

    @cached_property
    def doc_of_hash(self) -> np.ndarray:
        """Kept-document index of every entry of ``hashes`` (int64)."""
        return np.repeat(np.arange(len(self.keep), dtype=np.int64), self.sizes)

    def doc(self, i: int) -> np.ndarray:
        return self.hashes[self.ptr[i] : self.ptr[i + 1]]


@dataclass
class Tokenized:
    """One tokenisation pass over a corpus, reusable for several n-gram sizes.

    keep / skipped: input positions used / not usable; norm: token strings joined by spaces;
    lengths: tokens per kept document; flat: uint64 token hashes of all kept documents in order.
    """

    keep: list
    norm: list
    lengths: list
    flat: list
    skipped: list


def tokenize(texts: Sequence, tokenizer: Callable | None = None) -> Tokenized:
    """Tokenise ``texts`` once (``tokenizer``: text -> tokens; default ``normalize.tokens``)."""
    tok = tokenizer or _tokens
    out = Tokenized([], [], [], [], [])
    for pos, text in enumerate(texts):
        toks = tok(text) if isinstance(text, str) else []
        if not toks:
            out.skipped.append(pos)
            continue
        out.keep.append(pos)
        out.norm.append(" ".join(toks))
        out.lengths.append(len(toks))
        out.flat.extend(_token_hash(t) for t in toks)
    return out


def shingle(
    texts: Sequence,
    n: int,
    tokenizer: Callable | None = None,
    *,
    tokenized: Tokenized | None = None,
) -> Shingled:
    """Normalise, tokenise and shingle ``texts`` into word ``n``-gram hash sets.

    Non-string and empty entries (or entries with no tokens) are skipped, never raised on;
    their positions are returned in ``skipped``. ``tokenized`` reuses an earlier ``tokenize``
    pass over the same texts (then ``texts`` is ignored).
    """
    if n < 1 or n > len(_POS_MULT):
        raise ValueError(f"ngram must be in 1..{len(_POS_MULT)}, got {n}")
    tk = tokenized if tokenized is not None else tokenize(texts, tokenizer)
    keep, norm, lengths, flat, skipped = tk.keep, tk.norm, tk.lengths, tk.flat, tk.skipped
    short = [i for i, k in enumerate(lengths) if k < n]
    m = len(keep)
    lengths_a = np.asarray(lengths, dtype=np.int64)
    T = np.asarray(flat, dtype=np.uint64)
    starts = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(lengths_a, out=starts[1:])
    # All windows of n consecutive tokens in the flat array; keep those inside one document.
    total = len(T)
    padded = np.concatenate([T, np.zeros(n, dtype=np.uint64)])
    acc = np.zeros(total, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            acc += padded[k : k + total] * _POS_MULT[k]
        doc_of_tok = np.repeat(np.arange(m, dtype=np.int64), lengths_a)
        valid = np.arange(total, dtype=np.int64) + n <= starts[1:][doc_of_tok]
        h = acc[valid]
        d = doc_of_tok[valid]
        if short:
            # A document shorter than n: one shingle of all its tokens (length-tagged).
            sh = []
            for i in short:
                s = 0
                for k, t in enumerate(T[starts[i] : starts[i + 1]].tolist()):
                    s = (s + t * int(_POS_MULT[k])) & _MASK64
                sh.append((s + 0x9E3779B97F4A7C15 * lengths[i]) & _MASK64)
            h = np.concatenate([h, np.asarray(sh, dtype=np.uint64)])
            d = np.concatenate([d, np.asarray(short, dtype=np.int64)])
        h = _splitmix(h)
    order = np.lexsort((h, d))
    h, d = h[order], d[order]
    if len(h):
        first = np.ones(len(h), dtype=bool)
        first[1:] = (h[1:] != h[:-1]) | (d[1:] != d[:-1])
        h, d = h[first], d[first]
    ptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(d, minlength=m), out=ptr[1:])
    return Shingled(
        keep=np.asarray(keep, dtype=np.int64),
        norm=norm,
        ptr=ptr,
        hashes=h,
        skipped=np.asarray(skipped, dtype=np.int64),
    )


def ngram_set(text: str, n: int, tokenizer: Callable | None = None) -> set[tuple[str, ...]]:
    """The word n-gram set of ``text`` as string tuples (slow reference; used for re-checks)."""
    toks = (tokenizer or _tokens)(text) if isinstance(text, str) else []
    if not toks:
        return set()
    if len(toks) < n:
        return {tuple(toks)}
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def jaccard_exact(a: str, b: str, n: int, tokenizer: Callable | None = None) -> float:
    """Exact Jaccard similarity (0..1) of the word n-gram sets of two raw problem texts."""
    sa, sb = ngram_set(a, n, tokenizer), ngram_set(b, n, tokenizer)
    if not sa or not sb:
        return 0.0
    inter = len(sa & sb)
    return inter / (len(sa) + len(sb) - inter)


def jaccard_many(
    a_texts: Iterable[str], b_texts: Iterable[str], n: int, tokenizer: Callable | None = None
) -> np.ndarray:
    """``jaccard_exact`` over aligned pairs, caching n-gram sets of repeated texts."""
    cache: dict[str, set] = {}

    def get(t):
        s = cache.get(t)
        if s is None:
            s = cache[t] = ngram_set(t, n, tokenizer)
        return s

    out = []
    for a, b in zip(a_texts, b_texts):
        sa, sb = get(a), get(b)
        inter = len(sa & sb)
        union = len(sa) + len(sb) - inter
        out.append(inter / union if union else 0.0)
    return np.asarray(out, dtype=np.float64)
