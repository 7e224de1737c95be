"""Semantic segmentation with a fully convolutional network (FCN).

Fashion-MNIST items are pasted on a larger, empty canvas; every pixel of the
canvas gets a class: ``0`` for background, or the item's class + 1
(``1..10``). A fully convolutional network, (convolution + subsampling)^n,
then upsampling back to the input resolution and a pixelwise (1x1)
classifier, predicts one class per pixel. It has no Dense layer, so it
accepts canvases of any size divisible by ``2 ** len(filters)``.

The metrics (pixel accuracy, IoU) are in ``course_lib.metrics``, the figure
(``show_segmentation``) in ``course_lib.plots``. Keras is imported only when
a network is built.

Defined in chapter "Fully convolutional networks".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from course_lib import _checks
from course_lib.data import CLASS_NAMES, IMAGE_SHAPE, NUM_CLASSES, Split

if TYPE_CHECKING:
    import keras

__all__ = [
    "NUM_SEG_CLASSES",
    "SEG_CLASS_NAMES",
    "THRESHOLD",
    "make_canvases",
    "fcn",
    "receptive_field",
    "predict_masks",
]

NUM_SEG_CLASSES = NUM_CLASSES + 1
"""Background plus the ten Fashion-MNIST classes."""

SEG_CLASS_NAMES: tuple[str, ...] = ("background",) + CLASS_NAMES
"""Mask label ``k`` is ``SEG_CLASS_NAMES[k]``; label ``k >= 1`` is class ``k - 1``."""

THRESHOLD = 10
"""Raw pixel values above this (out of 255) belong to the item.

