"""Known-answer tests of course_lib._checks, the one validation layer.

Every check returns the value it accepts (converted where it says so) and
raises ``TypeError`` for a wrong type, ``ValueError`` for a wrong value, with
a message ``fn: name must be ...; got ...`` and the remedy where there is one.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from course_lib import _checks
from course_lib.data import Split

# --------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------


def test_check_int_returns_a_python_int_within_the_bounds():
    assert _checks.check_int(3, "f", "n") == 3
    value = _checks.check_int(np.int64(5), "f", "n", low=5, high=5)
    assert value == 5 and type(value) is int


@pytest.mark.parametrize(
    "value, error, message",
    [
        (True, TypeError, "f: n must be an integer in [1, 9]; got True (bool)."),
        (2.0, TypeError, "f: n must be an integer in [1, 9]; got 2.0 (float)."),
        ("3", TypeError, "f: n must be an integer in [1, 9]; got '3' (str)."),
        (0, ValueError, "f: n must be an integer in [1, 9]; got 0."),
        (10, ValueError, "f: n must be an integer in [1, 9]; got 10."),
    ],
)
def test_check_int_refuses(value, error, message):
    with pytest.raises(error) as info:
        _checks.check_int(value, "f", "n", low=1, high=9)
    assert str(info.value) == message


def test_check_int_bounds_and_hint_in_the_message():
    with pytest.raises(ValueError) as info:
        _checks.check_int(-1, "f", "n", low=0, hint=" Use 0 for none.")
    assert str(info.value) == "f: n must be an integer >= 0; got -1. Use 0 for none."
    with pytest.raises(ValueError, match=r"f: n must be an integer <= 3; got 4\.$"):
        _checks.check_int(4, "f", "n", high=3)


def test_check_real_returns_a_float_and_respects_open_bounds():
    value = _checks.check_real(1, "f", "x", low=0, high=1)
    assert value == 1.0 and type(value) is float
    assert _checks.check_real(np.float32(0.5), "f", "x", low=0, high=1, high_open=True) == 0.5
    with pytest.raises(ValueError) as info:
        _checks.check_real(0, "f", "rate", low=0, low_open=True)
    assert str(info.value) == "f: rate must be a number > 0; got 0.0."
    with pytest.raises(ValueError, match=r"must be a number in \[0, 1\); got 1\.0"):
        _checks.check_real(1, "f", "x", low=0, high=1, high_open=True)
    with pytest.raises(ValueError, match=r"must be a number in \(0, 1\]; got 0\.0"):
        _checks.check_real(0.0, "f", "x", low=0, high=1, low_open=True)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_check_real_refuses_nan_and_infinity(value):
    with pytest.raises(ValueError, match="f: x must be a number; got"):
        _checks.check_real(value, "f", "x")


@pytest.mark.parametrize("value", [True, "0.5", None, [0.5]])
def test_check_real_refuses_non_numbers(value):
    with pytest.raises(TypeError, match="f: x must be a number in"):
        _checks.check_real(value, "f", "x", low=0, high=1)


def test_check_choice():
    assert _checks.check_choice("adam", "f", "optimizer", ("adam", "sgd")) == "adam"
    assert _checks.check_choice(None, "f", "flip", ("horizontal", None)) is None
    with pytest.raises(ValueError) as info:
        _checks.check_choice("rmsprop", "f", "optimizer", ("adam", "sgd"))
    assert str(info.value) == "f: optimizer must be one of ('adam', 'sgd'); got 'rmsprop'."
    # True == 1, but a flag is not a choice among numbers
    with pytest.raises(ValueError, match=r"must be one of \(1, 2\); got True"):
        _checks.check_choice(True, "f", "stride", (1, 2))
    assert _checks.check_choice(True, "f", "flag", (True, False)) is True
    # an unhashable value against a set is just not a choice
    with pytest.raises(ValueError, match="must be one of"):
        _checks.check_choice([1], "f", "kind", {1, 2})


def test_check_seed():
    assert _checks.check_seed(None, "f") is None
    assert _checks.check_seed(0, "f") == 0 and _checks.check_seed(2**32 - 1, "f") == 2**32 - 1
    with pytest.raises(ValueError) as info:
        _checks.check_seed(2**32, "f")
    assert str(info.value) == (
        f"f: seed must be an integer in [0, {2**32 - 1}]; got {2**32}. "
        "Pass None for a run that is not reproducible."
    )
    with pytest.raises(ValueError, match="got -1"):
        _checks.check_seed(-1, "f")
    with pytest.raises(TypeError, match=r"got 1\.5 \(float\)"):
        _checks.check_seed(1.5, "f")


def test_rng_repeats_with_a_seed():
    assert (
        _checks.rng(3).integers(0, 1000, 5).tolist() == _checks.rng(3).integers(0, 1000, 5).tolist()
    )
    assert isinstance(_checks.rng(None), np.random.Generator)


def test_check_classes():
    assert _checks.check_classes([3, 1], "f") == (3, 1)
    assert _checks.check_classes((np.int64(0), 9), "f", num_classes=10) == (0, 9)
    with pytest.raises(TypeError, match="f: classes must be a sequence of class indices"):
        _checks.check_classes("01", "f")
    with pytest.raises(TypeError, match="every class must be an integer >= 0; got 0.5"):
        _checks.check_classes((0.5, 6.7), "f")
    with pytest.raises(ValueError, match=r"at least 2 classes; got \(1,\)"):
        _checks.check_classes([1], "f")
    with pytest.raises(ValueError, match=r"must be distinct; got \(1, 1\)"):
        _checks.check_classes([1, 1], "f")
    with pytest.raises(ValueError, match=r"must be in 0\.\.9; got \(0, 10\)"):
        _checks.check_classes([0, 10], "f", num_classes=10)


# --------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------


def split(n: int = 4, shape: tuple = (28, 28, 1), y=None, name: str = "train", **kwargs) -> Split:
    labels = np.arange(n) % 3 if y is None else y
    return Split(np.zeros((n, *shape), np.float32), labels, name, **kwargs)


def test_check_split_accepts_and_returns_the_split():
    s = split()
    assert _checks.check_split(s, "f", "train", image_shape=(28, 28, 1), class_labels=True) is s
    assert _checks.check_split(s, "f", "train", image_shape=(None, None, 1)) is s
    assert _checks.check_split(s, "f", "train", image_shape=(-1, 28, 1)) is s


def test_check_split_refuses_other_types_shapes_and_one_hot_labels():
    with pytest.raises(TypeError, match="f: train must be a course_lib.data.Split.*got tuple"):
        _checks.check_split((np.zeros(3), np.zeros(3)), "f", "train")
    with pytest.raises(ValueError) as info:
        _checks.check_split(split(shape=(28, 28)), "f", "train", image_shape=(28, 28, 1))
    assert str(info.value) == (
        "f: train must hold images of shape (28, 28, 1); split 'train' has images of shape "
        "(28, 28). Add the channel axis: data.standardize() returns (N, 28, 28, 1)."
    )
    with pytest.raises(ValueError, match=r"shape \(32, 32, 1\)\.$"):
        _checks.check_split(split(shape=(32, 32, 1)), "f", "train", image_shape=(28, 28, 1))
    one_hot = split(y=np.eye(3)[[0, 1, 2, 0]])
    with pytest.raises(ValueError, match=r"labels of shape \(4, 3\).*y\.argmax\(axis=1\)"):
        _checks.check_split(one_hot, "f", "train", class_labels=True)


def test_refuse_test_goes_by_role_not_name():
    _checks.refuse_test(split(name="test", role="train"), "f", "valid")  # a role, not a name
    with pytest.raises(ValueError) as info:
        _checks.refuse_test(split(name="holdout", role="test"), "f", "valid")
    assert str(info.value).startswith(
        "f: valid must not be test data; split 'holdout' comes from the test set. A score that "
        "picks among models"
    )
    with pytest.raises(ValueError, match="train must not be test data.*A model trained on test"):
        _checks.refuse_test(split(name="test"), "f", "train", use="train")


def test_check_training_data():
    _checks.check_training_data(split(), None, "f", image_shape=(28, 28, 1))
    _checks.check_training_data(split(), split(name="valid"), "f")
    with pytest.raises(ValueError, match="f: valid must not be test data"):
        _checks.check_training_data(split(), split(name="test"), "f")
    with pytest.raises(ValueError, match="f: train must not be test data"):
        _checks.check_training_data(split(name="test"), None, "f")
    with pytest.raises(ValueError, match="f: valid must hold images of shape"):
        _checks.check_training_data(
            split(), split(shape=(28, 28), name="valid"), "f", image_shape=(28, 28, 1)
        )


# --------------------------------------------------------------------------
# Labels, pixel values, input shapes
# --------------------------------------------------------------------------


def test_check_labels_accepts_class_indices_and_masks():
    s = split(y=np.array([0, 3, 9, 2], np.uint8))
    assert _checks.check_labels(s, "f", "train", 10) is s
    masks = Split(np.zeros((2, 8, 8, 1)), np.full((2, 8, 8), 10, np.int32), "train")
    assert _checks.check_labels(masks, "f", "train", 11, label_shape=(None, None)) is masks
    assert _checks.check_labels(masks, "f", "train", 11, label_shape=(8, 8)) is masks
    empty = Split(np.zeros((0, 28, 28, 1)), np.zeros(0, np.int64), "train")
    assert _checks.check_labels(empty, "f", "train", 10) is empty


def test_check_labels_refuses_labels_out_of_range_naming_the_range():
    with pytest.raises(ValueError) as info:
        _checks.check_labels(split(y=np.array([0, 10, 12, 3])), "f", "train", 10)
    assert str(info.value).startswith(
        "f: the labels of train must be class indices in 0..9 (10 classes); split 'train' has 2 "
        "labels outside that range (from 0 to 12)."
    )
    with pytest.raises(ValueError, match=r"in 0\.\.3 \(4 classes\); .*1 label outside.*-1 to 2"):
        _checks.check_labels(split(y=np.array([0, -1, 2, 1])), "f", "train", 4)
    with pytest.raises(ValueError, match=r"in 0\.\.3 \(4 classes, the model's output units\)"):
        _checks.check_labels(
            split(y=np.array([0, 4, 2, 1])), "f", "train", 4, source="the model's output units"
        )


def test_check_labels_refuses_one_hot_and_other_shapes():
    one_hot = split(y=np.eye(4)[[0, 1, 2, 3]])
    with pytest.raises(ValueError) as info:
        _checks.check_labels(one_hot, "f", "train", 4)
    assert str(info.value) == (
        "f: the labels of train must be one class index per image, shape (N,); split 'train' "
        "has labels of shape (4, 4). One-hot labels become class indices with y.argmax(axis=-1)."
    )
    masks = Split(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8), np.int32), "train")
    with pytest.raises(
        ValueError, match=r"one class index per image, shape \(N,\); .*\(2, 8, 8\)\.$"
    ):
        _checks.check_labels(masks, "f", "train", 11)
    with pytest.raises(ValueError, match=r"one class index per pixel, shape \(N, 8, 8\); .*\(4,\)"):
        _checks.check_labels(split(), "f", "train", 11, label_shape=(8, 8))


def test_check_labels_refuses_float_and_bool_labels():
    with pytest.raises(TypeError) as info:
        _checks.check_labels(split(y=np.array([0.0, 1.0, 2.0, 1.0])), "f", "train", 3)
    assert str(info.value) == (
        "f: the labels of train must be integer class indices; split 'train' has labels of "
        "dtype float64. They are whole numbers: convert them with y.astype(np.int64)."
    )
    with pytest.raises(TypeError, match=r"dtype float32\.$"):
        _checks.check_labels(split(y=np.array([0.5, 1, 2, 1], np.float32)), "f", "train", 3)
    with pytest.raises(TypeError, match="dtype bool"):
        _checks.check_labels(split(y=np.array([True, False, True, True])), "f", "train", 2)


def test_check_labels_takes_an_array_of_labels_too():
    assert _checks.check_labels(np.array([0, 1]), "f", "y", 2).tolist() == [0, 1]
    with pytest.raises(
        ValueError, match=r"f: the labels of y must be class indices in 0\.\.1 .*; y has 1"
    ):
        _checks.check_labels(np.array([0, 2]), "f", "y", 2)


def test_check_training_labels_checks_both_splits():
    _checks.check_training_labels(split(), None, "f", 3)
    _checks.check_training_labels(split(), split(name="valid"), "f", 3)
    with pytest.raises(ValueError, match="f: the labels of valid must be class indices in 0..2"):
        _checks.check_training_labels(
            split(), split(y=np.array([0, 1, 2, 3]), name="valid"), "f", 3
        )
    with pytest.raises(ValueError, match="f: the labels of train must be class indices"):
        _checks.check_training_labels(split(y=np.array([0, 1, 2, 3])), None, "f", 3)


def test_model_labels_reads_the_classes_from_a_sparse_classifier():
    def model(output_shape: tuple, loss) -> keras.Model:
        inputs = keras.Input((4, 4, 1))
        x = keras.layers.Conv2D(output_shape[-1], 1)(inputs)
        if len(output_shape) == 1:
            x = keras.layers.GlobalAveragePooling2D()(x)
        m = keras.Model(inputs, x)
        if loss is not None:
            m.compile(loss=loss)
        return m

    assert _checks.model_labels(model((5,), "sparse_categorical_crossentropy")) == (5, ())
    assert _checks.model_labels(
        model((4, 4, 3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ) == (3, (4, 4))
    # anything else is not checked: other losses (one-hot, regression), no loss yet
    assert _checks.model_labels(model((5,), "categorical_crossentropy")) is None
    assert _checks.model_labels(model((1,), "mse")) is None
    assert _checks.model_labels(model((5,), None)) is None


def test_check_finite():
    s = split()
    assert _checks.check_finite(s, "f", "train") is s
    assert _checks.check_finite(Split(np.zeros((2, 3), np.uint8), np.zeros(2, int)), "f", "t")
    x = np.zeros((5, 4, 4, 1), np.float32)
    x[1, 0, 0] = np.nan
    x[1, 1, 0] = np.inf
    x[3, 2, 2] = -np.inf
    with pytest.raises(ValueError) as info:
        _checks.check_finite(Split(x, np.zeros(5, int), "train"), "f", "train")
    assert str(info.value).startswith(
        "f: the images of train must be finite numbers; split 'train' has 3 NaN or infinite "
        "pixel values in 2 of its 5 images."
    )


def test_check_image_shape():
    assert _checks.check_image_shape((28, 28, 1), "f") == (28, 28, 1)
    assert _checks.check_image_shape([32, 32, np.int64(3)], "f") == (32, 32, 3)
    with pytest.raises(ValueError) as info:
        _checks.check_image_shape((28, 28), "f")
    assert str(info.value) == (
        "f: input_shape must be (height, width, channels); got (28, 28). "
        "Add the channel axis: (28, 28) becomes (28, 28, 1)."
    )
    with pytest.raises(ValueError, match=r"got \(28, 28\)\. .*becomes \(28, 28, 1\)\.$"):
        _checks.check_image_shape([np.int64(28), 28], "f")
    with pytest.raises(ValueError, match=r"channels\); got \(1, 28, 28, 1\)\.$"):
        _checks.check_image_shape((1, 28, 28, 1), "f")
    with pytest.raises(TypeError, match="f: input_shape must be"):
        _checks.check_image_shape(28, "f")
    with pytest.raises(ValueError, match="f: input_shape must be an integer >= 1; got 0"):
        _checks.check_image_shape((28, 0, 1), "f")
    with pytest.raises(TypeError, match="f: input_shape must be an integer >= 1; got 28.0"):
        _checks.check_image_shape((28.0, 28, 1), "f")
