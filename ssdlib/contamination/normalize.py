"""Normalisation of math problem text (and of short answers) before comparing problems.

The goal is that two copies of one problem that differ only in formatting (LaTeX delimiters,
``\\dfrac`` vs ``\\frac``, ``\\left(``, thin spaces, ``\\text{}`` wrappers, case, punctuation)
normalise to the same token sequence, while a problem whose NUMBERS differ does not: numbers
are kept as tokens ("3.5" and "10,000" each stay one token), because a renumbered problem is
a different problem with a different answer.

Punctuation, braces, ``^``, ``_`` and backslashes are separators; the operators ``+ - = < >``
are kept as tokens, so "x-2" and "x+2" differ. Known blind spots (documented, tested, not bugs):
structure carried only by braces or sub/superscripts is lost ("2^{x+1}" == "2^x+1",
"x^2" == "x_2" == "x 2"); such pairs are rare but the exact rule will flag them.
"""

from __future__ import annotations

import re
import unicodedata

# Commands whose argument is kept and whose name is noise: \text{cm} -> cm.
_UNWRAP = re.compile(
    r"\\(?:text|textrm|textbf|textit|textnormal|mathrm|mathbf|mathit|mathsf|mathtt|mathnormal"
    r"|operatorname|mbox|hbox|emph|boldsymbol|bm)\s*\{([^{}]*)\}"
)
# Pure formatting commands, dropped outright. The negative lookahead keeps \leftarrow, \rightarrow.
_DROP = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![A-Za-z])"
    r"|\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits|cdot|times|quad|qquad)(?![A-Za-z])"
)
# Spacing macros between digits are digit-group separators ("10\,000" -> "10000"); elsewhere
# \, \; \: are spaces and \! (negative space) is nothing.
_DIGIT_GROUP = re.compile(r"(?<=\d)(?:\\[,;:!]|\{,\}|\\ )(?=\d)")
_SPACING = re.compile(r"\\[,;:>]")
_NEG_SPACE = re.compile(r"\\!")
_SPACE_MACRO = re.compile(r"\\ |~")
_FRAC = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_BINOM = re.compile(r"\\[dt]binom(?![A-Za-z])")
_RELATIONS = (
    (re.compile(r"\\leqslant(?![A-Za-z])|\\leq(?![A-Za-z])|≤|<="), r"\\le "),
    (re.compile(r"\\geqslant(?![A-Za-z])|\\geq(?![A-Za-z])|≥|>="), r"\\ge "),
    (re.compile(r"\\neq(?![A-Za-z])|≠|!="), r"\\ne "),
    (re.compile(r"\\lt(?![A-Za-z])"), "<"),
    (re.compile(r"\\gt(?![A-Za-z])"), ">"),
)
# Thousands separators: "10,000" -> "10000" (a comma followed by exactly three digits).
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# Minus signs and dashes that mean "minus" become "-"; a hyphen inside a word is a space.
_MINUS = re.compile(r"[\u2212\u2013\u2014]")
_WORD_HYPHEN = re.compile(r"(?<=[A-Za-z])-(?=[A-Za-z]{2})")
# One token = a number (with an optional decimal part), a run of letters (any script), or one
# of the operators + - = < > (kept: "x-2" vs "x+2" and "x<3" vs "x>3" are different problems).
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+|[-+=<>]")


def _strip_latex(text: str) -> str:
    """Remove LaTeX formatting noise, keeping the content (case-sensitive patterns: run before lower())."""
    text = unicodedata.normalize("NFKC", text)
    text = _MINUS.sub("-", text)
    text = _WORD_HYPHEN.sub(" ", text)
    text = _DIGIT_GROUP.sub("", text)
    text = _SPACING.sub(" ", text)
    text = _NEG_SPACE.sub("", text)
    text = _SPACE_MACRO.sub(" ", text)
    text = _FRAC.sub(r"\\frac", text)
    text = _BINOM.sub(r"\\binom", text)
    for pattern, repl in _RELATIONS:
        text = pattern.sub(repl, text)
    # Unwrap twice: \text{\textbf{x}} has nested wrappers.
    text = _UNWRAP.sub(r" \1 ", text)
    text = _UNWRAP.sub(r" \1 ", text)
    text = _DROP.sub(" ", text)
    return _THOUSANDS.sub("", text)


def tokens(text: str) -> list[str]:
    """Normalised word tokens of ``text``: lowercase letter runs, numbers and + - = < >.

    Dollar signs, braces, backslashes and all punctuation act as separators, so ``$\\frac{1}{2}$``
    gives ``["frac", "1", "2"]``; a letter-digit boundary also separates ("2x" -> "2", "x").
    """
    return _TOKEN.findall(_strip_latex(text).lower())


def normalize_text(text: str) -> str:
    """The normalised form of a problem: its tokens joined by single spaces (exact-match key)."""
    return " ".join(tokens(text))


_ANSWER_WRAPPERS = re.compile(r"^\\boxed\s*\{(.*)\}$|^\\\((.*)\\\)$|^\\\[(.*)\\\]$", re.S)


def normalize_answer(answer: str) -> str:
    """A cheap canonical string for a final answer, for the string-equality pre-check.

    Strips ``$``, ``\\boxed{}``, ``\\(..\\)``, spacing, ``\\text{}`` wrappers, ``\\dfrac``, a
    trailing period and all whitespace; lowercases. Equal outputs mean equal answers; unequal
    outputs mean "ask math-verify".
    """
    a = answer.replace("$", "").strip()
    for _ in range(3):  # nested wrappers: $\boxed{\text{...}}$
        m = _ANSWER_WRAPPERS.match(a)
        if not m:
            break
        a = next(g for g in m.groups() if g is not None).strip()
    a = _strip_latex(a)
    a = re.sub(r"\s+", "", a).rstrip(".").lower()
    return a
