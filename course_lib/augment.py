"""Data augmentation: random transformations of the training images, as Keras layers.

Defined in chapter "Data augmentation".

Everything here is a Keras layer (or builds one), so the same augmentation
runs in two places:

* inside a model, as its first layers (``with_augmentation``): active during
  ``fit``, the identity in ``evaluate`` and ``predict``;
* in a ``tf.data`` pipeline (``training_dataset(..., augmentation=...)``),
  applied to each batch by ``Dataset.map`` before the model sees it.

The layers take batches of channels-last images, ``(N, H, W, C)``; a single
image goes in as ``image[None]``. Seeds follow the course's convention: an
integer repeats the random draws, None (the default) does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
from keras import layers, ops

from course_lib import _checks
from course_lib.data import Split

__all__ = [
    "RandomErasing",
    "pipeline",
    "with_augmentation",
    "training_dataset",
]


def _check_batch(shape: tuple, fn: str) -> None:
    """Raise unless ``shape`` is that of a batch of images (N, H, W, C)."""
    if len(shape) == 4:
        return
    hint = ""
    if len(shape) == 3:
        hint = (
            " A batch of grayscale images needs its channel axis (x[..., None]);"
            " a single image needs a batch axis (x[None])."
        )
    raise ValueError(
        f"{fn}: images must be a batch (N, H, W, C), channels last; got shape {tuple(shape)}.{hint}"
    )


# --------------------------------------------------------------------------
# Random erasing
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="course_lib")
class RandomErasing(keras.layers.Layer):
    """Erase one random rectangle in a random subset of the images (Zhong et al., 2017).

    Defined in chapter "Data augmentation".

    For each image, with probability ``rate``: draw a target area (a fraction
    of the image drawn uniformly from ``scale``, 2% to 33%) and an aspect
    ratio height/width (log-uniformly from ``ratio``, 0.3 to 3.3), the
    paper's values; if the rectangle fits, place it uniformly at random and
    overwrite its pixels with ``value``. Up to 10 draws are tried per image,
    as in the paper's rejection loop; an image none of them fits is left
    unchanged.

    Like Keras' random layers, it transforms when called with
    ``training=True`` (the default when called on its own, and what ``fit``
    passes) and is the identity with ``training=False`` (``evaluate``,
    ``predict``). The output has the input's shape and dtype. Its random
    numbers come from ``keras.random`` with a ``SeedGenerator``, so it runs
    inside a model and inside ``tf.data.Dataset.map``.

    Parameters
    ----------
    rate : float, default 0.5
        Probability that an image is erased, in [0, 1].
    value : float or "random", default 0.0
        Fill value of the rectangle, or ``"random"`` for noise drawn uniformly
        between the image's own minimum and maximum (the paper's choice). For
        standardized images, the background value (``x.min()``) blanks the
        region out.
    seed : int or None, default None
        An integer makes a new layer repeat its erasures (each call draws new
        ones); None is not reproducible.

    Raises
    ------
    TypeError, ValueError
        If ``rate``, ``value`` or ``seed`` is of the wrong type or out of
        range (at construction), or the input is not a batch (N, H, W, C).
    """

    scale = (0.02, 0.33)
    ratio = (0.3, 3.3)
    max_attempts = 10

    def __init__(
        self, rate: float = 0.5, value: float | str = 0.0, seed: int | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        # Keras casts floating inputs to the layer's compute dtype (float32)
        # before `call`; erasing must return the input's own dtype instead,
        # so inputs reach `call` as given (as in Keras' own data layers).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        fn = "RandomErasing"
        hint = " It is the probability that an image is erased."
        self.rate = _checks.check_real(rate, fn, "rate", low=0, high=1, hint=hint)
        if isinstance(value, str):
            self.value = _checks.check_choice(value, fn, "value", ("random",))
        else:
            hint = " Or pass 'random' for noise."
            self.value = _checks.check_real(value, fn, "value", hint=hint)
        self.seed = _checks.check_seed(seed, fn)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs, training: bool = True):
        x = ops.convert_to_tensor(inputs)
        _check_batch(x.shape, "RandomErasing")
        if not training:
            return inputs
        shape = ops.shape(x)
        batch, height, width = shape[0], shape[1], shape[2]
        h_img = ops.cast(height, "float32")
        w_img = ops.cast(width, "float32")
        attempts = self.max_attempts
        seed = self.seed_generator

        # Candidate rectangles: area and aspect ratio, `attempts` per image.
        fraction = keras.random.uniform((batch, attempts), *self.scale, seed=seed)
        area = h_img * w_img * fraction
        log_range = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        log_ratio = keras.random.uniform((batch, attempts), *log_range, seed=seed)
        h = ops.round(ops.sqrt(area * ops.exp(log_ratio)))
        w = ops.round(ops.sqrt(area / ops.exp(log_ratio)))
        fits = (h >= 1) & (w >= 1) & (h < h_img) & (w < w_img)
        # The first candidate that fits (index `attempts` if none does).
        index = ops.arange(attempts, dtype="int32")[None, :]
        first = ops.argmin(ops.where(fits, index, attempts), axis=1)
        h = ops.take_along_axis(h, first[:, None], axis=1)[:, 0]
        w = ops.take_along_axis(w, first[:, None], axis=1)[:, 0]
        chosen = keras.random.uniform((batch,), seed=seed) < self.rate
        erase = chosen & ops.any(fits, axis=1)

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
        return ops.where(mask, fill, x)

    def compute_output_shape(self, input_shape):
        _check_batch(input_shape, "RandomErasing")  # as a model is built
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(rate=self.rate, value=self.value, seed=self.seed)
        return config


# --------------------------------------------------------------------------
# Pipelines of Keras preprocessing layers
# --------------------------------------------------------------------------

_FLIPS = ("horizontal", "vertical", "horizontal_and_vertical", None)
_OFF = " 0 leaves the transformation out."


def pipeline(
    flip: str | None = "horizontal",
    translation: float = 0.1,
    rotation: float = 0.03,
    zoom: float = 0.1,
    *,
    fill_value: float = 0.0,
    interpolation: str = "bilinear",
    seed: int | None = None,
) -> keras.Sequential:
    """Build an augmentation pipeline from Keras preprocessing layers.

    Defined in chapter "Data augmentation".

    The layers, in order (each left out when its argument is 0 or None):
    ``RandomFlip(flip)``, ``RandomTranslation(translation, translation)``,
    ``RandomRotation(rotation)`` and ``RandomZoom(zoom)``. They fill the
    pixels they uncover with ``fill_value`` (``fill_mode="constant"``):
    pass the background value of your images.

    Parameters
    ----------
    flip : {"horizontal", "vertical", "horizontal_and_vertical"} or None
        Mirror the image with probability 1/2.
    translation : float
        Largest shift, as a fraction of height and of width, in [0, 1].
    rotation : float
        Largest rotation, as a fraction of a full turn, in [0, 0.5]
        (Keras' convention: 0.03 is about 11 degrees).
    zoom : float
        Largest zoom in or out, as a fraction of the size, in [0, 1].
    fill_value : float
        Value of the uncovered pixels.
    interpolation : {"bilinear", "nearest"}
        How shifted, rotated and zoomed images are resampled: "bilinear"
        (Keras' default) slightly blurs them, "nearest" keeps them sharp.
    seed : int or None
        Layer ``i`` gets ``seed + i``, so the pipeline repeats exactly;
        None is not reproducible.

    Returns
    -------
    keras.Sequential
        Named "augmentation". Call it on a batch (N, H, W, C)
        (``training=True`` by default when called alone), use it in
        ``Dataset.map``, or put it first in a model.

    Raises
    ------
    TypeError, ValueError
        On an argument of the wrong type or out of range, or when every
        transformation is switched off. The pipeline raises ``ValueError``
        when called on anything but a batch (N, H, W, C).
    """
    fn = "pipeline"
    _checks.check_choice(flip, fn, "flip", _FLIPS)
    translation = _checks.check_real(translation, fn, "translation", low=0, high=1, hint=_OFF)
    rotation = _checks.check_real(rotation, fn, "rotation", low=0, high=0.5, hint=_OFF)
    zoom = _checks.check_real(zoom, fn, "zoom", low=0, high=1, hint=_OFF)
    fill_value = _checks.check_real(fill_value, fn, "fill_value")
    _checks.check_choice(interpolation, fn, "interpolation", ("bilinear", "nearest"))
    seed = _checks.check_seed(seed, fn)

    steps: list[keras.layers.Layer] = []

    def add(layer: type, *args, name: str, **options) -> None:
        layer_seed = None if seed is None else seed + len(steps)
        steps.append(layer(*args, seed=layer_seed, name=name, **options))

    fill = dict(fill_mode="constant", fill_value=fill_value, interpolation=interpolation)
    if flip:
        add(layers.RandomFlip, flip, name="flip")
    if translation:
        add(layers.RandomTranslation, translation, translation, name="translation", **fill)
    if rotation:
        add(layers.RandomRotation, rotation, name="rotation", **fill)
    if zoom:
        add(layers.RandomZoom, zoom, name="zoom", **fill)
    if not steps:
        raise ValueError(
            f"{fn}: at least one of flip, translation, rotation and zoom must be on; "
            "got flip=None and 0 for the others."
        )
    augmentation = keras.Sequential(steps, name="augmentation")
    # A batch only: Keras' layers would take (N, 28, 28) as one image of 28 channels.
    augmentation.input_spec = keras.InputSpec(ndim=4)
    return augmentation


def with_augmentation(model: keras.Model, augmentation: keras.layers.Layer) -> keras.Sequential:
    """Return a new model: ``augmentation`` first, then ``model``'s layers.

    Defined in chapter "Data augmentation".

    The augmentation is active in ``fit`` only; ``evaluate`` and ``predict``
    see the original images. The new model, named after ``model`` with
    ``_augmented``, shares the layers (and weights) of ``model`` and is
    returned uncompiled.

    Raises
    ------
    TypeError
        If ``augmentation`` is not a Keras layer or ``model`` not a Keras model.
    """
    fn = "with_augmentation"
    if not isinstance(model, keras.Model):
        kind = type(model).__name__
        raise TypeError(f"{fn}: model must be a Keras model; got {kind}.")
    if not isinstance(augmentation, keras.layers.Layer):
        kind = type(augmentation).__name__
        raise TypeError(
            f"{fn}: augmentation must be a Keras layer such as augment.pipeline(); got {kind}."
        )
    body = list(model.layers) if isinstance(model, keras.Sequential) else [model]
    return keras.Sequential(
        [keras.Input(shape=model.input_shape[1:]), augmentation, *body],
        name=f"{model.name}_augmented",
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
    seed: int | None = None,
    cache: bool = False,
    parallel: bool = False,
    prefetch: bool = False,
):
    """A shuffled ``tf.data.Dataset`` of ``(images, labels)`` batches for ``fit``.

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
        Images (N, H, W, C) and labels; not the test set.
    batch_size : int, default 64
    augmentation : callable, optional
        A layer or function mapping a batch of images to a batch of images.
    preprocess : callable, optional
        A deterministic function of one image (e.g. scaling to float).
    seed : int or None
        Seed of the shuffle order, reshuffled every epoch over the whole
        split; None is not reproducible.
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
        If ``split`` is not a Split of channels-last images or comes from the
        test set, or another argument is of the wrong type or out of range.
    """
    import tensorflow as tf

    fn = "training_dataset"
    _checks.check_split(split, fn, "split", image_shape=(None, None, None))
    _checks.refuse_test(split, fn, "split", use="train")
    batch_size = _checks.check_int(batch_size, fn, "batch_size", low=1)
    for label, f in (("augmentation", augmentation), ("preprocess", preprocess)):
        if f is not None and not callable(f):
            kind = type(f).__name__
            raise TypeError(f"{fn}: {label} must be a layer or a function; got {kind}.")
    seed = _checks.check_seed(seed, fn)
    calls = tf.data.AUTOTUNE if parallel else None

    dataset = tf.data.Dataset.from_tensor_slices((split.x, split.y))
    if preprocess is not None:
        dataset = dataset.map(lambda x, y: (preprocess(x), y), num_parallel_calls=calls)
    if cache:
        dataset = dataset.cache()
    dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augmentation is not None:
        dataset = dataset.map(
            lambda x, y: (augmentation(x, training=True), y), num_parallel_calls=calls
        )
    if prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset
