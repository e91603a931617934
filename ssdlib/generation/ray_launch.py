"""Generation across a Ray cluster: one Ray actor per engine, each writing its own store shard.

Why actors owning whole engines, not vLLM's own data parallelism with its Ray backend: vLLM's
DP runs its ranks as one engine behind one front end, so every finished sample comes back to
the driver, which becomes the only writer and a single point of failure; a rank dying takes
the DP group down with it. An actor here runs the very same :func:`~ssdlib.generation.run.execute`
as a local engine and appends each finished request to ITS OWN file on shared storage
(``<config>@ray<rank>.jsonl``), so a dead worker or node loses only its requests in flight,
the others finish, and the rerun (which reads every file) generates exactly what is missing.
It also works for any backend (vLLM or transformers) and any model vLLM can load.

``backend.ray.address`` null starts a private Ray instance on this machine bound to the loopback
address only (node IP 127.0.0.1, no dashboard, no metrics export, no usage stats); 'auto' or
``host:port`` joins a running cluster (whose nodes see the same ``store_root`` and model path).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ssdlib import progress
from ssdlib.config import BackendCfg
from ssdlib.generation.backends import Request

# Read by Ray when it is imported and when it starts its processes: keep the private instance
# on 127.0.0.1 (Ray otherwise advertises the machine's private address), and send nothing out.
LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # node IP = 127.0.0.1 for a one-machine instance
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_enable_metrics_collection": "0",
}
# Forwarded to the actors (they may run on other nodes, whose environment is not ours).
FORWARD_PREFIXES = ("VLLM_", "HF_", "OMP_", "TOKENIZERS_", "TRANSFORMERS_", "CUDA_DEVICE_ORDER")
OBJECT_STORE_BYTES = 512 * 2**20  # requests only (token ids): results go to files, not through Ray
POLL_S = 2.0  # how often the driver counts finished samples for the progress line


class RayWorkerFailed(RuntimeError):
    """One or more engines died (actor, process or node); their finished samples are kept."""


def _forwarded_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARD_PREFIXES)}
    env["SSD_PROGRESS"] = ""  # the driver reports progress for all engines (see _count_lines)
    return env


@contextmanager
def ray_session(cfg: BackendCfg) -> Iterator[None]:
    """Connect to (or start) Ray for one generation step.

    A Ray session the caller already opened is used as is and left open.
    """
    if cfg.ray.address is None:
        for k, v in LOOPBACK_ENV.items():
            os.environ.setdefault(k, v)
    import ray

    if cfg.ray.address is None:
        # Ray reads the flag when first imported; vLLM or a notebook may have imported it already.
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False

    if ray.is_initialized():
        yield
        return
    common = {"log_to_driver": False, "runtime_env": {"env_vars": _forwarded_env()}}
    if cfg.ray.address is None:
        ctx = ray.init(
            address="local",
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            object_store_memory=OBJECT_STORE_BYTES,
            _system_config={"enable_metrics_collection": False},
            **common,
        )
        if not str(ctx.address_info.get("gcs_address", "")).startswith("127.0.0.1:"):
            ray.shutdown()
            raise RuntimeError(
                f"the private Ray instance did not bind to 127.0.0.1 ({ctx.address_info.get('gcs_address')}): "
                "start Ray yourself (ray start --head --node-ip-address 127.0.0.1) and set backend.ray.address"
            )
    else:
        ctx = ray.init(address=cfg.ray.address, **common)
    try:
        yield
    finally:
        ray.shutdown()


class GenerationWorker:
    """One engine. Made a Ray actor by :func:`_actor_class`; runs ``execute`` in its process."""

    def info(self) -> dict:
        import socket

        import ray

        return {
            "host": socket.gethostname(),
            "ip": ray.util.get_node_ip_address(),
            "pid": os.getpid(),
        }

    def sees(self, path: str) -> bool:
        return Path(path).exists()

    def run(self, engine_fn, requests: list[Request], label: str, kwargs: dict) -> int:
        # engine_fn is run.execute, passed in (pickled by name) so this module never imports run.
        return engine_fn(requests, shard=label, **kwargs)


def _actor_class(cfg: BackendCfg):
    import ray

    gpus = 0 if cfg.device == "cpu" else cfg.tensor_parallel_size
    # No restarts: a restarted actor would not know which requests it still owed; the rerun does.
    return ray.remote(num_cpus=cfg.ray.cpus_per_worker, num_gpus=gpus, max_restarts=0)(
        GenerationWorker
    )


def _check_fits(cfg: BackendCfg, workers: int) -> None:
    import ray

    have = ray.cluster_resources()
    gpus = 0 if cfg.device == "cpu" else cfg.tensor_parallel_size
    need = {"CPU": workers * cfg.ray.cpus_per_worker, "GPU": workers * gpus}
    short = {k: v for k, v in need.items() if v > have.get(k, 0)}
    if short:
        raise ValueError(
            f"backend.ray.workers {workers} need {short} but this machine's Ray instance has "
            f"{ {k: have.get(k, 0) for k in short} }: lower backend.ray.workers or "
            "backend.ray.cpus_per_worker"
        )


def n_workers(cfg: BackendCfg) -> int:
    """Engines to start: ``backend.ray.workers``, or every GPU group the cluster has."""
    if cfg.ray.workers is not None:
        return cfg.ray.workers
    import ray

    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus < cfg.tensor_parallel_size:
        raise RuntimeError(
            f"backend.launcher ray: the Ray cluster has {gpus} GPU(s), fewer than tensor_parallel_size "
            f"{cfg.tensor_parallel_size}; set backend.ray.workers (and backend.device cpu on CPU)"
        )
    return gpus // cfg.tensor_parallel_size


def deal(requests: list[Request], world: int) -> list[list[Request]]:
    """Requests grouped by prompt, prompts dealt round-robin in sorted order (balanced; a prompt's
    configs stay on one engine so its prefix cache is shared)."""
    by_prompt: dict[str, list[Request]] = {}
    for r in requests:
        by_prompt.setdefault(r.prompt_id, []).append(r)
    parts: list[list[Request]] = [[] for _ in range(world)]
    for i, pid in enumerate(sorted(by_prompt)):
        parts[i % world].extend(by_prompt[pid])
    return parts


def _count_lines(paths: list[Path]) -> int:
    n = 0
    for p in paths:
        try:
            with open(p, "rb") as fh:
                n += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        except FileNotFoundError:
            pass
    return n


def _why(exc: BaseException) -> str:
    """One line: the worker's own exception where Ray carries it, else Ray's last line."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        lines = [x for x in str(cause).splitlines() if x.strip()]
        return f"{type(cause).__name__}: {lines[-1][:300] if lines else ''}"
    lines = [x for x in str(exc).splitlines() if x.strip()]
    return lines[-1][:300] if lines else type(exc).__name__


