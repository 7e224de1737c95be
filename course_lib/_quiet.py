"""Keep TensorFlow's own log lines out of a chapter's output.

Defined for every chapter: ``import course_lib`` calls ``quiet_tensorflow()``, so a
reader running a chapter in Jupyter or Colab sees what the chapter prints and
nothing else. It has to run before TensorFlow is first imported (chapters import
``course_lib`` first), and it imports nothing heavy.

Two kinds of lines are silenced:

* TensorFlow's C++ log, through ``TF_CPP_MIN_LOG_LEVEL=3`` (only fatal errors),
  which TensorFlow reads once, when it is imported. The line it is set for is
  ``NodeDef mentions attribute use_unbounded_threadpool which is not in the op
  definition ...``, logged at error level by every input pipeline Keras builds
  from arrays that leave a partial last batch, under op determinism
  (``seed_everything``). Its cause is a TensorFlow bug, not a version mismatch:
  the ``make_deterministic`` tf.data rewrite turns the pipeline's parallel map
  (``ParallelMapDatasetV2``) into a sequential ``MapDataset`` and keeps an
  attribute that ``MapDataset`` does not have; the attribute is ignored and the
  results are unaffected. TensorFlow 2.21 has the bug, and so does its current
  source. Errors that matter still raise a Python exception with the message.
* TensorFlow's Python logger ("tensorflow"), which TensorFlow sets to INFO and
  sends to stdout in an interactive shell (Jupyter, Colab): a filter drops its
  INFO lines (e.g. "Using MirroredStrategy with devices ...", chapter 8) and the
  note that a ``tf.function`` was retraced (chapter 4, which predicts on canvases
  of a new size on purpose). Its other warnings still show.

To see everything again, set ``TF_CPP_MIN_LOG_LEVEL=0`` before importing
``course_lib`` (an existing value is never changed) and remove the filter:
``logging.getLogger("tensorflow").filters.clear()``.
"""

from __future__ import annotations

import logging
import os

__all__ = ["TensorFlowLogFilter", "quiet_tensorflow"]

RETRACING = "triggered tf.function retracing"
"""Part of TensorFlow's warning that a ``tf.function`` was traced again."""


class TensorFlowLogFilter(logging.Filter):
    """Drop TensorFlow's INFO and DEBUG records and its retracing warning; keep the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        return RETRACING not in str(record.msg)


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ log and its INFO and retracing lines, see the module docstring.

    Sets ``TF_CPP_MIN_LOG_LEVEL`` to "3" unless it is set already (it has an
    effect only before TensorFlow is imported) and adds ``TensorFlowLogFilter``
    to the "tensorflow" logger (once). Changes process-wide state: the
    environment and the logger.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, TensorFlowLogFilter) for f in logger.filters):
        logger.addFilter(TensorFlowLogFilter())
