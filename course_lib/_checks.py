"""Argument checks shared by every module (private).

One policy, as in scikit-learn's ``check_scalar`` and Keras'
``argument_validation``: a value of the wrong *type* raises ``TypeError``, a
value of the right type but out of range raises ``ValueError``. Every message
has the same shape, ``fn: name must be ...; got ...``, followed by the remedy
where there is one.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from course_lib.data import Split

__all__ = [
    "check_int",
    "check_real",
    "check_choice",
    "check_seed",
    "check_classes",
    "check_split",
    "refuse_test",
    "check_training_data",
    "check_labels",
    "check_training_labels",
    "loss_name",
    "model_labels",
    "check_finite",
    "check_image_shape",
    "rng",
]


def _bounds(
    low: float | None, high: float | None, low_open: bool = False, high_open: bool = False
) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def check_int(
    value: object,
    fn: str,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    hint: str = "",
) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[low, high]``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``bool`` and ``2.0`` are refused).
    ValueError
        If it is outside ``[low, high]``.
    """
    what = " ".join(filter(None, ["an integer", _bounds(low, high)]))
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{fn}: {name} must be {what}; got {value!r} ({type(value).__name__}).{hint}"
        )
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{fn}: {name} must be {what}; got {value!r}.{hint}")
    return int(value)


def check_real(
    value: object,
    fn: str,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number within the bounds.

    ``low_open`` / ``high_open`` exclude the bound itself.

    Raises
    ------
    TypeError
        If ``value`` is not a real number (``bool`` is refused).
    ValueError
        If it is NaN, infinite or out of bounds.
    """
    what = " ".join(filter(None, ["a number", _bounds(low, high, low_open, high_open)]))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{fn}: {name} must be {what}; got {value!r} ({type(value).__name__}).{hint}"
        )
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or too_low or too_high:
        raise ValueError(f"{fn}: {name} must be {what}; got {value!r}.{hint}")
    return value


def check_choice(value: Any, fn: str, name: str, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``.

    Raises
    ------
    ValueError
        Naming the choices.
    """
    if isinstance(value, bool) and not any(isinstance(c, bool) for c in choices):
        raise ValueError(f"{fn}: {name} must be one of {tuple(choices)}; got {value!r}.")
    try:
        known = value in choices
    except TypeError:  # an unhashable value against a set or dict
        known = False
    if not known:
        raise ValueError(f"{fn}: {name} must be one of {tuple(choices)}; got {value!r}.")
    return value


def check_seed(seed: object, fn: str) -> int | None:
    """Return ``seed`` if it is None (not reproducible) or an integer in ``[0, 2**32 - 1]``.

    The course's one seed convention, as scikit-learn's ``random_state``: an
    integer makes a function repeat its result, None draws fresh randomness.
    """
    if seed is None:
        return None
    return check_int(
        seed,
        fn,
        "seed",
        low=0,
        high=2**32 - 1,
        hint=" Pass None for a run that is not reproducible.",
    )


def check_classes(
    classes: Sequence[int], fn: str, num_classes: int | None = None
) -> tuple[int, ...]:
    """Return ``classes`` as distinct class indices (at least two, below ``num_classes``)."""
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence):
        raise TypeError(f"{fn}: classes must be a sequence of class indices; got {classes!r}.")
    classes = tuple(check_int(c, fn, "every class", low=0) for c in classes)
    if len(classes) < 2:
        raise ValueError(f"{fn}: classes must hold at least 2 classes; got {classes}.")
    if len(set(classes)) != len(classes):
        raise ValueError(f"{fn}: classes must be distinct; got {classes}.")
    if num_classes is not None and max(classes) >= num_classes:
        raise ValueError(f"{fn}: classes must be in 0..{num_classes - 1}; got {classes}.")
    return classes


def rng(seed: int | None) -> np.random.Generator:
    """A NumPy generator for a checked ``seed`` (None: fresh entropy)."""
    return np.random.default_rng(seed)


