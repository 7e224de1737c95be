"""What a chapter ran on: package versions, hardware, and how long it took.

Defined in chapter "Setup and data".
"""

from __future__ import annotations

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
