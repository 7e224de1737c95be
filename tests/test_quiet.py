"""Tests of course_lib._quiet: a chapter shows only what it prints, not TensorFlow's log."""

import ast
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import _quiet

ROOT = Path(__file__).resolve().parents[1]

# What a chapter does, in the order a chapter does it, in a fresh interpreter that
# looks interactive to TensorFlow (as Jupyter and Colab do: its Python logger then
# prints INFO lines to stdout). 100 images in batches of 32 leave a partial batch,
# which with op determinism (seed_everything) makes tf.data rewrite Keras' input
# pipeline and log "NodeDef mentions attribute use_unbounded_threadpool ...".
CHAPTER = """
import sys
sys.ps1 = ">>> "
import course_lib
import keras
import numpy as np
import tensorflow as tf
from course_lib import data, train

course_lib.seed_everything(0)
rng = np.random.default_rng(0)
split = data.Split(rng.random((100, 8, 8, 1), dtype=np.float32), rng.integers(0, 10, 100), "train")
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
train.compile_classifier(model)
history = train.fit(model, split, split.derive(split.x, split.y, "valid"), epochs=2, batch_size=32,
                    verbose=0)
strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
double = tf.function(lambda t: 2 * t)
for n in range(1, 8):
    double(tf.zeros([n]))
tf.get_logger().warning("a TensorFlow warning that stays")
print("epochs:", len(history.history["loss"]))
"""

NOISE = (
    "use_unbounded_threadpool",  # C++ error-level log of tf.data (any pipeline, once per epoch)
    "INFO:tensorflow",  # e.g. "Using MirroredStrategy with devices ..." (chapter 8)
    "triggered tf.function retracing",  # chapter 4's segmentation on larger canvases
)


@pytest.fixture(scope="module")
def chapter_run():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-c", CHAPTER],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


def test_chapter_output_has_no_tensorflow_noise(chapter_run):
    assert chapter_run.returncode == 0, chapter_run.stderr[-3000:]
    assert "epochs: 2" in chapter_run.stdout
    for noise in NOISE:
        for name, text in (("stdout", chapter_run.stdout), ("stderr", chapter_run.stderr)):
            assert noise not in text, f"{noise!r} on {name}:\n{text[-3000:]}"


def test_other_tensorflow_warnings_still_show(chapter_run):
    output = chapter_run.stdout + chapter_run.stderr
    assert "a TensorFlow warning that stays" in output


def test_an_explicit_log_level_wins(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    _quiet.quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    _quiet.quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_the_filter_is_installed_once():
    _quiet.quiet_tensorflow()
    _quiet.quiet_tensorflow()
    logger = logging.getLogger("tensorflow")
    assert sum(isinstance(f, _quiet.TensorFlowLogFilter) for f in logger.filters) == 1


@pytest.mark.parametrize(
    ("level", "message", "kept"),
    [
        (logging.INFO, "Using MirroredStrategy with devices %s", False),
        (logging.DEBUG, "anything", False),
        (logging.WARNING, "5 out of the last 9 calls to f triggered tf.function retracing.", False),
        (logging.WARNING, "`layer.foo` is deprecated", True),
        (logging.ERROR, "something failed", True),
    ],
)
def test_the_filter_keeps_warnings_but_not_info_or_retracing(level, message, kept):
    record = logging.LogRecord("tensorflow", level, __file__, 1, message, ("x",), None)
    assert _quiet.TensorFlowLogFilter().filter(record) is kept


def _first_line(tree: ast.Module, modules: tuple[str, ...]) -> int | None:
    """Line of the first statement importing one of ``modules`` (or a submodule)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        if any(name.split(".")[0] in modules for name in names):
            lines.append(node.lineno)
    return min(lines, default=None)


@pytest.mark.parametrize("path", sorted(ROOT.glob("book/[0-9][0-9]_*.ipynb")), ids=lambda p: p.name)
def test_chapters_import_course_lib_before_tensorflow(path):
    # TF_CPP_MIN_LOG_LEVEL is read once, when TensorFlow is first imported: a chapter
    # that imports keras before course_lib shows TensorFlow's C++ log lines.
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    source = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith("%")))
    course = _first_line(tree, ("course_lib",))
    tensorflow = _first_line(tree, ("keras", "tensorflow", "keras_tuner"))
    assert course is not None
    if tensorflow is not None:
        assert course < tensorflow, (
            f"{path.name} imports TensorFlow (line {tensorflow} of its code) before "
            f"course_lib (line {course})"
        )
