"""Data augmentation: random transformations of the training images, as Keras layers.

Defined in chapter "Data augmentation".

Everything here is a Keras layer (or builds one), so the same augmentation
runs in two places:

* inside a model, as its first layers (``with_augmentation``): active during
  ``fit``, the identity in ``evaluate`` and ``predict``;
* in a ``tf.data`` pipeline (``training_dataset(..., augmentation=...)``),
  applied to each batch by ``Dataset.map`` before the model sees it.

Images are channels-last, ``(N, H, W, C)`` or a single ``(H, W, C)``.
"""

from __future__ import annotations

import math
import numbers
import statistics
import time
from collections.abc import Callable

import keras
import numpy as np
from keras import layers, ops

from course_lib.data import Split

__all__ = [
    "RandomErasing",
    "pipeline",
    "with_augmentation",
    "training_dataset",
    "images_per_second",
]


# --------------------------------------------------------------------------
# Random erasing
# --------------------------------------------------------------------------


def _check_range(fn: str, label: str, pair: object, low: float, high: float | None, example: str) -> tuple[float, float]:
    """Check that ``pair`` is (a, b) with low < a <= b (<= high); return it as floats."""
    upper = "" if high is None else f" and at most {high}"
    valid = (
        isinstance(pair, (tuple, list))
        and len(pair) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in pair)
    )
    if valid:
        a, b = float(pair[0]), float(pair[1])
        valid = low < a <= b and (high is None or b <= high)
    if not valid:
        raise ValueError(
            f"{fn}: {label} must be a pair (min, max) with {low} < min <= max{upper}, e.g. {example}; got {pair!r}."
        )
    return a, b


