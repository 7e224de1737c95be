"""Training and evaluation that take a ``Split``, never loose arrays.

Defined in chapter "Convolution" (first use); extended in "A CNN classifier"
(run folders, early stopping and the two warnings about chance level).

A run folder (``fit(..., run_dir=...)``) holds::

    run_dir/
        best.keras     the best model so far (by ``monitor``)
        history.csv    one row per epoch, also across interruptions
        logs/          TensorBoard logs: tensorboard --logdir run_dir/logs
                       (only if the tensorboard package is installed)
        backup/        the state of an unfinished run; deleted when fit ends
"""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import warnings
from pathlib import Path

import keras
import numpy as np

from course_lib import _checks
from course_lib.data import Split

__all__ = [
    "OPTIMIZERS",
    "StalledTrainingWarning",
    "MisalignedLabelsWarning",
    "WarnOnChanceLoss",
    "compile_classifier",
    "training_callbacks",
    "fit",
    "evaluate",
]

# --------------------------------------------------------------------------
# Warnings
# --------------------------------------------------------------------------


class StalledTrainingWarning(UserWarning):
    """The training loss sits at chance level: the network has learned nothing yet.

    Defined in chapter "A CNN classifier".
    """


class MisalignedLabelsWarning(UserWarning):
    """A split scores at chance level although the model does well on its validation data.

    Defined in chapter "A CNN classifier".
    """


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _check_split(model: keras.Model, split: object, fn: str, name: str) -> Split:
    """``split`` if it is a Split whose images fit the model's input."""
    return _checks.check_split(split, fn, name, image_shape=tuple(model.input_shape[1:]))


def _num_classes(model: keras.Model) -> int | None:
    """Classes the model predicts: the last axis of its output, or None if it has several
    outputs."""
    shape = model.output_shape
    if not isinstance(shape, tuple) or not shape or not isinstance(shape[-1], int):
        return None
    return shape[-1]


# --------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------


def _loss_name(loss: object) -> str:
    if isinstance(loss, str):
        return loss
    return getattr(loss, "name", None) or getattr(loss, "__name__", "")


class WarnOnChanceLoss(keras.callbacks.Callback):
    """Warn once if the training loss stays at ln(K), the loss of a uniform guess.

    Defined in chapter "A CNN classifier".

    A classifier that predicts every one of K classes with probability 1/K
    has a cross-entropy of exactly ln(K) (2.3026 for ten classes), whatever
    the labels. A loss that sits there for several epochs means the network
    has learned nothing yet. ``fit`` always adds this callback.

    Parameters
    ----------
    num_classes : int, optional
        K. By default the last axis of the model's output.
    tolerance : float, default 0.01
        How close to ln(K) the loss must be to count as "at chance".
    patience : int, default 3
        Consecutive epochs at chance before warning.

    Warns
    -----
    StalledTrainingWarning
        At most once per ``fit``. Only for (sparse) categorical cross-entropy,
        the losses for which ln(K) is the chance level.
    """

    def __init__(
        self, num_classes: int | None = None, tolerance: float = 0.01, patience: int = 3
    ) -> None:
        super().__init__()
        if patience < 1:
            raise ValueError(
                f"WarnOnChanceLoss: patience must be at least 1 epoch; got {patience}."
            )
        self.num_classes = num_classes
        self.tolerance = tolerance
        self.patience = patience

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.classes = self.num_classes or _num_classes(self.model)
        is_cross_entropy = "categorical_crossentropy" in _loss_name(self.model.loss)
        self.active = is_cross_entropy and self.classes is not None and self.classes >= 2
        self.losses_at_chance: list[float] = []
        self.warned = False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if not self.active or self.warned or loss is None:
            return
        if abs(float(loss) - math.log(self.classes)) > self.tolerance:
            self.losses_at_chance = []
            return
        self.losses_at_chance.append(float(loss))
        if len(self.losses_at_chance) >= self.patience:
            warnings.warn(self._message(epoch), StalledTrainingWarning, stacklevel=2)
            self.warned = True

    def _message(self, epoch: int) -> str:
        k = self.classes
        first = epoch + 2 - len(self.losses_at_chance)
        losses = ", ".join(f"{loss:.4f}" for loss in self.losses_at_chance)
        return (
            f"The training loss has stayed at ln({k}) = {math.log(k):.4f} for "
            f"{len(self.losses_at_chance)} epochs (epochs {first}-{epoch + 1}: {losses}): the "
            f"network predicts every class with probability 1/{k} and has learned nothing yet. "
            "Usual causes: a learning rate too small for plain SGD (the lecture notes used SGD "
            "with Keras' default 0.01 and stalled for five epochs), a vanishing signal in a deep "
            "stack of ReLU layers without batch normalization, unscaled inputs, or labels that do "
            "not match the images. What to try: optimizer='adam' or a larger learning rate, "
            "BatchNormalization layers, He initialization (kernel_initializer='he_normal'), and "
            "checking the data (show a few images with their labels)."
        )


def _tensorboard_installed() -> bool:
    """True if the ``tensorboard`` package, which TensorFlow no longer installs, is there."""
    return importlib.util.find_spec("tensorboard") is not None