Half of all Fashion-MNIST pixels are exactly 0 and a faint halo of values
1..10 surrounds many items; 10 (4% of full brightness) keeps that halo out of
the mask while every training image still has at least 41 pixels above it.
"""


# --------------------------------------------------------------------------
# Data: items on a canvas
# --------------------------------------------------------------------------


def _check_item_split(split: object, fn: str) -> Split:
    """Return ``split`` if it holds raw uint8 (N, 28, 28) images with class labels 0..9."""
    split = _checks.check_split(split, fn, "split", class_labels=True)
    x, y = split.x, split.y
    if x.dtype != np.uint8 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{fn}: split must hold the raw uint8 images of shape (N, 28, 28) that "
            f"data.load_splits() returns; split {split.name!r} has {x.dtype} images of shape "
            f"{x.shape}. Use the split before data.standardize()."
        )
    if (
        len(y) == 0
        or not np.issubdtype(y.dtype, np.integer)
        or y.min() < 0
        or y.max() >= NUM_CLASSES
    ):
        raise ValueError(
            f"{fn}: split must have one class index 0..{NUM_CLASSES - 1} per image; split "
            f"{split.name!r} has {len(y)} labels of dtype {y.dtype}."
        )
    return split


def _check_items(items: object, fn: str) -> tuple[int, int]:
    """Return ``items`` as ``(min, max)`` with ``1 <= min <= max``."""
    if not isinstance(items, Sequence):
        raise TypeError(f"{fn}: items must be a pair (min, max) of integers; got {items!r}.")
    if len(items) != 2:
        raise ValueError(f"{fn}: items must be (min, max) with 1 <= min <= max; got {items!r}.")
    low = _checks.check_int(items[0], fn, "items[0]", low=1)
    high = _checks.check_int(items[1], fn, "items[1]", low=1)
    if low > high:
        raise ValueError(f"{fn}: items must be (min, max) with 1 <= min <= max; got {items!r}.")
    return low, high


def make_canvases(
    split: Split,
    n: int,
    canvas_size: int = 56,
    items: tuple[int, int] = (1, 3),
    seed: int | None = None,
) -> Split:
    """Paste random Fashion-MNIST items on empty canvases and label every pixel.

    Defined in chapter "Fully convolutional networks".

    Each canvas gets between ``items[0]`` and ``items[1]`` items (inclusive),
    drawn with replacement from ``split``, at random positions fully inside
    the canvas. Items may overlap: the image keeps the brighter pixel
    (``np.maximum``) and the mask takes the later item's label wherever the
    later item is brighter than ``THRESHOLD``. A pixel is therefore
    background exactly where the canvas is at most ``THRESHOLD / 255``.

    Parameters
    ----------
    split : Split
        Raw ``uint8`` images (N, 28, 28) and class indices, as
        ``data.load_splits()`` returns.
    n : int
        Number of canvases.
    canvas_size : int, default 56
        Side of the square canvas, at least 28.
    items : (int, int), default (1, 3)
        Smallest and largest number of items per canvas.
    seed : int, optional
        Seed of the random draws: the same seed gives the same canvases;
        None gives different ones every call.

    Returns
    -------
    Split
        ``x``: ``float32`` canvases (n, canvas_size, canvas_size, 1) in [0, 1];
        ``y``: ``int32`` masks (n, canvas_size, canvas_size) with labels 0..10;
        named ``"<split name> canvases"``, with the role of ``split``: canvases
        made of test images are test data.

    Raises
    ------
    TypeError
        If ``split`` is not a Split or an argument is not an integer.
    ValueError
        If the split is not raw 28x28 images with class labels, or an argument
        is out of range.
    """
    fn = "make_canvases"
    split = _check_item_split(split, fn)
    side = IMAGE_SHAPE[0]
    n = _checks.check_int(n, fn, "n", low=1)
    canvas_size = _checks.check_int(
        canvas_size, fn, "canvas_size", low=side, hint=f" A canvas holds {side}x{side} items."
    )
    fewest, most = _check_items(items, fn)
    rng = _checks.rng(_checks.check_seed(seed, fn))
    # All random draws up front, for every possible item slot: same seed, same canvases.
    counts = rng.integers(fewest, most + 1, size=n)
    picks = rng.integers(0, len(split), size=(n, most))
    corners = rng.integers(0, canvas_size - side + 1, size=(n, most, 2))

    canvases = np.zeros((n, canvas_size, canvas_size), dtype=np.uint8)
    masks = np.zeros((n, canvas_size, canvas_size), dtype=np.int32)
    offsets = np.arange(side)
    for slot in range(most):  # vectorized over all canvases that have this many items
        index = np.flatnonzero(counts > slot)
        item = split.x[picks[index, slot]]
        label = split.y[picks[index, slot]].astype(np.int32) + 1
        rows = corners[index, slot, 0, None, None] + offsets[None, :, None]
        cols = corners[index, slot, 1, None, None] + offsets[None, None, :]
        window = (index[:, None, None], rows, cols)
        canvases[window] = np.maximum(canvases[window], item)
        masks[window] = np.where(item > THRESHOLD, label[:, None, None], masks[window])
    x = canvases[..., None].astype(np.float32) / np.float32(255)
    return split.derive(x, masks, name=f"{split.name} canvases")


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------


def _check_positive_ints(value: object, fn: str, name: str, what: str) -> tuple[int, ...]:
    """Return ``value`` as a non-empty tuple of integers >= 1."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{fn}: {name} must be {what}; got {value!r}.")
    if len(value) == 0:
        raise ValueError(f"{fn}: {name} must be {what}; got {value!r}.")
    return tuple(_checks.check_int(v, fn, f"{name}[{i}]", low=1) for i, v in enumerate(value))