def execute_ray(
    requests: list[Request], *, engine_fn, backend: BackendCfg, label: str | None = None, **kwargs
) -> int:
    """Run ``requests`` on ``backend.ray.workers`` engines (Ray actors); return samples written.

    Each actor calls ``engine_fn(part, shard=..., backend=..., **kwargs)`` (``run.execute``).

    Worker ``rank`` appends to ``<config>@[<label>-]ray<rank>.jsonl``. Raises
    :class:`RayWorkerFailed` after the surviving workers finish if any worker died.
    """
    import ray

    from ssdlib.generation.shards import writer_label
    from ssdlib.generation.store import GenerationStore

    store_root, model_id = Path(kwargs["store_root"]), kwargs["model_id"]
    total = sum(r.n for r in requests)
    with ray_session(backend):
        world = n_workers(backend)
        parts = [p for p in deal(requests, world) if p]
        if backend.ray.address is None:  # a private instance never grows: refuse, do not hang
            _check_fits(backend, len(parts))
        actor = _actor_class(backend)
        workers = [actor.remote() for _ in parts]
        infos = ray.get([w.info.remote() for w in workers])
        # Every worker must see the driver's store: on a cluster it has to be shared storage.
        store_root.mkdir(parents=True, exist_ok=True)
        probe = store_root / f".ray-probe-{uuid.uuid4().hex}"
        probe.touch()
        try:
            blind = [
                i
                for i, ok in zip(infos, ray.get([w.sees.remote(str(probe)) for w in workers]))
                if not ok
            ]
        finally:
            probe.unlink()
        if blind:
            raise RuntimeError(
                f"store_root {store_root} is not visible from Ray node(s) "
                f"{sorted({b['host'] for b in blind})}: put the outputs on storage every node mounts"
            )
        labels = [
            writer_label(None, f"{label + '-' if label else ''}ray{rank}")
            for rank in range(len(parts))
        ]
        files = [
            GenerationStore(store_root, model_id, cid, shard=lab).path
            for lab in labels
            for cid in {r.decode.config_id for r in requests}
        ]
        before = _count_lines(files)
        tag = f"{model_id} ray x{len(parts)}" + (f" {label}" if label else "")
        progress.update("generate", 0, total, "samples", tag)
        job = dict(kwargs, backend=backend)
        pending = {
            w.run.remote(engine_fn, part, lab, job): rank
            for rank, (w, part, lab) in enumerate(zip(workers, parts, labels))
        }
        written, failed = 0, []
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
            for ref in done:
                rank = pending.pop(ref)
                try:
                    written += ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
                    i = infos[rank]
                    failed.append(
                        f"ray{rank} on {i['host']} ({i['ip']}, pid {i['pid']}): {_why(exc)}"
                    )
            progress.update(
                "generate", min(_count_lines(files) - before, total), total, "samples", tag
            )
        for w in workers:  # free the engines' memory now, not when the session ends
            ray.kill(w)
    if failed:
        raise RayWorkerFailed(
            f"{len(failed)} of {len(parts)} Ray generation worker(s) failed; their finished samples are "
            "kept and a rerun generates only the missing ones: " + "; ".join(failed)
        )
    return written
