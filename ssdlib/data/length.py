"""Drop problems whose prompt cannot fit the model's context, in 01 (before any generation).

Without this, one over-long problem (a 1 MB statement) is kept by every loader and later stops
the whole of 03's generation with a ContextOverflow. Here it is dropped and counted as
``prompt_too_long`` in the source's drop table instead.

The limit, in tokens of the WHOLE rendered prompt (chat template + instruction + problem):

    limit = min(model.max_prompt_tokens, model.max_model_len - max_new_tokens)

``max_new_tokens`` is the generation budget when the caller knows it (None in 01, which has no
decode configs). ``model.max_prompt_tokens`` is itself tied to the context: the config check
(``ssdlib.config.check_combinations``) refuses any decode of 03, 05 or 06 whose
``max_prompt_tokens + max_tokens`` exceeds ``max_model_len``, so a prompt within the limit fits
every generation of the profile. Counting the rendered prompt makes the chat template's
overhead exact rather than estimated.

Counting: with the profile's tokenizer (``method`` says ``tokenizer``), each candidate problem is
rendered through ``ssdlib.prompts.render_chat`` and tokenized exactly as generation does. Without
it (offline, no cached tokenizer) a conservative bound is used: 1 token per UTF-8 byte of the
user message plus :data:`CHAT_WRAP_TOKENS` for the chat template's own text. Byte-level BPE
tokens (Qwen, SmolLM2) each cover at least one byte, so this never keeps a prompt that does not
fit; it may drop some that would (a typical English/LaTeX token covers 3-4 bytes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ssdlib.data.base import LoadResult
from ssdlib.prompts import DEFAULT_TEMPLATE, render_chat, user_message

REASON = "prompt_too_long"
# Fallback allowance for the chat template's own tokens (role markers, a default system prompt:
# SmolLM2's adds ~30 tokens, Qwen3.5's wrapper ~15). Used only without a tokenizer.
CHAT_WRAP_TOKENS = 64
# With a tokenizer, a problem this many tokens clear of the limit by the byte bound is not
# rendered (tokens merging across the template/problem boundary move a count by a few tokens).
_BOUNDARY_SLACK = 16


@dataclass(frozen=True)
class PromptLimit:
    """Longest rendered prompt accepted, and how prompts are counted.

    max_tokens: limit in tokens of the rendered prompt
    count:      problems -> token count of each rendered prompt (exact, or an upper bound)
    method:     what ``count`` is, in words (for the 01 report)
    """

    max_tokens: int
    count: Callable[[Sequence[str]], list[int]]
    method: str

    def describe(self) -> str:
        return f"rendered prompt <= {self.max_tokens} tokens ({self.method})"


def limit_tokens(model: Any, max_new_tokens: int | None = None) -> int:
    """``min(max_prompt_tokens, max_model_len - max_new_tokens)`` (see the module docstring)."""
    limit = int(model.max_prompt_tokens)
    if max_new_tokens is not None:
        limit = min(limit, int(model.max_model_len) - int(max_new_tokens))
    if limit <= 0:
        raise ValueError(
            f"no room for a prompt: max_model_len {model.max_model_len}, "
            f"max_prompt_tokens {model.max_prompt_tokens}, generation {max_new_tokens}"
        )
    return limit


def _byte_bound(template: str) -> Callable[[Sequence[str]], list[int]]:
    def count(problems: Sequence[str]) -> list[int]:
        return [len(user_message(p, template).encode("utf-8")) + CHAT_WRAP_TOKENS for p in problems]

    return count


def _tokenizer_count(
    tokenizer, template: str, thinking: bool, limit: int
) -> Callable[[Sequence[str]], list[int]]:
    overhead = len(
        tokenizer(render_chat(tokenizer, "", template, thinking), add_special_tokens=False)[
            "input_ids"
        ]
    )

    def count(problems: Sequence[str]) -> list[int]:
        out = []
        for p in problems:
            bound = overhead + len(p.encode("utf-8")) + _BOUNDARY_SLACK
            if bound <= limit:  # clearly fits: the byte bound is an upper bound on BPE tokens
                out.append(bound)
                continue
            text = render_chat(tokenizer, p, template, thinking)
            out.append(len(tokenizer(text, add_special_tokens=False)["input_ids"]))
        return out

    return count


def prompt_limit(
    model: Any,
    prompt: Any = None,
    tokenizer=None,
    *,
    max_new_tokens: int | None = None,
    why_no_tokenizer: str = "no tokenizer given",
) -> PromptLimit:
    """The :class:`PromptLimit` of a profile's ``model`` / ``prompt`` blocks (pydantic or dict).

    ``tokenizer``: the profile's tokenizer (exact counts), or None for the byte bound, in which
    case ``why_no_tokenizer`` goes into ``method``. Counts reported for a problem that clearly
    fits may be the bound instead of the exact count; every count above the limit is exact.
    """
    model = _ns(model)
    template = _ns(prompt).template if prompt is not None else DEFAULT_TEMPLATE
    limit = limit_tokens(model, max_new_tokens)
    if tokenizer is None:
        method = (
            f"no tokenizer ({why_no_tokenizer}): upper bound of 1 token per UTF-8 byte + "
            f"{CHAT_WRAP_TOKENS} for the chat template"
        )
        return PromptLimit(limit, _byte_bound(template), method)
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    return PromptLimit(
        limit,
        _tokenizer_count(tokenizer, template, bool(model.thinking), limit),
        f"counted with the tokenizer of {name}, chat template applied",
    )


def profile_prompt_limit(model: Any, prompt: Any, *, offline: bool | None = None) -> PromptLimit:
    """:func:`prompt_limit` with the profile's tokenizer when it can be loaded, else the bound.

    The fallback warns (``PromptBoundWarning``): the byte bound drops problems that would fit
    (about 3-4x too strict on English/LaTeX), so budgets may fall short until the tokenizer is
    cached (run online once, or ``ssd doctor`` online).
    """
    import os
    import warnings

    from ssdlib.models import load_tokenizer

    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
    tok, why = load_tokenizer(_ns(model).id, offline)
    limit = prompt_limit(model, prompt, tok, why_no_tokenizer=why or "")
    if tok is None:
        warnings.warn(f"prompt length: {limit.describe()}", PromptBoundWarning, stacklevel=2)
    return limit


class PromptBoundWarning(UserWarning):
    """Prompts are counted with the conservative byte bound, not the profile's tokenizer."""


def drop_long(frame: pd.DataFrame, limit: PromptLimit) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows that fit, rows that do not with their ``prompt_tokens``); order kept."""
    if frame.empty:
        return frame, frame.assign(prompt_tokens=pd.Series(dtype="int64"))
    n = pd.Series(limit.count(frame["problem"].tolist()), index=frame.index, dtype="int64")
    long = n > limit.max_tokens
    return frame[~long].reset_index(drop=True), frame[long].assign(
        prompt_tokens=n[long]
    ).reset_index(drop=True)


def limit_result(result: LoadResult, limit: PromptLimit) -> tuple[LoadResult, pd.DataFrame]:
    """``result`` without its over-long problems, counted as ``prompt_too_long``; and those rows."""
    kept, long = drop_long(result.frame, limit)
    if long.empty:
        return result, long
    drops = Counter(result.drops)
    drops[REASON] += len(long)
    return LoadResult(kept, drops, result.n_raw, result.bad_lines), long


def _ns(x: Any):
    """A config block as attribute access, whether pydantic model or dict."""
    if isinstance(x, dict):
        from types import SimpleNamespace

        return SimpleNamespace(**x)
    return x
