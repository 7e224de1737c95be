"""The conventions every chapter notebook keeps (see CONTRIBUTING.md).

nbval checks that a notebook still produces its stored outputs; these tests
check how the notebooks are stored, and that the stored outputs come from the
stored code (the code hash scripts/execute_notebooks.py records).
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from course_lib.environment import COLAB_CELL_KEY, code_sha256

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
TIMES = ROOT / "book" / "execution_times.json"
IGNORE = "# NBVAL_IGNORE_OUTPUT"
RERUN = "COURSE_PROFILE=full .venv/bin/python scripts/execute_notebooks.py book/{}"

# Chapters whose stored outputs come from a run before scripts/execute_notebooks.py
# recorded the code hash. Re-execute one (RERUN) and remove it from here; a chapter
# listed here whose code does match its record fails the test, so the list cannot go stale.
PENDING: set[str] = set()


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
            assert "hide-input" in check.metadata.get("tags", []), (
                f"{path.name}: check cell {i + 1} should be tagged hide-input (its code folds away "
                "in the book; its line stays visible)"
            )


CHECK_LINES = 12  # lines of a check cell, comments and blank lines aside


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_cells_are_short(path):
    """A check is a few asserts and one printed line, not a second analysis."""
    if path.name in PENDING:
        pytest.skip(f"{path.name} waits for a re-execution (PENDING)")
    cells = code_cells(path)
    for i, cell in enumerate(cells[:-1]):
        if cell.source.startswith(IGNORE):
            lines = [
                line
                for line in cells[i + 1].source.splitlines()
                if line.strip() and not line.strip().startswith("#")
            ]
            assert len(lines) <= CHECK_LINES, (
                f"{path.name}: check cell {i + 1} has {len(lines)} lines; keep it to "
                f"{CHECK_LINES} (move the computation into the cell it checks)"
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


# --------------------------------------------------------------------------
# The stored outputs come from the stored code
# --------------------------------------------------------------------------


def test_pending_lists_only_chapters():
    strays = PENDING - {p.name for p in NOTEBOOKS}
    assert not strays, f"PENDING names notebooks that are not chapters: {sorted(strays)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_come_from_the_stored_code(path):
    """The code cells still have the hash recorded by the full-profile run that stored them."""
    nb = nbformat.read(path, as_version=4)
    run = nb.metadata.get("course_execution", {})
    current = code_sha256(nb)
    if path.name in PENDING:
        assert run.get("code_sha256") != current, (
            f"{path.name} now has the code of its recorded run: remove it from PENDING "
            "in tests/test_notebooks.py"
        )
        return
    assert run, (
        f"{path.name}: no record of the run that stored its outputs; "
        f"re-execute it: {RERUN.format(path.name)}"
    )
    assert run["code_sha256"] == current, (
        f"{path.name}: its code cells changed since the run of {run['date']} that stored its "
        f"outputs; re-execute it: {RERUN.format(path.name)}"
    )
    assert run["profile"] == "full", (
        f"{path.name}: its outputs come from the {run['profile']} profile; "
        f"re-execute it: {RERUN.format(path.name)}"
    )
    entry = json.loads(TIMES.read_text(encoding="utf-8"))["notebooks"].get(path.name) or {}
    assert entry.get("code_sha256") == current and entry.get("date") == run["date"], (
        f"book/execution_times.json does not record the run of {path.name} of {run['date']}; "
        "commit the file with the notebook"
    )


def _colab_cell():
    spec = importlib.util.spec_from_file_location("colab_cell", ROOT / "scripts" / "colab_cell.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_cell_left_out_of_the_hash_is_the_colab_cell(path):
    """The code hash skips the Colab install cell, so that cell must be the code
    scripts/colab_cell.py writes, which does nothing off Colab (compared as syntax trees:
    ruff may have reformatted it)."""
    colab_cell = _colab_cell()
    assert colab_cell.MARKER == COLAB_CELL_KEY
    skipped = [c for c in nbformat.read(path, as_version=4).cells if c.metadata.get(COLAB_CELL_KEY)]
    assert len(skipped) <= 1, f"{path.name}: {len(skipped)} cells are marked {COLAB_CELL_KEY}"
    for cell in skipped:
        assert cell.cell_type == "code"
        expected = colab_cell.cell_source(*colab_cell.repository())
        assert ast.dump(ast.parse(cell.source)) == ast.dump(ast.parse(expected)), (
            f"{path.name}: the Colab install cell is not the one scripts/colab_cell.py writes; "
            "run make colab"
        )


def test_code_hash_follows_the_code_and_nothing_else():
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    digest = code_sha256(nb)
    other = copy.deepcopy(nb)
    text = next(c for c in other.cells if c.cell_type == "markdown")
    text.source += "\n\nA new paragraph."
    code = [c for c in other.cells if c.cell_type == "code" and not c.metadata.get(COLAB_CELL_KEY)]
    for cell in code:
        cell.outputs, cell.execution_count = [], None
        cell.metadata["tags"] = ["changed"]
        cell.source += "   \n\n"
    for cell in other.cells:
        if cell.metadata.get(COLAB_CELL_KEY):
            cell.source = cell.source.replace("https://", "https://example.org/")
    assert code_sha256(other) == digest, "prose, outputs, metadata or trailing blanks counted"
    code[-1].source += "\nprint()"
    assert code_sha256(other) != digest, "a changed code cell kept the hash"
    moved = copy.deepcopy(nb)
    first, second = [c for c in moved.cells if c.cell_type == "code"][-2:]
    first.source, second.source = first.source + "\n" + second.source, ""
    assert code_sha256(moved) != digest, "moving code from one cell to another kept the hash"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stderr_stored(path):
    """Readers open the notebooks in Jupyter, Colab and on GitHub, where stderr shows."""
    for i, cell in enumerate(code_cells(path)):
        stderr = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
        assert not stderr, f"{path.name}: code cell {i} stored stderr: {stderr[0].text[:300]!r}"


# What library logging and Python warnings look like when they reach stdout: TensorFlow's
# C++ log lines ("W0000 00:00:..." / "I1130 19:13:07.3 ... file.cc:88] ..."), absl and
# TensorFlow's Python loggers, and warnings.showwarning's "file.py:12: UserWarning: ...".
LOG_LINE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d[.\d]* +\d+ [\w.]+:\d+\]"
    r"|^(WARNING|INFO|ERROR):(absl|tensorflow)"
    r"|\.py:\d+: \w*Warning: ",
    re.MULTILINE,
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_library_logs_or_warnings_in_stored_stdout(path):
    """A warning the chapter means to show is printed by the chapter, in its own words."""
    if path.name in PENDING:
        pytest.skip(f"{path.name} waits for a re-execution (PENDING)")
    for i, cell in enumerate(code_cells(path)):
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stdout":
                found = LOG_LINE.search(output.text)
                assert not found, (
                    f"{path.name}: code cell {i} printed a log line or warning: "
                    f"{output.text[max(0, found.start() - 80) : found.end() + 120]!r}"
                )


def test_the_log_pattern_catches_what_it_should():
    assert LOG_LINE.search("I0000 00:00:1796065354.944654    7638 port.cc:153] oneDNN on")
    assert LOG_LINE.search("ok\nW1130 19:13:07.341935   30262 cuda_timer.cc:88] Delay kernel")
    assert LOG_LINE.search("WARNING:absl:Compiled the loaded model, but the compiled metrics")
    assert LOG_LINE.search("/x/keras/src/models/functional.py:259: UserWarning: The structure")
    assert not LOG_LINE.search("StalledTrainingWarning: The training loss has stayed at ln(10)")
    assert not LOG_LINE.search("Epoch 1/10\n1719/1719 - 20s - loss: 2.3026")
