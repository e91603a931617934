"""Named decode presets and the sweeps built from them."""

from __future__ import annotations

from collections.abc import Mapping

from ssdlib.config import DecodeCfg


def sweep(base: DecodeCfg, field: str, values, prefix: str) -> dict[str, DecodeCfg]:
    """``{f"{prefix}={v:g}": base with field=v}`` for each value (order kept)."""
    return {f"{prefix}={v:g}": base.model_copy(update={field: v}) for v in values}


def temperature_sweep(base: DecodeCfg, values) -> dict[str, DecodeCfg]:
    return sweep(base, "temperature", values, "T")


def min_p_sweep(base: DecodeCfg, values) -> dict[str, DecodeCfg]:
    return sweep(base, "min_p", values, "min_p")


def baseline_decodes(params) -> dict[str, DecodeCfg]:
    """All decode settings of 03_baselines: the presets, then the two sweeps.

    Sweep points that coincide with a preset (same config id) are still listed under their own
    name; generation draws each distinct config id once and tables show every name for it.
    """
    out: dict[str, DecodeCfg] = dict(params.presets)
    out.update(temperature_sweep(params.presets[params.temperature_sweep.base], params.temperature_sweep.values))
    out.update(min_p_sweep(params.presets[params.min_p_sweep.base], params.min_p_sweep.values))
    return out


def distinct(decodes: Mapping[str, DecodeCfg]) -> dict[str, DecodeCfg]:
    """One entry per config id, keyed by the first name that uses it, with the largest ``n`` any
    of its names asks for: names sharing a distribution share samples, so the store must hold as
    many per prompt as the hungrier name wants."""
    first: dict[str, str] = {}
    out: dict[str, DecodeCfg] = {}
    for name, d in decodes.items():
        key = first.setdefault(d.config_id, name)
        if key not in out or d.n > out[key].n:
            out[key] = d
    return out
