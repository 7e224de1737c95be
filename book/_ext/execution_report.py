"""Sphinx extension: the ``execution-report`` directive.

Renders ``book/execution_times.json`` (written by ``scripts/execute_notebooks.py``
during ``make execute``) as the book's execution report: for each chapter the date,
full-profile wall time and hardware of the run that stored its outputs, the hash of
the code that ran (``course_lib.environment.code_sha256``) and whether the notebook's
code still has that hash; then the package versions. The table is made at build time
from the JSON file and the notebooks, which are dependencies of the page, so the report
changes whenever they do. A malformed JSON file fails the build.

Usage in a MyST page (the path is relative to the page)::

    ```{execution-report} execution_times.json
    ```

It also adds the ``run-time`` role, for the note that opens each chapter: in a page,
``{run-time}`03_pooling.ipynb` `` becomes "6.4 minutes in the full profile and 0.9 in the
fast profile, on 2 CPU cores (...)" (``{run-time}`all` `` sums the chapters), read at
build time from the file that the ``execution_report_times`` setting names (default
``book/execution_times.json``, relative to the book's root), so a chapter's stated run time is the
recorded one.
"""

from __future__ import annotations

from course_lib.environment import code_sha256

import json
from pathlib import Path, PurePosixPath

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective, SphinxRole

COLUMNS = (
    "Chapter",
    "Notebook",
    "Date",
    "Full profile (min)",
    "Fast profile (min)",
    "Hardware",
    "Code",
    "Stored code",
)
ENTRY_KEYS = ("seconds", "fast_seconds", "date", "hardware", "code_sha256", "commit")
SCHEMA = (
    "{'notebooks': {name: {'seconds': number, 'fast_seconds': number|null, 'date': str|null, "
    "'hardware': str|null, 'code_sha256': str|null, 'commit': str|null}}, "
    "'versions': {package: version}}"
)


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


def _check(record: object) -> tuple[dict[str, dict], dict[str, str]]:
    """Return ``(notebooks, versions)`` of an execution-times record; ValueError if malformed."""
    if not isinstance(record, dict) or set(record) != {"notebooks", "versions"}:
        raise ValueError("the top level must have exactly the keys 'notebooks' and 'versions'")
    notebooks, versions = record["notebooks"], record["versions"]
    if not isinstance(notebooks, dict) or not isinstance(versions, dict):
        raise ValueError("'notebooks' and 'versions' must be objects")
    for name, entry in notebooks.items():
        if not isinstance(entry, dict) or set(entry) != set(ENTRY_KEYS):
            raise ValueError(f"the entry of {name} must have exactly the keys {ENTRY_KEYS}")
        for key in ("seconds", "fast_seconds"):
            seconds = entry[key]
            if seconds is None and key == "fast_seconds":
                continue
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise ValueError(f"the {key} of {name} must be a number >= 0; got {seconds!r}")
        for key in ENTRY_KEYS[2:]:
            if entry[key] is not None and not isinstance(entry[key], str):
                raise ValueError(f"the {key} of {name} must be a string or null")
    return notebooks, versions


