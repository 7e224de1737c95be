"""Make chapter notebooks run on Colab: a hidden first code cell installs the course.

Usage: ``python scripts/colab_cell.py [book/01_data.ipynb ...]`` (default: every
notebook in book/).

The cell pip-installs ``course_lib`` from the repository named in _config.yml
(``repository.url`` and ``repository.branch``, the one place the address is
set) only when the notebook runs on Colab (``"google.colab" in sys.modules``);
anywhere else it does nothing and prints nothing. It is tagged ``remove-cell``,
so the book hides it, input and output.

Idempotent: a notebook that has the cell gets its source updated if the
address changed, and is otherwise left alone. When the cell is added, the
stored execution counts move up by one and the new cell gets count 1 with no
outputs, which is exactly what a fresh run off Colab would store.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

from course_lib.environment import COLAB_CELL_KEY

ROOT = Path(__file__).resolve().parents[1]
MARKER = COLAB_CELL_KEY  # cell metadata key that identifies the cell
TAGS = ["remove-cell"]

TEMPLATE = """\
# On Colab only: install the course's package. Hidden in the book; does nothing elsewhere.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "course_lib @ git+{url}@{branch}",
        ],
        check=True,
    )"""


def repository(config: Path = ROOT / "_config.yml") -> tuple[str, str]:
    """Return ``(url, branch)`` of the repository from the book's _config.yml."""
    settings = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("repository") or {}
    url = str(settings.get("url") or "").rstrip("/")
    if not url.startswith("https://"):
        raise ValueError(
            f"colab_cell: {config} must set repository.url to an https:// address; got {url!r}."
        )
    return url, str(settings.get("branch") or "main")


def cell_source(url: str, branch: str) -> str:
    """The install cell's code for the repository ``url`` at ``branch``."""
    return TEMPLATE.format(url=url.rstrip("/"), branch=branch)


def add_colab_cell(nb: nbformat.NotebookNode, source: str) -> bool:
    """Insert (or update) the install cell in ``nb``; return whether ``nb`` changed."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get(MARKER):
            if cell.source == source and cell.metadata.get("tags") == TAGS:
                return False
            cell.source = source
            cell.metadata["tags"] = list(TAGS)
            return True

    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    executed = any(nb.cells[i].execution_count is not None for i in code)
    if executed:
        for i in code:
            cell = nb.cells[i]
            if cell.execution_count is not None:
                cell.execution_count += 1
            for output in cell.outputs:
                if output.get("execution_count") is not None:
                    output["execution_count"] += 1
    new = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS), MARKER: True})
    new.execution_count = 1 if executed else None
    nb.cells.insert(code[0] if code else len(nb.cells), new)
    return True


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted((ROOT / "book").glob("*.ipynb"))
    source = cell_source(*repository())
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        changed = add_colab_cell(nb, source)
        if changed:
            nbformat.write(nb, path)
        print(f"{path}: {'Colab install cell written' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
