"""The conventions every chapter notebook keeps (see CONTRIBUTING.md).

nbval checks that a notebook still produces its stored outputs; these tests
check how the notebooks are stored.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
IGNORE = "# NBVAL_IGNORE_OUTPUT"


def code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_there_are_chapters():
    assert NOTEBOOKS, "book/ holds no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_from_a_complete_run(path):
    """Every code cell ran, in order, without errors."""
    counts = [c.execution_count for c in code_cells(path)]
    assert None not in counts, (
        f"{path.name}: cells {[i for i, n in enumerate(counts) if n is None]} never ran"
    )
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts out of order: {counts}"
    )
    for i, cell in enumerate(code_cells(path)):
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name}: code cell {i} stored an error"
            if output.output_type == "stream" and output.name == "stderr":
                assert "Traceback" not in output.text, (
                    f"{path.name}: code cell {i} stored a traceback"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_are_followed_by_a_check(path):
    """A cell whose output nbval ignores is followed by a checked cell that prints."""
    cells = code_cells(path)
    for i, cell in enumerate(cells):
        if cell.source.startswith(IGNORE):
            assert i + 1 < len(cells), f"{path.name}: ignored cell {i} is the last code cell"
            check = cells[i + 1]
            assert not check.source.startswith(IGNORE), (
                f"{path.name}: cell {i + 1} should check cell {i}"
            )
            assert "assert" in check.source, (
                f"{path.name}: cell {i + 1} should assert what cell {i} computed"
            )
            assert any(o.output_type == "stream" for o in check.outputs), (
                f"{path.name}: cell {i + 1} should print a deterministic line"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_sizes_come_from_the_profile(path):
    """No literal epoch counts, subset sizes or trial counts in a notebook."""
    pattern = re.compile(r"\b(epochs|max_trials|train_size|num_seeds)\s*=\s*\d")
    for i, cell in enumerate(code_cells(path)):
        match = pattern.search(cell.source)
        assert not match, (
            f"{path.name}: code cell {i} hard-codes {match.group(0)!r}; use course_lib.profile()"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_python3_kernel(path):
    assert nbformat.read(path, as_version=4).metadata.kernelspec.name == "python3"


def test_toc_lists_exactly_the_chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]
    for f in files:
        assert list(ROOT.glob(f + ".*")), f"_toc.yml lists {f}, which does not exist"
    listed = {f for f in files if (ROOT / (f + ".ipynb")).exists()}
    on_disk = {str(p.relative_to(ROOT).with_suffix("")) for p in NOTEBOOKS}
    assert listed == on_disk, f"notebooks not in _toc.yml: {sorted(on_disk - listed)}"
