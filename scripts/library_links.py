"""Link each chapter to the API reference of the course_lib functions it uses.

Usage: ``python scripts/library_links.py [book/01_data.ipynb ...]`` (default:
every notebook in book/); ``--check`` only reports notebooks whose cell is
missing or out of date, and exits 1 if there are any.

Reads the notebook's code cells (never changes them), finds every function and
class of ``course_lib`` they use (``from course_lib import data`` then
``data.load_splits(...)``, ``from course_lib.environment import Stopwatch``,
``course_lib.profile()``, ...), and writes a final markdown cell "Library
functions used in this chapter" that links each of them to its API page with
``{py:func}`` / ``{py:class}`` roles. Run it again after editing a chapter: it
updates the cell in place.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Library functions used in this chapter"
PACKAGE = "course_lib"


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _resolve(path: list[str]) -> str | None:
    """Canonical name of the course_lib function or class that ``path`` names."""
    try:
        obj = importlib.import_module(path[0])
    except ImportError:
        return None
    for i, name in enumerate(path[1:], start=1):
        if not hasattr(obj, name):
            module = ".".join(path[: i + 1])
            try:  # a submodule not imported yet
                obj = importlib.import_module(module)
                continue
            except ImportError:
                return None
        obj = getattr(obj, name)
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return None
    module = getattr(obj, "__module__", "") or ""
    if not (module == PACKAGE or module.startswith(PACKAGE + ".")) or obj.__name__.startswith("_"):
        return None
    return f"{_public_module(obj, module)}.{obj.__qualname__}"


def _public_module(obj: object, module: str) -> str:
    """The shortest ``course_lib.x[.y]`` that exports ``obj`` in its ``__all__`` (its API page).

    ``course_lib.data.splits.load_splits`` is documented as ``course_lib.data.load_splits``.
    """
    parts = module.split(".")
    for end in range(2, len(parts) + 1):
        candidate = importlib.import_module(".".join(parts[:end]))
        exported = obj.__name__ in getattr(candidate, "__all__", ())
        if exported and getattr(candidate, obj.__name__) is obj:
            return candidate.__name__
    return module


def used_objects(nb: nbformat.NotebookNode) -> list[str]:
    """Canonical names of the course_lib functions and classes the code cells use, in order of
    first use."""
    transform = TransformerManager().transform_cell
    aliases: dict[str, list[str]] = {}
    trees = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(transform(cell.source))
        except SyntaxError:
            continue
        trees.append(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == PACKAGE:
                        aliases[a.asname or a.name.split(".")[0]] = (
                            a.name if a.asname else PACKAGE
                        ).split(".")
            elif (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").split(".")[0] == PACKAGE
            ):
                for a in node.names:
                    aliases[a.asname or a.name] = [*node.module.split("."), a.name]

    found: dict[str, None] = {}
    for tree in trees:
        nodes = sorted(
            (n for n in ast.walk(tree) if isinstance(n, (ast.Attribute, ast.Name))),
            key=lambda n: (n.lineno, n.col_offset),
        )
        for node in nodes:
            path = _dotted(node)
            if not path or path[0] not in aliases:
                continue
            name = _resolve(aliases[path[0]] + path[1:])
            if name:
                found.setdefault(name)
    return list(found)


def cell_source(names: list[str]) -> str:
    """The markdown of the links cell, grouped by module."""
    by_module: dict[str, list[str]] = {}
    for name in names:
        module, attr = name.rsplit(".", 1)
        role = (
            "class"
            if inspect.isclass(getattr(importlib.import_module(module), attr, None))
            else "func"
        )
        by_module.setdefault(module, []).append(f"{{py:{role}}}`~{name}`")
    lines = [
        HEADING,
        "",
        "This chapter uses these functions and classes of the course's package; the",
        "[API reference](api/index.md) documents them all.",
        "",
    ]
    for module, links in sorted(by_module.items()):
        lines.append(f"- {{py:mod}}`{module}`: " + ", ".join(links))
    return "\n".join(lines)


def _find(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith(HEADING):
            return cell
    return None


def update(nb: nbformat.NotebookNode) -> bool:
    """Write the links cell into ``nb`` (last cell, or in place); return whether ``nb`` changed."""
    names = used_objects(nb)
    source = cell_source(names)
    cell = _find(nb)
    if cell is not None:
        if cell.source == source:
            return False
        cell.source = source
        return True
    nb.cells.append(nbformat.v4.new_markdown_cell(source))
    return True


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(p) for p in argv if p != "--check"] or sorted((ROOT / "book").glob("*.ipynb"))
    stale = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if not update(nb):
            print(f"{path}: up to date")
        elif check:
            stale.append(path)
            print(
                f"{path}: the 'Library functions used in this chapter' cell is missing or out "
                "of date"
            )
        else:
            nbformat.write(nb, path)
            print(f"{path}: library links written")
    if stale:
        print(f"run: python scripts/library_links.py {' '.join(map(str, stale))}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
