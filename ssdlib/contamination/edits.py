"""Content-edit feature of the #13 rule: "the same text with a different question".

Two statements that share their numbers and their answer are either the same problem written
twice (a copy with light edits, or a full rewording) or two questions about the same objects
whose answers coincide ("Find the area of triangle ABC" / "Find the length of the altitude from
A to BC" with sides 13, 14, 15: both 84). Lexical overlap of the question alone cannot tell a
reworded question from another question (rewording changes the vocabulary as much as asking
something else does; measured on the labelled set). What does separate them is WHERE the texts
differ: a rewording changes the whole statement, while a same-objects question is a COPY of the
setup in which a few content words change ("sum" -> "product", "smaller" -> "larger",
"$f(g(4))$" -> "$g(f(4))$").

``content_edit(a, b)`` aligns the canonical token sequences (``canon.math_tokens``) with
``difflib.SequenceMatcher`` and returns the share of tokens the alignment matches,
2 * matched / (len a + len b), when the unmatched tokens include a content token (anything but
the function words / question verbs in ``NOISE``: words, numbers, variables, operators), and
0.0 when the texts differ only by noise ("Find" -> "Compute", "What is" -> "Determine") or by
spacing (tokens whose concatenations are equal: ``xy`` vs ``x y`` outside math); with it, the
span (tokens) from the first to the last content edit. A high share with a short span means
"a near copy with ONE local change of content": another question, not a duplicate. The rule
vetoes such pairs (``RuleParams.content_edit``, chosen by grouped CV, and
``RuleParams.content_edit_span``, fixed a priori). A long span means edits scattered over the
statement (a noisy or OCR'd copy, the bench's planted copies): not vetoed.

Cost: one alignment per candidate pair (~0.1 ms for 50-token statements); only candidate pairs
are scored. Known blind spots: a copy with a one-word synonym swap ("exactly" -> "precisely")
is vetoed like "exactly" -> "at least"; two questions whose statements are fully reworded
("How many divisors does 360 have?" / "What is the sum of the divisors of 360?") are not seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

import numpy as np

from .canon import math_tokens

# Function words and question scaffolding that scrapers and light edits change freely; their
# insertion / deletion / substitution is not a change of the question. Kept small on purpose:
# words like "least", "not", "all", "first" change a problem's meaning and stay content.
NOISE = frozenset(
    "a an the of is are was be to that this it its for in on at by with and or as then so such if "
    "what which find compute determine evaluate calculate how many much there have has does do can "
    "will value given let we you your".split()
)


def content_edit(a: str, b: str) -> tuple[float, int]:
    """(match share 0..1 if the difference touches content else 0.0, span of the content edits).

    The span is the number of tokens from the first to the last content edit, on the side
    where it is longer (0 when there is no content edit): a changed question is one local
    edit ("the area" -> "the length of the altitude from A to BC"), a noisy copy has edits
    scattered over the whole statement.
    """
    ta, tb = math_tokens(a), math_tokens(b)
    if not ta or not tb:
        return 0.0, 0
    matched, first, last = 0.0, None, None
    for op, i1, i2, j1, j2 in SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        x, y = ta[i1:i2], tb[j1:j2]
        if op == "equal":
            matched += len(x)
        elif "".join(x) == "".join(y):  # spacing only: "xy" vs "x y"
            matched += (len(x) + len(y)) / 2
        elif any(t not in NOISE for t in x + y):
            first = first or (i1, j1)
            last = (i2, j2)
    if first is None:
        return 0.0, 0
    return 2 * matched / (len(ta) + len(tb)), max(last[0] - first[0], last[1] - first[1])


def content_edits(a_texts: Sequence[str], b_texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``content_edit`` of aligned pairs as (shares, spans); non-strings count as empty."""
    out = [
        content_edit(a, b) if isinstance(a, str) and isinstance(b, str) else (0.0, 0)
        for a, b in zip(a_texts, b_texts)
    ]
    return (
        np.array([o[0] for o in out], dtype=float).reshape(-1),
        np.array([o[1] for o in out], dtype=np.int64).reshape(-1),
    )
