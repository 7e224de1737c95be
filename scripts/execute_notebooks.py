"""Re-run chapter notebooks in place and store their outputs (``make execute``).

Usage: ``COURSE_PROFILE=full python scripts/execute_notebooks.py [--fast-only] [NOTEBOOK ...]``
with notebooks such as ``book/02_convolution.ipynb`` (default: every notebook in book/;
the profile is ``course_lib.profile()``'s, full when COURSE_PROFILE is unset).

Each executed notebook records where its outputs come from, in its metadata under
``course_execution``: the SHA-256 of its code (``course_lib.environment.code_sha256``),
the profile, the date (UTC, when the run started), the wall time in seconds, the
hardware, and the ``course_lib`` version with the git commit it ran with and whether
``course_lib/`` differed from that commit (``dirty``; also true when git cannot tell).
A full-profile run of a chapter in book/ records the same in book/execution_times.json,
which the book's *Execution report* page shows and each chapter's opening note quotes;
right after it, the script times a fast-profile run of the same chapter (on a copy: the
stored outputs stay the full profile's; from scratch: ``book/_runs/fast`` is deleted first,
as the tests do) and records that too. ``--fast-only`` does only the fast timing, for
chapters whose full run is already recorded. ``--drop-noise-only`` removes TensorFlow's log
lines from the stored outputs of the given notebooks and executes nothing.
tests/test_notebooks.py fails when a chapter's code no longer has the recorded hash:
re-execute the chapter then.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import course_lib  # first: keeps TensorFlow's log lines quiet
from course_lib.environment import code_sha256, hardware, package_versions

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
TIMES = BOOK / "execution_times.json"
KEY = "course_execution"  # the notebook metadata key
ENTRY_KEYS = ("seconds", "fast_seconds", "date", "hardware", "code_sha256", "commit")


def _git(*args: str) -> str | None:
    """Output of ``git args`` in the repository, or None where git cannot answer."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def library_revision() -> dict[str, object]:
    """The ``course_lib`` a run uses: version, short commit, and whether it is modified."""
    commit = _git("rev-parse", "--short", "HEAD")
    status = _git("status", "--porcelain", "--", "course_lib") if commit else None
    return {
        "version": course_lib.__version__,
        "commit": commit or "unknown",
        "dirty": status is None or status != "",
    }


@functools.cache
def machine() -> str:
    """``environment.hardware()``, with TensorFlow imported so that it counts the GPUs."""
    import tensorflow  # noqa: F401

    return hardware()


def utc_now() -> str:
    """The current time, ISO 8601 in UTC to the second: ``2025-01-31T12:00:00Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# What TensorFlow's C++ runtime writes to stderr (at start-up, before course_lib can quiet
# it: see course_lib._quiet; and later, in runs recorded before it did): absl's notice, its
# INFO/WARNING/ERROR lines ("I0000 00:00:...
# port.cc:153] oneDNN custom operations are on..."), the CPU-instructions note. Not output
# of the chapter: dropped from the stored notebook, like the book drops all of stderr.
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] "
    r"|To enable the following instructions: .*rebuild TensorFlow)"
)


def drop_startup_noise(nb: nbformat.NotebookNode) -> int:
    """Remove TensorFlow's start-up lines from the stderr outputs of ``nb``; return how many."""
    dropped = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = output["text"].splitlines(keepends=True)
                clean = [line for line in lines if not STARTUP_NOISE.match(line)]
                dropped += len(lines) - len(clean)
                if not clean:
                    continue
                output["text"] = "".join(clean)
            kept.append(output)
        cell["outputs"] = kept
    return dropped


def remove_interrupted_runs(runs: Path) -> list[Path]:
    """Delete the backups of interrupted trainings under ``runs`` (a profile's run folders).

    ``train.fit`` resumes a run from its ``backup/`` folder, which only an interrupted run
    leaves behind. A recorded execution must train from scratch, so its outputs and time are
    those of the stored code: resuming would record the few epochs that were left.
    """
    backups = sorted(p for p in runs.glob("*/backup") if p.is_dir()) if runs.is_dir() else []
    for backup in backups:
        shutil.rmtree(backup)
    return backups


