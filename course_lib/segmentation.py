"""Semantic segmentation with a fully convolutional network (FCN).

Fashion-MNIST items are pasted on a larger, empty canvas; every pixel of the
canvas gets a class: ``0`` for background, or the item's class + 1
(``1..10``). A fully convolutional network, (convolution + subsampling)^n,
then upsampling back to the input resolution and a pixelwise (1x1)
classifier, predicts one class per pixel. It has no Dense layer, so it
accepts canvases of any size divisible by ``2 ** len(filters)``.

Defined in chapter "A CNN classifier".
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from course_lib.data import CLASS_NAMES, IMAGE_SHAPE, NUM_CLASSES, Split

NUM_SEG_CLASSES = NUM_CLASSES + 1
"""Background plus the ten Fashion-MNIST classes."""

SEG_CLASS_NAMES: tuple[str, ...] = ("background",) + CLASS_NAMES
"""Mask label ``k`` is ``SEG_CLASS_NAMES[k]``; label ``k >= 1`` is Fashion-MNIST class ``k - 1``."""

DEFAULT_THRESHOLD = 10
"""Raw pixel values above this (out of 255) belong to the item.

Half of all Fashion-MNIST pixels are exactly 0 and a faint halo of values
1..10 surrounds many items; 10 (4% of full brightness) keeps that halo out of
the mask while every training image still has at least 41 pixels above it.
"""

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
"""One fixed colour per mask label: black background, then matplotlib's tab10 (grey made near-white)."""

SEG_CMAP = ListedColormap(SEG_COLORS, name="segmentation")


# --------------------------------------------------------------------------
# Data: items on a canvas
# --------------------------------------------------------------------------


def _check_item_split(split: Split) -> None:
    """Raise unless ``split`` holds raw uint8 (N, 28, 28) images with class labels 0..9."""
    x, y = split.x, split.y
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"make_canvases: expected the raw uint8 images of shape (N, 28, 28) that load_splits() returns; "
            f"split {split.name!r} has {x.dtype} images of shape {x.shape}. Use the split before standardize()."
        )
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or len(y) == 0 or y.min() < 0 or y.max() >= NUM_CLASSES:
        raise ValueError(
            f"make_canvases: expected one class index 0..{NUM_CLASSES - 1} per image; "
            f"split {split.name!r} has labels of shape {y.shape} and dtype {y.dtype}."
        )


def _check_canvas_args(n: int, canvas_size: int, items: tuple[int, int], threshold: int) -> None:
    """Raise unless the canvas arguments make sense."""
    side = IMAGE_SHAPE[0]
    if n < 1:
        raise ValueError(f"make_canvases: n must be at least 1; got {n}.")
    if canvas_size < side:
        raise ValueError(f"make_canvases: canvas_size must be at least {side} to hold a {side}x{side} item; got {canvas_size}.")
    if len(items) != 2 or not 1 <= items[0] <= items[1]:
        raise ValueError(f"make_canvases: items must be (min, max) with 1 <= min <= max; got {items}.")
    if not 0 <= threshold < 255:
        raise ValueError(f"make_canvases: threshold must be a pixel value in 0..254; got {threshold}.")


def make_canvases(
    split: Split,
    n: int,
    canvas_size: int = 56,
    items: tuple[int, int] = (1, 3),
    threshold: int = DEFAULT_THRESHOLD,
    seed: int | None = None,
) -> Split:
    """Paste random Fashion-MNIST items on empty canvases and label every pixel.

    Defined in chapter "A CNN classifier".

    Each canvas gets between ``items[0]`` and ``items[1]`` items (inclusive),
    drawn with replacement from ``split``, at random positions fully inside
    the canvas. Items may overlap: the image keeps the brighter pixel
    (``np.maximum``) and the mask takes the later item's label wherever the
    later item is brighter than ``threshold``. A pixel is therefore
    background exactly where the canvas is at most ``threshold / 255``.

    Parameters
    ----------
    split : Split
        Raw ``uint8`` images (N, 28, 28) and class indices, as ``load_splits()`` returns.
    n : int
        Number of canvases.
    canvas_size : int, default 56
        Side of the square canvas, at least 28.
    items : (int, int), default (1, 3)
        Smallest and largest number of items per canvas.
    threshold : int, default 10
        Raw pixel values above it count as the item (see ``DEFAULT_THRESHOLD``).
    seed : int, optional
        Seed of the random generator; the same seed gives the same canvases.

    Returns
    -------
    Split
        ``x``: ``float32`` canvases (n, canvas_size, canvas_size, 1) in [0, 1];
        ``y``: ``int32`` masks (n, canvas_size, canvas_size) with labels 0..10;
        named ``"<split name> canvases"``.

    Raises
    ------
    ValueError
        If the split is not raw 28x28 images with class labels, or an argument is out of range.
    """
    _check_item_split(split)
    _check_canvas_args(n, canvas_size, items, threshold)
    rng = np.random.default_rng(seed)
    most = items[1]
    # All random draws up front, for every possible item slot: same seed, same canvases.
    counts = rng.integers(items[0], most + 1, size=n)
    picks = rng.integers(0, len(split), size=(n, most))
    corners = rng.integers(0, canvas_size - IMAGE_SHAPE[0] + 1, size=(n, most, 2))

    canvases = np.zeros((n, canvas_size, canvas_size), dtype=np.uint8)
    masks = np.zeros((n, canvas_size, canvas_size), dtype=np.int32)
    offsets = np.arange(IMAGE_SHAPE[0])
    for slot in range(most):  # vectorized over all canvases that have this many items
        index = np.flatnonzero(counts > slot)
        item = split.x[picks[index, slot]]
        label = split.y[picks[index, slot]].astype(np.int32) + 1
        rows = corners[index, slot, 0, None, None] + offsets[None, :, None]
        cols = corners[index, slot, 1, None, None] + offsets[None, None, :]
        window = (index[:, None, None], rows, cols)
        canvases[window] = np.maximum(canvases[window], item)
        masks[window] = np.where(item > threshold, label[:, None, None], masks[window])
    x = canvases[..., None].astype(np.float32) / np.float32(255)
    return Split(x, masks, name=f"{split.name} canvases")


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------


