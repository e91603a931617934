"""Synthetic problem-like corpora for speed and recall measurements (not for quality claims).

Text is built from competition boilerplate phrases (so that common n-grams exist, which is what
makes an inverted index or an LSH slow), Zipf-distributed filler words, numbers and LaTeX
snippets, ~40-80 words per problem. ``plant_near_duplicates`` copies val problems into train
with a controlled fraction of words replaced, so pairs span the whole similarity range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_PHRASES = [
    "let $x$ be a positive integer such that",
    "find the number of ordered pairs $(a, b)$ of integers",
    "what is the value of",
    "determine all real numbers $x$ for which",
    "in triangle $ABC$ we have",
    "the sum of the digits of",
    "find the remainder when",
    "is divided by",
    "compute the smallest positive integer $n$ such that",
    "a circle of radius $r$ is inscribed in",
    "how many ways are there to",
    "the probability that",
    "can be written as $\\frac{m}{n}$ where $m$ and $n$ are relatively prime positive integers. find $m+n$",
    "express your answer as a common fraction",
    "let $f(x) = x^2 + bx + c$",
    "the sequence $a_1, a_2, \\ldots$ satisfies",
    "for all positive integers $n$",
    "the area of the region bounded by",
    "find the maximum value of",
    "given that",
    "points $P$ and $Q$ lie on",
    "a fair six-sided die is rolled",
    "the number of subsets of $\\{1, 2, \\ldots, n\\}$",
    "the roots of the polynomial",
]


def _vocab(size: int, rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = set()
    while len(words) < size:
        k = int(rng.integers(2, 10))
        words.add("".join(rng.choice(letters, size=k)))
    return sorted(words)


def synthetic_problems(n_rows: int, *, seed: int = 0, prefix: str = "syn") -> pd.DataFrame:
    """``n_rows`` problem-like texts (~40-80 words) in the problem-table schema."""
    rng = np.random.default_rng(seed)
    vocab = _vocab(5000, rng)
    zipf_p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    zipf_p /= zipf_p.sum()
    n_words = rng.integers(28, 58, size=n_rows)  # parts; phrases add words: ~40-80 tokens
    # Pre-draw everything in bulk: per-row Python work is only the join.
    total = int(n_words.sum())
    word_idx = rng.choice(len(vocab), size=total, p=zipf_p)
    numbers = rng.integers(0, 1000, size=total)
    kind = rng.random(total)  # 0.12 number, 0.05 latex, 0.06 phrase start, rest word
    phrase_idx = rng.integers(0, len(_PHRASES), size=total)
    texts = []
    pos = 0
    for L in n_words.tolist():
        parts = []
        for j in range(pos, pos + L):
            r = kind[j]
            if r < 0.12:
                parts.append(str(numbers[j]))
            elif r < 0.17:
                parts.append(f"$x^{{{numbers[j] % 20}}}$")
            elif r < 0.23:
                parts.append(_PHRASES[phrase_idx[j]])
            else:
                parts.append(vocab[word_idx[j]])
        pos += L
        texts.append(" ".join(parts) + ".")
    return pd.DataFrame(
        {
            "id": [f"{prefix}/{i}" for i in range(n_rows)],
            "source": prefix,
            "problem": texts,
            "answer": [str(x) for x in rng.integers(0, 1000, size=n_rows)],
            "difficulty": np.nan,
            "meta": "{}",
        }
    )


def _placeholder(k: int) -> str:
    """A unique digit-free word for position k: zzb, zzc, ..., zzba, ..."""
    out = ""
    while True:
        out = "abcdefghijklmnopqrstuvwxyz"[k % 26] + out
        k //= 26
        if not k:
            return "zz" + out


def plant_near_duplicates(
    train: pd.DataFrame, val: pd.DataFrame, *, n_planted: int, seed: int = 0
) -> pd.DataFrame:
    """Overwrite ``n_planted`` random train rows with edited copies of random val rows.

    Each copy replaces a uniformly drawn fraction (0-25%) of the words with "zz<k>" tokens (k
    spelled in letters: a digit would add a spurious number to the #13 numeric signature), so
    planted pairs cover 5-gram Jaccard ~0.15-1.0 (dense around the thresholds); the val answer
    is kept for half of them.
    Returns a new frame; ``meta`` of a planted row holds the val id it came from.
    """
    rng = np.random.default_rng(seed)
    out = train.copy()
    rows = rng.choice(len(train), size=min(n_planted, len(train)), replace=False)
    srcs = rng.integers(0, len(val), size=len(rows))
    problems = out["problem"].tolist()
    answers = out["answer"].tolist()
    metas = out["meta"].tolist()
    for r, s in zip(rows.tolist(), srcs.tolist()):
        words = val["problem"].iat[s].split(" ")
        frac = rng.uniform(0.0, 0.25)
        hit = rng.random(len(words)) < frac
        problems[r] = " ".join(
            _placeholder(k) if h else w for k, (w, h) in enumerate(zip(words, hit))
        )
        if rng.random() < 0.5:
            answers[r] = val["answer"].iat[s]
        metas[r] = f'{{"planted_from": "{val["id"].iat[s]}"}}'
    out["problem"], out["answer"], out["meta"] = problems, answers, metas
    return out
