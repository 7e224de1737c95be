"""Tests of course_lib.throughput: images per second, with one rate per repeat."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib import augment, throughput
from course_lib.data import Split
from course_lib.throughput import Throughput, measure_throughput

# --- throughput ---------------------------------------------------------------------


def tiny_model() -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(2, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def test_inference_throughput_has_one_rate_per_repeat():
    x = np.zeros((10, 6, 6, 1), np.float32)
    result = measure_throughput(tiny_model(), x, batch_size=4, repeats=3)
    assert isinstance(result, Throughput)
    assert len(result.images_per_second) == 3 and all(
        r > 0 and math.isfinite(r) for r in result.images_per_second
    )
    assert (
        result.images == 8 and result.batch_size == 4 and result.mode == "inference"
    )  # whole batches only
    assert min(result.images_per_second) <= result.median <= max(result.images_per_second)
    assert result.ms_per_image == pytest.approx(1000 / result.median)
    assert result.summary().startswith("inference: median ")


def test_training_throughput_leaves_weights_and_optimizer_unchanged():
    model = tiny_model()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, 8)
    model.fit(x, y, epochs=1, verbose=0)  # an optimizer with a state to keep
    weights = model.get_weights()
    state = [v.numpy().copy() for v in model.optimizer.variables]
    result = measure_throughput(model, x, y, batch_size=4, repeats=2, training=True)
    assert result.mode == "training" and len(result.images_per_second) == 2
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(state, model.optimizer.variables):
        np.testing.assert_array_equal(before, after.numpy())
    # an optimizer that never stepped is restored to its initial state too
    fresh = tiny_model()
    start = fresh.get_weights()
    measure_throughput(fresh, x, y, batch_size=4, repeats=1, training=True)
    assert int(fresh.optimizer.iterations.numpy()) == 0
    for before, after in zip(start, fresh.get_weights()):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"batch_size": 0, "repeats": 1}, ValueError, "batch_size must be an integer >= 1; got 0"),
        ({"batch_size": 2, "repeats": 0}, ValueError, "repeats must be an integer >= 1; got 0"),
        (
            {"batch_size": 20, "repeats": 1},
            ValueError,
            "x has 10 images, fewer than one batch of 20",
        ),
        (
            {"batch_size": 2, "repeats": 1, "training": True},
            ValueError,
            "training=True needs labels y",
        ),
        (
            {"batch_size": 2, "repeats": 1, "training": True, "y": np.zeros(3)},
            ValueError,
            "x has 10 images but y has 3 labels",
        ),
    ],
)
def test_throughput_bad_input(kwargs, error, match):
    with pytest.raises(error, match=f"measure_throughput: {match}"):
        measure_throughput(tiny_model(), np.zeros((10, 6, 6, 1), np.float32), **kwargs)


def test_throughput_rejects_wrong_shapes_uncompiled_training_and_non_models():
    uncompiled = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    x = np.zeros((4, 6, 6, 1), np.float32)
    with pytest.raises(
        ValueError,
        match=r"measure_throughput: the model expects images of shape \(6, 6, 1\); x has \(6, 6\)",
    ):
        measure_throughput(uncompiled, x[..., 0], batch_size=2, repeats=1)
    with pytest.raises(ValueError, match="training=True needs a compiled model"):
        measure_throughput(uncompiled, x, np.zeros(4), batch_size=2, repeats=1, training=True)
    with pytest.raises(TypeError, match="measure_throughput: expected a keras.Model"):
        measure_throughput(lambda v: v, x, batch_size=2, repeats=1)


# --- [hardening] labels are checked before a training measurement ------------------


@pytest.mark.parametrize(
    "y, error, match",
    [
        (
            np.array([0, 1, 2, 3, 0, 1, 2, 0]),
            ValueError,
            r"the labels of y must be class indices in 0\.\.2 \(3 classes, the units of the "
            r"model's output\); y has 1 label outside that range \(from 0 to 3\)",
        ),
        (
            np.eye(3)[np.zeros(8, int)],
            ValueError,
            r"the labels of y must be one class index per image.*y\.argmax\(axis=-1\)",
        ),
        (np.zeros(8), TypeError, "the labels of y must be integer class indices"),
    ],
)
def test_training_throughput_refuses_labels_the_model_cannot_learn(y, error, match):
    model = tiny_model()
    weights = model.get_weights()
    x = np.zeros((8, 6, 6, 1), np.float32)
    with pytest.raises(error, match=f"measure_throughput: {match}"):
        measure_throughput(model, x, y, batch_size=4, repeats=1, training=True)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    # inference never looks at labels
    assert measure_throughput(model, x, y, batch_size=4, repeats=1).images == 8


def test_images_per_second_measures_a_rate():
    split = Split(np.zeros((20, 28, 28, 1), np.float32), np.arange(20) % 4, "train")
    dataset = augment.training_dataset(split, 10, seed=0)
    rate = throughput.images_per_second(dataset, repeats=2)
    assert isinstance(rate, float) and rate > 0
    with pytest.raises(
        ValueError, match=r"images_per_second: repeats must be an integer >= 1; got 0"
    ):
        throughput.images_per_second(dataset, repeats=0)
    with pytest.raises(
        TypeError, match=r"images_per_second: repeats must be an integer >= 1; got 2\.0"
    ):
        throughput.images_per_second(dataset, repeats=2.0)
    empty = tf.data.Dataset.from_tensor_slices((np.zeros((0, 28, 28, 1)), np.zeros(0)))
    with pytest.raises(ValueError, match="images_per_second: dataset must yield images; got none"):
        throughput.images_per_second(empty, repeats=1)
