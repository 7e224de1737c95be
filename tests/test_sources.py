"""Every chapter notebook has a text source (MyST markdown, paired by jupytext) that matches it.

A chapter is edited and reviewed as ``book/NN_name.md``; ``make sync`` (``jupytext --sync``)
carries the edit into ``book/NN_name.ipynb``, which keeps the stored outputs. These tests fail
when a pair has drifted apart.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    """What the text source must carry: each cell's type, source and tags."""
    return [
        (cell.cell_type, cell.source.strip(), tuple(cell.metadata.get("tags", ())))
        for cell in notebook.cells
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_paired_with_a_markdown_source(path):
    notebook = nbformat.read(path, as_version=4)
    formats = notebook.metadata.get("jupytext", {}).get("formats", "")
    assert formats == "ipynb,md:myst", (
        f"{path.name}: pair it with `jupytext --set-formats ipynb,md:myst`"
    )
    assert path.with_suffix(".md").is_file(), (
        f"{path.name}: its text source {path.stem}.md is missing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_text_source_and_notebook_agree(path):
    notebook = nbformat.read(path, as_version=4)
    source = jupytext.read(path.with_suffix(".md"))
    expected, got = cells(notebook), cells(source)
    for index, (want, have) in enumerate(zip(expected, got)):
        assert have == want, (
            f"{path.stem}.md and {path.name} differ at cell {index}; run `make sync` "
            "(jupytext --sync) after editing the .md, then re-execute the chapter"
        )
    assert len(got) == len(expected), (
        f"{path.stem}.md has {len(got)} cells, {path.name} {len(expected)}"
    )
