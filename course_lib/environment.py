"""What a chapter ran on: package versions, hardware, how long it took, and which code.

Defined in chapter "Setup and data".
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from importlib import metadata

__all__ = [
    "PACKAGES",
    "package_versions",
    "cpu_name",
    "hardware",
    "environment_report",
    "Stopwatch",
    "COLAB_CELL_KEY",
    "code_sha256",
]

PACKAGES = ("tensorflow", "keras", "keras-tuner", "numpy", "pandas", "scikit-learn", "matplotlib")


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Return ``{distribution name: version}``; ``"not installed"`` where missing."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_name() -> str:
    """Return the processor's model name, as the OS reports it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> str:
    """Describe the machine in one line: CPU, core count, memory and GPUs."""
    parts = [f"{os.cpu_count()} CPU cores ({cpu_name()})"]
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        parts.append(f"{pages * page_size / 2**30:.0f} GiB RAM")
    except (ValueError, OSError, AttributeError):
        pass
    if "tensorflow" in sys.modules:
        gpus = sys.modules["tensorflow"].config.list_physical_devices("GPU")
        parts.append(f"{len(gpus)} GPU" + ("s" if len(gpus) != 1 else "") if gpus else "no GPU")
    return ", ".join(parts)


def environment_report() -> str:
    """Return the versions and hardware report printed at the top of each chapter."""
    lines = [f"{name:<13} {version}" for name, version in package_versions().items()]
    lines.append(f"{'hardware':<13} {hardware()}")
    return "\n".join(lines)


class Stopwatch:
    """Measure wall time since creation: ``watch = Stopwatch(); ...; watch.minutes``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Seconds elapsed since the stopwatch was created."""
        return time.perf_counter() - self.start

    @property
    def minutes(self) -> float:
        """Minutes elapsed since the stopwatch was created."""
        return self.seconds / 60


COLAB_CELL_KEY = "colab_install"  # metadata key of the hidden Colab install cell


def _text(source: str | list[str]) -> str:
    text = "".join(source) if isinstance(source, list) else source
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def code_sha256(notebook: dict) -> str:
    r"""Return the SHA-256 (hex) of a notebook's code: its code cells' sources, in order.

    Defined in chapter "Setup and data"; ``scripts/execute_notebooks.py`` records it
    in the notebook's metadata, so a test can tell whether the stored outputs come
    from the stored code.

    Only what runs counts: markdown and raw cells, outputs, execution counts and
    metadata do not, nor trailing whitespace. The hidden Colab install cell (metadata
    ``colab_install``, written by ``scripts/colab_cell.py``) does not count either: off
    Colab it does nothing and prints nothing, and it changes with the repository's
    address, not with the chapter. The digest is that of the JSON list of the
    remaining sources, each with trailing whitespace removed from its lines and its
    leading and trailing blank lines removed.

    Parameters
    ----------
    notebook : dict
        A notebook as ``nbformat.read`` or ``json.load`` return it.

    Examples
    --------
    >>> code = {"cell_type": "code", "source": "x = 1  \n", "metadata": {}}
    >>> text = {"cell_type": "markdown", "source": "# Title", "metadata": {}}
    >>> a = code_sha256({"cells": [text, code]})
    >>> a == code_sha256({"cells": [dict(code, source="x = 1", outputs=["1"])]})
    True
    >>> a == code_sha256({"cells": [dict(code, source="x = 2")]})
    False
    """
    sources = [
        _text(cell["source"])
        for cell in notebook["cells"]
        if cell["cell_type"] == "code" and not cell.get("metadata", {}).get(COLAB_CELL_KEY)
    ]
    return hashlib.sha256(json.dumps(sources, ensure_ascii=False).encode("utf-8")).hexdigest()