@keras.saving.register_keras_serializable(package="course_lib")
class RandomErasing(keras.layers.Layer):
    """Erase one random rectangle in a random subset of the images (Zhong et al., 2017).

    Defined in chapter "Data augmentation".

    For each image, with probability ``rate``: draw a target area (a fraction
    of the image drawn uniformly from ``scale``) and an aspect ratio
    height/width (log-uniformly from ``ratio``); if the rectangle fits, place
    it uniformly at random and overwrite its pixels with ``value``. Up to 10
    draws are tried per image, as in the paper's rejection loop; an image none
    of them fits is left unchanged.

    Like Keras' random layers, it transforms when called with
    ``training=True`` (the default when called on its own, and what ``fit``
    passes) and is the identity with ``training=False`` (``evaluate``,
    ``predict``). The output has the input's shape and dtype. Its random
    numbers come from ``keras.random`` with a ``SeedGenerator``, so the same
    ``seed`` gives the same erasures, and it runs inside a model and inside
    ``tf.data.Dataset.map``.

    Parameters
    ----------
    rate : float, default 0.5
        Probability that an image is erased, in [0, 1].
    scale : (float, float), default (0.02, 0.33)
        Range of the erased area as a fraction of the image, within (0, 1].
    ratio : (float, float), default (0.3, 3.3)
        Range of the rectangle's aspect ratio (height / width), positive.
    value : float or "random", default 0.0
        Fill value of the rectangle, or ``"random"`` for noise drawn uniformly
        between the image's own minimum and maximum (the paper's choice). For
        standardized images, the background value (``x.min()``) blanks the
        region out.
    seed : int, optional
        Seed of the layer's random numbers.

    Raises
    ------
    ValueError
        If ``rate``, ``scale``, ``ratio``, ``value`` or ``seed`` is out of range
        (at construction), or the input is not (H, W, C) or (N, H, W, C).
    """

    max_attempts = 10

    def __init__(
        self,
        rate: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.33),
        ratio: tuple[float, float] = (0.3, 3.3),
        value: float | str = 0.0,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        # Keras casts floating inputs to the layer's compute dtype (float32)
        # before `call`; erasing must return the input's own dtype instead,
        # so inputs reach `call` as given (as in Keras' own data layers).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        fn = "RandomErasing"
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1:
            raise ValueError(f"{fn}: rate must be a probability in [0, 1] (the share of images erased); got {rate!r}.")
        self.rate = float(rate)
        self.scale = _check_range(fn, "scale", scale, 0, 1, "(0.02, 0.33) for 2% to 33% of the image")
        self.ratio = _check_range(fn, "ratio", ratio, 0, None, "(0.3, 3.3) for height/width ratios")
        if isinstance(value, str):
            if value != "random":
                raise ValueError(f"{fn}: value must be a number or 'random'; got {value!r}.")
        elif isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{fn}: value must be a finite number or 'random'; got {value!r}.")
        else:
            value = float(value)
        self.value = value
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"{fn}: seed must be a non-negative integer or None; got {seed!r}.")
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs, training: bool = True):
        if not training:
            return inputs
        x = ops.convert_to_tensor(inputs)
        if len(x.shape) not in (3, 4):
            raise ValueError(
                f"RandomErasing: expected images (H, W, C) or a batch (N, H, W, C), channels last; got shape {tuple(x.shape)}."
            )
        single = len(x.shape) == 3
        if single:
            x = ops.expand_dims(x, 0)
        shape = ops.shape(x)
        batch, height, width = shape[0], shape[1], shape[2]
        h_img = ops.cast(height, "float32")
        w_img = ops.cast(width, "float32")
        attempts = self.max_attempts
        seed = self.seed_generator

        # Candidate rectangles: area and aspect ratio, `attempts` per image.
        area = h_img * w_img * keras.random.uniform((batch, attempts), self.scale[0], self.scale[1], seed=seed)
        log_ratio = keras.random.uniform(
            (batch, attempts), math.log(self.ratio[0]), math.log(self.ratio[1]), seed=seed
        )
        h = ops.round(ops.sqrt(area * ops.exp(log_ratio)))
        w = ops.round(ops.sqrt(area / ops.exp(log_ratio)))
        fits = (h >= 1) & (w >= 1) & (h < h_img) & (w < w_img)
        # The first candidate that fits (index `attempts` if none does).
        first = ops.argmin(ops.where(fits, ops.arange(attempts, dtype="int32")[None, :], attempts), axis=1)
        h = ops.take_along_axis(h, first[:, None], axis=1)[:, 0]
        w = ops.take_along_axis(w, first[:, None], axis=1)[:, 0]
        erase = (keras.random.uniform((batch,), seed=seed) < self.rate) & ops.any(fits, axis=1)

        # Top-left corner, uniform over the positions where the rectangle fits.
        top = ops.floor(keras.random.uniform((batch,), seed=seed) * (h_img - h + 1))
        left = ops.floor(keras.random.uniform((batch,), seed=seed) * (w_img - w + 1))
        rows = ops.arange(height, dtype="float32")[None, :, None]
        cols = ops.arange(width, dtype="float32")[None, None, :]
        inside = (
            (rows >= top[:, None, None])
            & (rows < (top + h)[:, None, None])
            & (cols >= left[:, None, None])
            & (cols < (left + w)[:, None, None])
            & erase[:, None, None]
        )
        mask = ops.expand_dims(inside, -1)  # the same rectangle in every channel

        if self.value == "random":
            xf = ops.cast(x, "float32")
            low = ops.min(xf, axis=(1, 2, 3), keepdims=True)
            high = ops.max(xf, axis=(1, 2, 3), keepdims=True)
            noise = low + (high - low) * keras.random.uniform(ops.shape(x), seed=seed)
            fill = noise if "float" in str(x.dtype) else ops.round(noise)
            fill = ops.cast(fill, x.dtype)
        else:
            fill = ops.cast(self.value, x.dtype)
        out = ops.where(mask, fill, x)
        return out[0] if single else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(rate=self.rate, scale=self.scale, ratio=self.ratio, value=self.value, seed=self.seed)
        return config


# --------------------------------------------------------------------------
# Pipelines of Keras preprocessing layers
# --------------------------------------------------------------------------


