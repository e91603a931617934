"""``ssd report``: one shareable folder with a profile's results, ``outputs/<profile>/report/``.

``index.html`` (and the same content as ``report.md``) opens with the verdict (06's
``06_verdict`` (or ``06_verdict_<budget>``) and ``06_lockfork_verdict`` tables, or a visible note that they are
missing), then a run summary, then one section per notebook in pipeline order: every figure
(SVG, in the order the notebook wrote them), every table (inline, first rows; the full CSV
linked), the run's manifest (git sha, dirty flag, parameters, package versions, time) and links
to the executed notebook (``.ipynb`` and a rendered ``.html``). Everything linked is copied into
the folder, so it can be zipped and sent as it is.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ssdlib import config as cfg

MAX_ROWS = 25  # rows of a table shown inline; the full table is the linked CSV
# 06's verdict tables: one table (06_verdict) or one per budget (06_verdict_<budget>), then lock/fork.
VERDICT_PATTERNS = ("06_verdict.csv", "06_verdict_*.csv", "06_lockfork_verdict.csv")


@dataclass
class Table:
    name: str
    csv: Path  # relative to the report folder
    frame: pd.DataFrame
    n_rows: int


@dataclass
class Section:
    """One notebook's evidence."""

    notebook: str
    manifest: dict | None
    figures: list[Path] = field(default_factory=list)  # SVGs, relative to the report folder
    tables: list[Table] = field(default_factory=list)
    items: list[Path | Table] = field(
        default_factory=list
    )  # figures and tables in the order written
    executed: Path | None = None  # .ipynb, relative
    executed_html: Path | None = None
    intro: str = ""  # the notebook's first markdown cell (its title and question)


def _owner(name: str) -> str | None:
    """The notebook whose number prefixes ``name`` (``03_rates_val`` -> ``03_baselines``)."""
    prefix = name.split("_", 1)[0]
    for nb in cfg.NOTEBOOKS:
        if nb.split("_", 1)[0] == prefix:
            return nb
    return None


def _in_order(files: list[Path]) -> list[Path]:
    """Files in the order they were written (the notebook's order), name as tie-break."""
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def _read_table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _intro(executed: Path) -> str:
    import nbformat

    try:
        nb = nbformat.read(executed, as_version=4)
    except (OSError, ValueError):
        return ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            return cell.source.strip()
    return ""


def _render_notebook(src: Path, dest: Path) -> Path | None:
    """The executed notebook as standalone HTML (nbconvert); None if it cannot be rendered."""
    from nbconvert import HTMLExporter

    try:
        body, _ = HTMLExporter().from_filename(str(src))
    except Exception as exc:  # a corrupt or half-written notebook must not stop the report
        print(f"[ssd] report: could not render {src.name} as HTML ({type(exc).__name__}: {exc})")
        return None
    dest.write_text(body, encoding="utf-8")
    return dest


def collect(
    root: Path, report_dir: Path, render_notebooks: bool = True
) -> tuple[list[Section], list[Table]]:
    """Copy figures, tables and executed notebooks of ``root`` into ``report_dir``; return the
    sections (pipeline order) and the verdict tables."""
    fig_dir, tab_dir, nb_dir = (report_dir / d for d in ("figures", "tables", "notebooks"))
    for d in (fig_dir, tab_dir, nb_dir):
        d.mkdir(parents=True, exist_ok=True)
    names = list(cfg.NOTEBOOKS)
    sections = {nb: Section(nb, None) for nb in names}
    other = Section("other", None)

    def section_of(name: str) -> Section:
        nb = _owner(name)
        return sections[nb] if nb else other

    for nb in names:
        m = root / "manifests" / f"{nb}.json"
        if m.exists():
            sections[nb].manifest = json.loads(m.read_text())
        ex = root / "notebooks" / f"{nb}.ipynb"
        if ex.exists():
            shutil.copy2(ex, nb_dir / ex.name)
            sections[nb].executed = Path("notebooks") / ex.name
            sections[nb].intro = _intro(ex)
            if render_notebooks and _render_notebook(ex, nb_dir / f"{nb}.html"):
                sections[nb].executed_html = Path("notebooks") / f"{nb}.html"
    tables: dict[str, Table] = {}
    for path in _in_order(
        list((root / "figures").glob("*.svg")) + list((root / "tables").glob("*.csv"))
    ):
        sec = section_of(path.stem)
        if path.suffix == ".svg":
            shutil.copy2(path, fig_dir / path.name)
            png = path.with_suffix(".png")
            if png.exists():
                shutil.copy2(png, fig_dir / png.name)
            sec.figures.append(Path("figures") / path.name)
            sec.items.append(sec.figures[-1])
        else:
            shutil.copy2(path, tab_dir / path.name)
            df = _read_table(path)
            tables[path.name] = Table(path.stem, Path("tables") / path.name, df, len(df))
            sec.tables.append(tables[path.name])
            sec.items.append(tables[path.name])
    verdict = []
    for pattern in VERDICT_PATTERNS:
        verdict += [
            tables[p.name]
            for p in _in_order(list((root / "tables").glob(pattern)))
            if p.name in tables
        ]
    out = [s for s in sections.values() if s.manifest or s.figures or s.tables or s.executed]
    if other.figures or other.tables:
        out.append(other)
    return out, verdict


