"""The golden values of the chapters (tests/golden/*.json) and how a glued value is compared.

The comparison itself runs during `pytest --nbval` (root conftest.py), right after each cell
that glues a value; these tests check the golden files against the chapters and the rules.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from golden_values import GOLDEN_DIR, default_entry, glued_values, mismatch

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def stored_glue_names(path: Path) -> set[str]:
    notebook = nbformat.read(path, as_version=4)
    return {
        name
        for cell in notebook.cells
        if cell.cell_type == "code"
        for name in glued_values(cell.get("outputs", []))
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glued_value_has_a_golden_value(path):
    names = stored_glue_names(path)
    golden_file = GOLDEN_DIR / f"{path.stem}.json"
    if not names:
        assert not golden_file.exists()
        return
    assert golden_file.is_file(), f"{path.name} glues values; run `make golden`"
    golden = json.loads(golden_file.read_text())
    assert sorted(names - set(golden)) == [], f"{path.name}: glued, not golden; run `make golden`"
    assert sorted(set(golden) - names) == [], f"{golden_file.name}: stale entries (no such glue)"


def test_counts_and_texts_are_exact_and_fractions_have_a_tolerance():
    assert mismatch("n", 55_000, {"value": 55_000}) is None
    assert "golden 55000" in mismatch("n", 54_999, {"value": 55_000})
    assert mismatch("text", "a", {"value": "a"}) is None and mismatch("text", "b", {"value": "a"})
    fraction = default_entry("test_accuracy", 0.8)
    assert fraction == {"value": 0.8, "abs": 0.01}
    assert mismatch("test_accuracy", 0.805, fraction) is None
    assert "tolerance 0.01" in mismatch("test_accuracy", 0.82, fraction)
    assert default_entry("loss", 2.5) == {"value": 2.5, "rel": 0.05}
    assert mismatch("loss", 2.6, default_entry("loss", 2.5)) is None


def test_machine_dependent_values_are_recorded_but_not_compared():
    for name in ("cnn_train_minutes", "conv_hardware", "separable_speedup_time", "pipeline_rate"):
        entry = default_entry(name, 1.0)
        assert entry["compare"] is False and mismatch(name, 99.0, entry) is None
    assert "has no golden value" in mismatch("new_value", 1, None)


def test_verdicts_are_compared_by_their_direction():
    entry = default_entry("verdict_accuracy", "better by 2.1 points (95% CI 1.2 to 3.0)")
    assert entry["compare"] == "direction"
    assert mismatch("verdict_accuracy", "better by 2.3 points (95% CI 1.0 to 3.6)", entry) is None
    assert "golden" in mismatch("verdict_accuracy", "no difference this ... (CI -1 to +2)", entry)
    assert "no verdict" in mismatch("verdict_accuracy", "a sentence", entry)


def record(name: str, text: str) -> dict:
    prefix = "application/papermill.record/"
    return {
        "output_type": "display_data",
        "data": {prefix + "text/plain": text},
        "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}},
    }


def test_glued_values_reads_the_papermill_records():
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": "hello"},
        record("share", "0.25"),
        record("pixel", "'-0.81'"),
    ]
    assert glued_values(outputs) == {"share": 0.25, "pixel": "-0.81"}
