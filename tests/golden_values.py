"""Golden values: what the chapters glue in a fast-profile run, and how close a rerun must be.

Used by the root conftest.py (which compares every glued value right after the cell that glued
it) and by tests/test_golden.py. See ``make golden``.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"
GLUE_MIME = "application/papermill.record/text/plain"
# Glued values that depend on the machine or the clock, not on the logic.
MACHINE_DEPENDENT = re.compile(
    r"minutes|seconds|_s$|(^|_)ms(_|$)|time|hardware|speed|per_second|rate$|gmac|throughput"
    r"|version|headroom|_note$"
)
VERDICT_WORDS = ("better by", "worse by", "no difference")
"""A glued ``experiments.verdict`` (name containing "verdict") is compared by its direction."""
ACCURACY_ABS = 0.01  # default tolerance of a glued fraction (accuracy, IoU...)
OTHER_REL = 0.05  # default relative tolerance of any other real number


def glued_values(outputs: list) -> dict[str, object]:
    """``{name: value}`` of the ``glue`` calls among a cell's outputs."""
    values = {}
    for output in outputs or []:
        data, meta = output.get("data", {}), output.get("metadata", {})
        name = meta.get("scrapbook", {}).get("name")
        if name and GLUE_MIME in data:
            try:
                values[name] = ast.literal_eval(data[GLUE_MIME])
            except (ValueError, SyntaxError):  # an object without a literal repr
                values[name] = data[GLUE_MIME]
    return values


def default_entry(name: str, value: object) -> dict:
    """A golden entry with the default tolerance for this kind of value."""
    if MACHINE_DEPENDENT.search(name):
        return {"value": value, "compare": False}
    if "verdict" in name and isinstance(value, str):
        return {"value": value, "compare": "direction"}
    if isinstance(value, float):
        return (
            {"value": value, "abs": ACCURACY_ABS}
            if 0 <= value <= 1
            else {"value": value, "rel": OTHER_REL}
        )
    return {"value": value}


def mismatch(name: str, value: object, entry: dict | None) -> str | None:
    """Why ``value`` does not match its golden ``entry`` (None if it does)."""
    if entry is None:
        return f"{name} = {value!r} has no golden value; run `make golden` and review the diff"
    if not entry.get("compare", True):
        return None
    expected = entry["value"]
    if entry.get("compare") == "direction":
        found, wanted = _direction(value), _direction(expected)
        if found == wanted and found is not None:
            return None
        return f"{name} = {value!r}: {found or 'no verdict'}, golden {expected!r}: {wanted}"
    real = (int, float)
    if isinstance(value, real) and isinstance(expected, real) and not isinstance(value, bool):
        tolerance = entry.get("abs", 0.0) + entry.get("rel", 0.0) * abs(expected)
        if math.isclose(value, expected, rel_tol=0, abs_tol=tolerance) or (
            math.isnan(value) and math.isnan(expected)
        ):
            return None
        return f"{name} = {value!r}, golden {expected!r} (tolerance {tolerance:g})"
    return None if value == expected else f"{name} = {value!r}, golden {expected!r}"


def _direction(verdict: object) -> str | None:
    """"better by", "worse by" or "no difference": how a verdict string starts (else None)."""
    if isinstance(verdict, str):
        for words in VERDICT_WORDS:
            if verdict.startswith(words):
                return words
    return None