# ---------------------------------------------------------------- rendering


def _short(manifest: dict | None) -> dict:
    """The provenance fields shown in the run summary."""
    if not manifest:
        return {"status": "not run"}
    git = manifest.get("git") or {}
    sha = git.get("sha") or "?"
    return {
        "status": manifest.get("status", "?"),
        "git": f"{sha[:10]}{' (dirty)' if git.get('dirty') else ''}",
        "started": str(manifest.get("started", ""))[:19].replace("T", " "),
        "seconds": manifest.get("seconds", ""),
        "params_hash": manifest.get("params_hash", ""),
    }


def _demote(markdown: str) -> str:
    """Headings two levels down: a notebook's ``# Title`` sits under the report's ``## section``."""
    return re.sub(r"^(#{1,4}) ", r"\1## ", markdown, flags=re.M)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _html_table(t: Table) -> str:
    shown = t.frame.head(MAX_ROWS)
    if shown.empty:
        return (
            f'<figure class="table" id="t-{_slug(t.name)}"><figcaption><code>{html.escape(t.name)}</code> '
            f'(no rows) &middot; <a href="{t.csv.as_posix()}">CSV</a></figcaption></figure>'
        )
    body = shown.to_html(
        index=False, border=0, classes="tbl", na_rep="", float_format=lambda x: f"{x:.4g}"
    )
    more = f" (first {len(shown)} of {t.n_rows} rows)" if t.n_rows > len(shown) else ""
    return (
        f'<figure class="table" id="t-{_slug(t.name)}"><figcaption><code>{html.escape(t.name)}</code>{more} '
        f'&middot; <a href="{t.csv.as_posix()}">CSV</a></figcaption>{body}</figure>'
    )


def _html_figure(svg: Path, report_dir: Path) -> str:
    """An SVG figure with links to the SVG and, when there is one, the PNG."""
    src = html.escape(svg.as_posix())
    png = svg.with_suffix(".png")
    png_link = (
        f' &middot; <a href="{html.escape(png.as_posix())}">PNG</a>'
        if (report_dir / png).exists()
        else ""
    )
    return (
        f'<figure id="f-{html.escape(svg.stem)}"><img src="{src}" alt="{html.escape(svg.stem)}">'
        f'<figcaption><code>{html.escape(svg.stem)}</code> &middot; <a href="{src}">SVG</a>{png_link}</figcaption></figure>'
    )


def _md_table(t: Table) -> str:
    shown = t.frame.head(MAX_ROWS)
    more = f" (first {len(shown)} of {t.n_rows} rows)" if t.n_rows > len(shown) else ""
    text = shown.to_markdown(index=False, floatfmt=".4g") if len(shown) else "(no rows)"
    return f"**`{t.name}`**{more} · [CSV]({t.csv.as_posix()})\n\n{text}\n"


def _verdict_sentences(verdict: list[Table]) -> list[str]:
    """The ``summary`` column of the verdict tables, when 06 wrote one (one sentence per row)."""
    out = []
    for t in verdict:
        if "summary" in t.frame.columns:
            out += [str(s) for s in t.frame["summary"].dropna()]
    return out


