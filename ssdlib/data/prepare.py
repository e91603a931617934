"""The one call behind notebook 01_data: load every source, mix the splits, write them.

Source specs (one per name, from the profile YAML)::

    math:        {loader: math, path: null, role: train, levels: [4, 5]}
    beyond_aime: {loader: beyond_aime}            # role inferred: it has a val budget
    synthetic:   {loader: synthetic, n_train: 400, n_val: 150, n_planted: 6}   # feeds both pools

``loader`` defaults to the source's name. ``role`` (train | val) may be left out: it is then
inferred from where the name is used (train mix -> train, val budgets -> val; both or neither
is an error). Every other key except ``path``/``role`` is passed to the loader, and an option
the loader does not take is an error naming the source.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ssdlib.data.base import LoadResult, concat_results
from ssdlib.data.dedup import dedup_pools, dedup_summary
from ssdlib.data.io import write_parquet
from ssdlib.data.length import REASON, PromptLimit, drop_long, limit_result
from ssdlib.data.registry import SOURCES
from ssdlib.data.splits import (
    BudgetShortfall,
    build_splits,
    drops_table,
    mix_table,
    split_report,
    wanted_counts,
)
from ssdlib.data.synthetic import make_pools
from ssdlib.files import HANDOFFS

ROLES = ("train", "val")
_SYNTHETIC_OPTS = {"n_train", "n_val", "n_planted", "seed", "families", "levels"}


@dataclass
class DataReport:
    """What ``prepare_data`` did.

    table:    one row per source (see ``split_report``): raw, dropped, removed as within-train
              duplicates, available, budget and selected per split, shortfall
    drops:    tidy (source, reason, count) table
    sizes:    rows per split
    paths:    split name -> parquet written ("planted_pairs" when synthetic was used,
              "train_duplicates" when the within-train dedup ran)
    planted:  planted near-duplicate pairs whose both rows were selected (train_id, val_id, kind)
    n_planted_total: planted pairs generated, before selection
    train_mix: the train split by (source, origin) with shares (``splits.mix_table``)
    duplicates: rows the within-train dedup removed, each with the row kept in its place
    dedup:    ``duplicates`` counted by (pool, kept_pool, rule)
    shortfalls: the warnings of sources that gave less than their budget
    prompt_limit: how over-long prompts were found (``PromptLimit.describe``); None: not checked
    too_long: the problems dropped as ``prompt_too_long`` (id, source, prompt_tokens)
    bad_lines: ``file:line: why`` for every line of a local source file that was not a row
    """

    table: pd.DataFrame
    drops: pd.DataFrame
    sizes: dict[str, int]
    paths: dict[str, Path]
    planted: pd.DataFrame | None = None
    n_planted_total: int = 0
    drop_counters: dict[str, Counter] = field(default_factory=dict)
    train_mix: pd.DataFrame | None = None
    duplicates: pd.DataFrame | None = None
    dedup: pd.DataFrame | None = None
    shortfalls: list[str] = field(default_factory=list)
    prompt_limit: str | None = None
    too_long: pd.DataFrame | None = None
    bad_lines: list[str] = field(default_factory=list)


def _plain(x: Any) -> dict:
    """A profile section as a dict, whether it came as a dict or a pydantic model."""
    return dict(x.model_dump()) if hasattr(x, "model_dump") else dict(x)


def _loader_opts(name: str, loader: str, spec: Mapping[str, Any]) -> dict:
    opts = {k: v for k, v in spec.items() if k not in ("loader", "path", "role")}
    params = inspect.signature(SOURCES[loader]).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in opts:
        if key not in params and not takes_any:
            raise ValueError(
                f"source {name!r}: loader {loader!r} has no option {key!r} (has: {list(params)[1:]})"
            )
    return opts


def _role(name: str, spec: Mapping[str, Any], in_train: set[str], in_val: set[str]) -> str:
    """The source's role: as given, else inferred from the train mix / val budgets."""
    role = spec.get("role")
    if role is None:
        used = [r for r, names in (("train", in_train), ("val", in_val)) if name in names]
        if len(used) != 1:
            where = (
                "both the train mix and the val budgets"
                if used
                else "neither the train mix nor the val budgets"
            )
            raise ValueError(
                f"source {name!r}: no role given and it is in {where}; set role: train | val"
            )
        role = used[0]
    if role not in ROLES:
        raise ValueError(f"source {name!r}: role must be one of {ROLES}, got {role!r}")
    return role


