"""From problems and decode configs to stored samples: plan, check, generate what is missing.

``generate_samples`` is the one entry point the notebooks use. It renders every prompt with the
chat template, checks up front that each prompt plus ``max_tokens`` fits the context window,
looks in the store for samples already made, and only then (and only if something is missing)
starts an engine. All missing work of all configs goes to the engine in one submission; each
finished request is appended to the store immediately.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ssdlib import progress
from ssdlib.config import BackendCfg, DecodeCfg, ModelCfg, PromptCfg
from ssdlib.generation.backends import Output, Request
from ssdlib.generation.decode import distinct
from ssdlib.generation.engine_pool import make_backend
from ssdlib.generation.lock import writer_lock
from ssdlib.generation.shards import Shard, ShardDone, current, writer_label
from ssdlib.generation.store import GenerationStore
from ssdlib.prompts import prompt_hash, render_chat
from ssdlib.schema import require_columns


class ContextOverflow(ValueError):
    """A prompt plus its generation budget does not fit the model's context window."""


@dataclass
class GenerationPlan:
    requests: list[Request]
    n_prompts: int
    n_samples_total: int
    n_samples_missing: int

    @property
    def tokens_budget(self) -> int:
        """Upper bound on generated tokens of the missing work (every sample to the cap)."""
        return sum(r.n * r.decode.max_tokens for r in self.requests)


def render_prompts(
    problems: pd.DataFrame, tokenizer, prompt: PromptCfg, thinking: bool
) -> pd.DataFrame:
    """prompt_id, prompt_text, prompt_hash, prompt_token_ids for each problem row."""
    require_columns(problems, ["id", "problem"], "problems")
    texts = [render_chat(tokenizer, p, prompt.template, thinking) for p in problems["problem"]]
    # The template already carries the special tokens; do not add a second BOS.
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    return pd.DataFrame(
        {
            "prompt_id": problems["id"].astype(str).tolist(),
            "prompt_text": texts,
            "prompt_hash": [prompt_hash(t) for t in texts],
            "prompt_token_ids": ids,
        }
    )


def check_context(
    rendered: pd.DataFrame, decodes: Mapping[str, DecodeCfg], model: ModelCfg
) -> None:
    """Fail before any engine starts if some prompt + max_tokens exceeds max_model_len."""
    if rendered.empty:
        return
    longest = rendered.assign(n=rendered["prompt_token_ids"].map(len)).sort_values("n").iloc[-1]
    for name, d in decodes.items():
        if longest.n + d.max_tokens > model.max_model_len:
            raise ContextOverflow(
                f"prompt {longest.prompt_id!r} has {longest.n} tokens; with max_tokens {d.max_tokens} "
                f"({name}) that is {longest.n + d.max_tokens} > model.max_model_len {model.max_model_len}. "
                "Raise max_model_len, lower max_tokens, or drop the prompt: it would be silently cut otherwise."
            )
        if longest.n > model.max_prompt_tokens:
            raise ContextOverflow(
                f"prompt {longest.prompt_id!r} has {longest.n} tokens > model.max_prompt_tokens "
                f"{model.max_prompt_tokens}"
            )


def plan_generation(
    rendered: pd.DataFrame, decodes: Mapping[str, DecodeCfg], store_root: str | Path, model_id: str
) -> GenerationPlan:
    """Work still missing from the store, one request per (config, prompt) with missing samples.

    A stored sample whose prompt hash differs from the current rendering (template or problem
    changed) is not silently reused: the run stops and says which store file holds it.
    """
    requests: list[Request] = []
    total = 0
    for d in distinct(decodes).values():
        store = GenerationStore(store_root, model_id, d.config_id)
        done = store.done()
        for row in rendered.itertuples(index=False):
            total += d.n
            have = done.get(row.prompt_id, {})
            stale = {i for i, h in have.items() if h and h != row.prompt_hash}
            if stale:
                raise ValueError(
                    f"{store.path}: prompt {row.prompt_id!r} was generated from a different prompt text "
                    f"(hash {have[min(stale)]} vs now {row.prompt_hash}); move that file away to regenerate"
                )
            missing = [i for i in range(d.n) if i not in have]
            if missing:
                requests.append(
                    Request(
                        row.prompt_id,
                        list(row.prompt_token_ids),
                        d,
                        missing,
                        prompt_text=row.prompt_text,
                    )
                )
    return GenerationPlan(requests, len(rendered), total, sum(r.n for r in requests))


def _records(
    req: Request, outs: list[Output], model_id: str, prompt_h: str, seconds: float
) -> list[dict]:
    return [
        {
            "prompt_id": req.prompt_id,
            "sample_idx": idx,
            "config_id": req.decode.config_id,
            "model_id": model_id,
            "prompt_hash": prompt_h,
            "response": o.text,
            "n_tokens": o.n_tokens,
            "finish_reason": o.finish_reason,
            "temperature": req.decode.temperature,
            "top_p": req.decode.top_p,
            "top_k": req.decode.top_k,
            "min_p": req.decode.min_p,
            "presence_penalty": req.decode.presence_penalty,
            "max_tokens": req.decode.max_tokens,
            "finished_s": round(seconds, 3),
        }
        for idx, o in zip(req.sample_idxs, outs)
    ]


