"""The callbacks ``train.fit`` adds: a run folder that survives interruptions, and a warning
when the loss sits at chance level.

Defined in chapter "A CNN classifier".

A run folder (``train.fit(..., run_dir=...)``) holds::

    run_dir/
        best.keras     the best model so far (by ``monitor``)
        history.csv    one row per epoch, also across interruptions
        logs/          TensorBoard logs: tensorboard --logdir run_dir/logs
                       (only if the tensorboard package is installed)
        backup/        the state of an unfinished run (its last two epochs); deleted
                       when fit ends

A run stopped at any point, even killed while writing one of these files, resumes at
the epoch after the last one its backup holds: ``history.csv`` then keeps one row per
epoch, and ``best.keras`` is always a complete model of one of those epochs.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import re
import shutil
import time
import warnings
import zipfile
from pathlib import Path

import h5py
import keras

from course_lib import _checks

__all__ = ["StalledTrainingWarning", "WarnOnChanceLoss", "EpochClock", "training_callbacks"]


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
        is_cross_entropy = "categorical_crossentropy" in _checks.loss_name(self.model.loss)
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
            "Usual causes: a signal that vanishes through a deep stack of ReLU layers at "
            "initialization (Keras starts the depthwise kernels of DepthwiseConv2D and "
            "SeparableConv2D about sqrt(C) times too small for C input channels; the lecture "
            "notes' network stalled for five epochs of SGD at Keras' default 0.01), a learning "
            "rate too small for plain SGD, unscaled inputs, or labels that do not match the "
            "images. What to try: a depthwise initializer that counts the fan-in per channel "
            "(depthwise_initializer=models.DEPTHWISE_HE_NORMAL in course_lib's builders, or "
            "models.depthwise_he_normal() in a Keras layer), He initialization "
            "(kernel_initializer='he_normal'), BatchNormalization layers, optimizer='adam' or "
            "a larger learning rate, and checking the data (show a few images with their labels)."
        )


class EpochClock(keras.callbacks.Callback):
    """Minutes since the start of training at the end of each epoch (validation included).

    Defined in chapter "A CNN classifier", which plots accuracy against training time.

    Examples
    --------
    >>> clock = EpochClock()
    >>> clock.minutes
    []
    """

    def __init__(self) -> None:
        super().__init__()
        self.minutes: list[float] = []
        self._start = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.minutes, self._start = [], time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.minutes.append((time.perf_counter() - self._start) / 60)


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


# --------------------------------------------------------------------------
# The run folder: what an epoch writes, and what a kill at any point leaves
# --------------------------------------------------------------------------
#
# At the end of epoch e the callbacks write, in this order: the history.csv row; the model
# to backup/best-epoch{e+1}.keras if it is the best so far; the backup (Keras'
# BackupAndRestore with double_checkpoint: copy latest.weights.h5 and
# training_metadata.json to *.bkp, write the new weights, then the new metadata, which
# records e+1 epochs done); then best-epoch{e+1}.keras is renamed to best.keras.
# The metadata is the commit point: when fit starts again, the backup's last complete
# state says how many epochs are done, and history.csv and best.keras are brought back to
# it (see _resume).

_WEIGHTS = "latest.weights.h5"
_METADATA = "training_metadata.json"
_PREVIOUS = ".bkp"  # Keras' suffix for the previous state (double_checkpoint=True)
_PENDING = re.compile(r"best-epoch(\d+)\.keras")


def _saved_epoch(metadata: Path) -> int | None:
    """Epochs done according to a backup's metadata file; None if missing or unreadable."""
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _h5_readable(path: Path) -> bool:
    """True if the HDF5 file opens and every array in it reads: a write cut short fails."""

    def read(name: str, item: object) -> None:
        if isinstance(item, h5py.Dataset):
            item[()]

    try:
        with h5py.File(path, "r") as f:
            f.visititems(read)
    except Exception:  # h5py raises OSError, KeyError, RuntimeError... for a damaged file
        return False
    return True


