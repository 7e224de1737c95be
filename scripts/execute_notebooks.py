"""Re-run chapter notebooks in place and store their outputs (``make execute``).

Usage: ``python scripts/execute_notebooks.py [book/02_convolution.ipynb ...]``
(default: every notebook in book/). Uses the profile in COURSE_PROFILE (the
Makefile sets ``full``), prints each notebook's wall time and records it,
with the hardware, in book/execution_times.json.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course_lib.environment import hardware, package_versions

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "book" / "execution_times.json"


def execute(path: Path) -> float:
    """Execute one notebook in its own folder, write it back, return seconds."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=7200, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str]) -> int:
    paths = [Path(p).resolve() for p in argv] or sorted((ROOT / "book").glob("*.ipynb"))
    profile = os.environ.get("COURSE_PROFILE", "full")
    for path in paths:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"executing {shown} ({profile} profile) ...", flush=True)
        seconds = execute(path)
        print(f"  {seconds:7.1f} s", flush=True)
        if profile == "full" and path.parent == ROOT / "book":
            # read just before writing: another execution may have recorded its chapter meanwhile
            record = json.loads(TIMES.read_text()) if TIMES.exists() else {"notebooks": {}}
            record["notebooks"][path.name] = round(seconds, 1)
            record["hardware"] = hardware()
            record["versions"] = package_versions()
            TIMES.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
