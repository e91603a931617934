"""One renderer for every stage: generation, the SSD set and lock/fork scoring render the same text."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from ssdlib.config import load_params
from ssdlib.models import embedded_model_path
from ssdlib.prompts import check_prompt_hashes, prompt_hash, render_chat, render_turn, user_message


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(embedded_model_path())


def test_generation_training_and_scoring_render_the_same_prompt(tok):
    from ssdlib.lockfork.scoring import render_prompts as scoring_render

    p = load_params("05_train", "smoke")
    problem = "Find $x$ if $2x+1=7$."
    generated = render_chat(tok, problem, p.prompt.template, thinking=p.model.thinking)
    trained = render_turn(
        tok, p.prompt.render(problem), chat_template_kwargs={"enable_thinking": p.model.thinking}
    )
    scored = scoring_render(
        tok, [p.prompt.render(problem)], chat_template_kwargs={"enable_thinking": p.model.thinking}
    )
    assert generated == trained == scored[0]
    assert user_message(problem, p.prompt.template) in generated


def test_prompt_hash_check_names_the_changed_prompts(tok):
    texts = [render_chat(tok, f"What is {i}+{i}?") for i in range(3)]
    stored = [prompt_hash(t) for t in texts]
    check_prompt_hashes(texts, stored, ["a", "b", "c"], what="training prompts")
    changed = [texts[0], render_chat(tok, "What is 1+1?", template="{problem}"), texts[2]]
    with pytest.raises(ValueError, match=r"1 training prompts differ.*\['b'\]"):
        check_prompt_hashes(changed, stored, ["a", "b", "c"], what="training prompts")
