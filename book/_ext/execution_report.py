"""Sphinx extension: the ``execution-report`` directive.

Renders ``book/execution_times.json`` (written by ``scripts/execute_notebooks.py``
during ``make execute``) as the book's execution report: each chapter's
full-profile wall time, the hardware and the package versions. The table is
made at build time from the JSON file, which is a dependency of the page, so
the report changes whenever the recorded times do.

Usage in a MyST page (the path is relative to the page)::

    ```{execution-report} execution_times.json
    ```
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _table(header: list[str], rows: list[list[nodes.Node | str]], widths: list[int]) -> nodes.table:
    """Build a docutils table whose cells are strings or inline nodes."""
    table = nodes.table(classes=["execution-report"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)

    def row(cells: list[nodes.Node | str]) -> nodes.row:
        result = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(
                "", "", cell if isinstance(cell, nodes.Node) else nodes.Text(cell)
            )
            result += entry
        return result

    thead = nodes.thead()
    thead += row(header)
    tbody = nodes.tbody()
    for cells in rows:
        tbody += row(cells)
    group += thead
    group += tbody
    return table


class ExecutionReport(SphinxDirective):
    """Table of each notebook's recorded wall time, the hardware and the versions."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        relpath, abspath = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(relpath)
        if not hasattr(self.env, "execution_report_docs"):
            self.env.execution_report_docs = set()
        self.env.execution_report_docs.add(self.env.docname)
        try:
            record = json.loads(Path(abspath).read_text(encoding="utf-8"))
            times: dict[str, float] = record["notebooks"]
            hardware: str = record["hardware"]
            versions: dict[str, str] = record["versions"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise self.error(
                f"execution-report: cannot read {relpath} ({exc!r}); expected the JSON file that "
                "scripts/execute_notebooks.py writes, with keys 'notebooks', 'hardware' and "
                "'versions'."
            ) from exc

        # Chapters are linked by their document name, relative to the JSON file's folder.
        folder = PurePosixPath(relpath).parent
        notebook_docs = sorted(
            doc
            for doc in self.env.found_docs
            if str(self.env.doc2path(doc, False)).endswith(".ipynb")
        )
        names = sorted(
            set(times)
            | {
                PurePosixPath(doc).name + ".ipynb"
                for doc in notebook_docs
                if PurePosixPath(doc).parent == folder
            }
        )
        rows, total = [], 0.0
        for name in names:
            doc = str(folder / PurePosixPath(name).stem)
            if doc in self.env.found_docs:
                link = addnodes.pending_xref(
                    "",
                    nodes.inline("", name),
                    refdomain="std",
                    reftype="doc",
                    reftarget="/" + doc,
                    refexplicit=True,
                    refwarn=True,
                )
                title = addnodes.pending_xref(
                    "",
                    nodes.inline("", doc),
                    refdomain="std",
                    reftype="doc",
                    reftarget="/" + doc,
                    refexplicit=False,
                    refwarn=True,
                )
            else:
                link, title = nodes.literal("", name), nodes.Text("(not in the table of contents)")
            if name in times:
                seconds = float(times[name])
                total += seconds
                rows.append([title, link, _minutes(seconds)])
            else:
                rows.append([title, link, "not recorded yet: run make execute"])
        rows.append([nodes.strong("", "All chapters"), "", _minutes(total)])

        intro = nodes.paragraph(
            "",
            f"{len(times)} notebooks, {total / 60:.1f} minutes in all, on {hardware}. "
            "Each time is the wall time of one full-profile run of the notebook "
            "(make execute), which produced the outputs the book shows.",
        )
        result: list[nodes.Node] = [
            intro,
            _table(["Chapter", "Notebook", "Wall time (min)"], rows, [50, 30, 20]),
        ]
        hw = nodes.paragraph("", "")
        hw += nodes.strong("", "Hardware: ")
        hw += nodes.Text(hardware)
        result.append(hw)
        result.append(
            _table(
                ["Package", "Version"],
                [[name, str(v)] for name, v in sorted(versions.items())],
                [50, 50],
            )
        )
        return result


def _purge(app: Sphinx, env, docname: str) -> None:
    getattr(env, "execution_report_docs", set()).discard(docname)


def _merge(app: Sphinx, env, docnames: set[str], other) -> None:
    if not hasattr(env, "execution_report_docs"):
        env.execution_report_docs = set()
    env.execution_report_docs |= getattr(other, "execution_report_docs", set()) & set(docnames)


def _outdated(app: Sphinx, env, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """Re-read the report when chapters come or go: its rows follow the table of contents."""
    if added or removed:
        return sorted(getattr(env, "execution_report_docs", set()) - removed)
    return []


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("execution-report", ExecutionReport)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
