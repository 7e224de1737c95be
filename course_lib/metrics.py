"""Metrics on predicted labels, in NumPy: confusion matrix, pixel accuracy, IoU.

Every function compares true and predicted *class indices* of the same shape:
one label per image (a classifier) or one per pixel (a segmentation model).
Class probabilities become labels with ``argmax`` over their last axis first.

Defined in chapter "A CNN classifier".
"""

from __future__ import annotations

import numpy as np

from course_lib import _checks

__all__ = ["confusion_matrix", "pixel_accuracy", "iou_per_class", "mean_iou"]

_ARGMAX = (
    " Turn class probabilities (..., classes) into labels with argmax(axis=-1) "
    "(segmentation.predict_masks() does it for a segmentation model)."
)


def _check_labels(
    y_true: object, y_pred: object, fn: str, num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return both label arrays as ``int64`` if they are class indices of one shape.

    With ``num_classes``, every label must also lie in ``0..num_classes - 1``.

    Raises
    ------
    TypeError
        If the labels are not integers (or booleans).
    ValueError
        If the shapes differ, the arrays are empty, or a label is out of range.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{fn}: y_true and y_pred must have the same shape, one label per example "
            f"(or pixel); got {y_true.shape} and {y_pred.shape}.{_ARGMAX}"
        )
    if y_true.size == 0:
        raise ValueError(f"{fn}: y_true and y_pred must not be empty; got shape {y_true.shape}.")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
            raise TypeError(
                f"{fn}: {name} must hold integer class labels; got dtype {labels.dtype}.{_ARGMAX}"
            )
    if num_classes is not None:
        num_classes = _checks.check_int(num_classes, fn, "num_classes", low=1)
        for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
            low, high = int(labels.min()), int(labels.max())
            if low < 0 or high >= num_classes:
                raise ValueError(
                    f"{fn}: {name} must hold labels in 0..{num_classes - 1}; got labels "
                    f"{low}..{high}. Pass the number of classes as num_classes."
                )
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def _count(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """The confusion matrix of checked ``int64`` labels."""
    pairs = num_classes * y_true.ravel() + y_pred.ravel()
    return np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)


def _iou(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """The IoU of every class of checked labels; NaN where a class appears nowhere."""
    confusion = _count(y_true, y_pred, num_classes)
    intersection = np.diag(confusion).astype(np.float64)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - intersection
    iou = np.full(num_classes, np.nan)
    np.divide(intersection, union, out=iou, where=union > 0)
    return iou


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Count matrix ``m[i, j]``: examples (or pixels) of true class ``i`` predicted as ``j``.

    Defined in chapter "A CNN classifier".

    Parameters
    ----------
    y_true, y_pred : np.ndarray
        Class indices ``0..num_classes - 1``, both of the same shape.
    num_classes : int
        Number of classes: the side of the matrix.

    Returns
    -------
    np.ndarray
        ``int64`` of shape ``(num_classes, num_classes)``; row ``i`` sums to
        the number of examples of class ``i``.

    Raises
    ------
    TypeError
        If the labels are not integers.
    ValueError
        If the shapes differ, or a label is outside ``0..num_classes - 1``.
    """
    y_true, y_pred = _check_labels(y_true, y_pred, "confusion_matrix", num_classes)
    return _count(y_true, y_pred, num_classes)


def pixel_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of labels (pixels) whose prediction equals the true one.

    Defined in chapter "A CNN classifier".

    Raises
    ------
    TypeError
        If the labels are not integers.
    ValueError
        If the shapes differ or the arrays are empty.
    """
    y_true, y_pred = _check_labels(y_true, y_pred, "pixel_accuracy")
    return float(np.mean(y_true == y_pred))


def iou_per_class(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Intersection over union of every class: ``|true & predicted| / |true | predicted|``.

    Defined in chapter "A CNN classifier".

    Returns
    -------
    np.ndarray
        ``float64`` of length ``num_classes``; NaN for a class that appears
        neither in ``y_true`` nor in ``y_pred`` (0 / 0).

    Raises
    ------
    TypeError
        If the labels are not integers.
    ValueError
        If the shapes differ, or a label is outside ``0..num_classes - 1``.
    """
    y_true, y_pred = _check_labels(y_true, y_pred, "iou_per_class", num_classes)
    return _iou(y_true, y_pred, num_classes)


def mean_iou(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """Mean of ``iou_per_class`` over the classes present in ``y_true`` or ``y_pred``.

    Defined in chapter "A CNN classifier".

    Unlike pixel accuracy it weighs every class equally, so a model that
    predicts "background" everywhere scores poorly although most pixels are
    background.

    Raises
    ------
    TypeError
        If the labels are not integers.
    ValueError
        If the shapes differ, or a label is outside ``0..num_classes - 1``.
    """
    y_true, y_pred = _check_labels(y_true, y_pred, "mean_iou", num_classes)
    return float(np.nanmean(_iou(y_true, y_pred, num_classes)))
