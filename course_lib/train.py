"""Training and evaluation that take a ``Split``, never loose arrays.

Defined in chapter "Convolution" (first use); extended in "A CNN classifier".
"""

from __future__ import annotations

import keras
import numpy as np

from course_lib.data import Split


def _check_split(model: keras.Model, split: object, fn: str, role: str) -> Split:
    if not isinstance(split, Split):
        raise TypeError(
            f"{fn}: {role} must be a course_lib.data.Split (images and labels together); "
            f"got {type(split).__name__}. Build one with Split(x, y, name)."
        )
    expected = tuple(model.input_shape[1:])
    got = tuple(split.x.shape[1:])
    if len(expected) == len(got) and all(e is None or e == g for e, g in zip(expected, got)):
        return split
    hint = " Add the channel axis: data.standardize() returns (N, 28, 28, 1)." if got == expected[:-1] else ""
    raise ValueError(f"{fn}: the model expects images of shape {expected}, {role} {split.name!r} has {got}.{hint}")


def fit(
    model: keras.Model,
    train: Split,
    valid: Split | None = None,
    *,
    epochs: int,
    batch_size: int = 64,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: str | int = "auto",
) -> keras.callbacks.History:
    """Train a compiled model on ``train``, reporting on ``valid`` after each epoch.

    A thin wrapper of ``model.fit`` that checks its inputs first, so a wrong
    shape or a forgotten split fails with a clear message.

    Returns
    -------
    keras.callbacks.History
        Per-epoch metrics in ``history.history``.
    """
    _check_split(model, train, "fit", "train")
    validation_data = None
    if valid is not None:
        _check_split(model, valid, "fit", "valid")
        validation_data = (valid.x, valid.y)
    if epochs < 1:
        raise ValueError(f"fit: epochs must be at least 1; got {epochs}.")
    return model.fit(
        train.x,
        train.y,
        validation_data=validation_data,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=callbacks or [],
        verbose=verbose,
    )


def evaluate(model: keras.Model, split: Split, batch_size: int = 256) -> dict[str, float]:
    """Return the model's compiled metrics on ``split`` as ``{name: value}``."""
    _check_split(model, split, "evaluate", "split")
    values = model.evaluate(split.x, split.y, batch_size=batch_size, verbose=0, return_dict=True)
    return {name: float(np.asarray(value)) for name, value in values.items()}
