"""Lock/fork scoring: every response position under a model, by teacher forcing (nats).

One shared set of responses is scored once per model (:func:`score_positions`); the analysis of
the scores lives in :mod:`ssdlib.lockfork.analysis`. See the package docstring for the method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ssdlib.prompts import render_turns

SCORE_KEY: tuple[str, ...] = ("response_idx", "position")

SCORE_COLUMNS: tuple[str, ...] = SCORE_KEY + (
    "token_id",  # the response token at this position (the one being predicted)
    "token_logprob",  # log p(token | prompt, response[:position]), nats
    "token_rank",  # 1 = the model's top-1; exact in both backends
    "topk_ids",  # np.ndarray[int] of the top-k token ids, most likely first
    "topk_logprobs",  # np.ndarray[float] of their log-probs (nats, un-renormalised)
    "entropy_topk",  # entropy of the renormalised top-k distribution, nats
    "entropy_tail_lb",  # rigorous lower bound on the full entropy (see topk_entropy_lower_bound)
    "mass_outside_topk",  # 1 - sum exp(topk_logprobs)
    "entropy_full",  # exact full-vocabulary entropy, nats; NaN where the backend lacks logits
)

# Keys of the params block that drive scoring (score_positions / sample choice), not the analysis.
SCORING_PARAM_KEYS: tuple[str, ...] = (
    "n_responses",
    "top_k",
    "max_positions",
    "backend",
    "dtype",
    "batch_size",
    "chunk_tokens",
)


# --------------------------------------------------------------------------- entropy


def topk_entropy(topk_logprobs) -> tuple[np.ndarray, np.ndarray]:
    """Entropy of the renormalised top-k distribution and the mass outside the top k.

    ``topk_logprobs``: array ``[..., k]`` of log-probabilities (nats) of the k most likely
    tokens under the FULL softmax (not renormalised). Returns ``(entropy, mass_outside)``, each
    of shape ``[...]``: ``entropy = -sum q log q`` with ``q = p / sum(p)`` over the k tokens
    (nats), and ``mass_outside = 1 - sum(p)`` (clipped at 0 against rounding).

    Bias: this ignores the tail, so it UNDER-states the full entropy, by more where the tail
    is heavier; with ``k == vocab`` it is exact. Because SSD trains on top-k/top-p truncated
    samples, it shrinks the tail, so comparing base vs SSD on this proxy under-states SSD's
    sharpening of locks (the tail part of the change shows up in ``mass_outside`` instead,
    which is why both are reported). :func:`topk_entropy_lower_bound` adds the tail back as
    a rigorous lower bound.
    """
    lp = np.asarray(topk_logprobs, dtype=np.float64)
    p = np.exp(lp)
    s = p.sum(axis=-1)
    q = p / s[..., None]
    # 0 * log 0 = 0: where a top-k prob underflows it contributes nothing.
    ent = -np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0), axis=-1)
    return ent, np.clip(1.0 - s, 0.0, None)


def topk_entropy_lower_bound(topk_logprobs) -> np.ndarray:
    """Tail-corrected entropy estimate, nats: a rigorous LOWER bound on the full entropy.

    The top-k part contributes exactly ``-sum_topk p log p``. Every tail token has probability
    at most ``p_min`` (the k-th largest), so the tail's contribution ``-sum_tail p log p`` is at
    least ``m * (-log p_min)`` where ``m`` is the tail mass (the tail packed into as few tokens
    as the cap allows). Hence ``H_full >= -sum_topk p log p - m log p_min``. Equal to the full
    entropy when ``m == 0``; an upper bound would need the vocabulary size and is loose.
    """
    lp = np.asarray(topk_logprobs, dtype=np.float64)
    p = np.exp(lp)
    head = -np.sum(np.where(p > 0, p * lp, 0.0), axis=-1)
    m = np.clip(1.0 - p.sum(axis=-1), 0.0, None)
    return head - m * lp.min(axis=-1)


# --------------------------------------------------------------------------- tokenisation


def render_prompts(
    tokenizer,
    prompts: Sequence[str],
    *,
    chat: bool = True,
    chat_template_kwargs: Mapping | None = None,
) -> list[str]:
    """The prompt text the model saw: the user turns rendered by :func:`ssdlib.prompts.render_turns`
    (``chat=True``) or the prompts as given (``chat=False``, already rendered by generation)."""
    if not chat:
        return list(prompts)
    return render_turns(tokenizer, prompts, chat_template_kwargs=chat_template_kwargs)


def tokenize_pairs(
    tokenizer,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    chat: bool = True,
    chat_template_kwargs: Mapping | None = None,
    max_positions: int | None = None,
) -> list[tuple[list[int], list[int]]]:
    """``(prompt_ids, response_ids)`` per pair, tokenised ONCE here for both backends.

    Prompt and response are tokenised separately (no special tokens added: the rendered
    template carries its own) so the boundary is exact and matches generation, where the
    response tokens were produced after the prompt tokens. ``max_positions`` keeps the first
    N response tokens: teacher forcing is causal, so truncation does not change the scores of
    the positions kept.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    texts = render_prompts(tokenizer, prompts, chat=chat, chat_template_kwargs=chat_template_kwargs)
    pairs = []
    for text, resp in zip(texts, responses):
        p_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        r_ids = tokenizer(resp, add_special_tokens=False)["input_ids"]
        if not p_ids:
            raise ValueError("empty prompt: the first response token would have no context")
        if max_positions is not None:
            r_ids = r_ids[:max_positions]
        pairs.append((list(p_ids), list(r_ids)))
    return pairs


