"""Tests of course_lib.callbacks: run folders (best model, history, backup and resume).

The chance-level warning (``WarnOnChanceLoss``) is tested through ``train.fit`` in
tests/test_train.py.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from course_lib import callbacks, models, seed_everything, train

from toy import toy_split

REPO = Path(__file__).resolve().parents[1]


def tiny_cnn(filters: tuple[int, int] = (4, 8)) -> keras.Model:
    return models.small_cnn(filters=filters, kernel_size=3, num_classes=4)


class Interrupted(Exception):
    pass


class InterruptAfterEpoch(keras.callbacks.Callback):
    """Stands for a kernel restart: raises at the end of an epoch, after the backup."""

    def __init__(self, epoch: int = 0) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.weights = self.model.get_weights()
            raise Interrupted


class EpochRecorder(keras.callbacks.Callback):
    """Records the weights fit starts from and the epochs it runs."""

    def on_train_begin(self, logs=None):
        self.start_weights = self.model.get_weights()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def read_history_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def history_epochs(run_dir: Path) -> list[str]:
    return [row["epoch"] for row in read_history_csv(run_dir / "history.csv")]


HAS_TENSORBOARD = callbacks._tensorboard_installed()
no_tensorboard_warning = pytest.mark.filterwarnings("ignore:TensorBoard is not installed")


def test_run_dir_keeps_best_model_and_logs_and_removes_the_backup(tmp_path):
    seed_everything(0)
    model = tiny_cnn()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = train.fit(
            model,
            toy_split(128),
            toy_split(64, seed=1, name="valid"),
            epochs=2,
            verbose=0,
            run_dir=tmp_path,
        )
    assert history.epoch == [0, 1]
    best = keras.models.load_model(tmp_path / "best.keras")
    assert best.predict(toy_split(8).x, verbose=0).shape == (8, 4)
    no_tensorboard = [w for w in caught if "TensorBoard is not installed" in str(w.message)]
    if HAS_TENSORBOARD:
        assert any((tmp_path / "logs").iterdir()) and not no_tensorboard
    else:
        assert len(no_tensorboard) == 1 and "pip install tensorboard" in str(
            no_tensorboard[0].message
        )
    assert not (tmp_path / "backup").exists()
    assert history_epochs(tmp_path) == ["0", "1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["best.keras", "history.csv"] + (["logs"] if HAS_TENSORBOARD else [])
    )


def test_tensorboard_callback_only_when_installed(tmp_path, monkeypatch):
    monkeypatch.setattr(callbacks, "_tensorboard_installed", lambda: True)
    added = callbacks.training_callbacks(tmp_path)
    board = [c for c in added if isinstance(c, keras.callbacks.TensorBoard)]
    assert len(board) == 1 and board[0].log_dir == str(tmp_path / "logs")
    monkeypatch.setattr(callbacks, "_tensorboard_installed", lambda: False)
    with pytest.warns(UserWarning, match="TensorBoard is not installed.*pip install tensorboard"):
        added = callbacks.training_callbacks(tmp_path)
    assert not [c for c in added if isinstance(c, keras.callbacks.TensorBoard)]


@no_tensorboard_warning
def test_run_dir_without_valid_monitors_training_accuracy(tmp_path):
    model = tiny_cnn(filters=(2, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train.fit(model, toy_split(64), epochs=1, verbose=0, run_dir=tmp_path)
    assert (tmp_path / "best.keras").is_file()
    assert not [w for w in caught if "Can save best model only" in str(w.message)]


@no_tensorboard_warning
def test_interrupted_run_resumes_where_it_stopped(tmp_path):
    data = toy_split(128), toy_split(64, seed=1, name="valid")
    seed_everything(0)
    interrupt = InterruptAfterEpoch(0)
    with pytest.raises(Interrupted):
        train.fit(tiny_cnn(), *data, epochs=3, verbose=0, run_dir=tmp_path, callbacks=[interrupt])
    assert (tmp_path / "backup").is_dir() and (tmp_path / "best.keras").is_file()

    seed_everything(1)  # a fresh model, built the same way, with other initial weights
    model = tiny_cnn()
    recorder = EpochRecorder()
    history = train.fit(model, *data, epochs=3, verbose=0, run_dir=tmp_path, callbacks=[recorder])
    for restored, saved in zip(recorder.start_weights, interrupt.weights):
        np.testing.assert_array_equal(restored, saved)
    assert recorder.epochs == [1, 2]
    assert history.epoch == [1, 2] and len(history.history["loss"]) == 2
    assert history_epochs(tmp_path) == ["0", "1", "2"]
    assert not (tmp_path / "backup").exists()
    # Keras leaves the resumed epoch on the model; fit resets it, so training more starts at
    # epoch 0.
    assert train.fit(model, data[0], epochs=1, verbose=0).epoch == [0]


class WeightsPerEpoch(keras.callbacks.Callback):
    """Keeps the weights at the end of every epoch; raises after epoch ``stop_after``."""

    def __init__(self, stop_after: int) -> None:
        super().__init__()
        self.stop_after = stop_after
        self.weights: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        if epoch == self.stop_after:
            raise Interrupted


def interrupted_run(run_dir: Path, after_epoch: int = 0) -> list[list[np.ndarray]]:
    """A run of ``tiny_cnn`` on the toy task stopped after ``after_epoch``: its weights per
    epoch."""
    keeper = WeightsPerEpoch(after_epoch)
    with pytest.raises(Interrupted):
        train.fit(
            tiny_cnn(),
            toy_split(128),
            toy_split(64, seed=1, name="valid"),
            epochs=3,
            verbose=0,
            run_dir=run_dir,
            monitor="val_loss",
            callbacks=[keeper],
        )
    return keeper.weights


@no_tensorboard_warning
def test_resumed_run_starts_from_the_best_value_so_far(tmp_path):
    fresh = callbacks.training_callbacks(tmp_path)
    checkpoint = next(c for c in fresh if isinstance(c, keras.callbacks.ModelCheckpoint))
    assert checkpoint.best is None

    interrupted_run(tmp_path, after_epoch=1)
    (tmp_path / "history.csv").write_text(
        "epoch,loss,val_accuracy,val_loss\n0,1.0,0.70,0.90\n1,0.8,0.65,0.95\n"
    )
    for monitor, best in [("val_accuracy", 0.70), ("val_loss", 0.90)]:
        resumed = callbacks.training_callbacks(tmp_path, monitor=monitor)
        checkpoint = next(c for c in resumed if isinstance(c, keras.callbacks.ModelCheckpoint))
        logger = next(c for c in resumed if isinstance(c, keras.callbacks.CSVLogger))
        assert checkpoint.best == pytest.approx(best) and logger.append


# --------------------------------------------------------------------------
# Killed at any point: a subprocess kills itself (SIGKILL) at one exact point of the
# end of an epoch, then this process resumes the run.
# --------------------------------------------------------------------------

KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from keras.src.utils import file_utils
    from course_lib import models, seed_everything, train
    from toy import toy_split

    run_dir, point, kill_epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    now = {"epoch": None}


    def kill():
        os.kill(os.getpid(), signal.SIGKILL)


    def at_kill_epoch():
        return now["epoch"] == kill_epoch


    def cut_short(path):
        # What a write cut short leaves: the first half of the file.
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)


    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            now["epoch"] = epoch


    # Keep the weights of every finished epoch, before any callback runs.
    end_epoch = keras.callbacks.CallbackList.on_epoch_end


    def on_epoch_end(self, epoch, logs=None):
        np.savez(f"{run_dir}.epoch{epoch}.npz", *self.model.get_weights())
        end_epoch(self, epoch, logs)


    keras.callbacks.CallbackList.on_epoch_end = on_epoch_end


    def after(cls, name, then):
        original = getattr(cls, name)

        def patched(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            then(self, *args, **kwargs)
            return result

        setattr(cls, name, patched)


    def when_saving(suffix, cut):
        def then(model, filepath, *args, **kwargs):
            if str(filepath).endswith(suffix) and at_kill_epoch():
                if cut:
                    cut_short(filepath)
                kill()
        return then


    if point == "after_history_row":
        after(keras.callbacks.CSVLogger, "on_epoch_end", lambda *a: at_kill_epoch() and kill())
    elif point == "best_model_cut_short":
        after(keras.Model, "save", when_saving(".keras", cut=True))
    elif point == "after_best_model":
        after(keras.Model, "save", when_saving(".keras", cut=False))
    elif point == "backup_weights_cut_short":
        after(keras.Model, "save_weights", when_saving("latest.weights.h5", cut=True))
    elif point == "after_backup_weights":
        after(keras.Model, "save_weights", when_saving("latest.weights.h5", cut=False))
    elif point == "backup_metadata_cut_short":
        open_file = file_utils.File

        class Dying:
            def __init__(self, f):
                self.f = f
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                self.f.close()
            def write(self, text):
                self.f.write(text[: len(text) // 2])
                self.f.flush()
                kill()

        def File(path, mode="r"):
            f = open_file(path, mode)
            if str(path).endswith("training_metadata.json") and "w" in mode and at_kill_epoch():
                return Dying(f)
            return f

        file_utils.File = File
    elif point == "after_backup":
        after(
            keras.callbacks.BackupAndRestore, "on_epoch_end", lambda *a: at_kill_epoch() and kill()
        )
    else:
        raise SystemExit(f"unknown point {point}")

    seed_everything(0)
    model = models.small_cnn(filters=(4, 8), kernel_size=3, num_classes=4)
    train.fit(
        model, toy_split(128), toy_split(64, seed=1, name="valid"), epochs=3, verbose=0,
        run_dir=run_dir, monitor="val_loss", callbacks=[Clock()],
    )
    sys.exit(3)  # not killed: the point was never reached
    """
)


