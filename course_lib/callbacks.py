"""The callbacks ``train.fit`` adds: a run folder that survives interruptions, and a warning
when the loss sits at chance level.

Defined in chapter "A CNN classifier".

A run folder (``train.fit(..., run_dir=...)``) holds::

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

__all__ = ["StalledTrainingWarning", "WarnOnChanceLoss", "training_callbacks"]


class StalledTrainingWarning(UserWarning):
    """The training loss sits at chance level: the network has learned nothing yet.

    Defined in chapter "A CNN classifier".
    """


def _num_classes(model: keras.Model) -> int | None:
    """Classes the model predicts: the last axis of its output, or None if it has several
    outputs."""
    shape = model.output_shape
    if not isinstance(shape, tuple) or not shape or not isinstance(shape[-1], int):
        return None
    return shape[-1]


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