def _conv(filters: int, name: str) -> layers.Conv2D:
    return layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)


def fcn(num_classes: int = NUM_SEG_CLASSES, filters: tuple[int, ...] = (32, 64), name: str = "fcn") -> keras.Model:
    """A small fully convolutional network for pixelwise classification.

    Defined in chapter "A CNN classifier".

    Encoder: per entry of ``filters``, a 3x3 ``Conv2D`` (ReLU) whose output
    is kept as a skip connection, then ``MaxPooling2D(2)``. Bottleneck: two
    3x3 convolutions at the lowest resolution, which see most of an item.
    Decoder, back up level by level: a stride-2 ``Conv2DTranspose`` doubles
    the resolution, and the kept encoder features of that level are *added*
    (they know where the edges are; the upsampled ones know what the item is).
    Classifier: a 1x1 ``Conv2D`` with softmax, i.e. one small dense layer
    applied at every pixel. No ``Dense`` layer, so the input is
    ``(None, None, 1)``: any height and width divisible by ``2 ** len(filters)``.

    Compiled with Adam and sparse categorical cross-entropy; its accuracy
    metric is the pixel accuracy.

    Parameters
    ----------
    num_classes : int, default 11
        Classes per pixel (background + ten items).
    filters : tuple of int, default (32, 64)
        Filters of the encoder blocks, one block (and one halving) per entry.
    name : str, default "fcn"
        Name of the model.

    Raises
    ------
    ValueError
        If ``filters`` is empty or holds a non-positive number, or ``num_classes < 2``.
    """
    if len(filters) == 0 or any(int(f) < 1 for f in filters):
        raise ValueError(f"fcn: filters must be a non-empty tuple of positive integers, one per encoder block; got {filters!r}.")
    if num_classes < 2:
        raise ValueError(f"fcn: num_classes must be at least 2; got {num_classes}.")
    inputs = keras.Input(shape=(None, None, 1), name="canvas")
    x = inputs
    skips = []
    for level, f in enumerate(filters, start=1):
        x = _conv(f, f"enc{level}_conv")(x)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    x = _conv(filters[-1], "bottleneck_conv1")(x)
    x = _conv(filters[-1], "bottleneck_conv2")(x)
    for level in range(len(filters), 0, -1):
        x = layers.Conv2DTranspose(
            filters[level - 1], 2, strides=2, activation="relu", name=f"dec{level}_up"
        )(x)
        x = layers.Add(name=f"dec{level}_skip")([x, skips[level - 1]])
    outputs = layers.Conv2D(num_classes, 1, activation="softmax", name="pixel_classifier")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def predict_masks(model: keras.Model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Predict one label per pixel: the argmax of the model's class probabilities.

    Defined in chapter "A CNN classifier".

    Parameters
    ----------
    model : keras.Model
        A segmentation model such as ``fcn()``, output (N, H, W, classes).
    x : np.ndarray
        Canvases (N, H, W, 1); (N, H, W) gets the channel axis added.
    batch_size : int, default 64

    Returns
    -------
    np.ndarray
        ``int32`` label maps (N, H, W).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(f"predict_masks: expected canvases of shape (N, H, W, 1) or (N, H, W); got {x.shape}.")
    probabilities = model.predict(x, batch_size=batch_size, verbose=0)
    return np.argmax(probabilities, axis=-1).astype(np.int32)


# --------------------------------------------------------------------------
# Metrics (NumPy, on label maps)
# --------------------------------------------------------------------------


def _check_label_maps(y_true: np.ndarray, y_pred: np.ndarray, fn: str) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{fn}: y_true and y_pred must be label maps of the same shape; got {y_true.shape} and {y_pred.shape}. "
            "Turn class probabilities (..., classes) into labels with predict_masks() or argmax(axis=-1)."
        )
    if y_true.size == 0:
        raise ValueError(f"{fn}: the label maps are empty.")
    for role, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
            raise ValueError(f"{fn}: {role} must hold integer class labels; got dtype {labels.dtype}.")
    return y_true, y_pred


