"""The publishing scripts and the book's build-time pieces.

scripts/colab_cell.py and scripts/library_links.py run here on copies of the
chapter notebooks in a temporary folder, never on book/ itself;
scripts/execute_notebooks.py runs only on a tiny notebook of its own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pkgutil
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml

import course_lib
from course_lib.environment import code_sha256, package_versions

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _load(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


colab_cell = _load("colab_cell")
library_links = _load("library_links")
execute_notebooks = _load("execute_notebooks")


def _code(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


# --------------------------------------------------------------------------
# scripts/colab_cell.py
# --------------------------------------------------------------------------


@pytest.fixture
def chapter_copy(tmp_path) -> Path:
    """A chapter as it was before it got its Colab cell (counts moved back down by one)."""
    path = tmp_path / NOTEBOOKS[0].name
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb.cells = [c for c in nb.cells if not c.metadata.get(colab_cell.MARKER)]
    for cell in _code(nb):
        cell.execution_count -= 1
    nbformat.write(nb, path)
    return path


def test_colab_cell_is_inserted_hidden_first_with_counts_shifted(chapter_copy):
    before = nbformat.read(chapter_copy, as_version=4)
    assert colab_cell.main([str(chapter_copy)]) == 0
    after = nbformat.read(chapter_copy, as_version=4)

    cells = _code(after)
    first = cells[0]
    assert first.metadata["tags"] == ["remove-cell"] and first.metadata[colab_cell.MARKER]
    assert first.execution_count == 1 and first.outputs == []
    url, branch = colab_cell.repository()
    assert url == yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert f"course_lib @ git+{url}@{branch}" in first.source
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    # The chapter's own cells are unchanged but for their counts, moved up by one.
    for old, new in zip(_code(before), cells[1:], strict=True):
        assert new.source == old.source and new.execution_count == old.execution_count + 1
        for o_old, o_new in zip(old.outputs, new.outputs, strict=True):
            if "execution_count" in o_old:
                assert o_new["execution_count"] == o_old["execution_count"] + 1
    # Inserted before the first code cell: the title stays the first cell.
    assert after.cells[0].source == before.cells[0].source
    assert len(after.cells) == len(before.cells) + 1


def test_colab_cell_is_idempotent(chapter_copy):
    colab_cell.main([str(chapter_copy)])
    once = chapter_copy.read_bytes()
    colab_cell.main([str(chapter_copy)])
    assert chapter_copy.read_bytes() == once


def test_colab_cell_follows_a_changed_repository_without_shifting_again(chapter_copy):
    nb = nbformat.read(chapter_copy, as_version=4)
    colab_cell.add_colab_cell(nb, colab_cell.cell_source("https://github.com/old/place", "main"))
    counts = [c.execution_count for c in _code(nb)]
    assert colab_cell.add_colab_cell(
        nb, colab_cell.cell_source("https://github.com/new/place", "dev")
    )
    assert [c.execution_count for c in _code(nb)] == counts
    assert "git+https://github.com/new/place@dev" in _code(nb)[0].source
    assert sum(bool(c.metadata.get(colab_cell.MARKER)) for c in nb.cells) == 1


def test_colab_cell_prints_and_installs_nothing_off_colab(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    exec(colab_cell.cell_source("https://github.com/cnn-course/cnn-course", "main"), {})
    assert calls == [] and capsys.readouterr() == ("", "")


def test_colab_cell_pip_installs_the_course_on_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kwargs: calls.append((args, kwargs)))
    exec(colab_cell.cell_source("https://github.com/cnn-course/cnn-course", "main"), {})
    [(args, kwargs)] = calls
    assert args[:4] == [sys.executable, "-m", "pip", "install"] and kwargs == {"check": True}
    assert args[-1] == "course_lib @ git+https://github.com/cnn-course/cnn-course@main"


def test_colab_cell_rejects_a_config_without_repository_url(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\nrepository:\n  branch: main\n")
    with pytest.raises(ValueError, match="repository.url"):
        colab_cell.repository(config)


# --------------------------------------------------------------------------
# scripts/library_links.py
# --------------------------------------------------------------------------


def _notebook(*sources: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_library_links_finds_what_the_code_uses():
    nb = _notebook(
        "import course_lib\nfrom course_lib import data, ops as o\n"
        "from course_lib.environment import Stopwatch",
        "%matplotlib inline\nprofile = course_lib.profile()\ncourse_lib.seed_everything(0)",
        "train = data.load_splits().train\ntrain.take(5)\nx = o.conv2d\nwatch = Stopwatch()",
        "data.CLASS_NAMES\ndata._remedies()\nimport numpy as np\nnp.zeros(3)",
    )
    assert library_links.used_objects(nb) == [
        "course_lib.profiles.profile",
        "course_lib.seeding.seed_everything",
        "course_lib.data.load_splits",
        "course_lib.ops.conv2d",
        "course_lib.environment.Stopwatch",
    ]
    text = library_links.cell_source(library_links.used_objects(nb))
    assert text.startswith(library_links.HEADING)
    assert "{py:class}`~course_lib.environment.Stopwatch`" in text
    assert "- {py:mod}`course_lib.ops`: {py:func}`~course_lib.ops.conv2d`" in text


def test_library_links_appends_once_and_leaves_code_alone(tmp_path):
    path = tmp_path / "chapter.ipynb"
    nb = _notebook("from course_lib import ops\nops.pool2d")
    nb.cells.append(nbformat.v4.new_markdown_cell("## Exercises"))
    nbformat.write(nb, path)
    assert library_links.main([str(path)]) == 0
    after = nbformat.read(path, as_version=4)
    assert after.cells[0].source == nb.cells[0].source
    assert (
        after.cells[-1].cell_type == "markdown"
        and "course_lib.ops.pool2d" in after.cells[-1].source
    )
    once = path.read_bytes()
    assert library_links.main([str(path), "--check"]) == 0
    assert library_links.main([str(path)]) == 0 and path.read_bytes() == once


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_links_the_library_functions_it_uses(path):
    nb = nbformat.read(path, as_version=4)
    assert not library_links.update(nb), (
        f"{path.name}: its 'Library functions used in this chapter' cell is missing or out of "
        "date; "
        f"run: .venv/bin/python scripts/library_links.py book/{path.name}"
    )


# --------------------------------------------------------------------------
# The API reference covers the package
# --------------------------------------------------------------------------


def test_every_module_has_an_api_page_in_the_toc():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = set()
    for chapter in toc["chapters"]:
        listed.add(chapter["file"])
        listed.update(section["file"] for section in chapter.get("sections", []))
    modules = sorted(
        m.name for m in pkgutil.iter_modules(course_lib.__path__) if not m.name.startswith("_")
    )
    for module in modules:
        page = ROOT / "book" / "api" / f"{module}.md"
        assert page.exists(), (
            f"course_lib.{module} has no API page: add {page.relative_to(ROOT)} "
            "(see book/api/data.md)"
        )
        assert f".. automodule:: course_lib.{module}" in page.read_text()
        assert f"book/api/{module}" in listed, (
            f"_toc.yml does not list book/api/{module} under book/api/index"
        )


# --------------------------------------------------------------------------
# book/_ext/execution_report.py
# --------------------------------------------------------------------------


def _sphinx(src: Path, out: Path) -> subprocess.CompletedProcess:
    """Build ``src`` to HTML (warnings are errors) in a fresh process, incrementally into
    ``out``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "book" / "_ext")}
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(src), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture
def report_project(tmp_path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "extensions = ['myst_nb', 'execution_report']\nproject = 'report'\n"
        "nb_execution_mode = 'off'\nexecution_report_times = 'times.json'\n"
    )
    (src / "index.rst").write_text("Book\n====\n\n.. toctree::\n   :glob:\n\n   *\n")
    (src / "report.rst").write_text("Report\n======\n\n.. execution-report:: times.json\n")
    for name in ("01_a", "02_b"):
        _chapter(src / f"{name}.ipynb", name)
    return src


