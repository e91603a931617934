"""Within-train dedup (ssdlib.data.dedup): exact and near-duplicates across MATH and NuminaMath,
found by the contamination engine, removed before sampling, the MATH copy kept."""

import datasets
import pandas as pd
import pytest

from ssdlib.data import prepare_data
from ssdlib.data.dedup import REMOVED_COLUMNS, dedup_pools, dedup_summary
from ssdlib.data.registry import load_source

# Hand-written rows in the real shapes: MATH (problem, level, type, solution) and NuminaMath-CoT
# (source, problem, solution, messages). Numina's `math` source is MATH train reformatted.
P1 = (
    "A bag holds 5 red and 7 blue marbles. Two marbles are drawn without replacement. "
    "What is the probability that both are blue? Express your answer as a common fraction."
)
P2 = (
    "Let $f(x) = x^2 - 6x + 13$. For how many integers $n$ with $1 \\le n \\le 50$ is $f(n)$ "
    "a perfect square?"
)
P3 = "Find the sum of all positive divisors of $360$ that are multiples of $4$."
MATH_ROWS = [
    {
        "problem": P1,
        "level": "Level 4",
        "type": "Counting & Probability",
        "solution": "$\\frac{7}{12}\\cdot\\frac{6}{11}=\\boxed{\\frac{7}{22}}$.",
    },
    {
        "problem": P2,
        "level": "Level 5",
        "type": "Intermediate Algebra",
        "solution": "Only $n=3$ and $n=4$... so $\\boxed{2}$.",
    },
    {
        "problem": P3,
        "level": "Level 5",
        "type": "Number Theory",
        "solution": "The sum is $\\boxed{1092}$.",
    },
]


def numina(source, problem, solution):
    return {
        "source": source,
        "problem": problem,
        "solution": solution,
        "messages": [
            {"content": problem, "role": "user"},
            {"content": solution, "role": "assistant"},
        ],
    }


NUMINA_ROWS = [
    # the same MATH problem, reformatted (spacing and \dfrac differ): an exact duplicate after normalisation
    numina(
        "math",
        P1.replace("  ", " ").replace("marbles.", "marbles .  "),
        "So $\\boxed{\\dfrac{7}{22}}$",
    ),
    # an olympiads rewording of P2 with the same answer: a near-duplicate
    numina(
        "olympiads",
        P2.replace("For how many integers", "How many integers").replace(
            "is $f(n)$", "make $f(n)$"
        ),
        "We find $\\boxed{2}$.",
    ),
    # a different problem
    numina(
        "olympiads",
        "Find the number of ordered pairs $(a, b)$ of positive integers with $ab = 720$.",
        "Since $720 = 2^4 3^2 5$, there are $\\boxed{30}$.",
    ),
    numina(
        "aops_forum", "Determine the remainder when $3^{2024}$ is divided by $13$.", "$\\boxed{3}$"
    ),
]


@pytest.fixture()
def files(tmp_path):
    m = tmp_path / "math_train.parquet"
    pd.DataFrame(MATH_ROWS).to_parquet(m)
    n = tmp_path / "numina_train.parquet"
    datasets.Dataset.from_list(NUMINA_ROWS).to_parquet(n)
    return m, n


def test_dedup_keeps_math_and_removes_numina_copies(files):
    m, n = files
    pools = {
        "math": load_source("math", m).frame,
        "numinamath": load_source(
            "numinamath", n, sources=["math", "olympiads", "aops_forum"]
        ).frame,
    }
    assert len(pools["math"]) == 3 and len(pools["numinamath"]) == 4
    out, removed = dedup_pools(pools, priority=["math", "numinamath"])
    assert list(removed.columns) == REMOVED_COLUMNS
    assert removed["pool"].tolist() == ["numinamath", "numinamath"]
    assert set(removed["kept_pool"]) == {"math"}
    by_kept = removed.set_index("kept_id")
    assert by_kept.loc["math/math_train/0", "rule"] == "exact"  # MATH P1 vs Numina `math` copy
    assert by_kept.loc["math/math_train/1", "rule"].startswith("fuzzy")  # P2 reworded
    assert len(out["math"]) == 3 and len(out["numinamath"]) == 2
    summary = dedup_summary(removed)
    assert summary["removed"].sum() == 2


def test_priority_decides_which_copy_survives(files):
    m, n = files
    pools = {
        "math": load_source("math", m).frame,
        "numinamath": load_source(
            "numinamath", n, sources=["math", "olympiads", "aops_forum"]
        ).frame,
    }
    out, removed = dedup_pools(pools, priority=["numinamath", "math"])
    assert set(removed["pool"]) == {"math"} and len(out["math"]) == 1


def test_exact_duplicates_inside_one_pool_keep_the_smallest_id():
    rows = [
        {
            "id": f"s/{i}",
            "source": "s",
            "problem": p,
            "answer": a,
            "difficulty": float("nan"),
            "meta": "{}",
        }
        for i, (p, a) in enumerate(
            [(P3, "1092"), (P3 + " ", "1092"), ("Compute $7 \\times 8$.", "56")]
        )
    ]
    out, removed = dedup_pools({"s": pd.DataFrame(rows)})
    assert removed[["id", "kept_id", "rule"]].values.tolist() == [["s/1", "s/0", "exact"]]
    assert out["s"]["id"].tolist() == ["s/0", "s/2"]


def test_prepare_data_dedups_before_sampling_and_writes_the_table(files, tmp_path):
    m, n = files
    sources = {
        "math": {"path": str(m), "role": "train"},
        "numinamath": {
            "path": str(n),
            "role": "train",
            "sources": ["math", "olympiads", "aops_forum"],
        },
        "synthetic": {"loader": "synthetic", "n_train": 0, "n_val": 5},
    }
    train = {"size": 5, "mix": {"math": 0.6, "numinamath": 0.4}}
    val, val300 = {"budgets": {"synthetic": 5}}, {"budgets": {"synthetic": 2}}
    report = prepare_data(sources, train, val, val300, seed=0, out_dir=tmp_path / "d")
    assert report.sizes["train"] == 5  # 3 MATH + 2 Numina left after dedup: no duplicate drawn
    t = report.table.set_index("source")
    assert t.loc["numinamath", "n_dedup"] == 2 and t.loc["numinamath", "n_available"] == 2
    written = pd.read_parquet(report.paths["train_duplicates"])
    assert sorted(written["id"]) == sorted(report.duplicates["id"])
    # asking for all 4 Numina rows: after the dedup only 2 are left, a shortfall (a warning, not an error)
    with pytest.warns(UserWarning, match="'numinamath' gives 2 of its budget 4"):
        prepare_data(
            sources,
            {"size": 7, "mix": {"math": 3 / 7, "numinamath": 4 / 7}},
            val,
            val300,
            seed=0,
            out_dir=tmp_path / "e",
        )
    off = prepare_data(
        sources,
        {"size": 7, "mix": {"math": 3 / 7, "numinamath": 4 / 7}},
        val,
        val300,
        seed=0,
        out_dir=tmp_path / "f",
        dedup={"enabled": False},
    )
    assert off.sizes["train"] == 7 and off.duplicates is None