def execute(path: Path, profile: str) -> dict[str, object]:
    """Execute one notebook in its own folder, write it back with its record, return it."""
    for backup in remove_interrupted_runs(path.parent / "_runs" / profile):
        print(f"  removed an interrupted run's backup {backup}: training starts afresh", flush=True)
    nb = nbformat.read(path, as_version=4)
    run: dict[str, object] = {
        "code_sha256": code_sha256(nb),
        "profile": profile,
        "date": utc_now(),
        "course_lib": library_revision(),
    }
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=7200, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    run["seconds"] = round(time.perf_counter() - start, 1)
    run["hardware"] = machine()
    drop_startup_noise(nb)
    nb.metadata[KEY] = {
        key: run[key]
        for key in ("code_sha256", "profile", "date", "seconds", "hardware", "course_lib")
    }
    nbformat.write(nb, path)
    return nb.metadata[KEY]


@contextlib.contextmanager
def _profile(name: str):
    """Set COURSE_PROFILE for the kernels started inside the block, then restore it."""
    before = os.environ.get("COURSE_PROFILE")
    os.environ["COURSE_PROFILE"] = name
    try:
        yield
    finally:
        if before is None:
            del os.environ["COURSE_PROFILE"]
        else:
            os.environ["COURSE_PROFILE"] = before


def time_fast(path: Path) -> float:
    """Seconds a fast-profile run of the notebook takes from scratch; the file is untouched."""
    nb = copy.deepcopy(nbformat.read(path, as_version=4))
    shutil.rmtree(path.parent / "_runs" / "fast", ignore_errors=True)
    start = time.perf_counter()
    with _profile("fast"):
        NotebookClient(
            nb,
            timeout=3600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    return round(time.perf_counter() - start, 1)


def load_times(path: Path) -> dict[str, dict]:
    """Read an execution-times file (an empty record if there is none); check its shape."""
    if not path.exists():
        return {"notebooks": {}, "versions": {}}
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = data.get("notebooks") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not all(
        isinstance(e, dict) and set(e) == set(ENTRY_KEYS) for e in entries.values()
    ):
        raise ValueError(
            f"execute_notebooks: {path} must hold {{'notebooks': {{name: {{"
            f"{', '.join(ENTRY_KEYS)}}}}}, 'versions': {{...}}}}; fix or delete it."
        )
    return data


def record(path: Path, name: str, run: dict[str, object]) -> None:
    """Record the run of notebook ``name`` in the execution-times file ``path``."""
    # read just before writing: another execution may have recorded its chapter meanwhile
    data = load_times(path)
    library = run["course_lib"]
    data["notebooks"][name] = {
        "seconds": run["seconds"],
        "fast_seconds": run.get("fast_seconds"),
        "date": run["date"],
        "hardware": run["hardware"],
        "code_sha256": run["code_sha256"],
        "commit": library["commit"] + ("-dirty" if library["dirty"] else ""),
    }
    data["versions"] = package_versions()
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def record_fast(path: Path, name: str, seconds: float) -> None:
    """Record a fast-profile wall time beside the recorded full-profile run of ``name``."""
    data = load_times(path)
    if name not in data["notebooks"]:
        raise ValueError(
            f"execute_notebooks: {path} records no full-profile run of {name}; "
            "run the script without --fast-only first."
        )
    data["notebooks"][name]["fast_seconds"] = seconds
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if "--drop-noise-only" in argv:  # clean stored notebooks; execute nothing
        for path in [Path(p) for p in argv if p != "--drop-noise-only"]:
            nb = nbformat.read(path, as_version=4)
            print(f"{path}: {drop_startup_noise(nb)} TensorFlow log lines dropped", flush=True)
            nbformat.write(nb, path)
        return 0
    fast_only = "--fast-only" in argv
    argv = [a for a in argv if a != "--fast-only"]
    paths = [Path(p).resolve() for p in argv] or sorted(BOOK.glob("*.ipynb"))
    profile = course_lib.profile().name
    load_times(TIMES)  # a malformed file fails now, not after an hour of execution
    for path in paths:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if fast_only:
            print(f"timing {shown} (fast profile) ...", flush=True)
            seconds = time_fast(path)
            print(f"  {seconds:7.1f} s", flush=True)
            if path.parent == BOOK:
                record_fast(TIMES, path.name, seconds)
            continue
        print(f"executing {shown} ({profile} profile) ...", flush=True)
        run = execute(path, profile)
        library = run["course_lib"]
        print(
            f"  {run['seconds']:7.1f} s, code {run['code_sha256'][:10]}, course_lib "
            f"{library['commit']}{' (modified)' if library['dirty'] else ''}",
            flush=True,
        )
        if profile == "full" and path.parent == BOOK:
            print(f"timing {shown} (fast profile) ...", flush=True)
            run = {**run, "fast_seconds": time_fast(path)}
            print(f"  {run['fast_seconds']:7.1f} s", flush=True)
            record(TIMES, path.name, run)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