class ExecutionReport(SphinxDirective):
    """Table of each notebook's recorded run: date, wall time, hardware, code hash."""

    required_arguments = 1
    has_content = False

    def _status(self, name: str, folder: Path, recorded: str | None) -> str:
        """Whether the notebook ``name`` beside the JSON file still has the recorded code."""
        if recorded is None:
            return "no hash recorded"
        path = folder / name
        if not path.is_file():
            return "notebook missing"
        self.env.note_dependency(str(path))
        try:
            current = code_sha256(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise self.error(
                f"execution-report: cannot read the notebook {path} ({exc!r})"
            ) from exc
        return "matches" if current == recorded else "code changed since"

    def run(self) -> list[nodes.Node]:
        relpath, abspath = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(relpath)
        if not hasattr(self.env, "execution_report_docs"):
            self.env.execution_report_docs = set()
        self.env.execution_report_docs.add(self.env.docname)
        try:
            times, versions = _check(json.loads(Path(abspath).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise self.error(
                f"execution-report: cannot read {relpath} ({exc}); expected the JSON file that "
                f"scripts/execute_notebooks.py writes: {SCHEMA}."
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
        rows, total, fast_total, matching, machines = [], 0.0, 0.0, 0, set()
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
            entry = times.get(name)
            if entry is None:
                rows.append([title, link, "not recorded yet: run make execute", "", "", "", "", ""])
                continue
            total += entry["seconds"]
            fast_total += entry["fast_seconds"] or 0.0
            machines.add(entry["hardware"] or "unknown")
            digest = entry["code_sha256"]
            status = self._status(name, Path(abspath).parent, digest)
            matching += status == "matches"
            rows.append(
                [
                    title,
                    link,
                    (entry["date"] or "unknown")[:10],
                    _minutes(entry["seconds"]),
                    "" if entry["fast_seconds"] is None else _minutes(entry["fast_seconds"]),
                    entry["hardware"] or "unknown",
                    nodes.literal("", digest[:10]) if digest else "unknown",
                    status,
                ]
            )
        rows.append(
            [
                nodes.strong("", "All chapters"),
                "",
                "",
                _minutes(total),
                _minutes(fast_total),
                "",
                "",
                f"{matching} of {len(names)} match",
            ]
        )

        machine = machines.pop() if len(machines) == 1 else "unknown"  # one machine ran them all
        where = "" if machine == "unknown" else f", on {machine}"
        intro = nodes.paragraph(
            "",
            f"{len(times)} of {len(names)} notebooks recorded, {total / 60:.1f} minutes in "
            f"all{where}. Each row is the one full-profile run of the notebook (make execute) "
            "that produced the outputs the book shows: when it started (UTC), its wall time, "
            "the machine, and the first characters of the SHA-256 of the code that ran. The "
            "last column says whether the notebook's code cells still have that hash "
            "(markdown edits do not count); when they do not, the chapter awaits a re-run.",
        )
        result: list[nodes.Node] = [
            intro,
            _table(list(COLUMNS), rows, [18, 15, 10, 8, 8, 19, 10, 12]),
            nodes.paragraph("", "Package versions of the latest run:"),
            _table(
                ["Package", "Version"],
                [[name, str(v)] for name, v in sorted(versions.items())],
                [50, 50],
            ),
        ]
        return result


class RunTime(SphinxRole):
    """``{run-time}`NN_name.ipynb` ``: a chapter's recorded run times, as words."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        setting = self.config.execution_report_times
        path = Path(self.env.srcdir) / setting
        self.env.note_dependency(str(path))
        try:
            times, _ = _check(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            message = self.inliner.reporter.error(
                f"run-time: cannot read {setting} ({exc}); expected {SCHEMA}.", line=self.lineno
            )
            return [], [message]
        name = self.text.strip()
        if name == "all":  # the whole book: sums over the recorded chapters
            recorded = list(times.values())
            machines = {e["hardware"] for e in recorded}
            entry = {
                "seconds": sum(e["seconds"] for e in recorded),
                "fast_seconds": None
                if any(e["fast_seconds"] is None for e in recorded)
                else sum(e["fast_seconds"] for e in recorded),
                "hardware": machines.pop() if len(machines) == 1 else "several machines",
            }
        else:
            entry = times.get(name)
        if entry is None:
            text = "not measured yet (make execute records it)"
        else:
            fast = entry["fast_seconds"]
            text = f"{_minutes(entry['seconds'])} minutes in the full profile"
            if fast is not None:
                text += f" and {_minutes(fast)} minutes in the fast profile"
            text += f", on {entry['hardware'] or 'an unrecorded machine'}"
        return [nodes.inline("", text, classes=["run-time"])], []


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
    app.add_config_value("execution_report_times", "book/execution_times.json", "env")
    app.add_directive("execution-report", ExecutionReport)
    app.add_role("run-time", RunTime())
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
