"""Per-pair similarity features of the #13 rule (computed on candidate pairs only).

For two raw problem texts a (train) and b (val), all on the math-aware canonical form
(``canon.py``):

    exact      whitespace-free canonical strings equal
    j5         word-5-gram Jaccard of canonical tokens (0..1)
    j3         word-3-gram Jaccard (the short-text path: a word swap in a 12-token problem
               leaves few 5-grams but most 3-grams)
    char       cosine of hashed character 3-5-gram count vectors (0..1; scikit-learn
               ``HashingVectorizer(analyzer="char_wb")``; no IDF, so the value does not depend
               on which corpus is scanned and a threshold measured on the labelled set transfers)
    sig_eq     numeric signatures equal and non-empty (``canon.signature``)
    sig_sub    both signatures non-empty, one contains the other and they differ by at most one
               number (a rewording often drops or adds one: "(0,0) to (5,4)" vs "the origin to
               (5,4)"); the corpus scan finds exactly these pairs by hashing each signature
               and its one-number-smaller subsets
    sig_digits total digits of the numbers the two signatures share (information carried by the
               match: {2, 3} has 2, {13, 14, 15} has 6, {2024} has 4)
    sig_a / sig_b  sizes of the two numeric signatures
    short      min(token count of a, of b) <= short_max_tokens
    content_edit  token-alignment match share when the texts differ in a content word, else 0
               (``edits.py``): high = a copy whose question was changed
    content_span  tokens from the first to the last content edit (0 = none): short = one local change
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from .canon import canonical, exact_key, math_tokens, signature
from .edits import content_edits
from .ngrams import jaccard_many

CHAR_NGRAMS = (3, 5)


@lru_cache(maxsize=1)
def _vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=CHAR_NGRAMS,
        n_features=2**20,
        alternate_sign=False,
        norm="l2",
        lowercase=False,
    )


def char_cosine(a_texts: Sequence[str], b_texts: Sequence[str]) -> np.ndarray:
    """Cosine (0..1) of hashed char n-gram vectors of the canonical forms, pair by pair."""
    if len(a_texts) == 0:
        return np.zeros(0)
    va = _vectorizer().transform([canonical(t) if isinstance(t, str) else "" for t in a_texts])
    vb = _vectorizer().transform([canonical(t) if isinstance(t, str) else "" for t in b_texts])
    return np.asarray(va.multiply(vb).sum(axis=1)).ravel()


def pair_features(
    a_texts: Sequence[str], b_texts: Sequence[str], *, short_max_tokens: int = 25
) -> pd.DataFrame:
    """Features of aligned pairs (columns as in the module doc), one row per pair."""
    a_texts, b_texts = list(a_texts), list(b_texts)
    sa = [signature(t) for t in a_texts]
    sb = [signature(t) for t in b_texts]
    la = np.array([len(math_tokens(t)) for t in a_texts])
    lb = np.array([len(math_tokens(t)) for t in b_texts])
    share, span = content_edits(a_texts, b_texts)
    return pd.DataFrame(
        {
            "exact": [
                exact_key(a) == exact_key(b) and exact_key(a) != ""
                for a, b in zip(a_texts, b_texts)
            ],
            "j5": jaccard_many(a_texts, b_texts, 5, math_tokens),
            "j3": jaccard_many(a_texts, b_texts, 3, math_tokens),
            "char": char_cosine(a_texts, b_texts),
            "sig_eq": [bool(x) and x == y for x, y in zip(sa, sb)],
            "sig_sub": [
                bool(x) and bool(y) and (x <= y or y <= x) and len(x ^ y) <= 1
                for x, y in zip(sa, sb)
            ],
            "sig_digits": [sum(len(n.replace(".", "")) for n in x & y) for x, y in zip(sa, sb)],
            "sig_a": [len(x) for x in sa],
            "sig_b": [len(y) for y in sb],
            "short": np.minimum(la, lb) <= short_max_tokens,
            "content_edit": share,
            "content_span": span,
        }
    )
