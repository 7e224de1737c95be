"""Root pytest configuration, shared by the library tests and nbval.

Notebooks run in the fast profile under pytest unless COURSE_PROFILE is set
explicitly. The kernel nbval starts inherits this process's environment.

Golden values: every value a chapter glues (myst-nb ``glue``) in a fast-profile
run is compared with ``tests/golden/<chapter>.json`` right after the cell that
glued it ran, so a change of logic that moves a trained number fails the cell,
although nbval ignores that cell's printed output. ``make golden``
(``COURSE_GOLDEN=write``) writes the files from a fresh run; each entry keeps
its tolerance: ``{"value": v}`` is compared exactly, ``"abs"`` or ``"rel"``
give a tolerance, ``"compare": false`` records a value that depends on the
machine (times, hardware).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))
from golden_values import GOLDEN_DIR, default_entry, glued_values, mismatch  # noqa: E402

os.environ.setdefault("COURSE_PROFILE", "fast")

# Outputs never compared: TensorFlow's log lines on stderr, pictures (their
# bytes differ across platforms and profiles; the browser test checks they
# exist), HTML renderings (their text/plain twin is compared), and the records
# of glued values: the stored ones come from the full profile, and every glued
# value of a fast run is compared with its golden value instead (below), with
# the tolerance its kind allows.
GLUE_RECORDS = tuple(
    f"application/papermill.record/{mime}"
    for mime in ("text/plain", "text/html", "image/png", "image/svg+xml", "text/markdown")
)
SKIP_COMPARE = ("stderr", "image/png", "image/svg+xml", "text/html", *GLUE_RECORDS)

_collected: dict[str, dict[str, object]] = defaultdict(dict)


def pytest_sessionstart(session):
    """Start the fast profile from scratch: chapters keep tuner searches, cached backbones and
    run folders in ``book/_runs/<profile>`` and would reload them, so a second run would not
    compute what a fresh clone (and the golden values) computes."""
    if os.environ.get("COURSE_PROFILE") == "fast":
        shutil.rmtree(Path(__file__).parent / "book" / "_runs" / "fast", ignore_errors=True)


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += SKIP_COMPARE


def _golden(chapter: str) -> dict:
    path = GOLDEN_DIR / f"{chapter}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    outputs = getattr(item, "test_outputs", None)
    if call.when != "call" or not outputs or os.environ.get("COURSE_PROFILE") != "fast":
        return
    values = glued_values(outputs)
    if not values:
        return
    chapter = Path(str(item.fspath)).stem
    if os.environ.get("COURSE_GOLDEN") == "write":
        _collected[chapter].update(values)
        return
    golden = _golden(chapter)
    problems = [p for n, v in values.items() if (p := mismatch(n, v, golden.get(n)))]
    if problems and report.passed:
        report.outcome = "failed"
        report.longrepr = (
            f"{chapter}: glued values differ from tests/golden/{chapter}.json:\n  "
            + "\n  ".join(problems)
        )


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("COURSE_GOLDEN") != "write":
        return
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for chapter, values in _collected.items():
        old = _golden(chapter)
        entries = {
            name: {**(old.get(name) or default_entry(name, value)), "value": value}
            for name, value in sorted(values.items())
        }
        path = GOLDEN_DIR / f"{chapter}.json"
        path.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