def _chapter(path: Path, title: str, code: str = "x = 1") -> None:
    cells = [nbformat.v4.new_markdown_cell(f"# Chapter {title}"), nbformat.v4.new_code_cell(code)]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    metadata = {"kernelspec": kernel, "language_info": {"name": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=metadata), path)


def _entry(
    seconds: float,
    digest: str | None,
    date: str | None = "2025-01-31T12:00:00Z",
    fast_seconds: float | None = 30.0,
) -> dict:
    return {
        "seconds": seconds,
        "fast_seconds": fast_seconds,
        "date": date,
        "hardware": "2 CPU cores (Test CPU), 8 GiB RAM",
        "code_sha256": digest,
        "commit": "abc1234",
    }


def _report(tmp_path: Path) -> str:
    return (tmp_path / "out" / "report.html").read_text()


def test_execution_report_renders_the_json_and_follows_its_changes(report_project, tmp_path):
    digest = code_sha256(nbformat.read(report_project / "01_a.ipynb", as_version=4))
    record = {
        "notebooks": {"01_a.ipynb": _entry(90.0, digest), "02_b.ipynb": _entry(600.0, "f" * 64)},
        "versions": {"keras": "3.15.1", "python": "3.11.7"},
    }
    (report_project / "times.json").write_text(json.dumps(record))
    build = _sphinx(report_project, tmp_path / "out")
    assert build.returncode == 0, build.stderr
    html = _report(tmp_path)
    for text in (
        "01_a.ipynb",
        "<p>1.5</p>",
        "<p>0.5</p>",
        "<p>1.0</p>",
        "02_b.ipynb",
        "<p>10.0</p>",
        "<p>11.5</p>",
        "<p>2025-01-31</p>",
        "on 2 CPU cores (Test CPU), 8 GiB RAM",
        digest[:10],
        "ffffffffff",
        "<p>matches</p>",
        "<p>code changed since</p>",
        "1 of 2 match",
        "3.15.1",
    ):
        assert text in html, f"{text!r} missing from the report"
    assert digest[:11] not in html, "the hash is shown in full"
    assert "Chapter 01_a" in html, "chapters are linked by their titles"

    record["notebooks"]["02_b.ipynb"] = _entry(1200.0, None, date=None, fast_seconds=None)
    (report_project / "times.json").write_text(json.dumps(record))
    build = _sphinx(report_project, tmp_path / "out")  # incremental, like make book
    assert build.returncode == 0, build.stderr
    html = _report(tmp_path)
    assert "<p>20.0</p>" in html and "<p>21.5</p>" in html, (
        "the report did not follow the changed JSON"
    )
    assert "<p>unknown</p>" in html and "<p>no hash recorded</p>" in html
    assert "<p>1.0</p>" not in html and "<p>0.5</p>" in html, "the fast total ignores a null"

    _chapter(report_project / "01_a.ipynb", "01_a (more prose)")  # markdown edits are free
    build = _sphinx(report_project, tmp_path / "out")
    assert build.returncode == 0, build.stderr
    assert "<p>matches</p>" in _report(tmp_path)
    _chapter(report_project / "01_a.ipynb", "01_a", code="x = 2")  # the JSON is unchanged
    build = _sphinx(report_project, tmp_path / "out")
    assert build.returncode == 0, build.stderr
    html = _report(tmp_path)
    assert "<p>matches</p>" not in html and "<p>code changed since</p>" in html, (
        "the report did not follow the changed notebook"
    )

    _chapter(report_project / "03_c.ipynb", "03_c")  # a new chapter, not executed yet
    build = _sphinx(report_project, tmp_path / "out")
    assert build.returncode == 0, build.stderr
    html = _report(tmp_path)
    assert "03_c.ipynb" in html and "not recorded yet" in html, "the report missed a new chapter"


