"""Training and evaluation that take a ``Split``, never loose arrays.

Defined in chapter "Convolution" (first use); extended in "A CNN classifier"
(run folders, early stopping and the two warnings about chance level).

``fit`` adds the callbacks of ``course_lib.callbacks`` (the run folder, early stopping,
the chance-level warning); ``compile_classifier`` is the one place a classifier is compiled.
"""

from __future__ import annotations

import os
import warnings

import keras
import numpy as np

from course_lib import _checks
from course_lib.callbacks import StalledTrainingWarning, _num_classes, training_callbacks
from course_lib.data import Split

__all__ = [
    "OPTIMIZERS",
    "StalledTrainingWarning",
    "MisalignedLabelsWarning",
    "compile_classifier",
    "steps_per_epoch",
    "epochs_for_steps",
    "fit",
    "evaluate",
]

# --------------------------------------------------------------------------
# Warnings
# --------------------------------------------------------------------------


class MisalignedLabelsWarning(UserWarning):
    """A split scores at chance level although the model does well on its validation data.

    Defined in chapter "A CNN classifier".
    """


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------

_OUTPUT_UNITS = "the units of the model's output"


def _check_labels(model: keras.Model, splits: dict[str, Split | None], fn: str) -> None:
    """Class-index labels the model's output can learn (when it uses sparse cross-entropy)."""
    expected = _checks.model_labels(model)
    if expected is None:
        return
    classes, label_shape = expected
    for name, split in splits.items():
        if split is not None:
            _checks.check_labels(
                split, fn, name, classes, label_shape=label_shape, source=_OUTPUT_UNITS
            )


def _logged_metrics(model: keras.Model) -> tuple[str, ...] | None:
    """Names of the training metrics ``model.fit`` will log, from the compile configuration.

    None when they cannot be told in advance (several outputs, weighted
    metrics, a metric given in a form not read here): then nothing is checked.
    """
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    if not config or len(model.outputs) != 1 or config.get("weighted_metrics"):
        return None
    metrics = config.get("metrics") or []
    if not metrics and getattr(model, "_compile_metrics", None) is not None:
        return None  # recompiled without metrics: Keras keeps logging the earlier ones
    if isinstance(metrics, dict):  # {output name: metrics}, one output
        metrics = [m for value in metrics.values() for m in keras.tree.flatten(value)]
    names = ["loss"]
    for metric in metrics:
        if isinstance(metric, str):
            names.append(metric)
        elif isinstance(metric, dict) and isinstance(metric.get("config"), dict):
            names.append(metric["config"].get("name"))
        elif isinstance(metric, dict) and isinstance(metric.get("config"), str):
            names.append(metric["config"])
        else:
            return None
    return tuple(names) if all(isinstance(n, str) for n in names) else None


def _check_monitor(model: keras.Model, monitor: str, validation: bool) -> None:
    """Refuse a ``monitor`` the model will not log: checkpoints and early stopping would ignore
    it (Keras only warns) and keep the last epoch."""
    names = _logged_metrics(model)
    if names is None:
        return
    if validation:
        names = names + tuple(f"val_{n}" for n in names)
    if (monitor if validation else monitor.removeprefix("val_")) not in names:
        raise ValueError(
            f"fit: monitor must be one of the metrics the model logs "
            f"({', '.join(map(repr, names))}); got {monitor!r}. It picks the best epoch "
            "(best.keras) and drives early stopping."
        )


# --------------------------------------------------------------------------
# Callbacks: see course_lib.callbacks
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Compiling
# --------------------------------------------------------------------------

OPTIMIZERS = ("adam", "sgd")
"""Optimizers ``compile_classifier`` knows: Adam, and SGD with Nesterov momentum 0.9."""


