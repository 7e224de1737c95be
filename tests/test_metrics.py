"""Tests of course_lib.metrics: known answers computed by hand, and refused labels."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from course_lib import metrics

# Two label maps of 2x3 pixels and their pixel-by-pixel comparison:
#   true  0 0 1    pred  0 1 1    (true, pred) pairs: (0,0) (0,1) (1,1)
#         1 2 2          1 2 0                        (1,1) (2,2) (2,0)
Y_TRUE = np.array([[0, 0, 1], [1, 2, 2]])
Y_PRED = np.array([[0, 1, 1], [1, 2, 0]])


def test_confusion_matrix_of_a_hand_counted_example():
    # Rows are true classes, columns predicted ones.
    # true 0: once 0, once 1; true 1: twice 1; true 2: once 2, once 0; class 3 absent.
    expected = [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    np.testing.assert_array_equal(metrics.confusion_matrix(Y_TRUE, Y_PRED, 4), expected)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(Y_TRUE.ravel(), Y_PRED.ravel(), 4), expected
    )


def test_confusion_matrix_of_label_vectors():
    m = metrics.confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    assert m.dtype == np.int64 and m.sum() == 5


def test_pixel_accuracy_and_iou_of_the_hand_computed_example():
    assert metrics.pixel_accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    # class 0: 1 common pixel, 3 in the union; class 1: 2 of 3; class 2: 1 of 2; class 3: 0 / 0.
    iou = metrics.iou_per_class(Y_TRUE, Y_PRED, 4)
    np.testing.assert_allclose(iou[:3], [1 / 3, 2 / 3, 1 / 2])
    assert np.isnan(iou[3])
    assert metrics.mean_iou(Y_TRUE, Y_PRED, 4) == pytest.approx(0.5)  # (1/3 + 2/3 + 1/2) / 3


def test_metrics_of_a_perfect_prediction():
    assert metrics.pixel_accuracy(Y_TRUE, Y_TRUE) == 1.0
    assert metrics.mean_iou(Y_TRUE, Y_TRUE, 11) == 1.0
    assert np.isnan(metrics.iou_per_class(Y_TRUE, Y_TRUE, 11)[3:]).all()
    np.testing.assert_array_equal(metrics.confusion_matrix(Y_TRUE, Y_TRUE, 3), np.diag([2, 2, 2]))


def test_all_background_prediction_has_high_accuracy_but_low_mean_iou():
    y_true = np.zeros((10, 10), int)
    y_true[:2, :2] = 3  # 4% of the pixels
    y_pred = np.zeros_like(y_true)
    assert metrics.pixel_accuracy(y_true, y_pred) == pytest.approx(0.96)
    assert metrics.mean_iou(y_true, y_pred, 11) == pytest.approx(0.48)  # (0.96 + 0) / 2


def test_boolean_masks_are_two_classes():
    y_true = np.array([[True, False], [True, True]])
    y_pred = np.array([[True, True], [False, True]])
    np.testing.assert_allclose(metrics.iou_per_class(y_true, y_pred, 2), [0 / 2, 2 / 4])


def test_mean_iou_agrees_with_keras():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 11, (4, 20, 20))
    y_pred = np.where(rng.random((4, 20, 20)) < 0.6, y_true, rng.integers(0, 11, (4, 20, 20)))
    metric = keras.metrics.MeanIoU(num_classes=11)
    metric.update_state(y_true, y_pred)
    assert metrics.mean_iou(y_true, y_pred, 11) == pytest.approx(float(metric.result()), abs=1e-6)


@pytest.mark.parametrize("fn", [metrics.confusion_matrix, metrics.iou_per_class, metrics.mean_iou])
def test_labels_outside_the_classes_are_refused(fn):
    # -1 used to be counted as the last class (NumPy's negative index).
    with pytest.raises(
        ValueError, match=rf"{fn.__name__}: y_true must hold labels in 0\.\.9; got labels -1\.\.9"
    ):
        fn(np.array([-1, 0, 9]), np.array([0, 0, 9]), 10)
    with pytest.raises(ValueError, match=r"y_pred must hold labels in 0\.\.1; got labels 0\.\.2"):
        fn(np.array([0, 1, 1]), np.array([0, 1, 2]), 2)


def test_probabilities_and_unequal_shapes_are_refused():
    with pytest.raises(ValueError, match=r"same shape.*got \(2, 3\) and \(3, 2\)"):
        metrics.pixel_accuracy(Y_TRUE, Y_PRED.T)
    with pytest.raises(ValueError, match=r"confusion_matrix: .*same shape.*argmax\(axis=-1\)"):
        metrics.confusion_matrix(np.zeros(3, int), np.zeros((3, 10), int), 10)
    with pytest.raises(ValueError, match=r"mean_iou: .*predict_masks"):
        metrics.mean_iou(Y_TRUE, np.zeros((2, 3, 11), int), 11)


def test_non_integer_labels_and_empty_arrays_are_refused():
    with pytest.raises(
        TypeError, match="iou_per_class: y_pred must hold integer class labels; got dtype float64"
    ):
        metrics.iou_per_class(Y_TRUE, Y_PRED.astype(float), 4)
    with pytest.raises(TypeError, match="pixel_accuracy: y_true must hold integer class labels"):
        metrics.pixel_accuracy(np.zeros((2, 3)), Y_PRED)
    with pytest.raises(ValueError, match="must not be empty"):
        metrics.pixel_accuracy(np.zeros(0, int), np.zeros(0, int))


@pytest.mark.parametrize(
    "num_classes, error", [(0, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_num_classes_must_be_a_positive_integer(num_classes, error):
    with pytest.raises(error, match="confusion_matrix: num_classes must be an integer >= 1"):
        metrics.confusion_matrix(Y_TRUE, Y_PRED, num_classes)
