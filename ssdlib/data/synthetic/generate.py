"""Seeded generation of synthetic problems, and disjoint train/val pools with planted near-duplicates.

Everything is driven by one ``random.Random(seed)``: the same arguments give identical frames.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from itertools import count

import pandas as pd

from ssdlib.data.base import meta_json, problems_frame
from ssdlib.data.synthetic import (
    algebra,
    arithmetic,
    combinatorics,
    counting,
    number_theory,
    probability,
)
from ssdlib.data.synthetic.core import Family, Params, params_key

FAMILIES: tuple[Family, ...] = (
    arithmetic.FAMILIES
    + counting.FAMILIES
    + number_theory.FAMILIES
    + algebra.FAMILIES
    + combinatorics.FAMILIES
    + probability.FAMILIES
)
FAMILY_BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}
LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
PLANTED_KINDS = ("reworded", "renumbered")
_MAX_TRIES = 200  # draws per slot before giving up on a (family, level) whose space is exhausted


def _record(family: Family, params: Params, template: int, level: int) -> dict:
    """One problem (without id) in the unified schema."""
    return {
        "source": "synthetic",
        "problem": family.render(params, template),
        "answer": family.solve(params),
        "difficulty": float(level),
        "meta": {
            "family": family.name,
            "topic": family.topic,
            "template": template,
            "level": level,
            "params": params,
        },
    }


class _Drawer:
    """Draws problems round-robin over (family, level) slots, never repeating (family, params)."""

    def __init__(self, rng: random.Random, families: Sequence[Family], levels: Sequence[int]):
        self.rng, self.families, self.levels = rng, list(families), list(levels)
        self.seen: set[str] = set()
        self._slots = count()

    def claim(self, family: Family, params: Params) -> bool:
        """Reserve (family, params); False if it was already used."""
        key = params_key(family.name, params)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def draw(self) -> tuple[Family, Params, int]:
        misses = 0
        for i in self._slots:
            fam = self.families[i % len(self.families)]
            level = self.levels[(i // len(self.families)) % len(self.levels)]
            for _ in range(_MAX_TRIES):
                params = fam.draw(self.rng, level)
                if self.claim(fam, params):
                    return fam, params, level
            misses += 1  # this slot's parameter space is used up: move to the next slot
            if misses >= len(self.families) * len(self.levels):
                raise ValueError(f"cannot draw more unique problems ({len(self.seen)} drawn)")
        raise AssertionError("unreachable")

    def problems(self, n: int) -> list[dict]:
        out = []
        for _ in range(n):
            fam, params, level = self.draw()
            out.append(_record(fam, params, self.rng.randrange(len(fam.templates)), level))
        return out


def _with_ids(records: list[dict], prefix: str) -> pd.DataFrame:
    for i, rec in enumerate(records):
        rec["id"] = f"synthetic/{prefix}/{i:05d}"
    return problems_frame([{**r, "meta": meta_json(r["meta"])} for r in records])


def generate_problems(
    n: int,
    seed: int,
    *,
    families: Iterable[str] | None = None,
    levels: Iterable[int] = LEVELS,
    prefix: str = "gen",
) -> pd.DataFrame:
    """``n`` distinct synthetic problems (ids ``synthetic/<prefix>/<i>``), balanced over families
    and levels 1-5; difficulty = level; meta has family, topic, template, level and params."""
    rng = random.Random(seed)
    fams = _select_families(families)
    return _with_ids(_Drawer(rng, fams, tuple(levels)).problems(n), prefix)


def _select_families(names: Iterable[str] | None) -> list[Family]:
    if names is None:
        return list(FAMILIES)
    unknown = [n for n in names if n not in FAMILY_BY_NAME]
    if unknown:
        raise ValueError(f"unknown synthetic families {unknown}; known: {sorted(FAMILY_BY_NAME)}")
    return [FAMILY_BY_NAME[n] for n in names]


# Light, scraper-style edits of a problem statement (what a re-posted copy of a problem looks like):
# a header, a swapped lead verb, an extra instruction. The text stays mostly the same, as it does
# for the duplicates that word n-gram matching is meant to catch.
_LEAD_SWAPS = (
    ("What is", "Determine"),
    ("Find", "Determine"),
    ("Compute", "Calculate"),
    ("How many", "Determine how many"),
    ("Evaluate", "Compute"),
)
_HEADERS = ("Problem: ", "Question. ", "Exercise: ")


def _light_edit(text: str, rng: random.Random) -> str:
    # Swapping a word of a very short statement changes most of its word n-grams (a 5-word
    # problem has a single 5-gram); those copies get a header instead, which keeps them all.
    if len(text.split()) >= 12:
        for old, new in _LEAD_SWAPS:
            if text.startswith(old) and rng.random() < 0.5:
                return new + text[len(old) :]
    return rng.choice(_HEADERS) + text


MIN_RENUMBER_WORDS = 14


def _plant(rec: dict, kind: str, drawer: _Drawer) -> dict | None:
    """A near-duplicate of val record ``rec``: reworded (same problem lightly edited: a header or a
    swapped lead verb; same answer) or renumbered (same phrasing, one number changed, different
    answer); None if not possible."""
    meta = rec["meta"]
    fam = FAMILY_BY_NAME[meta["family"]]
    level, template, params = meta["level"], meta["template"], meta["params"]
    if kind == "reworded":
        out = _record(fam, params, template, level)
        out["problem"] = _light_edit(out["problem"], drawer.rng)
        out["meta"] = {**out["meta"], "edit": "reworded"}
        return out
    # A renumbered copy is only a *near*-duplicate when one changed number leaves most of the
    # statement intact: short statements (a dozen words) become different problems instead.
    if len(rec["problem"].split()) < MIN_RENUMBER_WORDS:
        return None
    for _ in range(20):
        new = fam.renumber(params, drawer.rng)
        if new is None:
            return None
        if drawer.claim(fam, new):  # must not collide with any other problem in either pool
            return _record(fam, new, template, level)
    return None


def make_pools(
    n_train: int,
    n_val: int,
    seed: int,
    n_planted: int = 0,
    *,
    families: Iterable[str] | None = None,
    levels: Iterable[int] = LEVELS,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Disjoint synthetic train and val pools plus ``n_planted`` known train/val near-duplicates.

    The pools never share a (family, params) draw. Then ``n_planted`` val problems are copied into
    train (part of the ``n_train`` rows), alternating "reworded" (the same statement lightly edited,
    same answer) and "renumbered" (same phrasing, one number changed, different answer). Train rows are
    shuffled so planted rows are not recognisable by position or id.

    Returns (train_pool, val_pool, planted) where planted has columns train_id, val_id, kind.
    """
    if min(n_train, n_val, n_planted) < 0 or n_planted > min(n_train, n_val):
        raise ValueError(
            f"need 0 <= n_planted <= min(n_train, n_val); got {n_planted}, {n_train}, {n_val}"
        )
    rng = random.Random(seed)
    drawer = _Drawer(rng, _select_families(families), tuple(levels))
    val_recs = drawer.problems(n_val)
    train_recs = drawer.problems(n_train - n_planted)

    planted_rows: list[tuple[int, int, str]] = []  # (train position, val position, kind)
    order = list(range(n_val))
    rng.shuffle(order)
    for vi in order:
        if len(planted_rows) == n_planted:
            break
        kind = PLANTED_KINDS[len(planted_rows) % 2]
        copy = _plant(val_recs[vi], kind, drawer)
        if copy is not None:
            planted_rows.append((len(train_recs), vi, kind))
            train_recs.append(copy)
    if len(planted_rows) < n_planted:
        raise ValueError(f"could only plant {len(planted_rows)} of {n_planted} near-duplicates")

    perm = list(range(len(train_recs)))
    rng.shuffle(perm)
    new_pos = {old: new for new, old in enumerate(perm)}
    train = _with_ids([train_recs[old] for old in perm], "train")
    val = _with_ids(val_recs, "val")
    planted = pd.DataFrame(
        {
            "train_id": [train["id"].iloc[new_pos[t]] for t, _, _ in planted_rows],
            "val_id": [val["id"].iloc[v] for _, v, _ in planted_rows],
            "kind": [k for _, _, k in planted_rows],
        },
        columns=["train_id", "val_id", "kind"],
    ).astype(str)
    return train, val, planted
