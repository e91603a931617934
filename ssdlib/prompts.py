"""The prompt the model sees: the seeds' instruction + the problem, rendered with the chat template."""

from __future__ import annotations

import hashlib

DEFAULT_TEMPLATE = (
    "Solve the following competitive math problem.\n"
    "Reason step by step and put your final answer in \\boxed{}.\n\n{problem}"
)


def user_message(problem: str, template: str = DEFAULT_TEMPLATE) -> str:
    """The user turn: the template with ``{problem}`` replaced (plain replace: LaTeX braces stay)."""
    return template.replace("{problem}", problem)


def render_chat(tokenizer, problem: str, template: str = DEFAULT_TEMPLATE, thinking: bool = True) -> str:
    """The full prompt text up to the assistant turn, thinking on or off.

    ``enable_thinking`` is passed to the template (Qwen3.x reads it; templates without thinking
    ignore unknown variables), so one code path serves both model families.
    """
    messages = [{"role": "user", "content": user_message(problem, template)}]
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=thinking
    )


def prompt_hash(text: str) -> str:
    """Short content hash of the rendered prompt, stored with every sample (16 hex chars)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