def check_split(
    split: object,
    fn: str,
    name: str,
    *,
    image_shape: tuple[int, ...] | None = None,
    class_labels: bool = False,
) -> Split:
    """Return ``split`` if it is a ``Split`` of the expected image shape.

    Parameters
    ----------
    image_shape : tuple, optional
        The shape of one image, e.g. ``(28, 28, 1)``; ``None`` for one entry
        of ``-1`` or no check at all. A missing channel axis gets its remedy.
    class_labels : bool
        Also require one class index per image (a 1-D label vector).

    Raises
    ------
    TypeError
        If ``split`` is not a Split.
    ValueError
        If the images or labels have the wrong shape.
    """
    from course_lib.data import Split

    if not isinstance(split, Split):
        raise TypeError(
            f"{fn}: {name} must be a course_lib.data.Split (images and labels together); "
            f"got {type(split).__name__}. Build one with data.Split(x, y, name) or take it from "
            "data.load_splits()."
        )
    if image_shape is not None:
        shape = tuple(split.x.shape[1:])
        fits = len(shape) == len(image_shape) and all(
            e in (None, -1, s) for e, s in zip(image_shape, shape)
        )
        if not fits:
            hint = ""
            if len(shape) == len(image_shape) - 1 and image_shape[-1] in (1, None, -1):
                hint = " Add the channel axis: data.standardize() returns (N, 28, 28, 1)."
            raise ValueError(
                f"{fn}: {name} must hold images of shape {image_shape}; split {split.name!r} has "
                f"images of shape {shape}.{hint}"
            )
    if class_labels and split.y.ndim != 1:
        raise ValueError(
            f"{fn}: {name} must have one class index per image; split {split.name!r} has labels "
            f"of shape {split.y.shape}. One-hot labels become class indices with y.argmax(axis=1)."
        )
    return split


_WHY = {
    "valid": (
        "A score that picks among models (the best epoch, early stopping, a search's ranking) "
        "is optimistic, so the test set must stay unseen until the single final evaluation. "
        "Pass the validation split (data.load_splits().valid)."
    ),
    "train": (
        "A model trained on test data makes its final evaluation meaningless. Train on the "
        "training split, or on training and validation together (data.combine)."
    ),
}


def refuse_test(split: Split, fn: str, name: str, use: str = "valid") -> None:
    """Raise if ``split`` has the test role, whatever its name.

    ``use`` is what the function does with the split: ``"valid"`` (it picks
    checkpoints, stops early or ranks models by it) or ``"train"``.

    Raises
    ------
    ValueError
        Saying why the test set may not be used there.
    """
    if split.role != "test":
        return
    why = _WHY[use].format(name=name)
    raise ValueError(
        f"{fn}: {name} must not be test data; split {split.name!r} comes from the test set. {why}"
    )


def check_training_data(
    train: object, valid: object, fn: str, *, image_shape: tuple[int, ...] | None = None
) -> None:
    """Check the training split and the (optional) validation split of a training or a search.

    Both must be Splits of ``image_shape`` images, and neither may be test data: the model
    learns from ``train``, and ``valid`` picks the best epoch, stops early or ranks models.
    """
    check_split(train, fn, "train", image_shape=image_shape)
    refuse_test(train, fn, "train", use="train")
    if valid is not None:
        check_split(valid, fn, "valid", image_shape=image_shape)
        refuse_test(valid, fn, "valid")


def _labels_of(labels: object, name: str) -> tuple[np.ndarray, str]:
    """The label array of a Split (or an array of labels) and how messages name its owner."""
    from course_lib.data import Split

    if isinstance(labels, Split):
        return labels.y, f"split {labels.name!r} has"
    return np.asarray(labels), f"{name} has"


