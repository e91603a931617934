"""Create a notebook from a list of (kind, source) cells with a parameters cell from the smoke
profile; used once per notebook, after which the .ipynb is the source of truth."""

import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ssdlib.nbparams import parameters_source
from ssdlib.runs import notebook_path


def build(name: str, cells: list[tuple[str, str]]) -> None:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        if kind == "params":
            c = new_code_cell(parameters_source(name))
            c.metadata["tags"] = ["parameters"]
            nb.cells.append(c)
        elif kind == "md":
            nb.cells.append(new_markdown_cell(src.strip()))
        else:
            nb.cells.append(new_code_cell(src.strip()))
    nbformat.write(nb, notebook_path(name))
    print("wrote", notebook_path(name), file=sys.stderr)