def _synthetic_opts(name: str, spec: Mapping[str, Any]) -> dict:
    opts = {k: v for k, v in spec.items() if k not in ("loader", "role")}
    unknown = sorted(set(opts) - _SYNTHETIC_OPTS)
    if unknown or "n_train" not in opts or "n_val" not in opts:
        raise ValueError(
            f"source {name!r}: synthetic takes n_train, n_val and optionally "
            f"{sorted(_SYNTHETIC_OPTS - {'n_train', 'n_val'})}; got {sorted(opts)}"
        )
    return opts


def check_sources(
    sources: Mapping[str, Mapping[str, Any]], in_train: set[str], in_val: set[str]
) -> None:
    """Validate every source spec without loading anything (called when params are checked, so a
    misspelled loader option fails before any data or model is touched). Raises ValueError."""
    for name, spec in sources.items():
        loader = spec.get("loader", name)
        if loader == "synthetic":
            _synthetic_opts(name, spec)
            continue
        if loader not in SOURCES:
            raise ValueError(
                f"source {name!r}: unknown loader {loader!r}; known: {sorted(SOURCES)} + ['synthetic']"
            )
        _role(name, spec, in_train, in_val)
        _loader_opts(name, loader, spec)


def _load_all(
    sources: Mapping[str, Mapping[str, Any]],
    seed: int,
    in_train: set[str],
    in_val: set[str],
    limit: PromptLimit | None = None,
):
    """Load every source into train/val pools; return pools, LoadResults, roles, planted pairs and
    the rows dropped as too long for ``limit`` (before any split or dedup sees them)."""
    train_pools: dict[str, pd.DataFrame] = {}
    val_pools: dict[str, pd.DataFrame] = {}
    loads: dict[str, LoadResult] = {}
    roles: dict[str, str] = {}
    planted: list[pd.DataFrame] = []
    too_long: list[pd.DataFrame] = []
    for name, spec in sources.items():
        loader = spec.get("loader", name)
        if loader == "synthetic":
            opts = _synthetic_opts(name, spec)
            syn_seed = int(opts.pop("seed", seed))
            tr, va, pl = make_pools(
                int(opts.pop("n_train")),
                int(opts.pop("n_val")),
                syn_seed,
                int(opts.pop("n_planted", 0)),
                **opts,
            )
            n_tr, n_va = len(tr), len(va)
            if limit is not None:
                (tr, long_tr), (va, long_va) = drop_long(tr, limit), drop_long(va, limit)
                too_long += [long_tr, long_va]
            train_pools[name], val_pools[name] = tr, va
            n_long = n_tr - len(tr) + n_va - len(va)
            loads[name] = concat_results(
                [LoadResult(tr, Counter(), n_tr), LoadResult(va, Counter(), n_va)]
            )
            if n_long:
                loads[name].drops[REASON] += n_long
            roles[name] = "train+val"
            planted.append(pl)
            continue
        if loader not in SOURCES:
            raise ValueError(
                f"source {name!r}: unknown loader {loader!r}; known: {sorted(SOURCES)} + ['synthetic']"
            )
        role = _role(name, spec, in_train, in_val)
        result = SOURCES[loader](spec.get("path"), **_loader_opts(name, loader, spec))
        if limit is not None:
            result, long = limit_result(result, limit)
            too_long.append(long)
        loads[name], roles[name] = result, role
        (train_pools if role == "train" else val_pools)[name] = result.frame
    cols = ["id", "source", "prompt_tokens"]
    long_rows = pd.concat(
        [t[cols] for t in too_long if not t.empty] or [pd.DataFrame(columns=cols)],
        ignore_index=True,
    )
    return train_pools, val_pools, loads, roles, planted, long_rows