def pixel_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of pixels whose predicted label equals the true one.

    Defined in chapter "A CNN classifier".
    """
    y_true, y_pred = _check_label_maps(y_true, y_pred, "pixel_accuracy")
    return float(np.mean(y_true == y_pred))


def iou_per_class(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = NUM_SEG_CLASSES) -> np.ndarray:
    """Intersection over union of every class: ``|true & predicted| / |true | predicted|``.

    Defined in chapter "A CNN classifier".

    Returns
    -------
    np.ndarray
        ``float64`` of length ``num_classes``; NaN for a class that appears
        neither in ``y_true`` nor in ``y_pred`` (0 / 0).

    Raises
    ------
    ValueError
        If the shapes differ, the labels are not integers, or a label is outside ``0..num_classes - 1``.
    """
    y_true, y_pred = _check_label_maps(y_true, y_pred, "iou_per_class")
    for role, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(
                f"iou_per_class: {role} has labels {labels.min()}..{labels.max()}, expected 0..{num_classes - 1}."
            )
    pairs = num_classes * y_true.astype(np.int64).ravel() + y_pred.astype(np.int64).ravel()
    confusion = np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)
    intersection = np.diag(confusion).astype(np.float64)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - intersection
    iou = np.full(num_classes, np.nan)
    np.divide(intersection, union, out=iou, where=union > 0)
    return iou


def mean_iou(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = NUM_SEG_CLASSES) -> float:
    """Mean of ``iou_per_class`` over the classes present in ``y_true`` or ``y_pred``.

    Defined in chapter "A CNN classifier".

    Unlike pixel accuracy it weighs every class equally, so a model that
    predicts "background" everywhere scores poorly although most pixels are
    background.
    """
    return float(np.nanmean(iou_per_class(y_true, y_pred, num_classes)))


# --------------------------------------------------------------------------
# Figure
# --------------------------------------------------------------------------


def _draw_mask(ax: plt.Axes, mask: np.ndarray, title: str) -> None:
    ax.imshow(mask, cmap=SEG_CMAP, vmin=-0.5, vmax=len(SEG_COLORS) - 0.5, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def show_segmentation(
    images: np.ndarray,
    true_masks: np.ndarray,
    pred_masks: np.ndarray | None = None,
    n: int = 4,
    class_names: Sequence[str] = SEG_CLASS_NAMES,
) -> plt.Figure:
    """Show canvases next to their true (and predicted) masks, one row per canvas.

    Defined in chapter "A CNN classifier".

    Columns: image | true mask | predicted mask (titled with its pixel
    accuracy), in a fixed colour per class (background black) explained by
    a legend. Shows the first ``min(n, len(images))`` canvases.

    Raises
    ------
    ValueError
        If ``n < 1`` or the images and masks do not match in shape.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"show_segmentation: expected images of shape (N, H, W) or (N, H, W, 1); got {images.shape}.")
    masks = [np.asarray(true_masks)] + ([] if pred_masks is None else [np.asarray(pred_masks)])
    for role, m in zip(("true_masks", "pred_masks"), masks):
        if m.shape != images.shape:
            raise ValueError(f"show_segmentation: {role} must have shape {images.shape} (one mask per image); got {m.shape}.")
    if n < 1:
        raise ValueError(f"show_segmentation: n must be at least 1; got {n}.")
    if len(class_names) != len(SEG_COLORS):
        raise ValueError(f"show_segmentation: expected {len(SEG_COLORS)} class names; got {len(class_names)}.")
    rows = min(n, len(images))
    cols = 1 + len(masks)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols + 2.2, 2.2 * rows), squeeze=False)
    for i, row in enumerate(axes):
        row[0].imshow(images[i], cmap="gray", vmin=0, vmax=max(1.0, float(images.max())))
        row[0].set_title("image", fontsize=9)
        row[0].axis("off")
        _draw_mask(row[1], masks[0][i], "true mask")
        if pred_masks is not None:
            accuracy = float(np.mean(masks[1][i] == masks[0][i]))
            _draw_mask(row[2], masks[1][i], f"predicted ({accuracy:.1%} pixels)")
    handles = [Patch(facecolor=c, edgecolor="gray", label=name) for c, name in zip(SEG_COLORS, class_names)]
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 2.0 / (2.2 * cols + 2.2), 1))
    return fig
