"""The prompt the model sees, in one place: the seeds' instruction + the problem, rendered with the
chat template (thinking on or off), and its content hash.

Every stage renders through here -- generation (:func:`render_chat`), the SSD training set and
lock/fork scoring (:func:`render_turn` on the user text they already hold) -- so a training row
or a scored position starts from byte-for-byte the prompt the sample was generated from, and
:func:`check_prompt_hashes` proves it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

DEFAULT_TEMPLATE = (
    "Solve the following competitive math problem.\n"
    "Reason step by step and put your final answer in \\boxed{}.\n\n{problem}"
)


def user_message(problem: str, template: str = DEFAULT_TEMPLATE) -> str:
    """The user turn: the template with ``{problem}`` replaced (plain replace: LaTeX braces stay)."""
    return template.replace("{problem}", problem)


def render_turn(
    tokenizer,
    user_text: str,
    *,
    thinking: bool | None = None,
    chat_template_kwargs: Mapping | None = None,
) -> str:
    """One user turn rendered with the chat template, up to and including the generation prompt.

    ``thinking`` is passed as ``enable_thinking`` (Qwen3.x reads it; templates without thinking
    ignore unknown variables), so one code path serves both model families. ``None`` leaves the
    template's default; ``chat_template_kwargs`` adds other template variables.
    """
    kw = dict(chat_template_kwargs or {})
    if thinking is not None:
        kw["enable_thinking"] = thinking
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": user_text}], tokenize=False, add_generation_prompt=True, **kw
    )


def render_chat(
    tokenizer, problem: str, template: str = DEFAULT_TEMPLATE, thinking: bool = True
) -> str:
    """The full prompt text of a problem up to the assistant turn: :func:`user_message` then
    :func:`render_turn`."""
    return render_turn(tokenizer, user_message(problem, template), thinking=thinking)


def render_turns(
    tokenizer,
    user_texts: Sequence[str],
    *,
    thinking: bool | None = None,
    chat_template_kwargs: Mapping | None = None,
) -> list[str]:
    """:func:`render_turn` for each text (order kept)."""
    return [
        render_turn(tokenizer, u, thinking=thinking, chat_template_kwargs=chat_template_kwargs)
        for u in user_texts
    ]


def prompt_hash(text: str) -> str:
    """Short content hash of the rendered prompt, stored with every sample (16 hex chars)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def check_prompt_hashes(
    texts: Iterable[str], stored: Iterable[str], ids: Iterable, *, what: str
) -> None:
    """Raise unless every rendered text hashes to the hash stored with its sample.

    ``what`` names the consumer in the message ("training prompts", "lock/fork prompts"); the
    error lists up to three ids whose prompt changed since generation (template, thinking flag
    or tokenizer differ).
    """
    bad = [i for t, h, i in zip(texts, stored, ids, strict=True) if prompt_hash(t) != h]
    if bad:
        raise ValueError(
            f"{len(bad)} {what} differ from the prompts the samples were generated "
            f"from (template, thinking flag or chat template changed), e.g. {bad[:3]}"
        )
