"""Final-answer extraction from LaTeX: the content of ``\\boxed{...}`` / ``\\fbox{...}``.

Dependency-free (only ``re``) so the grading module can reuse it in worker processes.

Rules (they matter for grading, so they are spelled out):
- Both ``\\boxed`` and ``\\fbox`` count; whitespace between the command and its ``{`` is allowed.
- Braces nest; escaped braces ``\\{`` / ``\\}`` are literal characters and do not change depth.
- ``\\boxed 5`` (no braces, as in some MATH solutions) takes the run of characters up to the
  next whitespace or ``$``, without trailing ``.`` / ``,``.
- Only *top-level* boxes are returned: ``\\boxed{\\boxed{5}}`` is one box with content
  ``\\boxed{5}``. A box that is never closed ends the scan: everything after it is inside it.
- ``last_boxed`` returns ``None`` when the last box is unterminated rather than falling back to
  an earlier box (a response cut off mid-answer must not be credited with an older answer).
"""

from __future__ import annotations

import re

# The command must not be a prefix of a longer command name (\fboxsep, \boxedtext, ...).
_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BARE_STOP = re.compile(r"[\s$]")


def _parse_braced(text: str, start: int) -> tuple[str | None, int]:
    """Parse ``{...}`` whose ``{`` is at ``start``; return (content or None if unterminated, end)."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2  # skip the escaped character (\{, \}, \\) so it cannot change depth
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    return None, n


def _iter_boxes(text: str):
    """Yield the content (str) of each top-level box in order; yield None for an unterminated one."""
    pos = 0
    while True:
        m = _BOX_CMD.search(text, pos)
        if m is None:
            return
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            content, end = _parse_braced(text, i)
            yield content
            if content is None:
                return
            pos = end
            continue
        stop = _BARE_STOP.search(text, i)
        end = stop.start() if stop else len(text)
        bare = text[i:end].rstrip(".,")
        if bare:
            yield bare
        # An empty bare box (``\boxed`` then a newline or ``$``) is noise, not an answer.
        pos = end  # end >= m.end() > m.start(), so the scan always advances


def all_boxed(text: str | None) -> list[str]:
    """All terminated top-level boxed contents in order (an unterminated trailing box is left out)."""
    if not text:
        return []
    return [c for c in _iter_boxes(text) if c is not None]


def last_boxed(text: str | None) -> str | None:
    """Content of the last top-level ``\\boxed{}``/``\\fbox{}`` in ``text`` (not stripped).

    Returns ``None`` if there is no box or the last one is unterminated; ``""`` for ``\\boxed{}``.
    """
    if not text:
        return None
    last: str | None = None
    for content in _iter_boxes(text):
        last = content  # None when the final box never closes: no fallback to earlier boxes
    return last


def count_boxed(text: str | None) -> int:
    """Number of terminated top-level boxes in ``text``."""
    return len(all_boxed(text))


def unwrap_boxes(text: str) -> str:
    """``text`` without boxes that wrap ALL of it: ``\\boxed{\\boxed{8}}`` -> ``8``.

    Applied to a gold answer and to a response's extracted answer: a box inside a box says
    nothing more than one box. Only a box spanning the whole (stripped) text is removed:
    ``\\boxed{a} + \\boxed{b}`` and ``a \\boxed{b}`` are returned unchanged (stripped), and so
    is an unterminated ``\\boxed{8``.
    """
    s = text.strip()
    while True:
        m = _BOX_CMD.match(s)
        if m is None:
            return s
        i = m.end()
        while i < len(s) and s[i] in " \t":
            i += 1
        if i >= len(s) or s[i] != "{":
            return s
        content, end = _parse_braced(s, i)
        if content is None or end != len(s):
            return s
        s = content.strip()


def last_boxed_answer(text: str | None) -> str | None:
    """:func:`last_boxed` with nested whole-content boxes unwrapped (:func:`unwrap_boxes`)."""
    content = last_boxed(text)
    return None if content is None else unwrap_boxes(content)
