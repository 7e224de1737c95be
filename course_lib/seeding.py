"""Repeatable runs: one call seeds every random number generator a chapter uses.

Defined in chapter "Setup and data".
"""

from __future__ import annotations

import os
import random

import numpy as np


def seed_everything(seed: int, deterministic_ops: bool = True) -> None:
    """Seed Python, NumPy and Keras (hence TensorFlow) from one integer.

    Parameters
    ----------
    seed : int
        A non-negative integer.
    deterministic_ops : bool, default True
        Also ask TensorFlow for deterministic kernels, where it has them.
        This can make some operations slower; it cannot be switched off again
        in the same process.

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}.")
    seed = int(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)

    import keras

    keras.utils.set_random_seed(seed)
    if deterministic_ops and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
