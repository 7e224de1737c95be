"""The figure of semantic segmentation: canvases next to their true and predicted masks.

Defined in chapter "Fully convolutional networks".
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from course_lib import _checks, metrics
from course_lib.plots.images import _image_batch
from course_lib.segmentation import SEG_CLASS_NAMES

__all__ = ["SEG_COLORS", "SEG_CMAP", "show_segmentation"]

SEG_COLORS: tuple[str, ...] = (
    "#000000",  # background
    "#1f77b4",  # T-shirt/top
    "#ff7f0e",  # Trouser
    "#2ca02c",  # Pullover
    "#d62728",  # Dress
    "#9467bd",  # Coat
    "#8c564b",  # Sandal
    "#e377c2",  # Shirt
    "#bcbd22",  # Sneaker
    "#17becf",  # Bag
    "#f5f5f5",  # Ankle boot
)
"""One colour per mask label: black background, then matplotlib's tab10 (grey made near-white)."""

SEG_CMAP = ListedColormap(SEG_COLORS, name="segmentation")
"""The colour map of ``SEG_COLORS``: label ``k`` is drawn in ``SEG_COLORS[k]``."""


def _draw_mask(ax: plt.Axes, mask: np.ndarray, title: str) -> None:
    ax.imshow(mask, cmap=SEG_CMAP, vmin=-0.5, vmax=len(SEG_COLORS) - 0.5, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def show_segmentation(
    images: np.ndarray,
    true_masks: np.ndarray,
    pred_masks: np.ndarray | None = None,
    n: int = 4,
) -> plt.Figure:
    """Show canvases next to their true (and predicted) masks, one row per canvas.

    Defined in chapter "Fully convolutional networks".

    Columns: image | true mask | predicted mask (titled with the canvas's
    mean IoU, ``metrics.mean_iou`` over the classes in either mask), in a
    fixed colour per class (background black) explained by
    a legend. Shows the first ``min(n, len(images))`` canvases.

    Raises
    ------
    ValueError
        If ``n < 1`` or the images and masks do not match in shape.
    """
    fn = "show_segmentation"
    images = _image_batch(images, fn)
    masks = [np.asarray(true_masks)] + ([] if pred_masks is None else [np.asarray(pred_masks)])
    for name, m in zip(("true_masks", "pred_masks"), masks):
        if m.shape != images.shape:
            raise ValueError(
                f"{fn}: {name} must have shape {images.shape} (one mask per image); got {m.shape}."
            )
    n = _checks.check_int(n, fn, "n", low=1)
    rows = min(n, len(images))
    cols = 1 + len(masks)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols + 2.2, 2.2 * rows), squeeze=False)
    for i, row in enumerate(axes):
        row[0].imshow(images[i], cmap="gray", vmin=0, vmax=max(1.0, float(images.max())))
        row[0].set_title("image", fontsize=9)
        row[0].axis("off")
        _draw_mask(row[1], masks[0][i], "true mask")
        if pred_masks is not None:
            iou = metrics.mean_iou(masks[0][i], masks[1][i], len(SEG_CLASS_NAMES))
            _draw_mask(row[2], masks[1][i], f"predicted (mean IoU {iou:.2f})")
    handles = [
        Patch(facecolor=c, edgecolor="gray", label=name)
        for c, name in zip(SEG_COLORS, SEG_CLASS_NAMES)
    ]
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 2.0 / (2.2 * cols + 2.2), 1))
    return fig
