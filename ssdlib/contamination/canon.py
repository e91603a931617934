"""Math-aware canonical form of a problem statement (issue #13), and its numeric signature.

``normalize.tokens`` (the rule before #13) treats ``$``, braces, ``^`` and backslashes as mere
separators, so it cannot see that ``$x+y=10$`` and ``x + y = 10`` are one statement while it
merges ``x^2`` with ``x 2``. Here the statement is rewritten into one canonical spelling first:

- math delimiters ``$``, ``$$``, ``\\(..\\)``, ``\\[..\\]`` dropped;
- ``\\dfrac`` / ``\\tfrac`` / ``\\cfrac`` -> ``\\frac``; ``\\frac12`` -> ``\\frac{1}{2}``; a simple
  ``\\frac{a}{b}`` -> ``a/b`` (so ``63/256`` and ``\\frac{63}{256}`` agree);
- ``^{2}`` -> ``^2`` (braces around one token after ``^`` / ``_``); a longer script keeps its
  grouping as tokens (``2^{x+1}`` -> ``2 ^ lgroup x + 1 rgroup``, not ``2^x + 1``);
- ``\\left`` / ``\\right`` / ``\\big`` and ``\\displaystyle`` dropped; ``\\cdot``, ``\\times``, ``*``
  -> one multiplication token (kept: "2 \\cdot 3" must not read as "23");
- spacing macros, and digit groups ``1,000`` / ``1{,}000`` / ``1,\\!000`` / ``1\\,000`` -> ``1000``;
- inside math, a run of lowercase letters is a product of one-letter variables (``xy`` ->
  ``x y``); uppercase runs are point names (``ABC``) and ``\\text{..}`` contents are words: kept;
- a scraped header ("Problem 3.", "12.", "(5 points)") and answer-format instructions ("Express
  your answer as a common fraction.", "Show all of your work.") are removed.

Tokens are numbers, letter runs (commands lose their backslash: ``\\pi`` -> ``pi``) and the
operators ``+ - * / ^ = < >``. The exact-match key is the token string with all whitespace
removed, so spacing (``x y`` vs ``xy`` outside math too) cannot split a copy.

The numeric signature is the SET of numbers in the statement (canonical decimal strings:
``2.50`` -> ``2.5``, ``007`` -> ``7``): a reworded problem keeps its numbers, a renumbered one
does not. A set (not a multiset) because rewording often repeats or drops a repeated number.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from .normalize import _BINOM, _RELATIONS, _UNWRAP

_MINUS = re.compile(r"[\u2212\u2013\u2014]")
_HEADER = re.compile(
    r"^\s*(?:\*\*)?(?:(?:problem|question|exercise|example|task)\s*(?:\d+[a-z]?\s*[.:)]?|[.:])|\d{1,3}\s*[.)])\s*(?:\*\*)?\s+",
    re.I,
)
_POINTS = re.compile(r"[(\[（]\s*\d+\s*(?:points?|pts?|marks?|分)\s*[)\]）]", re.I)
# Answer-format instructions carry no problem identity ("Express your answer as a common
# fraction.") and are added / dropped freely by scrapers: removed before comparing.
_INSTRUCTION = re.compile(
    r"(?:(?<=[.?!$])|^)\s*(?:(?:please\s+)?(?:express|give|round|enter|write|state|leave|simplify|put|present)"
    r"\s+(?:your|the|all|each)\s+(?:final\s+)?answers?\b[^.?!]*[.?!]?"
    r"|(?:justify\s+your\s+answer|show\s+all\s+(?:of\s+)?your\s+work)[^.?!]*[.?!]?)",
    re.I,
)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_FRAC = re.compile(r"\\[dtc]?frac(?![A-Za-z])")
_FRAC_DIGITS = re.compile(r"\\frac\s*(\d)\s*(\d)")  # \frac12 -> \frac{1}{2}
_FRAC_SIMPLE = re.compile(r"\\frac\s*\{\s*([A-Za-z0-9.]+)\s*\}\s*\{\s*([A-Za-z0-9.]+)\s*\}")
_SCRIPT_BRACE = re.compile(r"([\^_])\s*\{\s*(-?[A-Za-z0-9.]+|\\[A-Za-z]+)\s*\}")
# A script of several tokens keeps its grouping (``2^{x+1}`` is not ``2^x + 1``): the group is
# marked by the tokens ``lgroup`` / ``rgroup`` (LaTeX's own \lgroup / \rgroup, so the letter-run
# split inside math leaves them whole); ``2^(x+1)`` is spelled as ``2^{x+1}`` first.
_SCRIPT_PAREN = re.compile(r"([\^_])\s*\(([^()]*)\)")
_SCRIPT_GROUP = re.compile(r"([\^_])\s*\{([^{}]*)\}")
_DROP = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![A-Za-z])"
    r"|\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits|quad|qquad|mathstrut)(?![A-Za-z])"
)
_TIMES = re.compile(r"\\(?:cdot|times|ast)(?![A-Za-z])|\*|×|·")
_DIGIT_GROUP = re.compile(r"(?<=\d)(?:\\[,;:! ]|\{,\}|,\\!|,(?=\d{3}(?!\d)))+(?=\d)")
_SPACING = re.compile(r"\\[,;:>! ]|~")
_LETTER_RUN = re.compile(r"(?<![\\A-Za-z])[a-z]{2,}(?![A-Za-z])")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+|[-+*/^=<>]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _split_letters(m: re.Match) -> str:
    return " ".join(m.group(0))


def _math(inner: str) -> str:
    """Canonical spelling of one math span (delimiters already removed)."""
    parts = _UNWRAP.split(inner)  # odd positions: \text{...} contents, kept as words
    out = []
    for k, p in enumerate(parts):
        out.append(f" {p} " if k % 2 else _LETTER_RUN.sub(_split_letters, p))
    return " ".join(out)


def _common(text: str) -> str:
    """Spellings canonicalised everywhere (inside and outside math).

    Each rewrite runs only when its trigger character occurs: at 860k rows the regex passes are
    most of the cost, and most statements lack most triggers (same output, less work).
    """
    bs = "\\" in text
    if bs and "frac" in text:
        text = _FRAC.sub(r"\\frac", text)
        text = _FRAC_DIGITS.sub(r"\\frac{\1}{\2}", text)
        text = _FRAC_SIMPLE.sub(r" \1 / \2 ", text)
    if bs and "binom" in text:
        text = _BINOM.sub(r"\\binom", text)
    if "^(" in text or "_(" in text:
        text = _SCRIPT_PAREN.sub(r"\1{\2}", text)
    if "{" in text and ("^" in text or "_" in text):
        text = _SCRIPT_BRACE.sub(r"\1\2", text)
        text = _SCRIPT_BRACE.sub(r"\1\2", text)  # nested: ^{ {2} }
        text = _SCRIPT_GROUP.sub(r"\1 \\lgroup \2 \\rgroup ", text)
    if bs or "≤" in text or "≥" in text or "≠" in text or "=" in text:
        for pattern, repl in _RELATIONS:
            text = pattern.sub(repl, text)
    if bs:
        text = _DROP.sub(" ", text)
    if bs or "*" in text or "×" in text or "·" in text:
        text = _TIMES.sub(" * ", text)
    if bs or "," in text:
        text = _DIGIT_GROUP.sub("", text)
    if bs or "~" in text:
        text = _SPACING.sub(" ", text)
    return text


@lru_cache(maxsize=20_000)  # candidates revisit the same val texts; train texts are seen once
def canonical(text: str) -> str:
    """The canonical statement: its tokens joined by single spaces (lowercase)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        text = _MINUS.sub("-", text)
    if "(" in text or "[" in text or "（" in text:
        text = _POINTS.sub(" ", text)
    text = _HEADER.sub("", text, count=1)
    low = text.lower()
    if "answer" in low or "work" in low:
        text = _INSTRUCTION.sub(" ", text)
    text = _common(text)
    if "$" in text or "\\(" in text or "\\[" in text:
        text = _MATH_SPAN.sub(
            lambda m: " " + _math(next(g for g in m.groups() if g is not None)) + " ", text
        )
    if "\\" in text:
        text = _UNWRAP.sub(r" \1 ", text)
    return " ".join(_TOKEN.findall(text.lower()))


def math_tokens(text) -> list[str]:
    """Canonical tokens of ``text`` ([] for a non-string or empty text)."""
    return canonical(text).split() if isinstance(text, str) and text else []


def exact_key(text) -> str:
    """Whitespace-free canonical string: equal keys = the same statement up to spelling."""
    return canonical(text).replace(" ", "") if isinstance(text, str) else ""


def _canon_number(s: str) -> str:
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s.lstrip("0") or "0"


def signature(text) -> frozenset[str]:
    """The set of numbers in the statement, canonical decimal strings ("2.50" -> "2.5")."""
    return frozenset(_canon_number(t) for t in math_tokens(text) if _NUMBER.fullmatch(t))


def signature_key(sig: frozenset[str]) -> int:
    """A stable 63-bit key of a signature (0 for the empty signature: no numeric evidence)."""
    if not sig:
        return 0
    h = hashlib.blake2b("\x1f".join(sorted(sig)).encode(), digest_size=8).digest()
    return (int.from_bytes(h, "little") >> 1) or 1