def check_labels(
    labels: object,
    fn: str,
    name: str,
    num_classes: int,
    *,
    label_shape: tuple[int | None, ...] = (),
    source: str = "",
) -> Any:
    """Return ``labels`` (a Split or an array of labels) if they are class indices in 0..K-1.

    ``label_shape`` is the shape of one example's label: ``()`` for a
    classifier, ``(H, W)`` for segmentation (``None`` matches any size).
    ``source`` says where K (``num_classes``) comes from, for the message.

    Raises
    ------
    ValueError
        For labels of the wrong shape (one-hot ones get the remedy ``argmax``)
        or outside ``0..K-1`` (the message counts them).
    TypeError
        For labels that are not integers (floats, booleans).
    """
    y, where = _labels_of(labels, name)
    shape = tuple(y.shape[1:])
    fits = len(shape) == len(label_shape) and all(
        e in (None, -1, s) for e, s in zip(label_shape, shape)
    )
    if not fits:
        unit = "pixel" if label_shape else "image"
        dims = ["HW"[i] if e in (None, -1) and i < 2 else str(e) for i, e in enumerate(label_shape)]
        expected = f"({', '.join(['N', *dims])})" if dims else "(N,)"
        hint = ""
        if len(shape) == len(label_shape) + 1 and shape[-1] == num_classes:
            hint = " One-hot labels become class indices with y.argmax(axis=-1)."
        raise ValueError(
            f"{fn}: the labels of {name} must be one class index per {unit}, shape {expected}; "
            f"{where} labels of shape {y.shape}.{hint}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        hint = ""
        if np.issubdtype(y.dtype, np.floating) and y.size and np.all(np.mod(y, 1) == 0):
            hint = " They are whole numbers: convert them with y.astype(np.int64)."
        raise TypeError(
            f"{fn}: the labels of {name} must be integer class indices; {where} labels of "
            f"dtype {y.dtype}.{hint}"
        )
    if y.size == 0:
        return labels
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        outside = int(np.count_nonzero((y < 0) | (y >= num_classes)))
        classes = f"{num_classes} classes" + (f", {source}" if source else "")
        remedy = " Relabel them (data.class_subset keeps some classes and relabels them 0..K-1)"
        if source and low >= 0:
            remedy += f", or build the model with num_classes={high + 1}"
        raise ValueError(
            f"{fn}: the labels of {name} must be class indices in 0..{num_classes - 1} "
            f"({classes}); {where} {outside} label{'s' if outside > 1 else ''} outside that "
            f"range (from {low} to {high}).{remedy}."
        )
    return labels


def check_training_labels(
    train: Split,
    valid: Split | None,
    fn: str,
    num_classes: int,
    *,
    label_shape: tuple[int | None, ...] = (),
    source: str = "",
) -> None:
    """``check_labels`` on a training split and the (optional) validation split."""
    check_labels(train, fn, "train", num_classes, label_shape=label_shape, source=source)
    if valid is not None:
        check_labels(valid, fn, "valid", num_classes, label_shape=label_shape, source=source)


def loss_name(loss: object) -> str:
    """The name of a Keras loss given as a string, a loss object or a function ("" if none)."""
    if isinstance(loss, str):
        return loss
    return str(getattr(loss, "name", None) or getattr(loss, "__name__", ""))


def model_labels(model: Any) -> tuple[int, tuple[int | None, ...]] | None:
    """``(K, label_shape)`` of the labels a model compiled with sparse cross-entropy learns.

    K is the last axis of the model's output, ``label_shape`` the axes
    between the batch axis and it: ``()`` for a classifier with output
    ``(N, K)``, ``(H, W)`` for a segmentation model with output ``(N, H, W, K)``.
    None (nothing to check) for any other loss (one-hot labels, regression),
    an uncompiled model or several outputs.
    """
    if "sparse_categorical_crossentropy" not in loss_name(getattr(model, "loss", None)):
        return None
    try:
        shape = model.output_shape
    except (AttributeError, ValueError):
        return None
    if not isinstance(shape, tuple) or len(shape) < 2 or not isinstance(shape[-1], int):
        return None
    return shape[-1], tuple(shape[1:-1])


def check_finite(split: Split, fn: str, name: str) -> Split:
    """Return ``split`` if its images hold no NaN or infinite value (a network learns nothing
    from them: one NaN pixel makes the loss NaN, and the weights with it).

    Raises
    ------
    ValueError
        Counting the values and the images they are in.
    """
    x = split.x
    if not np.issubdtype(x.dtype, np.inexact):
        return split
    finite = np.isfinite(x)
    if finite.all():
        return split
    values = int(finite.size - np.count_nonzero(finite))
    images = int(np.count_nonzero(~finite.reshape(len(x), -1).all(axis=1)))
    raise ValueError(
        f"{fn}: the images of {name} must be finite numbers; split {split.name!r} has {values} "
        f"NaN or infinite pixel values in {images} of its {len(x)} images. Find where they "
        "come from (a division by a zero standard deviation, a failed conversion) or drop "
        "those images."
    )


def check_image_shape(shape: object, fn: str, name: str = "input_shape") -> tuple[int, int, int]:
    """Return ``shape`` as ``(height, width, channels)``, three integers >= 1.

    Raises
    ------
    TypeError
        If it is not a sequence of integers.
    ValueError
        If it has not three entries (the remedy for a missing channel axis) or one is below 1.
    """
    what = "(height, width, channels)"
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise TypeError(f"{fn}: {name} must be {what}; got {shape!r}.")
    if len(shape) != 3:
        got = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
        hint = f" Add the channel axis: {got} becomes {got[:-1]}, 1)." if len(shape) == 2 else ""
        raise ValueError(f"{fn}: {name} must be {what}; got {got}.{hint}")
    return tuple(check_int(s, fn, name, low=1) for s in shape)