def _keras_file_readable(path: Path) -> bool:
    """True if ``path`` is a complete ``.keras`` file (a zip archive that passes its CRCs)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            return archive.testzip() is None and {"config.json", "model.weights.h5"} <= names
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


def _restore_point(backup: Path) -> int | None:
    """Epochs done by the run ``backup`` holds, after making its latest state complete.

    None if the backup holds no complete state (the run was killed during its first save).
    ``double_checkpoint`` keeps the previous state in ``*.bkp``: the latest state is the
    one to resume from unless its metadata is unreadable, or equal to the previous one (the
    run was killed after copying it, while writing the new weights or before writing the
    new metadata), or its weights are unreadable. In those cases the previous state is
    copied back over the latest one, metadata first, so a kill during the copy is safe.
    """
    weights, metadata = backup / _WEIGHTS, backup / _METADATA
    old_weights, old_metadata = backup / (_WEIGHTS + _PREVIOUS), backup / (_METADATA + _PREVIOUS)
    latest, previous = _saved_epoch(metadata), _saved_epoch(old_metadata)
    if latest is not None and latest != previous and _h5_readable(weights):
        return latest
    if previous is not None and _h5_readable(old_weights):
        shutil.copyfile(old_metadata, metadata)
        shutil.copyfile(old_weights, weights)
        return previous
    if latest is None and previous is None:
        return None
    raise ValueError(
        f"fit: cannot resume the run in {backup.parent}: its backup {backup} holds no readable "
        f"weights ({_WEIGHTS} and {_WEIGHTS + _PREVIOUS} are damaged or missing). To start the "
        f"run over, delete the folder {backup} (history.csv and best.keras are then rewritten)."
    )


def _promote_best(backup: Path, best_path: Path, epochs_done: int) -> None:
    """Move the best model saved during a backed-up epoch to ``best_path``; drop later ones."""
    pending = {}
    for path in backup.glob("best-epoch*.keras"):
        if match := _PENDING.fullmatch(path.name):
            pending[int(match.group(1))] = path
    done = [epoch for epoch in pending if epoch <= epochs_done]
    if done:
        os.replace(pending.pop(max(done)), best_path)
    for path in pending.values():
        path.unlink()


def _keep_history(history_csv: Path, epochs_done: int) -> list[dict[str, str]]:
    """Keep one row for each of the first ``epochs_done`` epochs in ``history_csv``; return them.

    Drops the rows of an epoch the backup does not hold (written before a kill), which
    the resumed run writes again.
    """
    if not history_csv.is_file():
        return []
    with open(history_csv, newline="") as f:
        header, *rows = list(csv.reader(f)) or [[]]
    kept: dict[int, list[str]] = {}
    for row in rows:  # a later row for the same epoch is the resumed one
        if len(row) == len(header) and row[0].isdigit() and int(row[0]) < epochs_done:
            kept[int(row[0])] = row
    rows = [kept[epoch] for epoch in sorted(kept)]
    partial = history_csv.with_name(history_csv.name + ".partial")
    with open(partial, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows] if header else [])
    os.replace(partial, history_csv)
    return [dict(zip(header, row)) for row in rows]


def _best_value(rows: list[dict[str, str]], monitor: str) -> float | None:
    """Best value of ``monitor`` in the rows of a ``history.csv``, or None if it has none."""
    values = []
    for row in rows:
        try:
            values.append(float(row[monitor]))
        except (KeyError, ValueError):
            continue
    values = [value for value in values if not math.isnan(value)]
    if not values:
        return None
    return min(values) if _monitor_mode(monitor) == "min" else max(values)


def _resume(run_dir: Path, monitor: str) -> tuple[bool, float | None]:
    """Bring ``run_dir`` back to the last epoch its backup holds.

    Returns whether a run resumes, and the best value of ``monitor`` its ``best.keras``
    holds (None if there is no such model, so the next epoch writes one).
    """
    backup = run_dir / "backup"
    epochs_done = _restore_point(backup) if backup.is_dir() else None
    if epochs_done is None:
        shutil.rmtree(backup, ignore_errors=True)
        return False, None
    best_path = run_dir / "best.keras"
    _promote_best(backup, best_path, epochs_done)
    rows = _keep_history(run_dir / "history.csv", epochs_done)
    if best_path.exists() and not _keras_file_readable(best_path):
        best_path.unlink()
        warnings.warn(
            f"{best_path} cannot be read (damaged, or cut short by a run killed while "
            "writing it): it is deleted, and replaced by the best model of the epochs from "
            f"epoch {epochs_done + 1} on.",
            UserWarning,
            stacklevel=4,
        )
    return True, _best_value(rows, monitor) if best_path.is_file() else None


class _RunBackup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that keeps two states and commits the best model with each epoch.

    Defined in chapter "A CNN classifier".

    Saves the previous state too (``double_checkpoint``), so a kill while writing one
    leaves the other; once an epoch is backed up, moves the best model saved during it
    (``backup/best-epoch{n}.keras``) to ``best.keras`` in one atomic rename.
    """

    def __init__(self, run_dir: Path) -> None:
        super().__init__(backup_dir=str(run_dir / "backup"), double_checkpoint=True)
        self.best_path = run_dir / "best.keras"

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        _promote_best(Path(self.backup_dir), self.best_path, epoch + 1)

    def on_train_end(self, logs: dict | None = None) -> None:
        # The metadata first: a kill while deleting leaves the last state or none at all.
        for name in (_METADATA + _PREVIOUS, _METADATA):
            Path(self.backup_dir, name).unlink(missing_ok=True)
        super().on_train_end(logs)


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
        so that an interrupted run resumes where it stopped. When it resumes,
        ``history.csv`` and ``best.keras`` are first brought back to the last
        epoch the backup holds.
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

    Raises
    ------
    ValueError
        If ``run_dir`` holds a backup none of whose saved states can be read.

    Warns
    -----
    UserWarning
        If a resumed run's ``best.keras`` cannot be read; it is replaced.
    """
    if patience is not None and patience < 0:
        raise ValueError(
            f"patience must be a number of epochs (0 or more) or None; got {patience}."
        )
    mode = _monitor_mode(monitor)
    callbacks: list[keras.callbacks.Callback] = []
    if run_dir is not None:
        run_dir = Path(run_dir)
        resuming, best = _resume(run_dir, monitor)
        # The best model goes to the backup folder first; _RunBackup moves it into place.
        pending = str(run_dir / "backup").replace("{", "{{").replace("}", "}}")
        callbacks += _tensorboard(run_dir / "logs")
        callbacks += [
            keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resuming),
            keras.callbacks.ModelCheckpoint(
                os.path.join(pending, "best-epoch{epoch}.keras"),
                monitor=monitor,
                mode=mode,
                save_best_only=True,
                initial_value_threshold=best,
            ),
            _RunBackup(run_dir),
        ]
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode=mode, patience=patience, restore_best_weights=True
            )
        )
    callbacks.append(WarnOnChanceLoss())
    return callbacks