def fcn(
    num_classes: int = NUM_SEG_CLASSES,
    filters: tuple[int, ...] = (32, 64),
    *,
    skips: bool = True,
    bottleneck_dilations: tuple[int, ...] = (1, 1),
    seed: int | None = None,
    learning_rate: float = 1e-3,
    decay_steps: int | None = None,
) -> keras.Model:
    """A small fully convolutional network for pixelwise classification.

    Defined in chapter "Fully convolutional networks".

    Encoder: per entry of ``filters``, a 3x3 ``Conv2D`` (ReLU) whose output
    is kept as a skip connection, then ``MaxPooling2D(2)``. Bottleneck: one
    3x3 convolution per entry of ``bottleneck_dilations`` at the lowest
    resolution, with that dilation rate (``(2, 4)`` widens what a bottleneck
    pixel sees without another pooling). Decoder, back up level by level: a
    stride-2 ``Conv2DTranspose`` doubles the resolution and, with ``skips``,
    the kept encoder features of that level are *added* (they know where the
    edges are; the upsampled ones know what the item is). Classifier: a 1x1
    ``Conv2D`` with softmax, i.e. one small dense layer applied at every
    pixel. No ``Dense`` layer, so the input is ``(None, None, 1)``: any
    height and width divisible by ``2 ** len(filters)``. Neither ``skips``
    nor the dilations change the number of parameters.

    Compiled by ``train.compile_classifier`` (Adam, sparse categorical
    cross-entropy); it logs the pixel accuracy (``accuracy``) and the mean
    IoU over the classes that occur (``mean_iou``, as ``metrics.mean_iou``).

    Parameters
    ----------
    num_classes : int, default 11
        Classes per pixel (background + ten items).
    filters : tuple of int, default (32, 64)
        Filters of the encoder blocks, one block (and one halving) per entry.
    skips : bool, default True
        Add each encoder level's features to the decoder at that level.
    bottleneck_dilations : tuple of int, default (1, 1)
        Dilation rate of each bottleneck convolution (all have
        ``filters[-1]`` filters); ``(1, 1)`` is two plain 3x3 convolutions.
    seed : int, optional
        Seeds every initializer (each its own stream), so the same seed
        builds the same weights without touching the global random state.
        None: not reproducible.
    learning_rate : float, default 1e-3
        Adam's (initial) learning rate.
    decay_steps : int, optional
        Decay the learning rate to zero along a cosine over this many steps
        (``epochs * steps per epoch``); constant without it.

    Raises
    ------
    TypeError
        If ``num_classes``, ``seed`` or an entry of ``filters`` or
        ``bottleneck_dilations`` is not an integer, those are not tuples, or
        ``skips`` is not a bool.
    ValueError
        If ``filters`` or ``bottleneck_dilations`` is empty or holds a
        non-positive number, ``num_classes < 2``, or a seed, learning rate
        or ``decay_steps`` is out of range.
    """
    import keras
    from keras import layers

    from course_lib import train

    fn = "fcn"
    num_classes = _checks.check_int(num_classes, fn, "num_classes", low=2)
    filters = _check_positive_ints(
        filters, fn, "filters", "a non-empty tuple of positive integers, one per encoder block"
    )
    dilations = _check_positive_ints(
        bottleneck_dilations,
        fn,
        "bottleneck_dilations",
        "a non-empty tuple of positive integers, one dilation rate per bottleneck convolution",
    )
    if not isinstance(skips, bool):
        raise TypeError(f"{fn}: skips must be True or False; got {skips!r}.")
    seed = _checks.check_seed(seed, fn)
    learning_rate = _checks.check_real(learning_rate, fn, "learning_rate", low=0, low_open=True)
    if decay_steps is not None:
        decay_steps = _checks.check_int(decay_steps, fn, "decay_steps", low=1)
    streams = iter(range(10**6))

    def init() -> keras.initializers.Initializer:
        # Keras' default for Conv2D, seeded: each layer its own stream.
        return keras.initializers.GlorotUniform(
            seed=None if seed is None else seed + 1_000 * next(streams)
        )

    def conv(width: int, name: str, dilation: int = 1) -> layers.Conv2D:
        return layers.Conv2D(
            width,
            3,
            padding="same",
            dilation_rate=dilation,
            activation="relu",
            kernel_initializer=init(),
            name=name,
        )

    inputs = keras.Input(shape=(None, None, 1), name="canvas")
    x = inputs
    kept = []
    for level, width in enumerate(filters, start=1):
        x = conv(width, f"enc{level}_conv")(x)
        kept.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    for i, dilation in enumerate(dilations, start=1):
        x = conv(filters[-1], f"bottleneck_conv{i}", dilation)(x)
    for level in range(len(filters), 0, -1):
        x = layers.Conv2DTranspose(
            filters[level - 1],
            2,
            strides=2,
            activation="relu",
            kernel_initializer=init(),
            name=f"dec{level}_up",
        )(x)
        if skips:
            x = layers.Add(name=f"dec{level}_skip")([x, kept[level - 1]])
    outputs = layers.Conv2D(
        num_classes, 1, activation="softmax", kernel_initializer=init(), name="pixel_classifier"
    )(x)
    model = keras.Model(inputs, outputs, name="fcn" if skips else "fcn_no_skips")
    model = train.compile_classifier(model, learning_rate=learning_rate, decay_steps=decay_steps)
    iou = keras.metrics.MeanIoU(num_classes, sparse_y_pred=False, name="mean_iou")
    model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy", iou])
    return model