def pipeline(
    flip: str | None = "horizontal",
    translation: float = 0.1,
    rotation: float = 0.03,
    zoom: float = 0.1,
    contrast: float = 0.0,
    erasing: float = 0.0,
    *,
    fill_value: float = 0.0,
    interpolation: str = "bilinear",
    value_range: tuple[float, float] | None = None,
    seed: int | None = None,
    name: str = "augmentation",
) -> keras.Sequential:
    """Build an augmentation pipeline from Keras preprocessing layers.

    Defined in chapter "Data augmentation".

    The layers, in order (each left out when its argument is 0 or None):
    ``RandomFlip(flip)``, ``RandomTranslation(translation, translation)``,
    ``RandomRotation(rotation)``, ``RandomZoom(zoom)``,
    ``RandomContrast(contrast)`` and ``RandomErasing(rate=erasing)``.
    Geometric layers fill the pixels they uncover with ``fill_value``
    (``fill_mode="constant"``): pass the background value of your images.

    Parameters
    ----------
    flip : {"horizontal", "vertical", "horizontal_and_vertical"} or None
        Mirror the image with probability 1/2.
    translation : float
        Largest shift, as a fraction of height and of width.
    rotation : float
        Largest rotation, as a fraction of a full turn (Keras' convention:
        0.03 is about 11 degrees).
    zoom : float
        Largest zoom in or out, as a fraction of the size.
    contrast : float
        Contrast factor drawn from [1 - contrast, 1 + contrast]; needs
        ``value_range``, because Keras clips the result to it.
    erasing : float
        ``rate`` of a ``RandomErasing`` layer filling with ``fill_value``.
    fill_value : float
        Value of uncovered and erased pixels.
    interpolation : {"bilinear", "nearest"}
        How shifted, rotated and zoomed images are resampled: "bilinear"
        (Keras' default) slightly blurs them, "nearest" keeps them sharp.
    value_range : (float, float), optional
        Smallest and largest pixel value of the images (for ``contrast``).
    seed : int, optional
        Layer ``i`` gets ``seed + i``, so the pipeline repeats exactly.
    name : str
        Name of the returned ``Sequential``.

    Returns
    -------
    keras.Sequential
        Call it on a batch (``training=True`` by default when called alone),
        use it in ``Dataset.map``, or put it first in a model.

    Raises
    ------
    ValueError
        On a negative or out-of-range strength, an unknown ``flip`` mode, or
        ``contrast`` without ``value_range``.
    """
    fn = "pipeline"
    flips = ("horizontal", "vertical", "horizontal_and_vertical")
    if flip is not None and flip not in flips:
        raise ValueError(f"{fn}: flip must be one of {flips} or None; got {flip!r}.")
    strengths = {"translation": translation, "rotation": rotation, "zoom": zoom, "contrast": contrast, "erasing": erasing}
    for label, value in strengths.items():
        top = 1.0 if label != "rotation" else 0.5
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= top:
            raise ValueError(f"{fn}: {label} must be a number in [0, {top:g}] (0 leaves it out); got {value!r}.")
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"{fn}: interpolation must be 'bilinear' or 'nearest'; got {interpolation!r}.")
    if contrast and value_range is None:
        raise ValueError(
            f"{fn}: contrast needs value_range=(min, max) of the images, because Keras' RandomContrast "
            "clips its output to that range (default (0, 255)); for standardized images pass "
            "(float(x.min()), float(x.max()))."
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"{fn}: seed must be a non-negative integer or None; got {seed!r}.")

    def next_seed() -> int | None:
        return None if seed is None else int(seed) + len(steps)

    fill = dict(fill_mode="constant", fill_value=float(fill_value), interpolation=interpolation)
    steps: list[keras.layers.Layer] = []
    if flip:
        steps.append(layers.RandomFlip(flip, seed=next_seed(), name="flip"))
    if translation:
        steps.append(layers.RandomTranslation(translation, translation, seed=next_seed(), name="translation", **fill))
    if rotation:
        steps.append(layers.RandomRotation(rotation, seed=next_seed(), name="rotation", **fill))
    if zoom:
        steps.append(layers.RandomZoom(zoom, seed=next_seed(), name="zoom", **fill))
    if contrast:
        low, high = value_range
        steps.append(layers.RandomContrast(contrast, value_range=(float(low), float(high)), seed=next_seed(), name="contrast"))
    if erasing:
        steps.append(RandomErasing(rate=erasing, value=float(fill_value), seed=next_seed(), name="erasing"))
    if not steps:
        raise ValueError(f"{fn}: every transformation is switched off; the pipeline would do nothing.")
    return keras.Sequential(steps, name=name)


