"""The think-close marker must survive decoding, whatever its tokenizer's ``special`` flag.

Qwen3.5 writes ``<think> ... </think>`` and then the answer; ``</think>`` is ONE token (id 248069).
Both engines decode with special tokens skipped (vLLM's ``skip_special_tokens=True`` default,
``tokenizer.decode(..., skip_special_tokens=True)`` in the transformers backend). If a tokenizer
marks the marker special, every response loses it: every sample reads as "think not closed"
and nothing is graded (the grader only looks after the last ``</think>``).

:class:`ResponseDecoder` is checked once, at engine start: if decoding with special tokens
skipped would drop a kept marker, generated ids are decoded segment by segment around the
marker (special tokens still skipped everywhere else) and the marker text is put back. If the
marker is an ordinary token, the engine's own text is used unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

THINK_CLOSE = "</think>"


class ThinkMarkerError(RuntimeError):
    """The think-close marker does not survive a round trip through the decode path."""


@dataclass(frozen=True)
class MarkerInfo:
    """How a tokenizer treats a marker string.

    token_ids:    ``encode(marker)`` without special tokens added
    single_token: the marker is one token
    special:      decoding with special tokens skipped drops it (one-token markers only)
    round_trips:  the decode path of :class:`ResponseDecoder` gives the marker back exactly
    """

    marker: str
    token_ids: tuple[int, ...]
    single_token: bool
    special: bool
    round_trips: bool

    def problem(self) -> str | None:
        """None if the marker is usable as the think close, else what is wrong (one line)."""
        if not self.single_token:
            return f"{self.marker!r} is {len(self.token_ids)} tokens {list(self.token_ids)}, expected one"
        if not self.round_trips:
            return f"{self.marker!r} (id {self.token_ids[0]}) does not decode back to itself"
        return None


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


def dropped_by_decode(tokenizer, token_id: int) -> bool:
    """True if ``decode([id], skip_special_tokens=True)`` loses a token that decodes to text otherwise."""
    return (
        tokenizer.decode([token_id], skip_special_tokens=False) != ""
        and tokenizer.decode([token_id], skip_special_tokens=True) == ""
    )


class ResponseDecoder:
    """Generated token ids -> response text: special tokens skipped, the kept markers kept.

    ``keep`` lists marker strings (default: ``</think>``). A marker is handled here only if it
    is one token that skip-special decoding would drop; ``needed`` says whether any is.
    """

    def __init__(self, tokenizer, keep: Sequence[str] = (THINK_CLOSE,)):
        self.tokenizer = tokenizer
        self.keep_ids: dict[int, str] = {}
        for marker in keep:
            ids = _encode(tokenizer, marker)
            if len(ids) == 1 and dropped_by_decode(tokenizer, ids[0]):
                self.keep_ids[ids[0]] = marker

    @property
    def needed(self) -> bool:
        """Whether plain skip-special decoding would lose a kept marker for this tokenizer."""
        return bool(self.keep_ids)

    def decode(self, token_ids: Sequence[int]) -> str:
        """Decode ``token_ids`` with special tokens skipped, except the kept markers."""
        ids = list(token_ids)
        if not self.keep_ids:
            return self.tokenizer.decode(ids, skip_special_tokens=True)
        parts: list[str] = []
        start = 0
        for i, t in enumerate(ids):
            if t in self.keep_ids:
                parts.append(self.tokenizer.decode(ids[start:i], skip_special_tokens=True))
                parts.append(self.keep_ids[t])
                start = i + 1
        parts.append(self.tokenizer.decode(ids[start:], skip_special_tokens=True))
        return "".join(parts)

    def text(self, engine_text: str, token_ids: Sequence[int]) -> str:
        """The response text: the engine's own text unless a kept marker would be lost in it."""
        return self.decode(token_ids) if self.keep_ids else engine_text


def marker_info(tokenizer, marker: str = THINK_CLOSE) -> MarkerInfo:
    """Inspect how ``tokenizer`` encodes and decodes ``marker`` through :class:`ResponseDecoder`."""
    ids = tuple(_encode(tokenizer, marker))
    single = len(ids) == 1
    special = single and dropped_by_decode(tokenizer, ids[0])
    decoded = ResponseDecoder(tokenizer, keep=(marker,)).decode(list(ids))
    return MarkerInfo(marker, ids, single, special, decoded == marker)


def require_think_marker(tokenizer, marker: str = THINK_CLOSE) -> MarkerInfo:
    """Engine-start check for thinking models: the marker is one token and round-trips.

    Raises :class:`ThinkMarkerError` naming the marker and its ids otherwise.
    """
    info = marker_info(tokenizer, marker)
    problem = info.problem()
    if problem is not None:
        raise ThinkMarkerError(
            f"think marker check failed: {problem}; think-close detection would be wrong"
        )
    return info