def execute(
    requests: list[Request],
    *,
    model_path: str,
    model_id: str,
    model: ModelCfg,
    backend: BackendCfg,
    store_root: str | Path,
    seed: int,
    shard: str | None = None,
) -> int:
    """Run ``requests`` on one engine, appending each finished request to its config's store."""
    stores: dict[str, GenerationStore] = {}
    hashes = {(r.decode.config_id, r.prompt_id): prompt_hash(r.prompt_text) for r in requests}
    written = 0
    total = sum(r.n for r in requests)
    label = model_id if shard is None else f"{model_id} {shard}"
    # The bar counts token budget, n x max_tokens per request: generated tokens as they come,
    # plus the unused budget of every finished sample, so it ends at exactly 100%. Finished
    # samples alone would sit at 0% for most of a run (samples of a batch end together).
    budget = sum(r.n * r.decode.max_tokens for r in requests)
    done = {"samples": 0, "tokens": 0, "finished_tokens": 0, "unused": 0, "reported": None}

    def report() -> None:
        live = max(done["tokens"], done["finished_tokens"])  # a backend without token counts
        # Full only when every sample is stored (the step's end), and each state reported once:
        # a report after the end would start the step's clock again (a second "100%" line).
        value = budget if done["samples"] == total else min(live + done["unused"], budget - 1)
        if done["reported"] == (value, done["samples"]):
            return
        done["reported"] = (value, done["samples"])
        progress.update(
            "generate", value, budget, "tok", label, postfix=f"{done['samples']}/{total} samples"
        )

    report()  # the clock includes the engine start
    t0 = time.monotonic()

    def on_finished(req: Request, outs: list[Output]) -> None:
        nonlocal written
        cid = req.decode.config_id
        if cid not in stores:
            stores[cid] = GenerationStore(store_root, model_id, cid, shard=shard).open()
        written += stores[cid].append(
            _records(req, outs, model_id, hashes[(cid, req.prompt_id)], time.monotonic() - t0)
        )
        done["samples"] += len(outs)
        done["finished_tokens"] += sum(o.n_tokens for o in outs)
        done["unused"] += sum(max(0, req.decode.max_tokens - o.n_tokens) for o in outs)
        report()

    def on_tokens(n: int) -> None:
        done["tokens"] = n
        report()

    try:
        with make_backend(model_path, model, backend, seed) as engine:
            engine.run(requests, on_finished, on_tokens)
    finally:
        for s in stores.values():
            s.close()
    return written


def _dp_worker(rank: int, devices: list[str], kwargs: dict, label: str | None = None) -> None:
    if devices:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
    execute(**kwargs, shard=f"{label}-dp{rank}" if label else f"dp{rank}")


