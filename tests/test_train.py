"""Tests of course_lib.models.small_cnn and course_lib.train."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_lib import models, seed_everything, train  # noqa: E402
from course_lib.data import Split  # noqa: E402


def toy_split(n: int = 64, seed: int = 0, name: str = "toy") -> Split:
    """Images whose class is written in their brightest quadrant: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(0, 0.1, (n, 28, 28, 1)).astype(np.float32)
    for i, label in enumerate(y):
        r, c = divmod(int(label), 2)
        x[i, r * 14 : r * 14 + 14, c * 14 : c * 14 + 14] += 1
    return Split(x, y, name)


@pytest.mark.parametrize(
    "downsample, params",
    [("maxpool", 28_938), ("avgpool", 28_938), ("stride", 28_938), ("none", 264_138)],
)
def test_small_cnn_parameter_counts(downsample, params):
    # conv1: (5*5*1+1)*16 = 416; conv2: (5*5*16+1)*32 = 12,832; dense: 7*7*32*10+10 = 15,690
    model = models.small_cnn(downsample=downsample)
    assert model.count_params() == params
    assert model.output_shape == (None, 10)


def test_small_cnn_rejects_unknown_downsampling():
    with pytest.raises(ValueError, match="downsample must be one of"):
        models.small_cnn(downsample="maxpooling")


def test_feature_extractor():
    model = models.small_cnn()
    assert models.feature_extractor(model, "pool1").output_shape == (None, 14, 14, 16)
    with pytest.raises(ValueError, match="no layer 'conv9'"):
        models.feature_extractor(model, "conv9")


def test_fit_learns_a_toy_task_and_evaluate_reports_it():
    seed_everything(0)
    model = models.small_cnn(filters=(4, 8), kernel_size=3, num_classes=4)
    history = train.fit(model, toy_split(256), toy_split(64, seed=1, name="valid"), epochs=10, verbose=0)
    assert len(history.history["loss"]) == 10 and "val_accuracy" in history.history
    result = train.evaluate(model, toy_split(128, seed=2, name="test"))
    assert set(result) >= {"loss", "accuracy"} and result["accuracy"] > 0.9


def test_fit_requires_a_split():
    model = models.small_cnn()
    x = np.zeros((4, 28, 28, 1), np.float32)
    with pytest.raises(TypeError, match="must be a course_lib.data.Split"):
        train.fit(model, (x, np.zeros(4)), epochs=1)


def test_fit_explains_a_missing_channel_axis():
    model = models.small_cnn()
    split = Split(np.zeros((4, 28, 28), np.float32), np.zeros(4, int), "train")
    with pytest.raises(ValueError, match=r"expects images of shape \(28, 28, 1\).*Add the channel axis"):
        train.fit(model, split, epochs=1)


def test_evaluate_rejects_wrong_image_size():
    model = models.small_cnn()
    split = Split(np.zeros((4, 32, 32, 1), np.float32), np.zeros(4, int), "test")
    with pytest.raises(ValueError, match=r"split 'test' has \(32, 32, 1\)"):
        train.evaluate(model, split)


def test_fit_rejects_zero_epochs():
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        train.fit(models.small_cnn(), toy_split(4), epochs=0)


def test_seeded_training_repeats():
    def run() -> float:
        seed_everything(3)
        model = models.small_cnn(filters=(2, 2), kernel_size=3, num_classes=4)
        return train.fit(model, toy_split(64), epochs=1, verbose=0).history["loss"][0]

    assert run() == run()
    assert isinstance(keras.__version__, str)