def test_run_time_role_quotes_the_recorded_times(report_project, tmp_path):
    (report_project / "note.md").write_text(
        "# Note\n\nThis takes {run-time}`01_a.ipynb`; that takes {run-time}`02_b.ipynb`; "
        "a new one {run-time}`09_z.ipynb`; the book {run-time}`all`.\n"
    )
    record = {
        "notebooks": {
            "01_a.ipynb": _entry(90.0, None, fast_seconds=6.0),
            "02_b.ipynb": _entry(600.0, None, fast_seconds=None),
        },
        "versions": {},
    }
    (report_project / "times.json").write_text(json.dumps(record))
    build = _sphinx(report_project, tmp_path / "out")
    assert build.returncode == 0, build.stderr
    html = (tmp_path / "out" / "note.html").read_text()
    machine = "2 CPU cores (Test CPU), 8 GiB RAM"
    assert (
        f"1.5 minutes in the full profile and 0.1 minutes in the fast profile, on {machine}"
        in html
    ), html
    assert f"10.0 minutes in the full profile, on {machine}" in html
    assert "not measured yet (make execute records it)" in html
    assert f"11.5 minutes in the full profile, on {machine}" in html, "all: no fast total"

    record["notebooks"]["01_a.ipynb"]["seconds"] = 120.0
    (report_project / "times.json").write_text(json.dumps(record))
    build = _sphinx(report_project, tmp_path / "out")  # incremental: follows the file
    assert build.returncode == 0, build.stderr
    assert "2.0 minutes in the full profile" in (tmp_path / "out" / "note.html").read_text()

    (report_project / "times.json").write_text('{"notebooks": {}}')
    build = _sphinx(report_project, tmp_path / "out")
    assert build.returncode != 0 and "run-time: cannot read times.json" in build.stderr


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"notebooks": {}}', "exactly the keys 'notebooks' and 'versions'"),
        (  # the schema before code hashes: seconds only, one hardware for all
            '{"hardware": "x", "notebooks": {"01_a.ipynb": 90.0}, "versions": {}}',
            "exactly the keys 'notebooks' and 'versions'",
        ),
        ('{"notebooks": {"01_a.ipynb": 90.0}, "versions": {}}', "the entry of 01_a.ipynb"),
    ],
    ids=["no versions", "old schema", "bare seconds"],
)
def test_execution_report_fails_the_build_on_a_bad_file(report_project, tmp_path, content, problem):
    (report_project / "times.json").write_text(content)
    build = _sphinx(report_project, tmp_path / "out")
    assert build.returncode != 0
    assert "execution-report: cannot read times.json" in build.stderr, build.stderr
    assert problem in build.stderr, build.stderr