def dp_device_groups(world: int, tp: int) -> list[list[str]]:
    """GPU ids for each data-parallel engine, taken from the GPUs this process may use: with
    ``CUDA_VISIBLE_DEVICES=4,5,6,7`` and world 2 x tp 2 -> [["4", "5"], ["6", "7"]] (not 0-3)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        pool = [str(i) for i in range(world * tp)]
    else:
        pool = [d.strip() for d in visible.split(",") if d.strip()]
    if len(pool) < world * tp:
        raise ValueError(
            f"data_parallel_size {world} x tensor_parallel_size {tp} needs {world * tp} GPUs; "
            f"CUDA_VISIBLE_DEVICES={visible!r} allows {len(pool)}"
        )
    return [pool[r * tp : (r + 1) * tp] for r in range(world)]


def execute_data_parallel(
    requests: list[Request], *, backend: BackendCfg, label: str | None = None, **kwargs
) -> None:
    """One engine per GPU group (``tensor_parallel_size`` GPUs each), prompts dealt round-robin.

    Each engine writes its own shard file, so no two processes ever append to the same file.
    """
    world = backend.data_parallel_size
    tp = backend.tensor_parallel_size
    by_prompt: dict[str, list[Request]] = {}
    for r in requests:
        by_prompt.setdefault(r.prompt_id, []).append(r)
    shards: list[list[Request]] = [[] for _ in range(world)]
    for i, pid in enumerate(sorted(by_prompt)):
        shards[i % world].extend(by_prompt[pid])
    groups = dp_device_groups(world, tp) if backend.device != "cpu" else [[] for _ in range(world)]
    ctx = mp.get_context("spawn")
    procs = []
    for rank, part in enumerate(shards):
        if not part:
            continue
        devices = groups[rank]
        p = ctx.Process(
            target=_dp_worker,
            args=(rank, devices, dict(requests=part, backend=backend, **kwargs), label),
        )
        p.start()
        procs.append(p)
    failed = []
    for p in procs:
        p.join()
        if p.exitcode != 0:
            failed.append(p.exitcode)
    if failed:
        raise RuntimeError(
            f"{len(failed)} data-parallel engine(s) failed (exit codes {failed}); finished samples are kept"
        )


def generate_samples(
    problems: pd.DataFrame,
    decodes: Mapping[str, DecodeCfg],
    *,
    model_path: str,
    model_id: str,
    model: ModelCfg,
    backend: BackendCfg,
    prompt: PromptCfg,
    store_root: str | Path,
    seed: int = 0,
    tokenizer=None,
    shard: Shard | None = None,
) -> pd.DataFrame:
    """Make sure every (prompt, config, sample index) exists in the store; return those samples.

    Args:
        problems: rows with ``id`` and ``problem`` (the unified problem schema).
        decodes: name -> decode config; names sharing a config id are generated once.
        model_path: what the engine loads (a resolved local folder or hub id).
        model_id: label stored with every sample (profile model id, or ``ckpt-<step>``).
        store_root: the generations folder of the profile.
        shard: generate only this shard's prompts (default: ``$SSD_SHARD``, set by
            ``ssd run --shard i/N``) and then raise :class:`ShardDone` (see ``shards``).

    Returns: the samples of these prompts and configs, with a ``config_name`` column listing the
    decode name(s) for each config id (comma-separated when two names share one distribution).
    """
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_path)
    shard = current() if shard is None else shard
    rendered = render_prompts(problems, tokenizer, prompt, model.thinking)
    check_context(rendered, decodes, model)
    # One writer per store: the lock is held from planning to the last append, so a second run
    # on the same store fails at once naming this process instead of generating everything again.
    with ExitStack() as locks:
        for d in distinct(decodes).values():
            # A shard's writers use their own files, so N shard jobs never wait on each other.
            own = writer_label(shard, None)
            own_file = GenerationStore(store_root, model_id, d.config_id, shard=own).path
            locks.enter_context(writer_lock(own_file))
        plan = plan_generation(rendered, decodes, store_root, model_id)
        if shard is not None:
            plan = plan_shard(plan, shard)
        if plan.requests:
            kwargs = dict(
                model_path=model_path,
                model_id=model_id,
                model=model,
                store_root=store_root,
                seed=seed,
            )
            label = writer_label(shard, None)
            if backend.launcher == "ray":
                from ssdlib.generation.ray_launch import execute_ray

                execute_ray(
                    plan.requests, engine_fn=execute, backend=backend, label=label, **kwargs
                )
            elif backend.data_parallel_size > 1:
                execute_data_parallel(plan.requests, backend=backend, label=label, **kwargs)
            else:
                execute(plan.requests, backend=backend, shard=label, **kwargs)
        else:  # say so on the console: a rerun reads the store and starts no engine
            progress.update(
                "generate",
                plan.n_samples_total,
                plan.n_samples_total,
                "samples",
                f"{model_id} (all stored)",
            )
    if shard is not None:
        stored = len(collect_samples(problems, decodes, store_root, model_id))
        raise ShardDone(
            f"shard {shard}: {plan.n_samples_missing} sample(s) generated in this run; the step has "
            f"{stored} of {plan.n_samples_total} stored across all shards. "
            "Run without --shard to continue."
        )
    return collect_samples(problems, decodes, store_root, model_id)


def plan_shard(plan: GenerationPlan, shard: Shard) -> GenerationPlan:
    """The part of ``plan`` that ``shard`` owns (its prompts by stable hash of the prompt id)."""
    reqs = [r for r in plan.requests if shard.owns(r.prompt_id)]
    return GenerationPlan(reqs, plan.n_prompts, plan.n_samples_total, sum(r.n for r in reqs))


def collect_samples(
    problems: pd.DataFrame, decodes: Mapping[str, DecodeCfg], store_root: str | Path, model_id: str
) -> pd.DataFrame:
    """Stored samples for these prompts and configs (exactly ``n`` per prompt and config)."""
    names: dict[str, list[str]] = {}
    for name, d in decodes.items():
        names.setdefault(d.config_id, []).append(name)
    ids = set(problems["id"].astype(str))
    frames = []
    widest = {d.config_id: d for d in distinct(decodes).values()}
    for cid, cfg_names in names.items():
        n = widest[cid].n
        df = GenerationStore(store_root, model_id, cid).read()
        if df.empty:
            continue
        df = df[df["prompt_id"].isin(ids) & (df["sample_idx"] < n)]
        frames.append(df.assign(config_name=",".join(cfg_names)))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values(
        ["config_id", "prompt_id", "sample_idx"], ignore_index=True
    )
