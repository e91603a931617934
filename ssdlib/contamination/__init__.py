"""Train/val contamination for ssd-math: normalised exact matches plus answer-aware fuzzy
word-n-gram Jaccard matches (seed 004, "Contamination").

Public API (see search.py for the rule, labelled.py for how the defaults were measured):
    find_duplicates(train, val, **params) -> flagged pairs
    best_matches(train, val, **params)    -> best train match per val row
    contamination_report(train, val, **params) -> (flagged, best) in one pass over train
    find_internal_duplicates(df, **params) -> duplicate pairs inside one frame
    decontaminate(train, flagged)         -> train without flagged rows
    normalize_text(text), tokens(text), jaccard_exact(a, b, n)
    labelled_pairs(seed), evaluate_rules(pairs, **params)
"""

from .labelled import evaluate_rules, labelled_pairs
from .ngrams import jaccard_exact
from .normalize import normalize_answer, normalize_text, tokens
from .search import (
    NGRAM,
    NUM_PERM,
    THRESHOLD_DIFF_ANSWER,
    THRESHOLD_SAME_ANSWER,
    best_matches,
    contamination_report,
    decontaminate,
    find_duplicates,
    find_internal_duplicates,
)

__all__ = [
    "NGRAM", "NUM_PERM", "THRESHOLD_DIFF_ANSWER", "THRESHOLD_SAME_ANSWER",
    "best_matches", "contamination_report", "decontaminate", "evaluate_rules",
    "find_duplicates", "find_internal_duplicates", "jaccard_exact", "labelled_pairs",
    "normalize_answer", "normalize_text", "tokens",
]