def prepare_data(
    sources: Mapping[str, Mapping[str, Any]],
    train: Mapping[str, Any],
    val: Mapping[str, Any],
    val300: Mapping[str, Any],
    seed: int,
    out_dir: str | Path,
    dedup: Mapping[str, Any] | None = None,
    prompt_limit: PromptLimit | None = None,
) -> DataReport:
    """Load ``sources``, build the splits and write ``out_dir``/{train,val,val300}.parquet.

    train = {"size": rows, "mix": {source: fraction}, "min_rows": {source: floor}};
    val / val300 = {"budgets": {source: rows}, "min_rows": {source: floor}} (val300 <= val per
    source). Budgets are "up to N": a shortfall warns and shows in ``report.table``; only a
    source below its floor raises. dedup = {"enabled", "ngram", "threshold_same_answer",
    "threshold_diff_answer"} (None: enabled with the contamination defaults) removes exact and
    near-duplicates inside the train pools before sampling (``ssdlib.data.dedup``), preferring
    the pool listed first in ``train.mix``. Plain dicts or pydantic models (``model_dump``) are
    accepted. A source without ``role`` gets it from the train mix / val budgets (see the module
    docstring). With a synthetic source, ``planted_pairs.parquet`` lists the planted near-duplicate
    pairs that made it into both train and val. ``prompt_limit`` (``ssdlib.data.length``) drops
    every problem whose rendered prompt would not fit the model's context, counted per source as
    ``prompt_too_long``, before dedup and sampling (None: no check; 03 would then stop on such a
    problem). Same inputs and seed -> byte-identical files.
    """
    import warnings

    sources = {name: _plain(spec) for name, spec in _plain(sources).items()}
    train, val, val300 = _plain(train), _plain(val), _plain(val300)
    dd = {"enabled": True, **(_plain(dedup) if dedup is not None else {})}
    train_pools, val_pools, loads, roles, planted, too_long = _load_all(
        sources, seed, set(train["mix"]), set(val["budgets"]), prompt_limit
    )
    duplicates = None
    removed_by_source: dict[str, int] = {}
    if dd.pop("enabled") and train_pools:
        train_pools, duplicates = dedup_pools(train_pools, priority=list(train["mix"]), **dd)
        removed_by_source = duplicates["pool"].value_counts().to_dict()
    wanted = wanted_counts(
        int(train["size"]), dict(train["mix"]), val["budgets"], val300.get("budgets", {})
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BudgetShortfall)
        splits = build_splits(
            train_pools,
            val_pools,
            train_size=int(train["size"]),
            train_mix=dict(train["mix"]),
            val_budgets=wanted["val"],
            val300_budgets=wanted["val300"],
            seed=seed,
            floors={
                "train": train.get("min_rows", {}),
                "val": val.get("min_rows", {}),
                "val300": val300.get("min_rows", {}),
            },
        )
    shortfalls = [str(w.message) for w in caught if issubclass(w.category, BudgetShortfall)]
    for (
        w
    ) in caught:  # re-raise everything so the notebook shows it (and other warnings are not lost)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    out = Path(out_dir)
    paths = {name: write_parquet(df, out / HANDOFFS[name].filename) for name, df in splits.items()}
    if duplicates is not None:
        paths["train_duplicates"] = write_parquet(
            duplicates, out / HANDOFFS["train_duplicates"].filename
        )
    kept_planted = None
    n_planted_total = 0
    if planted:
        allp = pd.concat(planted, ignore_index=True)
        n_planted_total = len(allp)
        both = allp["train_id"].isin(set(splits["train"]["id"])) & allp["val_id"].isin(
            set(splits["val"]["id"])
        )
        kept_planted = allp[both].sort_values(["val_id", "train_id"]).reset_index(drop=True)
        paths["planted_pairs"] = write_parquet(
            kept_planted, out / HANDOFFS["planted_pairs"].filename
        )
    return DataReport(
        table=split_report(loads, splits, roles, wanted, removed_by_source),
        drops=drops_table(loads),
        sizes={k: len(v) for k, v in splits.items()},
        paths=paths,
        planted=kept_planted,
        n_planted_total=n_planted_total,
        drop_counters={k: Counter(v.drops) for k, v in loads.items()},
        train_mix=mix_table(splits["train"]),
        duplicates=duplicates,
        dedup=dedup_summary(duplicates) if duplicates is not None else None,
        shortfalls=shortfalls,
        prompt_limit=prompt_limit.describe() if prompt_limit is not None else None,
        too_long=too_long if prompt_limit is not None else None,
        bad_lines=[b for r in loads.values() for b in r.bad_lines],
    )
