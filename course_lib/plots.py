"""Figures the chapters share: image grids and learning curves.

Defined in chapter "Setup and data" (image grids).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from course_lib.data import CLASS_NAMES, Split


def show_images(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 10,
    size: float = 1.2,
    cmap: str = "gray_r",
) -> plt.Figure:
    """Show images (N, H, W) or (N, H, W, 1) in a grid, optionally titled.

    Returns the figure, so a caller can save or adjust it.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"show_images: expected images of shape (N, H, W) or (N, H, W, 1); got {images.shape}.")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"show_images: {len(images)} images but {len(titles)} titles.")
    ncols = max(1, min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def show_classes(split: Split, per_class: int = 8, class_names: Sequence[str] = CLASS_NAMES) -> plt.Figure:
    """Show the first ``per_class`` images of every class, one row per class."""
    rows = []
    for label in range(len(class_names)):
        index = np.flatnonzero(split.y == label)[:per_class]
        if len(index) < per_class:
            raise ValueError(f"show_classes: class {label} has only {len(index)} images in {split.name!r}.")
        rows.append(index)
    order = np.concatenate(rows)
    fig = show_images(split.x[order], ncols=per_class, size=0.9)
    for label, ax in enumerate(fig.axes[::per_class]):
        ax.text(-4, 14, class_names[label], ha="right", va="center", fontsize=9)
    fig.subplots_adjust(left=0.2)
    return fig
