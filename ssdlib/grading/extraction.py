"""Find the final-answer region of a response and the last ``\\boxed{}`` in it.

Pure string work, cheap enough to run in the parent process: only the (short) candidate
answer travels to the grading workers, never the full 48k-token response.

Rules (see research-notes section 4 and 7):

- Thinking responses: the answer region is the text after the LAST ``</think>``. The chat
  template may pre-fill ``<think>\\n`` in the prompt, so the opening tag can be missing from
  the response; ``think_closed`` is therefore simply ``"</think>" in response``. If the
  thinking never closed there is no answer region: nothing may be extracted from inside an
  unfinished thinking block.
- Non-thinking responses (no think tag anywhere, or ``thinking=False``): the whole response
  is the answer region.
- The answer is the content of the last top-level ``\\boxed{...}`` / ``\\fbox{...}`` of the
  region (brace matching shared with ssdlib.boxed, TeX escapes ``\\{`` ``\\}``
  skipped). If the last box never closes (truncated output) there is no answer: an
  earlier, abandoned box is not used.
- A box that wraps the whole answer again is unwrapped: ``\\boxed{\\boxed{3}}`` gives ``3``
  (one box inside another says nothing more; ``ssdlib.boxed.unwrap_boxes``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ssdlib.boxed import last_boxed as _data_last_boxed
from ssdlib.boxed import unwrap_boxes

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


@dataclass(frozen=True)
class Extraction:
    """What the answer extraction found in one response.

    ``region`` is the answer region (None when the thinking never closed), ``extracted`` the
    stripped content of the last box (None when there is no complete, non-empty box),
    ``boxed`` is ``extracted is not None``, ``think_closed`` is ``"</think>" in response``.
    """

    region: str | None
    extracted: str | None
    boxed: bool
    think_closed: bool


def is_thinking(response: str, thinking: bool | None = None) -> bool:
    """Resolve the ``thinking`` switch: None means "thinking iff a think tag appears"."""
    if thinking is not None:
        return bool(thinking)
    return THINK_OPEN in response or THINK_CLOSE in response


def answer_region(response: str, thinking: bool | None = None) -> str | None:
    """Return the part of ``response`` that may hold the final answer (None if none).

    Thinking responses: the text after the last ``</think>``, or None when the thinking never
    closed. Non-thinking responses: the whole response.
    """
    if not is_thinking(response, thinking):
        return response
    cut = response.rfind(THINK_CLOSE)
    if cut < 0:
        return None
    return response[cut + len(THINK_CLOSE) :]


def last_boxed(text: str) -> str | None:
    """Content of the last top-level ``\\boxed{}`` / ``\\fbox{}`` in ``text``, stripped.

    Brace matching is ``ssdlib.boxed.last_boxed`` (the same rules that extract gold
    answers from MATH/NuminaMath solutions). Returns None when there is no box, when the
    last box is empty, or when the last box is not closed (a truncated answer is not an
    answer; earlier boxes are not used as a fallback). Nested whole-answer boxes are unwrapped
    (``\\boxed{\\boxed{3}}`` -> ``3``).
    """
    content = _data_last_boxed(text)
    if content is None:
        return None
    return unwrap_boxes(content) or None


def extract(response: str, thinking: bool | None = None) -> Extraction:
    """Extract the final answer of one response (see the module docstring for the rules)."""
    region = answer_region(response, thinking)
    extracted = last_boxed(region) if region is not None else None
    return Extraction(
        region=region,
        extracted=extracted,
        boxed=extracted is not None,
        think_closed=THINK_CLOSE in response,
    )
