"""prepare_data end to end (synthetic + local fixtures) into a tmp dir, and the 01_data figure."""

from pathlib import Path

import pandas as pd
import pytest

from ssdlib.data import plot_source_counts, prepare_data, read_problems
from ssdlib.data.figures import source_finding
from ssdlib.schema import PROBLEM_COLUMNS

FIX = Path(__file__).parent / "fixtures" / "sources"

SOURCES = {
    # 230 synthetic train rows: the within-train dedup removes templated near-duplicates first
    "synthetic": {"loader": "synthetic", "n_train": 230, "n_val": 80, "n_planted": 6},
    "math": {"path": str(FIX / "math_algebra.parquet"), "role": "train"},
    "numinamath": {
        "path": str(FIX / "numinamath.parquet"),
        "role": "train",
        "sources": None,
        "exclude_sources": ["synthetic_math"],
    },
    "beyond_aime": {"path": str(FIX / "beyond_aime.jsonl")},  # role inferred from the val budgets
    "olympiadbench": {"path": str(FIX / "olympiadbench.parquet"), "role": "val"},
}
TRAIN = {"size": 200, "mix": {"synthetic": 0.925, "math": 0.03, "numinamath": 0.045}}
VAL = {"budgets": {"synthetic": 80, "beyond_aime": 8, "olympiadbench": 6}}
VAL300 = {"budgets": {"synthetic": 20, "beyond_aime": 5, "olympiadbench": 5}}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    return prepare_data(SOURCES, TRAIN, VAL, VAL300, seed=1, out_dir=out), out


def test_files_and_sizes(prepared):
    report, out = prepared
    assert report.sizes == {"train": 200, "val": 94, "val300": 30}
    splits = {name: read_problems(out / f"{name}.parquet") for name in ("train", "val", "val300")}
    for name, df in splits.items():
        assert tuple(df.columns) == PROBLEM_COLUMNS and len(df) == report.sizes[name]
    assert set(splits["val300"]["id"]) <= set(splits["val"]["id"])
    assert not set(splits["train"]["id"]) & set(splits["val"]["id"])
    assert (splits["train"]["source"].value_counts().to_dict()) == {
        "synthetic": 185,
        "numinamath": 9,
        "math": 6,
    }


def test_report_table_accounts_for_every_row(prepared):
    report, _ = prepared
    t = report.table.set_index("source")
    assert (t["n_raw"] == t["n_dropped"] + t["n_dedup"] + t["n_available"]).all()
    assert t.loc["math", "n_dropped"] == 11 and t.loc["olympiadbench", "role"] == "val"
    assert t.loc["beyond_aime", "role"] == "val"
    # 310 synthetic rows, minus the train near-duplicates the dedup removed
    assert t.loc["synthetic", "n_dedup"] == len(report.duplicates) > 0
    assert t.loc["synthetic", "n_available"] == 310 - t.loc["synthetic", "n_dedup"]
    assert t.loc["synthetic", "role"] == "train+val"
    assert (t["shortfall"] == "").all() and report.shortfalls == []
    assert t.loc["synthetic", "want_train"] == 185 and t.loc["beyond_aime", "want_val300"] == 5
    assert t["n_train"].sum() == 200 and t["n_val"].sum() == 94 and t["n_val300"].sum() == 30
    assert report.drop_counters["numinamath"]["source_filtered"] == 2
    assert set(report.drops["source"]) == {"math", "numinamath", "beyond_aime", "olympiadbench"}


def test_planted_pairs_written_for_selected_rows(prepared):
    report, out = prepared
    planted = pd.read_parquet(out / "planted_pairs.parquet")
    assert report.n_planted_total == 6
    # synthetic val is taken whole (80 of 80), train 185 of 200: most planted rows survive
    assert 0 < len(planted) <= 6 and set(planted["kind"]) <= {"reworded", "renumbered"}
    train_ids = set(read_problems(out / "train.parquet")["id"])
    val_ids = set(read_problems(out / "val.parquet")["id"])
    assert planted["train_id"].isin(train_ids).all() and planted["val_id"].isin(val_ids).all()


def test_rerun_gives_identical_bytes(prepared, tmp_path):
    _, out = prepared
    prepare_data(SOURCES, TRAIN, VAL, VAL300, seed=1, out_dir=tmp_path)
    for name in ("train", "val", "val300", "planted_pairs", "train_duplicates"):
        assert (tmp_path / f"{name}.parquet").read_bytes() == (
            out / f"{name}.parquet"
        ).read_bytes(), name