# --------------------------------------------------------------------------- scoring


def _rows(idx: int, r_ids, token_lp, token_rank, top_ids, top_lp, ent_full) -> dict:
    """One response's scores as columns (arrays of length n_positions)."""
    ent, out = topk_entropy(top_lp)
    return {
        "response_idx": np.full(len(r_ids), idx, dtype=np.int64),
        "position": np.arange(len(r_ids), dtype=np.int64),
        "token_id": np.asarray(r_ids, dtype=np.int64),
        "token_logprob": np.asarray(token_lp, dtype=np.float64),
        "token_rank": np.asarray(token_rank, dtype=np.int64),
        "topk_ids": list(np.asarray(top_ids, dtype=np.int64)),
        "topk_logprobs": list(np.asarray(top_lp, dtype=np.float64)),
        "entropy_topk": ent,
        "entropy_tail_lb": topk_entropy_lower_bound(top_lp),
        "mass_outside_topk": out,
        "entropy_full": np.asarray(ent_full, dtype=np.float64),
    }


def _frame(parts: list[dict]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({c: [] for c in SCORE_COLUMNS})
    cols = {}
    for c in SCORE_COLUMNS:
        if c in ("topk_ids", "topk_logprobs"):
            cols[c] = [a for part in parts for a in part[c]]
        else:
            cols[c] = np.concatenate([part[c] for part in parts])
    return pd.DataFrame(cols)


def _batches_by_length(order, pairs, batch_size, chunk_tokens):
    """Batches of pair indices (longest first); a sequence longer than ``chunk_tokens`` goes alone."""
    batch = []
    for i in order:
        if chunk_tokens is not None and len(pairs[i][0]) + len(pairs[i][1]) > chunk_tokens:
            yield [i]
            continue
        batch.append(i)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _hidden_chunked(model, ids, chunk_tokens: int):
    """Final hidden states of ONE sequence ``ids [1, L]``, computed ``chunk_tokens`` at a time.

    Each chunk attends to the earlier ones through the model's own cache (KV for attention
    layers, recurrent state for linear-attention layers), so the result equals one full forward
    while activation memory is bounded by the chunk (a 48k-token response would otherwise hold
    every layer's activations for all 48k positions at once). The cache is created by the
    model on the first chunk, so hybrid architectures get their own cache class.
    """
    import torch

    out, cache = [], None
    for s in range(0, ids.shape[1], chunk_tokens):
        o = model.base_model(
            input_ids=ids[:, s : s + chunk_tokens], past_key_values=cache, use_cache=True
        )
        cache = o.past_key_values
        out.append(o.last_hidden_state)
    return torch.cat(out, dim=1)


def _score_transformers(
    model_path, pairs, *, top_k, batch_size, dtype, device, logit_chunk, chunk_tokens=None
):
    """Teacher forcing with transformers: one forward per batch, exact full softmax.

    The LM head is applied to the final hidden states in chunks of ``logit_chunk`` positions,
    so a [batch, 48k, 248k] logit tensor is never materialised; log-softmax runs in float32.
    A sequence longer than ``chunk_tokens`` (prompt + response tokens) is scored alone and
    forwarded ``chunk_tokens`` at a time with the model's cache (:func:`_hidden_chunked`),
    so whole 48k-token responses fit in memory.
    """
    import torch
    from transformers import AutoModelForCausalLM

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    kw = {} if dtype in (None, "auto") else {"dtype": getattr(torch, dtype)}
    model = AutoModelForCausalLM.from_pretrained(str(model_path), **kw).to(device).eval()
    head = model.get_output_embeddings()
    vocab = head.weight.shape[0]
    if top_k > vocab:
        raise ValueError(f"top_k={top_k} exceeds the vocabulary ({vocab})")
    pad = 0
    order = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
    parts: dict[int, dict] = {}
    checked = False
    with torch.inference_mode():
        for idxs in _batches_by_length(order, pairs, batch_size, chunk_tokens):
            idxs = [i for i in idxs if pairs[i][1]]
            if not idxs:
                continue
            seqs = [pairs[i][0] + pairs[i][1] for i in idxs]
            width = max(map(len, seqs))
            # Right padding: padded tokens come after every real one, so a causal model
            # (attention or recurrent layers) scores the real positions exactly as unpadded.
            ids = torch.full((len(seqs), width), pad, dtype=torch.long)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for j, s in enumerate(seqs):
                ids[j, : len(s)] = torch.tensor(s)
                mask[j, : len(s)] = 1
            ids, mask = ids.to(device), mask.to(device)
            if chunk_tokens is not None and width > chunk_tokens and len(seqs) == 1:
                hidden = _hidden_chunked(model, ids, chunk_tokens)
            else:
                hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
            if not checked:
                # Guard: base_model + output embeddings must reproduce the model's own logits
                # (would fail for an architecture with a logit soft-cap or a pre-norm output).
                # Causal: position n-1 depends on the first n tokens only, so a short prefix
                # suffices (a full forward of a 48k sequence would defeat chunking).
                n = min(len(seqs[0]), chunk_tokens or len(seqs[0]))
                ref = model(input_ids=ids[:1, :n], logits_to_keep=1).logits[0, -1].float()
                mine = head(hidden[:1, n - 1]).float()[0]
                if not torch.allclose(ref, mine, atol=1e-3 * max(1.0, ref.abs().max().item())):
                    raise RuntimeError(
                        "LM head on base_model hidden states does not match the "
                        "model's logits; this architecture needs its own path"
                    )
                checked = True
            for j, i in enumerate(idxs):
                p_len, r_ids = len(pairs[i][0]), pairs[i][1]
                # logits at sequence index t predict token t+1: response token p is predicted
                # from index p_len + p - 1.
                tgt = torch.tensor(r_ids, device=device)
                acc = {"lp": [], "rank": [], "tid": [], "tlp": [], "ent": []}
                for c in range(0, len(r_ids), logit_chunk):
                    h = hidden[j, p_len - 1 + c : p_len - 1 + min(c + logit_chunk, len(r_ids))]
                    logp = torch.log_softmax(head(h).float(), dim=-1)
                    t = tgt[c : c + logit_chunk]
                    tok_lp = logp.gather(-1, t[:, None])[:, 0]
                    acc["lp"].append(tok_lp)
                    # vLLM's definition (ties count against the token), so backends agree.
                    acc["rank"].append((logp >= tok_lp[:, None]).sum(-1))
                    tlp, tid = logp.topk(top_k, dim=-1)
                    acc["tid"].append(tid)
                    acc["tlp"].append(tlp)
                    acc["ent"].append(-(logp.exp() * logp).nansum(-1))
                a = {k: torch.cat(v).cpu().numpy() for k, v in acc.items()}
                parts[i] = _rows(i, r_ids, a["lp"], a["rank"], a["tid"], a["tlp"], a["ent"])
            del hidden
    return [parts[i] for i in sorted(parts)]


def _score_vllm(model_path, pairs, *, top_k, dtype, engine_kwargs, chunk_tokens=None):
    """Teacher forcing with vLLM ``prompt_logprobs`` over prompt+response token ids.

    vLLM returns, for every prompt position after the first, the actual token's logprob and
    rank followed by the top-k in rank order (``flat_logprobs`` layout: entry 0 = the actual
    token, entries 1..k = the top k; the actual token appears twice when it is in the top k).
    Logprobs are the raw model's (``logprobs_mode`` default ``raw_logprobs``: no temperature).
    No exact entropy is available, so ``entropy_full`` is NaN.
    """
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    todo = [i for i, (_, r) in enumerate(pairs) if r]
    if not todo:
        return []
    kw = {
        "max_model_len": max(len(pairs[i][0]) + len(pairs[i][1]) for i in todo) + 1,
        "enable_prefix_caching": False,  # every position must be computed, not read from cache
        "skip_tokenizer_init": True,  # ids in, logprobs out: nothing to detokenise
        "seed": 0,
        "gpu_memory_utilization": 0.9 if _has_cuda() else 0.15,  # on CPU: share of RAM
    }
    if chunk_tokens is not None:
        # Chunked prefill: a 48k-token sequence is scored chunk_tokens at a time, which bounds
        # the [tokens x vocab] logits vLLM materialises for prompt_logprobs.
        kw.update(enable_chunked_prefill=True, max_num_batched_tokens=int(chunk_tokens))
    kw.update(engine_kwargs or {})
    kw["max_logprobs"] = max(int(kw.get("max_logprobs", 20)), top_k)
    if dtype not in (None, "auto"):
        kw["dtype"] = dtype
    llm = LLM(model=str(model_path), **kw)
    sp = SamplingParams(
        max_tokens=1, temperature=1.0, prompt_logprobs=top_k, flat_logprobs=True, detokenize=False
    )
    outs = llm.generate(
        [TokensPrompt(prompt_token_ids=pairs[i][0] + pairs[i][1]) for i in todo], sp, use_tqdm=False
    )
    parts = []
    for i, out in zip(todo, outs):
        p_ids, r_ids = pairs[i]
        plp = out.prompt_logprobs
        n = len(r_ids)
        tok_lp, rank = np.empty(n), np.empty(n, dtype=np.int64)
        top_ids, top_lp = np.empty((n, top_k), dtype=np.int64), np.empty((n, top_k))
        for p in range(n):
            pos = len(p_ids) + p
            s, e = plp.start_indices[pos], plp.end_indices[pos]
            if plp.token_ids[s] != r_ids[p] or e - s != top_k + 1:
                raise RuntimeError(f"unexpected prompt_logprobs layout at position {pos}")
            tok_lp[p], rank[p] = plp.logprobs[s], plp.ranks[s]
            top_ids[p] = plp.token_ids[s + 1 : e]
            top_lp[p] = plp.logprobs[s + 1 : e]
        parts.append(_rows(i, r_ids, tok_lp, rank, top_ids, top_lp, np.full(n, np.nan)))
    del llm
    return parts


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is always there with vLLM
        return False


def score_positions(
    model_path,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    top_k: int = 20,
    backend: str = "transformers",
    batch_size: int = 4,
    max_positions: int | None = None,
    chat: bool = True,
    chat_template_kwargs: Mapping | None = None,
    dtype: str | None = "float32",
    device: str | None = None,
    logit_chunk: int = 1024,
    chunk_tokens: int | None = None,
    engine_kwargs: Mapping | None = None,
) -> pd.DataFrame:
    """Teacher-force ``responses`` after ``prompts`` under one model; one row per response position.

    Columns: :data:`SCORE_COLUMNS`. ``response_idx`` is the index into ``responses``;
    ``position`` is the 0-based index of the token within the response; every row describes
    the model's next-token distribution just BEFORE that token (prompt + earlier response
    tokens as context). Only response positions are scored. Log-probs and entropies in nats.

    ``chat=True``: each prompt is a user message, rendered with the model's chat template
    (``chat_template_kwargs`` passed through, e.g. ``{"enable_thinking": True}``); ``chat=False``:
    prompts are already rendered text. For responses from :mod:`ssdlib.generation`, pass the
    prompts rendered by :func:`ssdlib.prompts.render_chat` with ``chat=False``: the exact text
    generation saw (its ``prompt_hash`` can be checked against the stored samples). Tokenisation
    is done here once with the HF tokenizer (:func:`tokenize_pairs`) and the ids go to either
    backend, so both see identical tokens.

    ``dtype`` ("float32" default, "bfloat16", "auto"): score base and SSD with the SAME backend
    and dtype. float32 is the default because bf16 rounding alone moved per-position entropy by
    0.03 nats on average (0.1 max) on SmolLM2, the size of the effect under study.

    ``backend="transformers"``: exact full softmax (fills ``entropy_full``), ``batch_size``
    sequences per forward pass, ``device`` (default cuda if available); a sequence longer than
    ``chunk_tokens`` is forwarded in chunks of that many tokens through the model's cache
    (memory-safe scoring of whole responses; identical scores).
    ``max_positions`` is the scoring window: the first N response tokens (None = the whole
    response).
    ``backend="vllm"``: ``prompt_logprobs=top_k``; ``entropy_full`` is NaN;
    ``chunk_tokens`` becomes vLLM's chunked-prefill budget (``max_num_batched_tokens``);
    ``engine_kwargs`` go to ``vllm.LLM`` (on CPU: run under the shared vLLM lock and pass
    ``enforce_eager=True``, which cut engine start from ~96 s to ~40 s here; never on GPU).
    Empty responses contribute no rows.
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_path))
    pairs = tokenize_pairs(
        tok,
        prompts,
        responses,
        chat=chat,
        chat_template_kwargs=chat_template_kwargs,
        max_positions=max_positions,
    )
    if backend == "transformers":
        parts = _score_transformers(
            model_path,
            pairs,
            top_k=top_k,
            batch_size=batch_size,
            dtype=dtype,
            device=device,
            logit_chunk=logit_chunk,
            chunk_tokens=chunk_tokens,
        )
    elif backend == "vllm":
        parts = _score_vllm(
            model_path,
            pairs,
            top_k=top_k,
            dtype=dtype,
            engine_kwargs=engine_kwargs,
            chunk_tokens=chunk_tokens,
        )
    else:
        raise ValueError(f"unknown backend {backend!r} (transformers | vllm)")
    df = _frame(parts)
    df.attrs.update({"top_k": top_k, "backend": backend, "model_path": str(model_path)})
    return df


# --------------------------------------------------------------------------- noise-only check


def perturbed_copy(model_path, out_dir, *, rel_std: float = 0.02, seed: int = 0):
    """Save a copy of a model with every floating weight tensor ``w`` replaced by
    ``w + N(0, (rel_std * std(w))^2)``: the "same model up to noise" of the noise-only check.

    Scoring one shared set of responses under the original and the copy and running the
    lock/fork analysis must NOT read "sharpened" or "flattened" (nothing was trained). Returns
    ``out_dir``. The tokenizer is copied alongside so the copy scores identical token ids.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point() and p.numel() > 1:
                p.add_(torch.randn(p.shape, generator=gen) * (rel_std * p.float().std()))
    model.save_pretrained(str(out_dir))
    AutoTokenizer.from_pretrained(str(model_path)).save_pretrained(str(out_dir))
    return out_dir
