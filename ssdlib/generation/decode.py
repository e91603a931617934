"""Decode presets: the names (built with the parameters, in :mod:`ssdlib.config`) and the
distinct distributions generation draws from."""

from __future__ import annotations

from collections.abc import Mapping

from ssdlib.config import DecodeCfg, baseline_decodes, min_p_sweep, sweep, temperature_sweep

__all__ = ["baseline_decodes", "distinct", "min_p_sweep", "sweep", "temperature_sweep"]


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
