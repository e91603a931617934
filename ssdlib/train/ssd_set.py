"""Build the self-distillation (SSD) training set from the model's own samples.

The SSD recipe trains on every sample drawn at (T_train, top-k, top-p), with NO correctness
filter: gold answers and grades are carried along for monitoring only. The only rows removed
are

* degenerate responses: empty / whitespace only, or fewer than ``min_response_tokens`` tokens;
* aborted generations (``finish_reason == "abort"``: the engine, not the model, cut them);
* examples whose full tokenized length (prompt + completion) exceeds ``max_length``: they are
  DROPPED, never truncated, because a truncated trace loses its end (and its answer);
* optionally (params): the ``drop_shortest_fraction`` shortest responses by characters (the rule
  of apple/ml-ssd, which drops the 10% shortest), and length-stopped responses
  (``drop_length_stopped``; the paper keeps them).

Each reason is counted in the report, and :func:`token_shares` says how much of the training
signal each kind of sample carries: under a per-token loss a 48k-token length-stopped trace
weighs as much as dozens of short finished ones.

How an example is rendered (and why not through the chat template's assistant turn)
-------------------------------------------------------------------------------------
Each kept sample becomes one *prompt/completion* example in plain-text form:

* ``prompt``: the user prompt rendered by the tokenizer's chat template with
  ``add_generation_prompt=True`` (and ``chat_template_kwargs``, e.g. ``enable_thinking``), i.e.
  exactly the text the generation engine fed the model (including a pre-filled ``<think>\\n``
  when the template adds one);
* ``completion``: the raw response VERBATIM (reasoning, ``</think>`` and answer), followed by
  the end-of-turn token only when the model chose to stop (``finish_reason == "stop"``). A
  length-stopped response gets no end-of-turn: the model never chose to end there.

Qwen3-family chat templates rewrite assistant turns: they split the content at ``</think>``,
strip the whitespace around the reasoning, re-insert their own tags, add an empty think block
when there is none, and drop the reasoning of turns before the last user message. Rendering
the sample as an assistant message (``{"messages": [...]}`` or conversational
prompt/completion) would therefore train on text the model never produced. The verbatim
completion after the rendered prompt is, token for token up to re-tokenization, the sequence
that was sampled.

The examples are also tokenized here (``input_ids``, ``completion_mask``), so the length that
decides "too long" is exactly the length the trainer sees, and TRL's ``SFTTrainer`` uses these
ids as they are (it skips its own tokenization when ``input_ids`` exist, and turns
``completion_mask`` into ``labels = -100`` on the prompt when ``completion_only_loss=True``).
The re-tokenized response can differ from the sampled token ids in rare merges; the engine's
own token ids are not stored in the samples table.

``response`` must be the raw generated text; an engine that split off the reasoning (a
reasoning parser) must join it back before calling this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ssdlib.prompts import render_turn
from ssdlib.schema import SAMPLE_COLUMNS, require_columns

# Graded columns reported as rates when present; never used to select rows.
MONITOR_COLUMNS: tuple[str, ...] = ("correct", "think_closed", "length_stop", "boxed")

DROP_EMPTY = "empty"
DROP_SHORT = "short"
DROP_ABORTED = "aborted"
DROP_TOO_LONG = "too_long"
DROP_SHORTEST = "shortest"
DROP_LENGTH_STOPPED = "length_stopped"
DROP_REASONS: tuple[str, ...] = (
    DROP_EMPTY,
    DROP_SHORT,
    DROP_ABORTED,
    DROP_TOO_LONG,
    DROP_SHORTEST,
    DROP_LENGTH_STOPPED,
)

# Categories of the token-share table: every sample is in exactly one.
CATEGORY_FINISHED = "finished"
CATEGORY_LENGTH = "length-stopped"
CATEGORY_DROPPED = "dropped"
CATEGORIES: tuple[str, ...] = (CATEGORY_FINISHED, CATEGORY_LENGTH, CATEGORY_DROPPED)

# Rows tokenized per batch: bounds the Python lists alive at once (a 48k-token trace is
# ~48k ints), while letting the fast tokenizer parallelize inside a batch.
_TOKENIZE_BATCH = 64


def resolve_end_of_turn(tokenizer, end_of_turn: str | None = None) -> str:
    """Return the end-of-turn text appended to finished completions (default: ``tokenizer.eos_token``).

    Checked against the chat template: the string must appear where the template closes an
    assistant turn, so a tokenizer whose eos is not the turn terminator fails loudly here.
    """
    eot = end_of_turn if end_of_turn is not None else tokenizer.eos_token
    if not eot:
        raise ValueError("tokenizer has no eos_token: pass end_of_turn explicitly")
    marker = "SSD_MARKER_7f3a"
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": marker}], tokenize=False
    )
    after = rendered.split(marker, 1)[-1]
    if eot not in after:
        raise ValueError(
            f"end-of-turn {eot!r} does not close an assistant turn in the chat template "
            f"(template renders {after!r} after the content): pass end_of_turn explicitly"
        )
    return eot


def _prompt_texts(
    samples: pd.DataFrame, problems: pd.DataFrame, render_prompt: Callable[[str], str] | None
) -> pd.Series:
    """One user-prompt string per sample row, from ``prompt_text`` or ``render_prompt(problem)``."""
    if "prompt_text" in samples.columns:
        return samples["prompt_text"].astype(str)
    require_columns(problems, ("id", "problem"), "problems")
    if problems["id"].duplicated().any():
        raise ValueError("problems has duplicate ids")
    missing = sorted(set(samples["prompt_id"]) - set(problems["id"]))
    if missing:
        raise ValueError(
            f"{len(missing)} sample prompt_ids are not in problems, e.g. {missing[:3]}"
        )
    if "prompt_text" in problems.columns:
        by_id = problems.set_index("id")["prompt_text"].astype(str)
    else:
        if render_prompt is None:
            raise ValueError("no prompt_text column: pass render_prompt(problem) -> str")
        by_id = problems.set_index("id")["problem"].astype(str).map(render_prompt)
    return samples["prompt_id"].map(by_id)


def _rates(frame: pd.DataFrame) -> dict[str, float | None]:
    """Mean of each monitoring column over its graded (non-null) rows; None when absent or empty."""
    out: dict[str, float | None] = {}
    for col in MONITOR_COLUMNS:
        if col in frame.columns:
            vals = pd.to_numeric(frame[col], errors="coerce").dropna()
            out[col] = float(vals.mean()) if len(vals) else None
    return out


def _length_summary(lengths: np.ndarray) -> dict[str, float]:
    """Count, mean and quantiles of token lengths (tokens)."""
    if len(lengths) == 0:
        return {"n": 0}
    q = np.quantile(lengths, [0.0, 0.1, 0.5, 0.9, 0.99, 1.0])
    return {
        "n": int(len(lengths)),
        "mean": float(lengths.mean()),
        "min": float(q[0]),
        "p10": float(q[1]),
        "p50": float(q[2]),
        "p90": float(q[3]),
        "p99": float(q[4]),
        "max": float(q[5]),
        "sum": float(lengths.sum()),
    }


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def build_ssd_dataset(
    samples: pd.DataFrame,
    problems: pd.DataFrame,
    *,
    tokenizer,
    render_prompt: Callable[[str], str] | None = None,
    max_length: int,
    min_response_tokens: int = 1,
    chat_template_kwargs: dict[str, Any] | None = None,
    end_of_turn: str | None = None,
    drop_aborted: bool = True,
    drop_shortest_fraction: float = 0.0,
    drop_length_stopped: bool = False,
):
    """Turn a samples table into the SSD training set; return ``(dataset, report)``.

    Args:
        samples: one row per generated sample (``ssdlib.schema.SAMPLE_COLUMNS``), from ONE
            (config_id, model_id) pair; optional graded columns (correct, think_closed,
            length_stop, boxed) are reported, never used to select rows.
        problems: problems table (``id``, ``problem``; ``answer`` is not needed). A
            ``prompt_text`` column on samples or problems overrides ``render_prompt``.
        tokenizer: the tokenizer of the model that generated the samples (its chat template
            renders the prompt).
        render_prompt: ``problem -> user prompt text`` (the study's prompt template).
        max_length: longest kept example, prompt + completion, in tokens; longer ones are
            dropped and counted, never truncated.
        min_response_tokens: responses with fewer tokens (end-of-turn excluded) are degenerate.
        chat_template_kwargs: passed to the chat template (e.g. ``{"enable_thinking": True}``);
            must match what the generation engine used.
        end_of_turn: text appended to completions that stopped naturally; default
            ``tokenizer.eos_token`` (checked against the template by ``resolve_end_of_turn``).
        drop_aborted: drop ``finish_reason == "abort"`` rows (engine failures, not samples).
        drop_shortest_fraction: drop this fraction of the shortest responses BY CHARACTERS
            (apple/ml-ssd drops 0.1), counted among the responses not already dropped as
            empty/aborted; ``floor(fraction * n)`` rows, ties broken by row order.
        drop_length_stopped: drop responses that hit the generation cap
            (``finish_reason == "length"``); the SSD paper keeps them.

    Returns:
        dataset: ``datasets.Dataset`` with columns prompt_id, sample_idx, prompt, completion,
            input_ids (int32), completion_mask (int8; 1 on completion tokens), n_prompt_tokens,
            n_completion_tokens, n_tokens_total, finish_reason, and the monitoring columns
            present in ``samples``.
        report: JSON-able dict: counts (``n_samples``, ``n_kept``, ``dropped`` by reason),
            ``rates_all`` / ``rates_kept`` (monitoring means), ``finish_reason_all`` /
            ``finish_reason_kept`` counts, ``tokens_all`` / ``tokens_kept`` length summaries
            (prompt + completion tokens), ``all_total_tokens`` (list, one per sample; 0 for
            empty responses, which are never tokenized), ``max_length``,
            ``min_response_tokens``, ``end_of_turn``.
    """
    import datasets
    import pyarrow as pa

    require_columns(samples, SAMPLE_COLUMNS, "samples")
    if max_length <= 0 or min_response_tokens < 0:
        raise ValueError("max_length must be > 0 and min_response_tokens >= 0")
    if not 0.0 <= drop_shortest_fraction < 1.0:
        raise ValueError(f"drop_shortest_fraction must be in [0, 1), got {drop_shortest_fraction}")
    pairs = samples[["config_id", "model_id"]].drop_duplicates()
    if len(pairs) > 1:
        # Mixing decode configs (e.g. eval samples at T_eval) into the T_train set would change
        # the distribution the model is distilled on: refuse rather than guess.
        raise ValueError(
            f"samples mix {len(pairs)} (config_id, model_id) pairs; pass one: {pairs.values.tolist()}"
        )
    if samples.duplicated(["prompt_id", "sample_idx"]).any():
        raise ValueError("samples has duplicate (prompt_id, sample_idx) rows")

    eot = resolve_end_of_turn(tokenizer, end_of_turn)
    frame = samples.reset_index(drop=True).copy()
    frame["_user"] = _prompt_texts(frame, problems, render_prompt).values
    response = frame["response"].fillna("").astype(str)
    finish = frame["finish_reason"].astype(str)

    reason = pd.Series("", index=frame.index, dtype=object)
    reason[response.str.strip() == ""] = DROP_EMPTY
    if drop_aborted:
        reason[(reason == "") & (finish == "abort")] = DROP_ABORTED
    if drop_shortest_fraction > 0:
        # ml-ssd's filter: the shortest responses by characters, among those still in.
        cand = np.flatnonzero((reason == "").to_numpy())
        n_cut = int(np.floor(drop_shortest_fraction * len(cand)))
        if n_cut:
            chars = response.str.len().to_numpy()[cand]
            reason.iloc[cand[np.argsort(chars, kind="stable")[:n_cut]]] = DROP_SHORTEST
    if drop_length_stopped:
        reason[(reason == "") & (finish == "length")] = DROP_LENGTH_STOPPED

    # Prompts repeat across samples (N samples per prompt): render and tokenize each once.
    prompt_cache: dict[str, tuple[str, list[int]]] = {}
    for user in frame["_user"].unique():
        text = render_turn(tokenizer, user, chat_template_kwargs=chat_template_kwargs)
        prompt_cache[user] = (text, tokenizer(text, add_special_tokens=False)["input_ids"])

    n = len(frame)
    n_prompt = frame["_user"].map(lambda u: len(prompt_cache[u][1])).to_numpy(dtype=np.int64)
    n_resp = np.zeros(n, dtype=np.int64)
    n_compl = np.zeros(n, dtype=np.int64)
    keep_cols = [c for c in MONITOR_COLUMNS if c in frame.columns]
    tables = []
    # Rows dropped before tokenization (aborted, shortest, length-stopped) are tokenized too, so
    # the report can say how many training tokens they would have carried.
    to_tokenize = np.flatnonzero(
        reason.isin(["", DROP_ABORTED, DROP_SHORTEST, DROP_LENGTH_STOPPED]).to_numpy()
    )
    for sl in _batches(len(to_tokenize), _TOKENIZE_BATCH):
        rows = to_tokenize[sl]
        texts = [response.iat[i] for i in rows]
        resp_ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        # The end-of-turn is tokenized with the response so that any merge at the boundary is
        # what the trainer sees; it is added only where the model stopped by itself.
        finished = [finish.iat[i] == "stop" for i in rows]
        compl_ids = tokenizer(
            [t + eot if f else t for t, f in zip(texts, finished)], add_special_tokens=False
        )["input_ids"]
        batch = {k: [] for k in ("row", "input_ids", "completion_mask")}
        for i, r_ids, c_ids in zip(rows, resp_ids, compl_ids):
            n_resp[i], n_compl[i] = len(r_ids), len(c_ids)
            if reason.iat[i]:
                continue  # dropped before: lengths recorded for the report, not kept
            if len(r_ids) < min_response_tokens:
                reason.iat[i] = DROP_SHORT
            elif n_prompt[i] + len(c_ids) > max_length:
                reason.iat[i] = DROP_TOO_LONG
            else:
                p_ids = prompt_cache[frame["_user"].iat[i]][1]
                batch["row"].append(int(i))
                batch["input_ids"].append(np.asarray(p_ids + c_ids, dtype=np.int32))
                batch["completion_mask"].append(
                    np.concatenate([np.zeros(len(p_ids), np.int8), np.ones(len(c_ids), np.int8)])
                )
        if batch["row"]:
            tables.append(
                pa.table(
                    {
                        "row": pa.array(batch["row"], pa.int64()),
                        "input_ids": pa.array(batch["input_ids"], pa.list_(pa.int32())),
                        "completion_mask": pa.array(batch["completion_mask"], pa.list_(pa.int8())),
                    }
                )
            )

    total = n_prompt + n_compl
    kept = (reason == "").to_numpy()
    kept_rows = np.flatnonzero(kept)
    meta = pd.DataFrame(
        {
            "prompt_id": frame["prompt_id"].astype(str).to_numpy()[kept_rows],
            "sample_idx": frame["sample_idx"].to_numpy()[kept_rows].astype(np.int64),
            "prompt": [prompt_cache[u][0] for u in frame["_user"].to_numpy()[kept_rows]],
            "completion": [
                response.iat[i] + (eot if finish.iat[i] == "stop" else "") for i in kept_rows
            ],
            "n_prompt_tokens": n_prompt[kept_rows],
            "n_completion_tokens": n_compl[kept_rows],
            "n_tokens_total": total[kept_rows],
            "finish_reason": finish.to_numpy()[kept_rows],
        }
    )
    for col in keep_cols:
        meta[col] = pd.to_numeric(frame[col], errors="coerce").to_numpy()[kept_rows].astype(float)

    if tables:
        ids = pa.concat_tables(tables)
        if ids.column("row").to_pylist() != kept_rows.tolist():
            raise AssertionError("internal: tokenized rows out of order")  # guards the zip below
        table = pa.Table.from_pandas(meta, preserve_index=False)
        table = table.append_column("input_ids", ids.column("input_ids"))
        table = table.append_column("completion_mask", ids.column("completion_mask"))
    else:
        table = pa.Table.from_pandas(meta, preserve_index=False)
        table = table.append_column("input_ids", pa.array([], pa.list_(pa.int32())))
        table = table.append_column("completion_mask", pa.array([], pa.list_(pa.int8())))
    dataset = datasets.Dataset(table)

    # Lengths of samples that were never tokenized (empty) are 0 and left out of tokens_all.
    tokenized = n_compl > 0
    report: dict[str, Any] = {
        "n_samples": int(n),
        "n_prompts": int(frame["prompt_id"].nunique()),
        "n_kept": int(kept.sum()),
        "n_dropped": int((~kept).sum()),
        "dropped": {r: int((reason == r).sum()) for r in DROP_REASONS},
        "kept_fraction": float(kept.mean()) if n else 0.0,
        "rates_all": _rates(frame),
        "rates_kept": _rates(frame.loc[kept]),
        "finish_reason_all": {k: int(v) for k, v in finish.value_counts().items()},
        "finish_reason_kept": {k: int(v) for k, v in finish[kept].value_counts().items()},
        "tokens_all": _length_summary(total[tokenized]),
        "tokens_kept": _length_summary(total[kept]),
        "all_total_tokens": [int(x) for x in np.where(tokenized, total, 0)],
        "all_completion_tokens": [int(x) for x in n_compl],
        "all_category": [_category(r, f) for r, f in zip(reason, finish)],
        "all_reason": [str(r) for r in reason],
        "drop_shortest_fraction": float(drop_shortest_fraction),
        "drop_length_stopped": bool(drop_length_stopped),
        "max_length": int(max_length),
        "min_response_tokens": int(min_response_tokens),
        "end_of_turn": eot,
        "config_id": str(pairs.iloc[0]["config_id"]) if n else None,
        "model_id": str(pairs.iloc[0]["model_id"]) if n else None,
    }
    return dataset, report


def _category(reason: str, finish: str) -> str:
    if reason:
        return CATEGORY_DROPPED
    return CATEGORY_LENGTH if finish == "length" else CATEGORY_FINISHED


def token_shares(report: dict[str, Any]) -> pd.DataFrame:
    """Share of samples and of training tokens per category (finished / length-stopped / dropped).

    One row per category of :data:`CATEGORIES` plus ``total``. Columns: ``samples``,
    ``share_of_samples``; ``completion_tokens`` (the loss-bearing tokens: the response and, for
    finished samples, the end-of-turn; for dropped rows the tokens they WOULD have carried, 0
    for empty ones), ``share_of_tokens`` (of all drawn completion tokens), and
    ``share_of_training_tokens`` (of the tokens actually trained on: finished + length-stopped;
    NaN for dropped). Each share column sums to 1 over the categories (NaN when there is nothing).
    "finished" holds the kept samples that stopped by themselves (any finish reason but
    "length"), so every sample is in exactly one category.
    """
    cat = pd.Series(report["all_category"], dtype=object)
    tok = pd.Series(report["all_completion_tokens"], dtype=float)
    n = len(cat)
    total_tok = float(tok.sum())
    trained_tok = float(tok[cat != CATEGORY_DROPPED].sum())
    rows = []
    for c in CATEGORIES:
        sel = (cat == c).to_numpy()
        t = float(tok[sel].sum())
        rows.append(
            {
                "category": c,
                "samples": int(sel.sum()),
                "share_of_samples": sel.sum() / n if n else np.nan,
                "completion_tokens": int(t),
                "share_of_tokens": t / total_tok if total_tok else np.nan,
                "share_of_training_tokens": (t / trained_tok if trained_tok else np.nan)
                if c != CATEGORY_DROPPED
                else np.nan,
                "mean_tokens": t / sel.sum() if sel.sum() else np.nan,
            }
        )
    rows.append(
        {
            "category": "total",
            "samples": n,
            "share_of_samples": 1.0 if n else np.nan,
            "completion_tokens": int(total_tok),
            "share_of_tokens": 1.0 if total_tok else np.nan,
            "share_of_training_tokens": 1.0 if trained_tok else np.nan,
            "mean_tokens": total_tok / n if n else np.nan,
        }
    )
    return pd.DataFrame(rows)
