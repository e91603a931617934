"""The think-close marker survives decoding whatever its special flag (ssdlib.generation.think).

Real tokenizer: the embedded SmolLM2 tokenizer, with ``</think>`` added as ONE token, special or
not (Qwen3.5's ``</think>`` is one token, id 248069; its special flag decides whether
skip-special decoding drops it).
"""

from __future__ import annotations

import pytest
import torch
from tokenizers import AddedToken
from transformers import AutoTokenizer

from ssdlib.config import DecodeCfg, load_params
from ssdlib.generation.backends import Request, TransformersBackend
from ssdlib.generation.think import (
    THINK_CLOSE,
    ResponseDecoder,
    ThinkMarkerError,
    marker_info,
    require_think_marker,
)
from ssdlib.grading import grade_one

RESPONSE = "Two plus three is five.</think>The answer is \\boxed{5}."


def tokenizer(embedded_model, special: bool | None):
    tok = AutoTokenizer.from_pretrained(embedded_model)
    if special is not None:
        tok.add_tokens([AddedToken(THINK_CLOSE, special=special)])
    return tok


def generated_ids(tok) -> list[int]:
    """What an engine returns: the response's ids and the end-of-sequence token."""
    return tok.encode(RESPONSE, add_special_tokens=False) + [tok.eos_token_id]


def test_special_marker_is_lost_by_default_decode_and_kept_by_ours(embedded_model):
    tok = tokenizer(embedded_model, special=True)
    ids = generated_ids(tok)
    marker_id = tok.convert_tokens_to_ids(THINK_CLOSE)
    assert ids.count(marker_id) == 1  # one token, as in Qwen3.5
    plain = tok.decode(ids, skip_special_tokens=True)  # what both engines did before
    assert THINK_CLOSE not in plain
    assert (
        grade_one(plain, "5", thinking=True)["think_closed"] is False
    )  # every sample "not closed"
    decoder = ResponseDecoder(tok)
    assert decoder.needed
    text = decoder.decode(ids)
    assert text == RESPONSE  # marker back, end-of-sequence token still skipped
    graded = grade_one(text, "5", thinking=True)
    assert graded["think_closed"] is True and graded["correct"] is True


def test_non_special_marker_uses_the_engine_text(embedded_model):
    tok = tokenizer(embedded_model, special=False)
    decoder = ResponseDecoder(tok)
    assert not decoder.needed
    ids = generated_ids(tok)
    assert decoder.decode(ids) == tok.decode(ids, skip_special_tokens=True) == RESPONSE
    assert decoder.text("engine text", ids) == "engine text"


@pytest.mark.parametrize("special", [True, False])
def test_marker_info_one_token_and_round_trip(embedded_model, special):
    info = marker_info(tokenizer(embedded_model, special=special))
    assert info.single_token and info.round_trips and info.special is special
    assert info.problem() is None
    assert (
        require_think_marker(tokenizer(embedded_model, special=special)).token_ids == info.token_ids
    )


def test_multi_token_marker_fails_the_engine_start_check(embedded_model):
    tok = tokenizer(
        embedded_model, special=None
    )  # SmolLM2 has no think tags: "</think>" is 3 tokens
    info = marker_info(tok)
    assert not info.single_token and info.round_trips
    with pytest.raises(ThinkMarkerError, match=r"'</think>' is 3 tokens"):
        require_think_marker(tok)


@pytest.mark.slow
def test_transformers_backend_keeps_a_special_marker(embedded_model):
    """End to end: the backend's generated ids go through the decoder. The greedy first token is
    re-registered as a special token and named the kept marker: skip-special decoding would
    drop it, the backend's text keeps it."""
    smoke = load_params("03_baselines", "smoke")
    backend_cfg = smoke.backend.model_copy(
        update={"name": "transformers", "batch_size": 1, "device": "cpu"}
    )
    torch.set_num_threads(1)
    with TransformersBackend(embedded_model, smoke.model, backend_cfg, seed=0) as backend:
        ids = backend.tok.apply_chat_template(
            [{"role": "user", "content": "What is 2 + 3?"}],
            add_generation_prompt=True,
            tokenize=True,
        )
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        decode = DecodeCfg(temperature=0.0, max_tokens=6)
        got = {}
        backend.run(
            [Request("p", list(ids), decode, [0])], lambda r, outs: got.update(first=outs[0].text)
        )
        first = got["first"]
        piece = backend.tok.decode(backend.tok.encode(first, add_special_tokens=False)[:1])
        assert piece.strip()
        backend.tok.add_tokens([AddedToken(piece, special=True)])
        marker_ids = backend.tok.encode(piece, add_special_tokens=False)
        assert (
            len(marker_ids) == 1 and backend.tok.decode(marker_ids, skip_special_tokens=True) == ""
        )
        backend.decoder = ResponseDecoder(backend.tok, keep=(piece,))
        backend.run(
            [Request("p", list(ids), decode, [0])], lambda r, outs: got.update(second=outs[0].text)
        )
    assert got["second"].startswith(piece) and got["second"] == first


@pytest.mark.slow
def test_vllm_backend_redecodes_from_token_ids_when_the_marker_is_special(
    embedded_model, monkeypatch
):
    """vLLM detokenises with special tokens skipped; with a special marker the backend rebuilds the
    text from the output's token ids (all of them, FINAL_ONLY). Same trick as above: the greedy
    first token is re-registered special in a copy of the engine's tokenizer (ids unchanged)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    from ssdlib.generation.backends import VLLMBackend

    smoke = load_params("03_baselines", "smoke")
    decode = DecodeCfg(temperature=0.0, max_tokens=6)
    with VLLMBackend(embedded_model, smoke.model, smoke.backend, seed=0) as backend:
        assert not backend.decoder.needed  # SmolLM2: no special think marker, engine text used
        tok = AutoTokenizer.from_pretrained(embedded_model)
        ids = tok.apply_chat_template(
            [{"role": "user", "content": "What is 2 + 3?"}],
            add_generation_prompt=True,
            tokenize=True,
        )
        ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
        got = {}
        backend.run(
            [Request("p", ids, decode, [0])], lambda r, outs: got.update(first=outs[0].text)
        )
        piece = tok.decode(tok.encode(got["first"], add_special_tokens=False)[:1])
        tok.add_tokens([AddedToken(piece, special=True)])
        assert (
            tok.decode(tok.encode(piece, add_special_tokens=False), skip_special_tokens=True) == ""
        )
        seen = []

        class Recording(ResponseDecoder):  # instrumentation: which ids the backend decoded
            def decode(self, token_ids):
                seen.append(list(token_ids))
                return super().decode(token_ids)

        backend.decoder = Recording(tok, keep=(piece,))
        assert backend.decoder.needed
        backend.run(
            [Request("p", ids, decode, [0])],
            lambda r, outs: got.update(second=outs[0].text, n=outs[0].n_tokens),
        )
    marker_id = tok.convert_tokens_to_ids(tok.tokenize(piece))[0]
    assert (
        len(seen) == 1 and len(seen[0]) == got["n"] and seen[0][0] == marker_id
    )  # every generated id
    assert got["second"] == got["first"] and got["second"].startswith(piece)