def run_killed(run_dir: Path, point: str, epoch: int) -> None:
    """Run ``KILL_SCRIPT``, which SIGKILLs itself at ``point`` at the end of ``epoch``."""
    script = run_dir.parent / "killed.py"
    script.write_text(KILL_SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
        "CUDA_VISIBLE_DEVICES": "",
    }
    result = subprocess.run(
        [sys.executable, str(script), str(run_dir), point, str(epoch)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == -9, (
        f"the run was not killed at {point} (exit status {result.returncode}):\n"
        + result.stderr[-3000:]
    )


@no_tensorboard_warning
@pytest.mark.parametrize(
    "point, epoch, resumes_at",
    [
        ("after_history_row", 1, 1),
        ("best_model_cut_short", 1, 1),
        ("after_best_model", 1, 1),
        ("backup_weights_cut_short", 1, 1),
        ("backup_weights_cut_short", 0, 0),
        ("after_backup_weights", 1, 1),
        ("backup_metadata_cut_short", 1, 1),
        ("after_backup", 1, 2),
    ],
)
def test_a_run_killed_at_any_point_resumes_with_nothing_lost(tmp_path, point, epoch, resumes_at):
    run_dir = tmp_path / "run"
    run_killed(run_dir, point, epoch)
    valid = toy_split(64, seed=1, name="valid")
    recorder = EpochRecorder()
    train.fit(
        tiny_cnn(),
        toy_split(128),
        valid,
        epochs=3,
        verbose=0,
        run_dir=run_dir,
        monitor="val_loss",
        callbacks=[recorder],
    )
    # It resumed after the last epoch the backup holds, from that epoch's weights...
    assert recorder.epochs == list(range(resumes_at, 3))
    if resumes_at > 0:
        saved = np.load(tmp_path / f"run.epoch{resumes_at - 1}.npz")
        for restored, weights in zip(recorder.start_weights, saved.values()):
            np.testing.assert_array_equal(restored, weights)
    # ...history.csv has one row per epoch...
    assert history_epochs(run_dir) == ["0", "1", "2"]
    # ...best.keras is the model of its best row...
    best = keras.models.load_model(run_dir / "best.keras")
    val_losses = [float(row["val_loss"]) for row in read_history_csv(run_dir / "history.csv")]
    result = best.evaluate(valid.x, valid.y, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(min(val_losses), rel=1e-4)
    # ...and the backup is gone.
    assert sorted(p.name for p in run_dir.iterdir()) == ["best.keras", "history.csv"] + (
        ["logs"] if HAS_TENSORBOARD else []
    )


# --------------------------------------------------------------------------
# Run folders damaged some other way
# --------------------------------------------------------------------------


def cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@no_tensorboard_warning
def test_an_unreadable_best_model_is_reported_and_replaced_on_resume(tmp_path):
    interrupted_run(tmp_path, after_epoch=0)
    cut_short(tmp_path / "best.keras")
    with pytest.warns(UserWarning, match=r"best\.keras cannot be read.*replaced"):
        train.fit(
            tiny_cnn(),
            toy_split(128),
            toy_split(64, seed=1, name="valid"),
            epochs=3,
            verbose=0,
            run_dir=tmp_path,
            monitor="val_loss",
        )
    assert keras.models.load_model(tmp_path / "best.keras").count_params() > 0
    assert history_epochs(tmp_path) == ["0", "1", "2"]


@no_tensorboard_warning
def test_an_unreadable_backup_names_the_folder_and_the_remedy(tmp_path):
    interrupted_run(tmp_path, after_epoch=1)  # two saved states: latest and previous
    for name in ("latest.weights.h5", "latest.weights.h5.bkp"):
        cut_short(tmp_path / "backup" / name)
    with pytest.raises(ValueError, match=r"cannot resume.*backup.*delete the folder"):
        callbacks.training_callbacks(tmp_path)


@no_tensorboard_warning
def test_a_cut_short_latest_backup_falls_back_to_the_previous_epoch(tmp_path):
    weights = interrupted_run(tmp_path, after_epoch=1)
    cut_short(tmp_path / "backup" / "latest.weights.h5")
    recorder = EpochRecorder()
    train.fit(
        tiny_cnn(),
        toy_split(128),
        toy_split(64, seed=1, name="valid"),
        epochs=3,
        verbose=0,
        run_dir=tmp_path,
        monitor="val_loss",
        callbacks=[recorder],
    )
    assert recorder.epochs == [1, 2]
    for restored, saved in zip(recorder.start_weights, weights[0]):
        np.testing.assert_array_equal(restored, saved)
    assert history_epochs(tmp_path) == ["0", "1", "2"]


def test_chance_level_message_names_the_depthwise_initializer():
    # The notes' stall comes from Keras' fan-in of depthwise kernels: the message says what
    # to use instead, by the name the course's builders take.
    watch = callbacks.WarnOnChanceLoss()
    watch.classes, watch.losses_at_chance = 10, [2.3026] * 3
    message = watch._message(epoch=2)
    assert "epochs 1-3" in message and "sqrt(C)" in message
    assert f"models.{models.DEPTHWISE_HE_NORMAL.upper()}" in message
    assert "depthwise_initializer=" in message and "models.depthwise_he_normal()" in message
    assert "he_normal" in message and "BatchNormalization" in message and "adam" in message


def test_epoch_clock_records_minutes_per_epoch():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    clock = callbacks.EpochClock()
    x = np.zeros((8, 2), "float32")
    model.fit(x, np.zeros((8, 1)), epochs=3, verbose=0, callbacks=[clock])
    assert len(clock.minutes) == 3
    assert all(0 <= a <= b for a, b in zip(clock.minutes, clock.minutes[1:]))
    model.fit(x, np.zeros((8, 1)), epochs=2, verbose=0, callbacks=[clock])
    assert len(clock.minutes) == 2, "a new training starts a new record"