# --------------------------------------------------------------------------
# scripts/execute_notebooks.py (a tiny notebook; never a chapter)
# --------------------------------------------------------------------------


def test_the_book_execution_times_file_has_the_schema():
    record = execute_notebooks.load_times(execute_notebooks.TIMES)
    assert {p.name for p in NOTEBOOKS} <= set(record["notebooks"])


def test_record_adds_a_chapter_and_keeps_the_others(tmp_path):
    times = tmp_path / "times.json"
    old = {"notebooks": {"01_a.ipynb": _entry(90.0, "a" * 64)}, "versions": {}}
    times.write_text(json.dumps(old))
    run = {
        "code_sha256": "b" * 64,
        "profile": "full",
        "date": "2025-02-01T08:00:00Z",
        "seconds": 12.3,
        "hardware": "a machine",
        "course_lib": {"version": "0.1.0", "commit": "1234567", "dirty": True},
    }
    execute_notebooks.record(times, "02_b.ipynb", run)
    record = json.loads(times.read_text())
    assert record["notebooks"]["01_a.ipynb"] == old["notebooks"]["01_a.ipynb"]
    assert record["notebooks"]["02_b.ipynb"] == {
        "seconds": 12.3,
        "fast_seconds": None,
        "date": "2025-02-01T08:00:00Z",
        "hardware": "a machine",
        "code_sha256": "b" * 64,
        "commit": "1234567-dirty",
    }
    assert record["versions"] == package_versions()


def test_load_times_refuses_the_old_schema(tmp_path):
    times = tmp_path / "times.json"
    times.write_text('{"hardware": "x", "notebooks": {"01_a.ipynb": 90.0}, "versions": {}}')
    with pytest.raises(ValueError, match="must hold"):
        execute_notebooks.load_times(times)
    assert execute_notebooks.load_times(tmp_path / "none.json") == {"notebooks": {}, "versions": {}}


