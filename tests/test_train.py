"""Tests of course_lib.train: compiling, fit and its run folders, evaluate, the two warnings."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from course_lib import data, models, seed_everything, train
from course_lib.data import Split

from toy import toy_split


def tiny_cnn(num_classes: int = 4, filters: tuple[int, int] = (4, 8)) -> keras.Model:
    return models.small_cnn(filters=filters, kernel_size=3, num_classes=num_classes)


def of_category(
    caught: list[warnings.WarningMessage], category: type[Warning]
) -> list[warnings.WarningMessage]:
    return [w for w in caught if issubclass(w.category, category)]


@pytest.fixture(scope="module")
def toy_run():
    """A model trained on the toy task, its history and the warnings fit issued."""
    seed_everything(0)
    model = tiny_cnn()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = train.fit(
            model, toy_split(256), toy_split(64, seed=1, name="valid"), epochs=10, verbose=0
        )
    return model, history, caught


def test_fit_learns_a_toy_task_and_evaluate_reports_it(toy_run):
    model, history, caught = toy_run
    assert len(history.history["loss"]) == 10 and "val_accuracy" in history.history
    assert not of_category(caught, train.StalledTrainingWarning)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train.evaluate(model, toy_split(128, seed=2, name="test"))
    assert set(result) >= {"loss", "accuracy"} and result["accuracy"] > 0.9
    assert not of_category(caught, train.MisalignedLabelsWarning)


# Run folders (best model, history, backup and resume) are tested in tests/test_callbacks.py.


# --------------------------------------------------------------------------
# Early stopping
# --------------------------------------------------------------------------


class WeightsRecorder(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_patience_stops_early_and_restores_the_best_weights():
    seed_everything(0)
    model = tiny_cnn()
    valid = toy_split(64, seed=1, name="valid")
    random_labels = Split(valid.x, np.random.default_rng(5).integers(0, 4, len(valid)), "random")
    recorder = WeightsRecorder()
    history = train.fit(
        model,
        toy_split(256),
        random_labels,
        epochs=20,
        verbose=0,
        monitor="val_loss",
        patience=2,
        callbacks=[recorder],
    )
    best = int(np.argmin(history.history["val_loss"]))
    assert len(history.epoch) == best + 3 < 20
    for restored, at_best in zip(model.get_weights(), recorder.weights[best]):
        np.testing.assert_array_equal(restored, at_best)


def test_fit_rejects_negative_patience():
    with pytest.raises(ValueError, match="patience must be a number of epochs"):
        train.fit(tiny_cnn(), toy_split(4), epochs=1, patience=-1)


# --------------------------------------------------------------------------
# Chance level: a stalled loss, misaligned labels
# --------------------------------------------------------------------------


def stalled_cnn() -> keras.Model:
    """Ten uniform outputs that never change: the loss is ln(10) at every step."""
    model = tiny_cnn(num_classes=10, filters=(2, 2))
    output = model.get_layer("output")
    output.set_weights([np.zeros_like(w) for w in output.get_weights()])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_loss_stuck_at_chance_warns_once():
    with pytest.warns(
        train.StalledTrainingWarning, match=r"ln\(10\) = 2\.3026.*probability 1/10"
    ) as caught:
        history = train.fit(stalled_cnn(), toy_split(64), epochs=5, batch_size=32, verbose=0)
    assert history.history["loss"] == pytest.approx([np.log(10)] * 5, abs=1e-4)
    assert len(of_category(caught, train.StalledTrainingWarning)) == 1
    message = str(of_category(caught, train.StalledTrainingWarning)[0].message)
    assert "Adam" in message or "adam" in message
    assert "BatchNormalization" in message and "epochs 1-3" in message


def test_loss_at_chance_for_fewer_epochs_than_patience_does_not_warn():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train.fit(stalled_cnn(), toy_split(64), epochs=2, batch_size=32, verbose=0)
    assert not of_category(caught, train.StalledTrainingWarning)


def shuffled(split: Split, name: str) -> Split:
    return Split(split.x, np.random.default_rng(0).permutation(split.y), name)


def test_evaluate_warns_about_misaligned_labels(toy_run):
    model = toy_run[0]
    with pytest.warns(
        train.MisalignedLabelsWarning, match=r"split 'test_shuffled'.*probably misaligned"
    ):
        result = train.evaluate(model, shuffled(toy_split(128, seed=2), "test_shuffled"))
    assert result["accuracy"] <= 1.5 / 4


def test_evaluate_with_flips_scores_the_mean_of_image_and_mirror(toy_run):
    model = toy_run[0]
    split = toy_split(128, seed=2, name="valid")
    mirrored = Split(split.x[:, :, ::-1, :], split.y, "valid")
    mean = (model.predict(split.x, verbose=0) + model.predict(mirrored.x, verbose=0)) / 2
    result = train.evaluate(model, split, flips=True)
    assert set(result) == {"loss", "accuracy"}
    assert result["accuracy"] == pytest.approx(np.mean(mean.argmax(axis=1) == split.y))
    expected_loss = -np.log(mean[np.arange(len(split.y)), split.y]).mean()
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-4)
    # An image that is its own mirror gets the same score either way.
    symmetric = Split((split.x + mirrored.x) / 2, split.y, "valid")
    plain, flipped = train.evaluate(model, symmetric), train.evaluate(model, symmetric, flips=True)
    assert flipped["accuracy"] == pytest.approx(plain["accuracy"])
    assert flipped["loss"] == pytest.approx(plain["loss"], rel=1e-4)


def test_evaluate_with_flips_needs_probabilities(toy_run):
    split = toy_split(16, seed=2, name="valid")
    logits = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    logits.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(ValueError, match="outputs are not probabilities.*softmax"):
        train.evaluate(logits, split, flips=True)
    with pytest.raises(ValueError, match="flips must be one of"):
        train.evaluate(toy_run[0], split, flips="yes")


def test_fit_requires_a_split():
    model = models.small_cnn()
    x = np.zeros((4, 28, 28, 1), np.float32)
    with pytest.raises(TypeError, match="must be a course_lib.data.Split"):
        train.fit(model, (x, np.zeros(4)), epochs=1)


def test_fit_explains_a_missing_channel_axis():
    model = models.small_cnn()
    split = Split(np.zeros((4, 28, 28), np.float32), np.zeros(4, int), "train")
    with pytest.raises(
        ValueError, match=r"must hold images of shape \(28, 28, 1\).*Add the channel axis"
    ):
        train.fit(model, split, epochs=1)


def test_evaluate_rejects_wrong_image_size():
    model = models.small_cnn()
    split = Split(np.zeros((4, 32, 32, 1), np.float32), np.zeros(4, int), "test")
    with pytest.raises(ValueError, match=r"split 'test' has images of shape \(32, 32, 1\)"):
        train.evaluate(model, split)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": 0}, ValueError, "fit: epochs must be an integer >= 1; got 0"),
        ({"epochs": 2.0}, TypeError, "fit: epochs must be an integer"),
        (
            {"epochs": 1, "batch_size": 0},
            ValueError,
            "fit: batch_size must be an integer >= 1; got 0",
        ),
    ],
)
def test_fit_refuses_bad_epochs_and_batch_sizes(kwargs, error, match):
    with pytest.raises(error, match=match):
        train.fit(
            models.small_cnn(filters=(2, 2), kernel_size=3, num_classes=4), toy_split(4), **kwargs
        )


def test_fit_refuses_test_data_whatever_its_name():
    model = models.small_cnn(filters=(2, 2), kernel_size=3, num_classes=4)
    test = toy_split(16, name="test")
    renamed = [
        test,
        test.take(8),
        data.sample_per_class(test, 8, seed=0),
        data.class_subset(test, [0, 1, 2, 3], name="holdout"),
        Split(test.x, test.y, "holdout", role="test"),
    ]
    for split in renamed:
        with pytest.raises(
            ValueError, match="fit: valid must not be test data.*picks among models"
        ):
            train.fit(model, toy_split(16), split, epochs=1, verbose=0)
        with pytest.raises(ValueError, match="fit: train must not be test data"):
            train.fit(model, split, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "optimizer, kind", [("adam", keras.optimizers.Adam), ("sgd", keras.optimizers.SGD)]
)
def test_compile_classifier(optimizer, kind):
    model = models.small_cnn(filters=(2, 2), kernel_size=3, num_classes=4)
    train.compile_classifier(model, optimizer, 0.05, decay_steps=10)
    assert isinstance(model.optimizer, kind)
    schedule = model.optimizer.learning_rate
    assert float(
        keras.ops.convert_to_numpy(model.optimizer._get_current_learning_rate())
    ) == pytest.approx(0.05)
    assert schedule is not None
    with pytest.raises(ValueError, match="compile_classifier: optimizer must be one of"):
        train.compile_classifier(model, "rmsprop")
    with pytest.raises(ValueError, match="learning_rate must be a number > 0"):
        train.compile_classifier(model, learning_rate=0)


def test_seeded_training_repeats():
    def run() -> float:
        seed_everything(3)
        model = models.small_cnn(filters=(2, 2), kernel_size=3, num_classes=4)
        return train.fit(model, toy_split(64), epochs=1, verbose=0).history["loss"][0]

    assert run() == run()
    assert isinstance(keras.__version__, str)


# --------------------------------------------------------------------------
# [hardening] labels, pixel values and monitor are checked before training
# --------------------------------------------------------------------------


def relabeled(split: Split, y: np.ndarray) -> Split:
    return split.derive(split.x, y)


def test_fit_and_evaluate_refuse_labels_outside_the_models_classes():
    model = tiny_cnn(num_classes=4)
    train_split, valid = toy_split(16), toy_split(8, seed=1, name="valid")
    outside = relabeled(train_split, np.where(np.arange(16) == 5, 10, train_split.y))
    expected = (
        r"the labels of {} must be class indices in 0\.\.3 \(4 classes, the units of the "
        r"model's output\); split '{}' has 1 label outside that range \(from 0 to 10\)"
    )
    with pytest.raises(ValueError, match="fit: " + expected.format("train", "toy")):
        train.fit(model, outside, epochs=1, verbose=0)
    bad_valid = relabeled(valid, np.full(8, 10))
    with pytest.raises(ValueError, match=r"fit: the labels of valid must be .*8 labels outside"):
        train.fit(model, train_split, bad_valid, epochs=1, verbose=0)
    test = toy_split(8, seed=2, name="test")
    with pytest.raises(ValueError, match=r"evaluate: the labels of split .*from -1 to 3"):
        train.evaluate(model, relabeled(test, np.r_[-1, test.y[1:]]))


def test_fit_refuses_one_hot_and_float_labels_with_the_remedy():
    model = tiny_cnn(num_classes=4)
    split = toy_split(16)
    one_hot = relabeled(split, np.eye(4)[split.y])
    with pytest.raises(ValueError, match=r"fit: .*one class index per image.*y\.argmax\(axis=-1\)"):
        train.fit(model, one_hot, epochs=1, verbose=0)
    with pytest.raises(TypeError, match=r"fit: the labels of train must be integer class indices"):
        train.fit(model, relabeled(split, split.y.astype(np.float32)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"evaluate: .*one class index per image"):
        train.evaluate(model, one_hot)


def test_fit_and_evaluate_keep_working_on_segmentation_masks():
    from course_lib import segmentation

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 16, 16, 1)).astype(np.float32)
    masks = rng.integers(0, 11, (8, 16, 16)).astype(np.int32)
    model = segmentation.fcn(filters=(4,))
    history = train.fit(model, Split(x, masks, "train"), epochs=1, batch_size=4, verbose=0)
    assert len(history.history["loss"]) == 1
    assert 0 <= train.evaluate(model, Split(x, masks, "test"))["accuracy"] <= 1
    with pytest.raises(
        ValueError, match=r"fit: the labels of train must be class indices in 0\.\.10"
    ):
        train.fit(model, Split(x, masks + 1, "train"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"one class index per pixel, shape \(N, H, W\)"):
        train.fit(model, Split(x, masks[:, 0, 0], "train"), epochs=1, verbose=0)


def test_fit_refuses_nan_and_infinite_images():
    model = tiny_cnn(num_classes=4)
    split = toy_split(16)
    x = split.x.copy()
    x[3, :2, 0, 0] = np.nan
    x[7, 5, 5, 0] = np.inf
    with pytest.raises(
        ValueError,
        match=r"fit: the images of train must be finite numbers; split 'toy' has 3 NaN or "
        r"infinite pixel values in 2 of its 16 images",
    ):
        train.fit(model, split.derive(x, split.y), epochs=1, verbose=0)
    valid = toy_split(8, seed=1, name="valid")
    with pytest.raises(ValueError, match=r"fit: the images of valid must be finite"):
        train.fit(model, split, valid.derive(x[:8], valid.y), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"evaluate: the images of split must be finite"):
        train.evaluate(model, split.derive(x, split.y))


@pytest.mark.parametrize("with_valid", [True, False])
def test_fit_refuses_a_monitor_the_model_does_not_log(tmp_path, with_valid):
    model = tiny_cnn(num_classes=4)
    valid = toy_split(8, seed=1, name="valid") if with_valid else None
    logged = (
        "'loss', 'accuracy', 'val_loss', 'val_accuracy'" if with_valid else "'loss', 'accuracy'"
    )
    with pytest.raises(ValueError) as info:
        train.fit(
            model,
            toy_split(16),
            valid,
            epochs=1,
            verbose=0,
            monitor="val_acc",
            patience=1,
            run_dir=tmp_path / "run",
        )
    assert str(info.value).startswith(
        f"fit: monitor must be one of the metrics the model logs ({logged}); got 'val_acc'."
    )
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_fit_accepts_the_metric_names_the_model_was_compiled_with():
    model = tiny_cnn(num_classes=4)
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["acc", keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")],
    )
    history = train.fit(
        model,
        toy_split(16),
        toy_split(8, seed=1, name="valid"),
        epochs=1,
        verbose=0,
        monitor="val_top2",
        patience=1,
    )
    assert {"val_acc", "val_top2"} <= set(history.history)
    valid = toy_split(8, seed=1, name="valid")
    with pytest.raises(ValueError, match=r"'val_acc', 'val_top2'\); got 'val_accuracy'"):
        train.fit(model, toy_split(16), valid, epochs=1, verbose=0, patience=2)
    # recompiled without metrics, Keras keeps logging the earlier ones: still accepted
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = train.fit(
        model, toy_split(16), valid, epochs=1, verbose=0, monitor="val_acc", patience=1
    )
    assert "val_acc" in history.history
    # without a run folder or patience, nothing uses monitor: it is not checked
    plain = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(4, "softmax")]
    )
    plain.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = train.fit(plain, toy_split(16), valid, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "val_loss"}
    with pytest.raises(ValueError, match=r"\('loss', 'val_loss'\); got 'val_accuracy'"):
        train.fit(plain, toy_split(16), valid, epochs=1, verbose=0, patience=1)


def test_steps_per_epoch_and_epochs_for_a_budget_of_steps():
    assert train.steps_per_epoch(1_000, 64) == 16 and train.steps_per_epoch(64, 64) == 1
    assert train.epochs_for_steps(1_000, 400, 64) == 25
    assert train.epochs_for_steps(5_000, 400, 64) == 5  # 79 steps an epoch: 5.06 epochs
    assert train.epochs_for_steps(5_000, 10, 64) == 1  # never fewer than one epoch
    with pytest.raises(ValueError, match="steps_per_epoch: batch_size must be"):
        train.steps_per_epoch(10, 0)
    with pytest.raises(ValueError, match="epochs_for_steps: steps must be"):
        train.epochs_for_steps(10, 0, 64)
