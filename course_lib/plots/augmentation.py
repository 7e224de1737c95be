"""Figures of data augmentation: random draws of a pipeline on one image, or on every class.

Defined in chapter "Data augmentation".
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np

from course_lib import _checks
from course_lib.data import CLASS_NAMES, Split
from course_lib.plots.images import show_images

__all__ = ["show_augmentations", "show_augmented_classes"]


def _augmented_copies(image: np.ndarray, augmentation: Callable, n: int, fn: str) -> np.ndarray:
    """``n`` independent draws of ``augmentation`` on one (H, W, C) image: (n, H, W, C)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"{fn}: expected one image (H, W) or (H, W, C); got shape {image.shape}.")
    if not callable(augmentation):
        raise TypeError(
            f"{fn}: augmentation must be callable (e.g. augment.pipeline()); "
            f"got {type(augmentation).__name__}."
        )
    batch = np.repeat(image[None], n, axis=0)
    return np.asarray(augmentation(batch, training=True))


def show_augmentations(image: np.ndarray, augmentation: Callable, n: int = 15) -> plt.Figure:
    """Show one image and ``n`` random draws of ``augmentation`` applied to it, eight per row.

    Defined in chapter "Data augmentation".

    The first panel is the original; the others are one batch of ``n``
    copies passed through ``augmentation(..., training=True)``, so each
    copy gets its own random transformation.

    Raises
    ------
    TypeError
        If ``augmentation`` is not callable.
    ValueError
        If ``image`` is not one image, or ``n < 1``.
    """
    fn = "show_augmentations"
    n = _checks.check_int(n, fn, "n", low=1)
    draws = _augmented_copies(image, augmentation, n, fn)
    original = np.asarray(image).reshape(draws.shape[1:])
    images = np.concatenate([original[None], draws])
    titles = ["original"] + [f"draw {i + 1}" for i in range(n)]
    return show_images(images, titles=titles, ncols=8, size=1.1)


def show_augmented_classes(split: Split, augmentation: Callable, draws: int = 7) -> plt.Figure:
    """One row per class: its first image in ``split``, then ``draws`` augmented versions.

    Defined in chapter "Data augmentation".

    Raises
    ------
    TypeError
        If ``augmentation`` is not callable.
    ValueError
        If a class has no image in ``split``, or ``draws < 1``.
    """
    fn = "show_augmented_classes"
    split = _checks.check_split(split, fn, "split", class_labels=True)
    draws = _checks.check_int(draws, fn, "draws", low=1)
    rows = []
    for label in range(len(CLASS_NAMES)):
        index = np.flatnonzero(split.y == label)
        if len(index) == 0:
            raise ValueError(
                f"{fn}: class {label} has no image in {split.name!r}; every class needs one."
            )
        image = np.asarray(split.x[index[0]])
        copies = _augmented_copies(image, augmentation, draws, fn)
        rows.append(np.concatenate([image.reshape(copies.shape[1:])[None], copies]))
    fig = show_images(np.concatenate(rows), ncols=draws + 1, size=0.9)
    for label, ax in enumerate(fig.axes[:: draws + 1]):
        ax.text(-4, 14, CLASS_NAMES[label], ha="right", va="center", fontsize=9)
    fig.axes[0].set_title("original", fontsize=8)
    fig.subplots_adjust(left=0.2)
    return fig