def with_augmentation(model: keras.Model, augmentation: keras.layers.Layer, name: str | None = None) -> keras.Sequential:
    """Return a new model: ``augmentation`` first, then ``model``'s layers.

    Defined in chapter "Data augmentation".

    The augmentation is active in ``fit`` only; ``evaluate`` and ``predict``
    see the original images. The new model shares the layers (and weights)
    of ``model`` and is returned uncompiled.

    Raises
    ------
    TypeError
        If ``augmentation`` is not a Keras layer or ``model`` not a Keras model.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"with_augmentation: model must be a Keras model; got {type(model).__name__}.")
    if not isinstance(augmentation, keras.layers.Layer):
        raise TypeError(
            f"with_augmentation: augmentation must be a Keras layer such as augment.pipeline(); got {type(augmentation).__name__}."
        )
    body = list(model.layers) if isinstance(model, keras.Sequential) else [model]
    return keras.Sequential(
        [keras.Input(shape=model.input_shape[1:]), augmentation, *body],
        name=name or f"{model.name}_augmented",
    )


# --------------------------------------------------------------------------
# tf.data input pipelines
# --------------------------------------------------------------------------


def training_dataset(
    split: Split,
    batch_size: int = 64,
    *,
    augmentation: Callable | None = None,
    preprocess: Callable | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    cache: bool = False,
    parallel: bool = False,
    prefetch: bool = False,
):
    """A ``tf.data.Dataset`` of ``(images, labels)`` batches for ``model.fit``.

    Defined in chapter "Data augmentation".

    The stages, in order::

        from_tensor_slices -> map(preprocess) -> cache -> shuffle -> batch
        -> map(augmentation) -> prefetch

    ``preprocess`` runs once per image; with ``cache=True`` its results are
    kept in memory after the first epoch. ``augmentation`` (e.g.
    ``pipeline()``) runs on whole batches with ``training=True``, so every
    epoch sees new random transformations.

    Parameters
    ----------
    split : Split
        Images (N, H, W, C) and labels.
    batch_size : int, default 64
    augmentation : callable, optional
        A layer or function mapping a batch of images to a batch of images.
    preprocess : callable, optional
        A deterministic function of one image (e.g. scaling to float).
    shuffle : bool, default True
        Reshuffle every epoch, over the whole split.
    seed : int, optional
        Seed of the shuffle order.
    cache : bool
        ``Dataset.cache()`` after ``preprocess``.
    parallel : bool
        ``num_parallel_calls=tf.data.AUTOTUNE`` in both maps (else one at a time).
    prefetch : bool
        ``Dataset.prefetch(tf.data.AUTOTUNE)``: prepare the next batches while
        the model trains on this one.

    Raises
    ------
    TypeError, ValueError
        If ``split`` is not a Split of channels-last images or ``batch_size`` < 1.
    """
    import tensorflow as tf

    fn = "training_dataset"
    if not isinstance(split, Split):
        raise TypeError(f"{fn}: split must be a course_lib.data.Split; got {type(split).__name__}.")
    if split.x.ndim != 4:
        hint = " Add the channel axis: data.standardize() returns (N, 28, 28, 1)." if split.x.ndim == 3 else ""
        raise ValueError(f"{fn}: expected images (N, H, W, C), channels last; {split.name!r} has shape {split.x.shape}.{hint}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"{fn}: batch_size must be a positive integer; got {batch_size!r}.")
    for label, f in (("augmentation", augmentation), ("preprocess", preprocess)):
        if f is not None and not callable(f):
            raise TypeError(f"{fn}: {label} must be callable (a layer or a function); got {type(f).__name__}.")
    calls = tf.data.AUTOTUNE if parallel else None

    dataset = tf.data.Dataset.from_tensor_slices((split.x, split.y))
    if preprocess is not None:
        dataset = dataset.map(lambda x, y: (preprocess(x), y), num_parallel_calls=calls)
    if cache:
        dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(int(batch_size))
    if augmentation is not None:
        dataset = dataset.map(lambda x, y: (augmentation(x, training=True), y), num_parallel_calls=calls)
    if prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset


def images_per_second(dataset, repeats: int = 3, warmup: bool = True) -> float:
    """Median images per second of full passes over a dataset of ``(images, labels)`` batches.

    Defined in chapter "Data augmentation".

    Each pass iterates the whole dataset and touches every batch, as
    ``model.fit`` would, but trains nothing: it measures how fast the input
    pipeline alone can deliver images.

    Parameters
    ----------
    dataset : tf.data.Dataset
        Finite, yielding ``(images, labels)`` batches.
    repeats : int, default 3
        Timed passes; the median is returned.
    warmup : bool, default True
        Make one untimed pass first (tracing, filling a cache).
    """
    if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral) or repeats < 1:
        raise ValueError(f"images_per_second: repeats must be a positive integer; got {repeats!r}.")

    def one_pass() -> int:
        count = 0
        for images, _ in dataset:
            count += int(np.shape(images)[0])
        return count

    if warmup:
        one_pass()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = one_pass()
        seconds = time.perf_counter() - start
        if count == 0:
            raise ValueError("images_per_second: the dataset yielded no images.")
        rates.append(count / seconds)
    return float(statistics.median(rates))