def test_an_interrupted_runs_backup_is_removed_before_a_recorded_execution(tmp_path):
    runs = tmp_path / "_runs" / "full"
    (runs / "cnn" / "backup").mkdir(parents=True)
    (runs / "cnn" / "backup" / "latest.weights.h5").write_bytes(b"x")
    (runs / "cnn" / "best.keras").write_bytes(b"kept")
    (runs / "mlp").mkdir()
    assert execute_notebooks.remove_interrupted_runs(runs) == [runs / "cnn" / "backup"]
    assert not (runs / "cnn" / "backup").exists() and (runs / "cnn" / "best.keras").exists()
    assert execute_notebooks.remove_interrupted_runs(runs) == []
    assert execute_notebooks.remove_interrupted_runs(tmp_path / "none") == []


def test_execute_stores_outputs_with_where_they_come_from(tmp_path, monkeypatch):
    book = tmp_path.resolve() / "book"
    book.mkdir()
    path = book / "01_a.ipynb"
    _chapter(path, "01_a", code="print(6 * 7)")
    monkeypatch.setattr(execute_notebooks, "BOOK", book)
    monkeypatch.setattr(execute_notebooks, "TIMES", book / "times.json")
    monkeypatch.setattr(execute_notebooks, "machine", lambda: "a test machine")
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert execute_notebooks.main([str(path)]) == 0

    nb = nbformat.read(path, as_version=4)
    assert nb.cells[1].outputs[0].text == "42\n"
    run = nb.metadata["course_execution"]
    assert run["code_sha256"] == code_sha256(nb) and run["profile"] == "full"
    assert run["hardware"] == "a test machine" and run["seconds"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", run["date"]), run["date"]
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert run["course_lib"]["version"] == course_lib.__version__
    assert run["course_lib"]["commit"] == (head or "unknown")
    assert isinstance(run["course_lib"]["dirty"], bool)
    entry = json.loads((book / "times.json").read_text())["notebooks"]["01_a.ipynb"]
    assert entry["code_sha256"] == run["code_sha256"] and entry["date"] == run["date"]
    assert entry["seconds"] == run["seconds"] and entry["commit"].startswith(head or "unknown")
    assert entry["fast_seconds"] >= 0, "the fast-profile run is timed too"

    nb.cells[1].source = "import os\nassert os.environ['COURSE_PROFILE'] == 'fast'"
    nbformat.write(nb, path)
    before = path.read_text()
    assert execute_notebooks.main(["--fast-only", str(path)]) == 0
    assert path.read_text() == before, "--fast-only left the stored notebook alone"
    again = json.loads((book / "times.json").read_text())["notebooks"]["01_a.ipynb"]
    assert {k: v for k, v in again.items() if k != "fast_seconds"} == {
        k: v for k, v in entry.items() if k != "fast_seconds"
    }
    assert os.environ["COURSE_PROFILE"] == "full", "the profile is restored"

    (book / "02_b.ipynb").write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="records no full-profile run of 02_b.ipynb"):
        execute_notebooks.main(["--fast-only", str(book / "02_b.ipynb")])


def test_execute_drops_tensorflows_startup_lines_and_keeps_real_stderr():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import keras")])
    noise = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796060919.701942    1754 port.cc:153] oneDNN custom operations are on.\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow\n"
        "E0000 00:00:1795842320.235478   32413 cuda_platform.cc:52] failed call to cuInit\n"
    )
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=noise),
        nbformat.v4.new_output("stream", name="stderr", text=noise + "UserWarning: real\n"),
        nbformat.v4.new_output("stream", name="stdout", text="kept\n"),
    ]
    assert execute_notebooks.drop_startup_noise(nb) == 8
    assert [o.get("text") for o in nb.cells[0].outputs] == ["UserWarning: real\n", "kept\n"]


def test_drop_noise_only_cleans_a_stored_notebook_and_executes_nothing(tmp_path):
    path = tmp_path / "01_a.ipynb"
    _chapter(path, "01_a", code="raise SystemExit('must not run')")
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stderr",
            text="E0000 00:00:1795842320.235478   32413 cuda_platform.cc:52] failed call\n",
        ),
        nbformat.v4.new_output("stream", name="stdout", text="kept\n"),
    ]
    nbformat.write(nb, path)
    assert execute_notebooks.main(["--drop-noise-only", str(path)]) == 0
    outputs = nbformat.read(path, as_version=4).cells[1].outputs
    assert [(o.name, o.text) for o in outputs] == [("stdout", "kept\n")]
