"""The hand-off registry and the profile folders: names resolve, typos fail instead of creating
folders, and the prompt sets of a notebook keep budgets apart while generating their union once."""

from __future__ import annotations

import pandas as pd
import pytest

from ssdlib import runs
from ssdlib.evaluation.prompt_sets import limit_each, read_budgets, union
from ssdlib.files import BUDGETS, HANDOFFS, SPLITS, check_budget


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.OUTPUTS_ENV, str(tmp_path))
    return runs.profile_paths("smoke")


def _problems(ids, source="math"):
    return pd.DataFrame(
        {
            "id": ids,
            "problem": [f"What is {i}?" for i in ids],
            "answer": ["1"] * len(ids),
            "source": source,
            "difficulty": None,
            "meta": "{}",
        }
    )


def test_a_typo_fails_instead_of_creating_a_folder(paths):
    assert paths.tables.is_dir()
    with pytest.raises(AttributeError, match="no folder 'tabels'"):
        paths.tabels  # noqa: B018
    assert not (paths.root / "tabels").exists()


def test_handoffs_resolve_by_name_and_name_their_producer(paths):
    assert paths.file("graded03") == paths.root / "data" / "03_graded.parquet"
    with pytest.raises(KeyError, match="no hand-off file named 'graded3'"):
        paths.file("graded3")
    with pytest.raises(FileNotFoundError, match="run 03_baselines first"):
        paths.require("graded03")
    assert set(SPLITS) <= set(HANDOFFS) and all(HANDOFFS[s].producer == "01_data" for s in SPLITS)
    assert set(BUDGETS) == {"val300", "val"} and check_budget("val300") == "val300"
    with pytest.raises(ValueError, match="unknown budget 'val1k'"):
        check_budget("val1k")


def test_prompt_sets_limit_each_set_and_union_once(paths):
    from ssdlib.data.io import write_parquet

    write_parquet(_problems(["v1", "v2", "v3", "v4"]), paths.file("val"))
    write_parquet(_problems(["v3", "v4"]), paths.file("val300"))
    sets = read_budgets(paths, BUDGETS)
    assert {k: list(v.id) for k, v in sets.items()} == {
        "val300": ["v3", "v4"],
        "val": ["v1", "v2", "v3", "v4"],
    }
    small = limit_each(sets, 1)
    assert {k: list(v.id) for k, v in small.items()} == {"val300": ["v3"], "val": ["v1"]}
    assert list(union(sets).id) == ["v3", "v4", "v1", "v2"]  # each prompt once
    assert limit_each(sets, None)["val"].equals(sets["val"])
    with pytest.raises(ValueError, match="unknown budget"):
        read_budgets(paths, ["train"])


def test_the_typed_params_accept_exactly_the_registered_budgets():
    """config's Literal fields spell the budgets out (pydantic needs them static): they must be the
    registry's, so adding a budget in one place and not the other fails here."""
    import typing

    from ssdlib.config import BaselinesParams, VarianceParams

    fields = [
        BaselinesParams.model_fields["budgets"].annotation,
        VarianceParams.model_fields["budget"].annotation,
    ]
    for ann in fields:
        while typing.get_origin(ann) is list:
            (ann,) = typing.get_args(ann)
        assert set(typing.get_args(ann)) == set(BUDGETS)
