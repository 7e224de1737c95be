"""Splits: images and their labels travel together, and know what they are for.

Defined in chapter "Setup and data"; the per-class samples in "Transfer
learning".

Every ``Split`` has a *role*: ``"train"``, ``"valid"`` or ``"test"``. Every
split derived from another (``take``, ``sample``, ``standardize``,
``class_subset``, ``sample_per_class``, ``repeat_to``) keeps its role, whatever
its new name, so the functions that must never see test data (a search, the
validation data of ``train.fit``, ``combine``...) recognize it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from course_lib import _checks
from course_lib.data.files import IMAGE_SHAPE, NUM_CLASSES, load_fashion_mnist

__all__ = [
    "ROLES",
    "Split",
    "Splits",
    "load_splits",
    "combine",
    "fit_scaler",
    "standardize",
    "class_subset",
    "sample_per_class",
    "repeat_to",
]

ROLES = ("train", "valid", "test")
"""What a split is for: training, validation (choosing) or test (the final estimate)."""


@dataclass(frozen=True, eq=False)
class Split:
    """Images and their labels, which always travel together.

    Functions that train or evaluate take a ``Split``, never loose ``x`` and
    ``y``: pairing one split's images with another split's labels is then hard
    to write by mistake.

    Parameters
    ----------
    x : np.ndarray
        Images, first axis indexes the examples.
    y : np.ndarray
        Labels, one entry per image: class indices of shape ``(len(x),)``
        for classification, or one mask per image for segmentation.
    name : str, default "split"
        Used in messages, e.g. ``"train"`` or ``"test[1000]"``.
    role : {"train", "valid", "test"}, optional
        What the split is for. By default the name, when the name is one of
        the three roles, else ``"train"``. Splits derived from this one keep it.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` differ in length, or ``role`` is unknown.
    """

    x: np.ndarray
    y: np.ndarray
    name: str = "split"
    role: str | None = None

    def __post_init__(self) -> None:
        x, y = np.asarray(self.x), np.asarray(self.y)
        if y.ndim < 1:
            raise ValueError(
                f"Split {self.name!r}: labels must be an array with one entry per image; "
                "got a scalar."
            )
        if x.ndim < 1 or len(x) != len(y):
            raise ValueError(
                f"Split {self.name!r}: {len(x) if x.ndim else 0} images but {len(y)} labels. "
                "Images and labels must come from the same split and have the same length."
            )
        role = (
            self.role if self.role is not None else (self.name if self.name in ROLES else "train")
        )
        _checks.check_choice(role, "Split", "role", ROLES)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "role", role)

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (
            f"Split(name={self.name!r}, role={self.role!r}, x={self.x.shape} {self.x.dtype}, "
            f"y={self.y.shape} {self.y.dtype})"
        )

    def derive(self, x: np.ndarray, y: np.ndarray, name: str | None = None) -> Split:
        """A new split of the same role (default: the same name too)."""
        return Split(x, y, self.name if name is None else name, role=self.role)

    def take(self, n: int | None) -> Split:
        """The first ``n`` examples (all of them if ``n`` is None or at least ``len(self)``)."""
        if n is None:
            return self
        n = _checks.check_int(n, "Split.take", "n", low=1)
        return self if n >= len(self) else self.derive(self.x[:n], self.y[:n])

    def sample(self, n: int, seed: int | None = None) -> Split:
        """``n`` examples drawn at random without replacement, kept in their original order."""
        n = _checks.check_int(n, "Split.sample", "n", low=1)
        seed = _checks.check_seed(seed, "Split.sample")
        if n >= len(self):
            return self
        index = np.sort(_checks.rng(seed).choice(len(self), size=n, replace=False))
        return self.derive(self.x[index], self.y[index])

    def class_counts(self) -> np.ndarray:
        """How many examples each of the ten classes has (class-index labels only).

        Raises
        ------
        TypeError, ValueError
            Unless the labels are one class index in 0..9 per image.
        """
        fn = "Split.class_counts"
        _checks.check_split(self, fn, "the split", class_labels=True)
        _checks.check_labels(self, fn, "the split", NUM_CLASSES)
        return np.bincount(self.y, minlength=NUM_CLASSES)


class Splits(NamedTuple):
    """The lecture notes' three splits."""

    train: Split
    valid: Split
    test: Split


def load_splits(valid_size: int = 5_000, download: bool = True) -> Splits:
    """Return the lecture notes' split: validation = first ``valid_size`` training images.

    With the default, train has 55,000 images, valid 5,000 and test 10,000,
    all ``uint8`` of shape (N, 28, 28).
    """
    valid_size = _checks.check_int(valid_size, "load_splits", "valid_size", low=1, high=59_999)
    (x_train_all, y_train_all), (x_test, y_test) = load_fashion_mnist(download=download)
    return Splits(
        train=Split(x_train_all[valid_size:], y_train_all[valid_size:], "train"),
        valid=Split(x_train_all[:valid_size], y_train_all[:valid_size], "valid"),
        test=Split(x_test, y_test, "test"),
    )


def combine(*splits: Split, name: str = "train") -> Split:
    """Return one training split holding the examples of ``splits``, in order.

    Once a model and its number of epochs are chosen on the validation split,
    its final training can use the validation images too:
    ``combine(splits.train, splits.valid)``.

    Raises
    ------
    ValueError
        If no split is given, one of them is test data (whatever its name),
        their images (or labels) differ in shape, raw ``uint8`` images meet
        standardized ``float`` ones, or integer labels meet float labels.
    """
    if not splits:
        raise ValueError("combine: pass at least one Split.")
    for index, split in enumerate(splits):
        _checks.check_split(split, "combine", f"split {index}")
        _checks.refuse_test(split, "combine", f"split {index}", use="train")
    shapes = {(s.x.shape[1:], s.y.shape[1:]) for s in splits}
    if len(shapes) > 1:
        raise ValueError(
            f"combine: the splits' images or labels differ in shape ({sorted(map(str, shapes))})."
        )
    _check_same_kind(splits)
    return Split(
        np.concatenate([s.x for s in splits]),
        np.concatenate([s.y for s in splits]),
        name,
        role="train",
    )


def _kind(dtype: np.dtype) -> str:
    if np.issubdtype(dtype, np.integer):
        return "integer"
    return "float" if np.issubdtype(dtype, np.floating) else str(dtype)


def _check_same_kind(splits: Sequence[Split]) -> None:
    """Refuse to concatenate integer with float images or labels (NumPy would make all float)."""
    first = splits[0]
    for split in splits[1:]:
        if _kind(split.x.dtype) != _kind(first.x.dtype):
            raise ValueError(
                "combine: the splits' images must be all raw pixels or all standardized; "
                f"split {first.name!r} has {first.x.dtype} images, split {split.name!r} "
                f"{split.x.dtype}. Together their values would mean two different things "
                "(0..255 and standard deviations). Standardize both or neither: combine the "
                "splits of data.load_splits(), or those of data.standardize()."
            )
    if len({_kind(split.y.dtype) for split in splits}) > 1:
        odd = next(split for split in splits if _kind(split.y.dtype) != "integer")
        raise ValueError(
            "combine: the splits' labels must all be integer class indices; split "
            f"{odd.name!r} has {odd.y.dtype} labels. Combined, every label would become "
            f"{odd.y.dtype}. Convert them first: split.derive(split.x, split.y.astype(np.int64))."
        )


def fit_scaler(train: Split):
    """Fit scikit-learn's ``StandardScaler`` on all training pixels, as the lecture notes do.

    The notes treat every pixel as one sample of a single feature, so the
    scaler learns one mean and one standard deviation.
    """
    from sklearn.preprocessing import StandardScaler

    _checks.check_split(train, "fit_scaler", "train")
    return StandardScaler().fit(train.x.astype(np.float32).reshape(-1, 1))


def standardize(splits: Splits) -> Splits:
    """Standardize every split with a scaler fitted on the training split only.

    Returns new splits with ``float32`` images of shape (N, 28, 28, 1)
    (channels last, as Keras expects). The labels and roles are unchanged.
    """
    if not isinstance(splits, Splits):
        raise TypeError(
            f"standardize: splits must be the Splits of data.load_splits() (train, valid, test); "
            f"got {type(splits).__name__}."
        )
    for name, split in zip(Splits._fields, splits):
        _checks.check_split(split, "standardize", name, image_shape=IMAGE_SHAPE)
    scaler = fit_scaler(splits.train)

    def scale(split: Split) -> Split:
        x = scaler.transform(split.x.astype(np.float32).reshape(-1, 1))
        return split.derive(x.astype(np.float32).reshape(*split.x.shape[:3], 1), split.y)

    return Splits(*(scale(split) for split in splits))


# --------------------------------------------------------------------------
# Class subsets and per-class samples
# --------------------------------------------------------------------------


def class_subset(split: Split, classes: Sequence[int], name: str | None = None) -> Split:
    """Keep the images of ``classes`` and relabel them 0..K-1 in the order given.

    Defined in chapter "Transfer learning".

    Parameters
    ----------
    split : Split
        Images with class-index labels.
    classes : sequence of int
        The original labels to keep; ``classes[i]`` becomes label ``i``.
    name : str, optional
        Name of the new split (default: the old name). The role is kept.

    Raises
    ------
    TypeError, ValueError
        If ``split`` is not a Split with one class index per image, or the
        classes are fewer than two, repeated or absent from the split.
    """
    _checks.check_split(split, "class_subset", "split", class_labels=True)
    classes = _checks.check_classes(classes, "class_subset")
    missing = [c for c in classes if not np.any(split.y == c)]
    if missing:
        raise ValueError(f"class_subset: split {split.name!r} has no image of class {missing}.")
    relabel = np.full(max(int(split.y.max()), max(classes)) + 1, -1, dtype=np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    keep = np.flatnonzero(relabel[split.y] >= 0)
    return split.derive(split.x[keep], relabel[split.y[keep]], name)


def sample_per_class(
    split: Split, n: int, seed: int | None = None, name: str | None = None
) -> Split:
    """Draw ``n`` labelled examples, as balanced over the classes as ``n`` allows.

    Defined in chapter "Transfer learning".

    Each of the K classes gets ``n // K`` examples and ``n % K`` classes, drawn
    at random, get one more. The examples are returned shuffled, named
    ``"<name>[n]"`` unless ``name`` is given, with the role of ``split``.

    Raises
    ------
    ValueError
        If ``n`` is smaller than the number of classes or a class has too few
        images.
    """
    _checks.check_split(split, "sample_per_class", "split", class_labels=True)
    seed = _checks.check_seed(seed, "sample_per_class")
    classes = np.unique(split.y)
    k = len(classes)
    n = _checks.check_int(n, "sample_per_class", "n", low=k, hint=f" (one example per class: {k})")
    rng = _checks.rng(seed)
    counts = np.full(k, n // k)
    counts[rng.choice(k, size=n % k, replace=False)] += 1
    chosen = []
    for c, count in zip(classes, counts):
        pool = np.flatnonzero(split.y == c)
        if len(pool) < count:
            raise ValueError(
                f"sample_per_class: class {c} of {split.name!r} has {len(pool)} images, "
                f"{count} were asked for."
            )
        chosen.append(rng.choice(pool, size=count, replace=False))
    index = rng.permutation(np.concatenate(chosen))
    return split.derive(split.x[index], split.y[index], name or f"{split.name}[{n}]")


def repeat_to(split: Split, size: int, seed: int | None = None) -> Split:
    """Repeat the examples of ``split``, each copy in a new random order, until there are at least
    ``size``.

    Defined in chapter "Transfer learning".

    A split already that large is returned unchanged.
    """
    _checks.check_split(split, "repeat_to", "split")
    size = _checks.check_int(size, "repeat_to", "size", low=1)
    seed = _checks.check_seed(seed, "repeat_to")
    if len(split) >= size:
        return split
    rng = _checks.rng(seed)
    copies = -(-size // len(split))
    index = np.concatenate([rng.permutation(len(split)) for _ in range(copies)])
    return split.derive(split.x[index], split.y[index])