def compile_classifier(
    model: keras.Model,
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
    *,
    decay_steps: int | None = None,
) -> keras.Model:
    """Compile ``model`` as a classifier: sparse cross-entropy, accuracy; return it.

    Defined in chapter "A CNN classifier".

    Parameters
    ----------
    optimizer : {"adam", "sgd"}
        Adam, or SGD with Nesterov momentum 0.9.
    learning_rate : float, default 1e-3
        The (initial) learning rate.
    decay_steps : int, optional
        Decay the rate to zero along a cosine over this many steps (usually
        ``epochs * steps per epoch``); constant without it.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"compile_classifier: model must be a keras.Model; got {type(model).__name__}."
        )
    _checks.check_choice(optimizer, "compile_classifier", "optimizer", OPTIMIZERS)
    rate = _checks.check_real(
        learning_rate, "compile_classifier", "learning_rate", low=0, low_open=True
    )
    if decay_steps is not None:
        steps = _checks.check_int(decay_steps, "compile_classifier", "decay_steps", low=1)
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=steps)
    if optimizer == "adam":
        chosen = keras.optimizers.Adam(learning_rate=rate)
    else:
        chosen = keras.optimizers.SGD(learning_rate=rate, momentum=0.9, nesterov=True)
    model.compile(optimizer=chosen, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# --------------------------------------------------------------------------
# fit and evaluate
# --------------------------------------------------------------------------


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimizer steps (mini-batches) in one epoch over ``n`` examples: ``ceil(n / batch_size)``.

    Defined in chapter "Data augmentation".

    >>> steps_per_epoch(1_000, 64)
    16
    """
    n = _checks.check_int(n, "steps_per_epoch", "n", low=1)
    batch_size = _checks.check_int(batch_size, "steps_per_epoch", "batch_size", low=1)
    return -(-n // batch_size)


def epochs_for_steps(n: int, steps: int, batch_size: int) -> int:
    """The whole number of epochs over ``n`` examples closest to ``steps`` steps (at least 1).

    Defined in chapter "Data augmentation", which gives every training-set size
    the same budget of optimizer steps.

    >>> epochs_for_steps(1_000, steps=400, batch_size=64)  # 16 steps an epoch: 25 epochs
    25
    """
    steps = _checks.check_int(steps, "epochs_for_steps", "steps", low=1)
    return max(1, round(steps / steps_per_epoch(n, batch_size)))


def fit(
    model: keras.Model,
    train: Split,
    valid: Split | None = None,
    *,
    epochs: int,
    batch_size: int = 64,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: str | int = "auto",
    run_dir: str | os.PathLike | None = None,
    monitor: str = "val_accuracy",
    patience: int | None = None,
) -> keras.callbacks.History:
    """Train a compiled model on ``train``, reporting on ``valid`` after each epoch.

    Defined in chapter "Convolution"; ``run_dir``, ``monitor`` and ``patience``
    in chapter "A CNN classifier".

    A thin wrapper of ``model.fit`` that checks its inputs first, so a wrong
    shape or a forgotten split fails with a clear message, and warns
    (``StalledTrainingWarning``) when the loss stays at chance level.

    Parameters
    ----------
    model : keras.Model
        Compiled.
    train, valid : Split
        Training data; validation data, optional.
    epochs, batch_size, callbacks, verbose
        As in ``model.fit``. ``callbacks`` run after the ones added here.
    run_dir : str or path, optional
        Keep the run in this folder: TensorBoard logs, ``history.csv``, the
        best model ``best.keras`` and a backup. If a run with the same
        ``run_dir`` was interrupted, calling ``fit`` again with the same
        arguments (and a model built the same way) resumes it at the epoch
        after the last one completed; the returned history then holds only
        the remaining epochs (``history.csv`` holds all of them).
    monitor : str, default "val_accuracy"
        Metric that picks the best model and drives early stopping. Without
        ``valid`` its training counterpart is used ("accuracy").
    patience : int, optional
        Stop after ``patience`` epochs without improvement of ``monitor`` and
        restore the weights of the best epoch.
    Returns
    -------
    keras.callbacks.History
        Per-epoch metrics in ``history.history``.

    Raises
    ------
    TypeError, ValueError
        Before any training: for a split of the wrong shape, ``epochs`` or
        ``batch_size`` below 1, test data as ``train`` or ``valid`` (``valid``
        picks the best model and stops early, so it must not be the test set),
        labels that are not class indices of the model's output (for a model
        compiled with sparse cross-entropy), NaN or infinite pixel values, or
        a ``monitor`` the model does not log.
    """
    _checks.check_training_data(train, valid, "fit", image_shape=tuple(model.input_shape[1:]))
    validation_data = None if valid is None else (valid.x, valid.y)
    epochs = _checks.check_int(epochs, "fit", "epochs", low=1)
    batch_size = _checks.check_int(batch_size, "fit", "batch_size", low=1)
    _check_labels(model, {"train": train, "valid": valid}, "fit")
    for name, split in (("train", train), ("valid", valid)):
        if split is not None:
            _checks.check_finite(split, "fit", name)
    if not isinstance(monitor, str):
        raise TypeError(f"fit: monitor must be a metric name; got {type(monitor).__name__}.")
    if run_dir is not None or patience is not None:  # the callbacks that use it
        _check_monitor(model, monitor, validation=valid is not None)
    if valid is None:
        monitor = monitor.removeprefix("val_")
    all_callbacks = training_callbacks(run_dir, monitor=monitor, patience=patience) + list(
        callbacks or []
    )
    try:
        return model.fit(
            train.x,
            train.y,
            validation_data=validation_data,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=all_callbacks,
            verbose=verbose,
        )
    finally:
        # BackupAndRestore resumes by setting model._initial_epoch, which Keras
        # never resets: a later model.fit on this model would skip epochs.
        if getattr(model, "_initial_epoch", None) is not None:
            model._initial_epoch = None


def _best_val_accuracy(model: keras.Model) -> float | None:
    """Best ``val_accuracy`` of the model's last ``fit``, if Keras kept its history."""
    history = getattr(model, "history", None)
    values = getattr(history, "history", {}).get("val_accuracy")
    return max(values) if values else None


def evaluate(
    model: keras.Model, split: Split, batch_size: int = 256, flips: bool = False
) -> dict[str, float]:
    """Return the model's compiled metrics on ``split`` as ``{name: value}``.

    Defined in chapter "Convolution"; the chance-level check in chapter
    "A CNN classifier"; test-time flips in chapter "Training recipes, measured".

    Parameters
    ----------
    model : keras.Model
        Compiled and trained.
    split : Split
        The data to score.
    batch_size : int, default 256
    flips : bool, default False
        Test-time augmentation: average the class probabilities the model
        predicts for each image and for its mirror image (left and right
        swapped), and score that average. Returns only ``loss`` (the
        cross-entropy of the average) and ``accuracy``. It makes sense only
        where mirroring keeps the label, as for garments (not for digits).

    Raises
    ------
    TypeError, ValueError
        For a split of the wrong image shape, labels that are not class
        indices of the model's output, or NaN or infinite pixel values;
        with ``flips``, for a model whose outputs are not probabilities.

    Warns
    -----
    MisalignedLabelsWarning
        If the accuracy on ``split`` is near chance (at most 1.5 / K for K
        classes) although the best validation accuracy of the model's last
        ``fit`` was at least 3 / K.
    """
    _checks.check_split(split, "evaluate", "split", image_shape=tuple(model.input_shape[1:]))
    _check_labels(model, {"split": split}, "evaluate")
    _checks.check_finite(split, "evaluate", "split")
    _checks.check_choice(flips, "evaluate", "flips", (True, False))
    if flips:
        result = _evaluate_with_flips(model, split, batch_size)
    else:
        values = model.evaluate(
            split.x, split.y, batch_size=batch_size, verbose=0, return_dict=True
        )
        result = {name: float(np.asarray(value)) for name, value in values.items()}
    _warn_if_misaligned(result, split.name, _num_classes(model), _best_val_accuracy(model))
    return result


def _evaluate_with_flips(model: keras.Model, split: Split, batch_size: int) -> dict[str, float]:
    """Loss and accuracy of the class probabilities averaged over each image and its mirror."""
    mirrored = split.x[:, :, ::-1, :]  # channels last: axis 2 is the width
    probabilities = [
        np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
        for x in (split.x, mirrored)
    ]
    for p in probabilities:
        if p.min() < 0 or not np.allclose(p.sum(axis=1), 1, atol=1e-3):
            raise ValueError(
                "evaluate: flips=True averages class probabilities, but this model's outputs "
                "are not probabilities (they do not sum to 1 per image). End the model with a "
                "softmax layer, or evaluate without flips."
            )
    mean = (probabilities[0] + probabilities[1]) / 2
    labels = np.asarray(split.y).astype(int).reshape(-1)
    picked = np.clip(mean[np.arange(len(labels)), labels], 1e-7, 1.0)
    return {
        "loss": float(-np.log(picked).mean()),
        "accuracy": float(np.mean(mean.argmax(axis=1) == labels)),
    }


def _warn_if_misaligned(
    result: dict[str, float], name: str, k: int | None, reference: float | None
) -> None:
    accuracy = result.get("accuracy")
    if accuracy is None or reference is None or k is None or k < 2:
        return
    if accuracy > 1.5 / k or reference < 3 / k:
        return
    loss = f"loss {result['loss']:.2f} and " if "loss" in result else ""
    warnings.warn(
        f"evaluate: {loss}accuracy {accuracy:.2%} on split {name!r}, chance level for {k} classes "
        f"({1 / k:.2%}), although the model reached {reference:.2%} on its validation data. The "
        f"images and labels of {name!r} are probably misaligned: e.g. the labels of one split "
        "paired with the images of another, or images and labels shuffled separately. A high loss "
        f"with chance accuracy is the signature of this mistake. Check where the x and y of "
        f"{name!r} come from; data.load_splits() keeps them together.",
        MisalignedLabelsWarning,
        stacklevel=3,
    )
