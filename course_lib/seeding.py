"""Repeatable runs: one call seeds every random number generator a chapter uses.

Defined in chapter "Setup and data".

This is the only place in ``course_lib`` that changes global random state. The
library's functions take ``seed: int | None = None`` and seed locally; a
chapter calls :func:`seed_everything` once, in its first cells.
"""

from __future__ import annotations

import os
import random

import numpy as np

from course_lib import _checks

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Keras (hence TensorFlow) from one integer.

    Defined in chapter "Setup and data".

    This sets process-wide global state, for everything that runs afterwards
    in the same Python process:

    * ``PYTHONHASHSEED`` (inherited by subprocesses started later), Python's
      ``random`` and NumPy's global generator (``np.random.seed``);
    * Keras' global seed (``keras.utils.set_random_seed``, which seeds
      TensorFlow too): unseeded initializers, dropout and ``model.fit``'s
      batch order follow it;
    * TensorFlow's op determinism
      (``tf.config.experimental.enable_op_determinism``): deterministic
      kernels where TensorFlow has them, sometimes slower. It cannot be
      switched off again in the same process.

    Library functions never call it; pass ``seed=`` to them instead.

    Parameters
    ----------
    seed : int
        An integer in ``[0, 2**32 - 1]``. None is refused: seeding is the
        point of this function.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (None and ``bool`` included).
    ValueError
        If it is out of range. Nothing is seeded then.
    """
    hint = " None is not allowed: seeding is the point of seed_everything." if seed is None else ""
    seed = _checks.check_int(seed, "seed_everything", "seed", low=0, high=2**32 - 1, hint=hint)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)

    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