def receptive_field(model: keras.Model) -> int:
    """Side of the square of input pixels one bottleneck pixel of ``model`` sees.

    Defined in chapter "Fully convolutional networks".

    Walks the encoder and bottleneck of an ``fcn()`` (every ``Conv2D`` and
    ``MaxPooling2D`` before the first ``Conv2DTranspose``): a k x k
    convolution with dilation d adds ``(k - 1) * d`` times the current
    stride, a p x p pooling adds ``p - 1`` times it and multiplies the
    stride by its own.

    Raises
    ------
    TypeError
        If ``model`` is not a Keras model.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(
            f"receptive_field: model must be a keras.Model such as fcn(); "
            f"got {type(model).__name__}."
        )
    field, stride = 1, 1
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            break
        if isinstance(layer, keras.layers.Conv2D):
            field += (layer.kernel_size[0] - 1) * layer.dilation_rate[0] * stride
            stride *= layer.strides[0]
        elif isinstance(layer, keras.layers.MaxPooling2D):
            field += (layer.pool_size[0] - 1) * stride
            stride *= layer.strides[0]
    return field


def _poolings(model: keras.Model) -> tuple[int, int]:
    """How many pooling layers ``model`` has, and by how much they shrink a canvas together."""
    import keras

    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    return len(pools), int(np.prod([layer.pool_size[0] for layer in pools], dtype=np.int64))


def predict_masks(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Predict one label per pixel: the argmax of the model's class probabilities.

    Defined in chapter "Fully convolutional networks".

    Parameters
    ----------
    model : keras.Model
        A segmentation model such as ``fcn()``, output (N, H, W, classes).
    x : np.ndarray
        Canvases (N, H, W, 1); (N, H, W) gets the channel axis added. Height
        and width must be multiples of ``2 ** len(filters)`` (4 for ``fcn()``),
        so that the decoder brings them back to full resolution.

    Returns
    -------
    np.ndarray
        ``int32`` label maps (N, H, W).

    Raises
    ------
    TypeError
        If ``model`` is not a Keras model.
    ValueError
        If the canvases have the wrong shape, or a size the model cannot
        bring back to full resolution (it says which sizes work).
    """
    import keras

    fn = "predict_masks"
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{fn}: model must be a keras.Model such as fcn(); got {type(model).__name__}."
        )
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(
            f"{fn}: x must hold canvases of shape (N, H, W, 1) or (N, H, W); got {x.shape}."
        )
    count, multiple = _poolings(model)
    height, width = x.shape[1:3]
    if height % multiple or width % multiple:
        below = max(multiple, min(height, width) // multiple * multiple)
        raise ValueError(
            f"{fn}: height and width must be multiples of {multiple} for this model (its "
            f"{count} poolings shrink a canvas {multiple} times, its decoder enlarges it back); "
            f"got canvases of {height}x{width}. Sizes that work: multiples of {multiple}, e.g. "
            f"{below} or {below + multiple} (make_canvases(canvas_size=...))."
        )
    probabilities = model.predict(x, batch_size=64, verbose=0)
    return np.argmax(probabilities, axis=-1).astype(np.int32)
