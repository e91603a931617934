"""Keep each notebook's ``parameters`` cell equal to the smoke profile.

The notebooks open in JupyterLab with the smoke values as defaults, so the parameters cell is
generated from ``params/smoke``: ``python -m ssdlib.nbparams`` rewrites the cells after a profile
change, and a test fails when a cell and the profile disagree.
"""

from __future__ import annotations

import ast
import pprint
import sys

import nbformat

from ssdlib import config as cfg
from ssdlib.runs import available_notebooks, notebook_path

HEADER = (
    "# Parameters (smoke defaults; papermill injects the chosen profile's values below this cell)\n"
)


def parameters_source(notebook: str, profile: str = "smoke") -> str:
    values = cfg.injectable(cfg.load_params(notebook, profile))
    lines = [HEADER]
    for key, value in values.items():
        lines.append(f"{key} = {pprint.pformat(value, width=100, sort_dicts=False)}\n")
    return "".join(lines).rstrip("\n")


def parameters_cell(nb) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell
    raise ValueError("notebook has no cell tagged 'parameters'")


def cell_values(source: str) -> dict:
    """The literal assignments of a parameters cell, evaluated safely (literals only)."""
    out = {}
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def sync(notebook: str) -> bool:
    """Rewrite the parameters cell from the smoke profile; return True if it changed."""
    path = notebook_path(notebook)
    nb = nbformat.read(path, as_version=4)
    cell = parameters_cell(nb)
    new = parameters_source(notebook)
    if cell.source == new:
        return False
    cell.source = new
    nbformat.write(nb, path)
    return True


if __name__ == "__main__":
    changed = [nb for nb in available_notebooks() if sync(nb)]
    print("updated: " + (", ".join(changed) if changed else "nothing"))
    sys.exit(0)