def _tensorboard(log_dir: Path) -> list[keras.callbacks.Callback]:
    """A ``TensorBoard`` callback, or none (with a warning) if TensorBoard is not installed."""
    if _tensorboard_installed():
        return [keras.callbacks.TensorBoard(log_dir=str(log_dir))]
    warnings.warn(
        f"TensorBoard is not installed, so this run writes no logs to {log_dir} "
        "(history.csv and best.keras are written as usual). "
        "To get them, install it in the course environment: pip install tensorboard",
        UserWarning,
        stacklevel=3,
    )
    return []


def _monitor_mode(monitor: str) -> str:
    """``"min"`` for a loss, ``"max"`` for any other metric (accuracy, AUC, IoU...)."""
    return "min" if monitor.endswith("loss") else "max"


def _is_resuming(run_dir: Path) -> bool:
    """True if ``run_dir`` holds the backup of a run that did not finish."""
    return (run_dir / "backup" / "training_metadata.json").is_file()


def _best_so_far(history_csv: Path, monitor: str) -> float | None:
    """Best value of ``monitor`` in a ``history.csv``, or None if it has none."""
    if not history_csv.is_file():
        return None
    with open(history_csv, newline="") as f:
        values = [float(row[monitor]) for row in csv.DictReader(f) if row.get(monitor)]
    if not values:
        return None
    return min(values) if _monitor_mode(monitor) == "min" else max(values)


def training_callbacks(
    run_dir: str | os.PathLike | None = None,
    *,
    monitor: str = "val_accuracy",
    patience: int | None = None,
) -> list[keras.callbacks.Callback]:
    """The callbacks ``fit`` adds before the user's own.

    Defined in chapter "A CNN classifier".

    Parameters
    ----------
    run_dir : str or path, optional
        Folder of the run. When given: ``TensorBoard`` logs in ``run_dir/logs``
        (if TensorBoard is installed; else a warning), one ``history.csv`` row
        per epoch, the best model (by ``monitor``) in
        ``run_dir/best.keras``, and ``BackupAndRestore`` in ``run_dir/backup``
        so that an interrupted run resumes where it stopped.
    monitor : str, default "val_accuracy"
        Metric that picks the best model and drives early stopping. A name
        ending in "loss" is minimized, any other metric maximized.
    patience : int, optional
        Add ``EarlyStopping`` after ``patience`` epochs without improvement,
        restoring the weights of the best epoch.

    Returns
    -------
    list of keras.callbacks.Callback
        Always ends with ``WarnOnChanceLoss``.
    """
    if patience is not None and patience < 0:
        raise ValueError(
            f"patience must be a number of epochs (0 or more) or None; got {patience}."
        )
    mode = _monitor_mode(monitor)
    callbacks: list[keras.callbacks.Callback] = []
    if run_dir is not None:
        run_dir = Path(run_dir)
        resuming = _is_resuming(run_dir)
        best_path = run_dir / "best.keras"
        # A new ModelCheckpoint forgets the best value: when resuming, start
        # from the best in history.csv so a worse epoch cannot replace best.keras.
        best = (
            _best_so_far(run_dir / "history.csv", monitor)
            if resuming and best_path.is_file()
            else None
        )
        callbacks += _tensorboard(run_dir / "logs")
        callbacks += [
            keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resuming),
            keras.callbacks.ModelCheckpoint(
                str(best_path),
                monitor=monitor,
                mode=mode,
                save_best_only=True,
                initial_value_threshold=best,
            ),
            keras.callbacks.BackupAndRestore(backup_dir=str(run_dir / "backup")),
        ]
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode=mode, patience=patience, restore_best_weights=True
            )
        )
    callbacks.append(WarnOnChanceLoss())
    return callbacks


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
        For a split of the wrong shape, ``epochs`` or ``batch_size`` below 1,
        or test data as ``train`` or ``valid`` (``valid`` picks the best
        model and stops early, so it must not be the test set).
    """
    _check_split(model, train, "fit", "train")
    _checks.refuse_test(train, "fit", "train", use="train")
    validation_data = None
    if valid is not None:
        _check_split(model, valid, "fit", "valid")
        _checks.refuse_test(valid, "fit", "valid")
        validation_data = (valid.x, valid.y)
    epochs = _checks.check_int(epochs, "fit", "epochs", low=1)
    batch_size = _checks.check_int(batch_size, "fit", "batch_size", low=1)
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


def evaluate(model: keras.Model, split: Split, batch_size: int = 256) -> dict[str, float]:
    """Return the model's compiled metrics on ``split`` as ``{name: value}``.

    Defined in chapter "Convolution"; the chance-level check in chapter
    "A CNN classifier".

    Parameters
    ----------
    model : keras.Model
        Compiled and trained.
    split : Split
        The data to score.
    batch_size : int, default 256

    Warns
    -----
    MisalignedLabelsWarning
        If the accuracy on ``split`` is near chance (at most 1.5 / K for K
        classes) although the best validation accuracy of the model's last
        ``fit`` was at least 3 / K.
    """
    _check_split(model, split, "evaluate", "split")
    values = model.evaluate(split.x, split.y, batch_size=batch_size, verbose=0, return_dict=True)
    result = {name: float(np.asarray(value)) for name, value in values.items()}
    _warn_if_misaligned(result, split.name, _num_classes(model), _best_val_accuracy(model))
    return result


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