def test_figure_title_states_the_finding(prepared):
    report, _ = prepared
    fig = plot_source_counts(report)
    title = fig._suptitle.get_text()
    assert title == source_finding(report)
    assert title.startswith("synthetic supplies 85% of val")  # 80 of 94 rows
    assert "largest drop:" in title
    assert len(fig.axes) == 2


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"math": {"path": "x.parquet", "role": "training"}}, r"'math': role must be"),
        (
            {"math": {"path": "x.parquet", "role": "train", "level": [5]}},
            r"'math'.*no option 'level'",
        ),
        ({"m": {"loader": "maths", "role": "train"}}, r"unknown loader 'maths'"),
        ({"s": {"loader": "synthetic", "n_train": 5}}, r"'s': synthetic takes n_train, n_val"),
        ({"math": {"path": "x.parquet"}}, r"'math': no role given and it is in neither"),
    ],
)
def test_bad_source_specs_name_the_source(bad, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        prepare_data(
            bad, {"size": 0, "mix": {}}, {"budgets": {}}, {"budgets": {}}, seed=0, out_dir=tmp_path
        )


def test_role_in_both_splits_is_ambiguous(tmp_path):
    spec = {"math": {"path": str(FIX / "math_algebra.parquet")}}
    with pytest.raises(ValueError, match="in both the train mix and the val budgets"):
        prepare_data(
            spec,
            {"size": 1, "mix": {"math": 1.0}},
            {"budgets": {"math": 1}},
            {"budgets": {}},
            seed=0,
            out_dir=tmp_path,
        )


def test_accepts_pydantic_style_sections(tmp_path):
    class Section:  # stands in for the profile's pydantic models
        def __init__(self, **kw):
            self.kw = kw

        def model_dump(self):
            return dict(self.kw)

    report = prepare_data(
        {"synthetic": {"loader": "synthetic", "n_train": 20, "n_val": 10}},
        Section(size=20, mix={"synthetic": 1.0}),
        Section(budgets={"synthetic": 10}),
        Section(budgets={"synthetic": 4}),
        seed=0,
        out_dir=tmp_path,
    )
    assert report.sizes == {"train": 20, "val": 10, "val300": 4}


def test_train_mix_table_shows_numina_sources(prepared):
    report, _ = prepared
    mix = report.train_mix
    numina = mix[mix["source"] == "numinamath"].set_index("origin")["n"].to_dict()
    assert numina == {
        "olympiads": 3,
        "math": 2,
        "amc_aime": 1,
        "aops_forum": 1,
        "cn_k12": 1,
        "orca_math": 1,
    }
    assert mix["n"].sum() == report.sizes["train"] and abs(mix["share"].sum() - 1) < 1e-9


def test_budget_shortfall_warns_and_is_shown(tmp_path):
    """BeyondAIME-like: the val budget asks for every row and one row is dropped (8 kept of 10)."""
    spec = {"beyond_aime": {"path": str(FIX / "beyond_aime.jsonl")}}
    val = {"budgets": {"beyond_aime": 10}, "min_rows": {"beyond_aime": 8}}
    val300 = {"budgets": {"beyond_aime": 10}}
    with pytest.warns(UserWarning, match=r"val: 'beyond_aime' gives 8 of its budget 10 rows"):
        report = prepare_data(
            spec,
            {"size": 0, "mix": {}},
            val,
            val300,
            seed=0,
            out_dir=tmp_path,
            dedup={"enabled": False},
        )
    row = report.table.set_index("source").loc["beyond_aime"]
    assert row["n_val"] == 8 and row["want_val"] == 10
    assert row["shortfall"] == "val 8/10, val300 8/10"
    assert len(report.shortfalls) == 2 and report.sizes["val"] == 8
    with pytest.raises(
        ValueError, match=r"'beyond_aime' is 10 but only 8 rows are available, below its floor of 9"
    ):
        prepare_data(
            spec,
            {"size": 0, "mix": {}},
            {**val, "min_rows": {"beyond_aime": 9}},
            val300,
            seed=0,
            out_dir=tmp_path,
            dedup={"enabled": False},
        )


def test_files_are_the_registered_handoffs(prepared):
    """What 01 writes is what ssdlib.files says 01 writes (later notebooks read it by name)."""
    from ssdlib.files import HANDOFFS

    report, out = prepared
    for name, path in report.paths.items():
        assert HANDOFFS[name].producer == "01_data" and path == out / HANDOFFS[name].filename