NO_VERDICT = (
    "No verdict yet: 06_eval has not written tables/06_verdict*.csv. "
    "Run the pipeline to the end (ssd pipeline --profile {profile}) and rebuild this report."
)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.note{background:#fff4d6;border-left:4px solid #e0a800;padding:.6em 1em}
.verdict{background:#eef6ff;border-left:4px solid #2b6cb0;padding:.4em 1em}
table.tbl,table.meta{border-collapse:collapse;font-size:.85em;margin:.4em 0}
.tbl th,.tbl td,.meta th,.meta td{border:1px solid #ddd;padding:.2em .5em;text-align:right}
.meta th{text-align:left;background:#f6f6f6}.tbl th{background:#f6f6f6}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555;margin:.3em 0}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.8em}
.failed{color:#b00020;font-weight:bold}
"""

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>ssd-math report: {{ profile }}</title><style>{{ css }}</style></head><body>
<h1>ssd-math report &mdash; profile <code>{{ profile }}</code></h1>
<p>Built {{ built }} from <code>{{ source }}</code>. Every figure and table below is in this folder
(<code>figures/</code>, <code>tables/</code>); the executed notebooks are in <code>notebooks/</code>.</p>

<h2 id="verdict">Verdict</h2>
{% if verdict %}<div class="verdict">
{% if sentences %}<ul>{% for s in sentences %}<li>{{ s }}</li>{% endfor %}</ul>{% endif %}
{% for t in verdict %}{{ t | safe }}{% endfor %}</div>
{% else %}<p class="note">{{ no_verdict }}</p>{% endif %}

<h2 id="runs">Runs</h2>
<table class="meta"><tr><th>notebook</th><th>status</th><th>git</th><th>started (UTC)</th><th>seconds</th>
<th>figures</th><th>tables</th></tr>
{% for s in sections if s.notebook != "other" %}<tr><th><a href="#{{ s.notebook }}">{{ s.notebook }}</a></th>
<td class="{{ 'failed' if s.short.status not in ('ok',) else '' }}">{{ s.short.status }}</td>
<td>{{ s.short.git }}</td><td>{{ s.short.started }}</td><td>{{ s.short.seconds }}</td>
<td>{{ s.figures|length }}</td><td>{{ s.tables|length }}</td></tr>
{% endfor %}</table>

{% for s in sections %}
<h2 id="{{ s.notebook }}">{{ s.notebook }}</h2>
{% if s.intro_html %}<div class="intro">{{ s.intro_html | safe }}</div>{% endif %}
{% if s.executed %}<p>Executed notebook: {% if s.executed_html %}<a href="{{ s.executed_html }}">HTML</a> &middot; {% endif %}<a href="{{ s.executed }}">.ipynb</a></p>{% endif %}
{% if s.error %}<p class="failed">Failed: {{ s.error }}</p>{% endif %}
{% for item in s.items_html %}{{ item | safe }}
{% endfor %}
{% if s.manifest %}<details><summary>Provenance (manifest)</summary>
<table class="meta">{% for k, v in s.provenance %}<tr><th>{{ k }}</th><td style="text-align:left">{{ v }}</td></tr>{% endfor %}</table>
<p>Parameters:</p><pre>{{ s.params }}</pre><p>Packages:</p><pre>{{ s.packages }}</pre></details>{% endif %}
{% endfor %}
</body></html>
"""


def _provenance(m: dict) -> list[tuple[str, str]]:
    git = m.get("git") or {}
    rows = [
        ("status", m.get("status")),
        ("git sha", git.get("sha")),
        ("dirty", git.get("dirty")),
        ("started", m.get("started")),
        ("finished", m.get("finished")),
        ("seconds", m.get("seconds")),
        ("overrides", " ".join(m.get("overrides") or []) or "(none)"),
        ("params hash", m.get("params_hash")),
        ("python", m.get("python")),
        ("platform", m.get("platform")),
        ("error", m.get("error")),
    ]
    return [(k, "" if v is None else str(v)) for k, v in rows if k != "error" or v]


def _dump(obj) -> str:
    import yaml

    return yaml.safe_dump(obj or {}, sort_keys=False, default_flow_style=False).strip()


def render_html(
    profile: str, source: Path, sections: list[Section], verdict: list[Table], built: str
) -> str:
    import jinja2
    from nbconvert.filters.markdown import markdown2html

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    view = []
    for s in sections:
        m = s.manifest or {}
        view.append(
            {
                "notebook": s.notebook,
                "short": _short(s.manifest),
                "intro_html": markdown2html(_demote(s.intro)) if s.intro else "",
                "executed": s.executed.as_posix() if s.executed else "",
                "executed_html": s.executed_html.as_posix() if s.executed_html else "",
                "error": m.get("error") or "",
                "figures": s.figures,
                "tables": s.tables,
                "items_html": [
                    _html_table(x) if isinstance(x, Table) else _html_figure(x, source / "report")
                    for x in s.items
                ],
                "manifest": bool(s.manifest),
                "provenance": _provenance(m) if s.manifest else [],
                "params": _dump(m.get("params")),
                "packages": "\n".join(
                    f"{k}=={v}" for k, v in sorted((m.get("packages") or {}).items())
                ),
            }
        )
    return env.from_string(TEMPLATE).render(
        profile=profile,
        css=CSS,
        built=built,
        source=str(source),
        sections=view,
        verdict=[_html_table(t) for t in verdict],
        sentences=_verdict_sentences(verdict),
        no_verdict=NO_VERDICT.format(profile=profile),
    )


def render_markdown(profile: str, sections: list[Section], verdict: list[Table], built: str) -> str:
    lines = [
        f"# ssd-math report — profile `{profile}`",
        "",
        f"Built {built}.",
        "",
        "## Verdict",
        "",
    ]
    if verdict:
        lines += [f"- {s}" for s in _verdict_sentences(verdict)]
        lines += [""] + [_md_table(t) for t in verdict]
    else:
        lines += [f"> {NO_VERDICT.format(profile=profile)}", ""]
    lines += [
        "## Runs",
        "",
        "| notebook | status | git | started (UTC) | seconds |",
        "|---|---|---|---|---|",
    ]
    for s in sections:
        if s.notebook == "other":
            continue
        sh = _short(s.manifest)
        lines.append(
            f"| {s.notebook} | {sh['status']} | {sh.get('git', '')} | {sh.get('started', '')} | {sh.get('seconds', '')} |"
        )
    for s in sections:
        lines += ["", f"## {s.notebook}", ""]
        if s.intro:
            lines += [_demote(s.intro), ""]
        if s.executed:
            html_link = f"[HTML]({s.executed_html.as_posix()}) · " if s.executed_html else ""
            lines += [f"Executed notebook: {html_link}[.ipynb]({s.executed.as_posix()})", ""]
        if s.manifest and s.manifest.get("error"):
            lines += [f"**Failed:** {s.manifest['error']}", ""]
        for item in s.items:
            lines += (
                [_md_table(item)]
                if isinstance(item, Table)
                else [f"![{item.stem}]({item.as_posix()})", ""]
            )
        if s.manifest:
            lines += ["<details><summary>Provenance (manifest)</summary>", ""]
            lines += [f"- {k}: `{v}`" for k, v in _provenance(s.manifest)]
            lines += [
                "",
                "```yaml",
                _dump(s.manifest.get("params")),
                "```",
                "",
                "```",
                "\n".join(
                    f"{k}=={v}" for k, v in sorted((s.manifest.get("packages") or {}).items())
                ),
                "```",
                "",
                "</details>",
            ]
    return "\n".join(lines) + "\n"


def build_report(profile: str, root: Path | None = None, render_notebooks: bool = True) -> Path:
    """Write ``<root>/report/{index.html,report.md}`` (root: ``outputs/<profile>``); return index.html.

    The report folder is rebuilt from scratch each time, so it never holds stale figures.
    Raises FileNotFoundError when ``root`` holds no run of this profile.
    """
    import datetime as dt

    from ssdlib import runs

    root = Path(root) if root is not None else runs.outputs_root() / profile
    if not (root / "manifests").is_dir():
        raise FileNotFoundError(
            f"{root}: no runs of profile {profile!r} yet (run `ssd pipeline --profile {profile}`)"
        )
    report_dir = root / "report"
    if report_dir.exists():
        shutil.rmtree(report_dir)
    report_dir.mkdir(parents=True)
    sections, verdict = collect(root, report_dir, render_notebooks)
    built = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    (report_dir / "index.html").write_text(
        render_html(profile, root, sections, verdict, built), encoding="utf-8"
    )
    (report_dir / "report.md").write_text(
        render_markdown(profile, sections, verdict, built), encoding="utf-8"
    )
    return report_dir / "index.html"
