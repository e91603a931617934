"""Train/val contamination for ssd-math (seed 004, "Contamination"; issue #13).

Default rule "v2" (rule.py): math-aware canonical text (canon.py), exact matches, answer-aware
word-5-gram Jaccard, a numeric-signature path for reworded copies (same numbers + equivalent
answers + modest char-n-gram overlap) and a word-3-gram path for short statements. rule="v1"
is the earlier word-n-gram-only rule, kept for side-by-side measurement.

Public API (see search.py for the rule, labelled.py for how the defaults were measured):
    find_duplicates(train, val, **params) -> flagged pairs
    best_matches(train, val, **params)    -> best train match per val row
    contamination_report(train, val, **params) -> (flagged, best) in one pass over train
    find_internal_duplicates(df, **params) -> duplicate pairs inside one frame
    decontaminate(train, flagged)         -> train without flagged rows
    normalize_text(text), tokens(text), jaccard_exact(a, b, n)
    labelled_pairs(seed), evaluate_rules(pairs, **params)   (v1 rules on the labelled set)
    RuleParams, canonical(text), exact_key(text), signature(text)
    labelled_eval.labelled_report(seed, params)           (v2: before/after per category, grouped CV)
"""

from .canon import canonical, exact_key, signature
from .labelled import evaluate_rules, labelled_pairs
from .ngrams import jaccard_exact
from .normalize import normalize_answer, normalize_text, tokens
from .rule import RuleParams
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
    "NGRAM",
    "NUM_PERM",
    "THRESHOLD_DIFF_ANSWER",
    "THRESHOLD_SAME_ANSWER",
    "RuleParams",
    "canonical",
    "exact_key",
    "signature",
    "best_matches",
    "contamination_report",
    "decontaminate",
    "evaluate_rules",
    "find_duplicates",
    "find_internal_duplicates",
    "jaccard_exact",
    "labelled_pairs",
    "normalize_answer",
    "normalize_text",
    "tokens",
]
