"""Keras models the chapters build, train and take apart.

Defined in chapters "Convolution" and "Pooling" (``small_cnn``); ``notes_cnn``
in "A CNN classifier"; ``count_macs`` and the MobileNet-style models in
"Depthwise separable convolution".
"""

from __future__ import annotations

import keras
from keras import layers

from course_lib import _checks
from course_lib.data import NUM_CLASSES
from course_lib.train import compile_classifier

__all__ = [
    "mlp",
    "small_cnn",
    "feature_extractor",
    "mobilenet_block",
    "MOBILENET_BLOCKS",
    "mobilenet_cnn",
]

INPUT_SHAPE = (28, 28, 1)


def small_cnn(
    filters: tuple[int, int] = (16, 32),
    kernel_size: int = 5,
    downsample: str = "maxpool",
    num_classes: int = NUM_CLASSES,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    name: str | None = None,
) -> keras.Model:
    """A two-block CNN small enough to train in a minute on a CPU.

    Each block is a ``Conv2D`` with ReLU followed by a downsampling step;
    then ``Flatten`` and a softmax ``Dense`` layer. The model is compiled
    with Adam and sparse categorical cross-entropy.

    Parameters
    ----------
    filters : (int, int)
        Filters of the first and second convolution.
    kernel_size : int
        Side of the square kernels of both convolutions.
    downsample : {"maxpool", "avgpool", "stride", "none"}
        How each block halves the resolution: 2x2 max or average pooling,
        a stride-2 convolution, or not at all.
    num_classes, input_shape, name
        As in any Keras model.

    Raises
    ------
    ValueError
        If ``downsample`` is not one of the four choices, or ``input_shape``
        is not (height, width, channels).
    """
    _checks.check_choice(
        downsample, "small_cnn", "downsample", ("maxpool", "avgpool", "stride", "none")
    )
    input_shape = _checks.check_image_shape(input_shape, "small_cnn")
    model = keras.Sequential(name=name or f"small_cnn_{downsample}")
    model.add(keras.Input(shape=input_shape))
    for i, n in enumerate(filters):
        stride = 2 if downsample == "stride" else 1
        model.add(
            layers.Conv2D(
                n,
                kernel_size,
                strides=stride,
                padding="same",
                activation="relu",
                name=f"conv{i + 1}",
            )
        )
        if downsample == "maxpool":
            model.add(layers.MaxPooling2D(2, name=f"pool{i + 1}"))
        elif downsample == "avgpool":
            model.add(layers.AveragePooling2D(2, name=f"pool{i + 1}"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(num_classes, activation="softmax", name="output"))
    return compile_classifier(model)


def mlp(
    units: tuple[int, ...] = (256, 128),
    dropout: float = 0.0,
    initializer: str = "he_normal",
    num_classes: int = NUM_CLASSES,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    seed: int | None = None,
    name: str = "mlp",
) -> keras.Sequential:
    """A multilayer perceptron: the dense network a CNN is measured against.

    Defined in chapter "A CNN classifier".

    ``Flatten``, then one ReLU ``Dense`` layer per entry of ``units`` (each
    followed by ``Dropout(dropout)`` when ``dropout > 0``), then a softmax
    ``Dense(num_classes)``. It sees each image as a vector of pixels: no
    weight sharing, no notion of neighbourhood. The defaults have 235,146
    parameters on 28x28 images, within the lecture notes' budget (265,290).
    Returned uncompiled.

    Parameters
    ----------
    units : tuple of int, default (256, 128)
        Units of the hidden layers, one layer per entry.
    dropout : float, default 0.0
        Dropout rate after each hidden layer (0: none).
    initializer : str, default "he_normal"
        Initializer of the hidden layers' kernels.
    num_classes, input_shape
        As in any Keras classifier (channels last).
    seed : int, optional
        Seeds every initializer and dropout layer locally; None: not reproducible.
    name : str, default "mlp"
        Name of the model.

    Raises
    ------
    TypeError, ValueError
        For an option of the wrong type or out of range.

    Examples
    --------
    >>> mlp().count_params()
    235146
    """
    fn = "mlp"
    if not isinstance(units, (tuple, list)) or not units:
        raise TypeError(f"{fn}: units must be a non-empty tuple of integers; got {units!r}.")
    units = tuple(_checks.check_int(u, fn, "units", low=1) for u in units)
    dropout = _checks.check_real(dropout, fn, "dropout", low=0, high=1, high_open=True)
    num_classes = _checks.check_int(num_classes, fn, "num_classes", low=2)
    input_shape = _checks.check_image_shape(input_shape, fn)
    seed = _checks.check_seed(seed, fn)
    streams = iter(range(10**6))

    def next_seed() -> int | None:
        return None if seed is None else seed + 1_000 * next(streams)

    def init(kind: str) -> keras.initializers.Initializer:
        config = keras.initializers.get(kind).get_config()
        if "seed" in config:
            config["seed"] = next_seed()
        return type(keras.initializers.get(kind)).from_config(config)

    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=input_shape))
    model.add(layers.Flatten())
    for n in units:
        model.add(layers.Dense(n, activation="relu", kernel_initializer=init(initializer)))
        if dropout:
            model.add(layers.Dropout(dropout, seed=next_seed()))
    model.add(
        layers.Dense(num_classes, activation="softmax", kernel_initializer=init("glorot_uniform"))
    )
    return model


def feature_extractor(model: keras.Model, layer_name: str) -> keras.Model:
    """Return a model mapping ``model``'s input to the output of ``layer_name``."""
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"feature_extractor: no layer {layer_name!r}; the model has {names}.")
    return keras.Model(model.inputs[0], model.get_layer(layer_name).output)


# --------------------------------------------------------------------------
# MobileNet-style networks
# --------------------------------------------------------------------------


def mobilenet_block(
    x: keras.KerasTensor,
    filters: int,
    stride: int = 1,
    *,
    kernel_initializer: str = "he_normal",
    name: str = "block",
) -> keras.KerasTensor:
    """A MobileNet block (Howard et al., 2017): depthwise 3x3, BN, ReLU, pointwise 1x1, BN, ReLU.

    Defined in chapter "Depthwise separable convolution".

    A depthwise separable convolution with batch normalization and ReLU after
    *each* of its two steps (Keras' ``SeparableConv2D`` has no activation
    between them). Functional style: call it on a tensor, get a tensor.

    Parameters
    ----------
    x : keras.KerasTensor
        Input, ``(batch, H, W, C)``.
    filters : int
        Output channels of the pointwise convolution.
    stride : int
        Stride of the depthwise convolution: 2 halves the resolution.
    kernel_initializer : str
        Initializer of both kernels.
    name : str
        Prefix of the six layers' names.
    """
    filters = _checks.check_int(filters, "mobilenet_block", "filters", low=1)
    _checks.check_choice(stride, "mobilenet_block", "stride", (1, 2))
    x = layers.DepthwiseConv2D(
        3,
        strides=stride,
        padding="same",
        use_bias=False,
        depthwise_initializer=kernel_initializer,
        name=f"{name}_depthwise",
    )(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_depthwise_bn")(x)
    x = layers.ReLU(name=f"{name}_depthwise_relu")(x)
    x = layers.Conv2D(
        filters, 1, use_bias=False, kernel_initializer=kernel_initializer, name=f"{name}_pointwise"
    )(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_pointwise_bn")(x)
    return layers.ReLU(name=f"{name}_pointwise_relu")(x)


MOBILENET_BLOCKS: tuple[tuple[int, int], ...] = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1))
"""(filters, stride) of the blocks of :func:`mobilenet_cnn` at width multiplier 1."""


def mobilenet_cnn(
    width_multiplier: float = 1.0,
    blocks: tuple[tuple[int, int], ...] = MOBILENET_BLOCKS,
    stem_filters: int = 32,
    dropout: float = 0.0,
    num_classes: int = NUM_CLASSES,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    name: str | None = None,
) -> keras.Model:
    """A small MobileNet for 28x28 images: a standard conv, MobileNet blocks, global pooling.

    Defined in chapter "Depthwise separable convolution".

    Stem ``Conv2D(32, 3)`` + BN + ReLU, then one :func:`mobilenet_block`
    per ``(filters, stride)`` in ``blocks`` (28 -> 14 -> 7 pixels with the
    default), ``GlobalAveragePooling2D`` and a softmax ``Dense``. As in
    MobileNet, the stem is a standard convolution: on one input channel a
    depthwise step would have nothing to separate. Returned uncompiled.

    Parameters
    ----------
    width_multiplier : float
        MobileNet's alpha, in (0, 1] (larger works too): every layer's
        channels are ``round(alpha * channels)``, so the multiply-adds and
        most parameters scale roughly with alpha squared.
    blocks, stem_filters
        The architecture at ``width_multiplier=1``.
    dropout : float
        Dropout rate before the output layer (0 disables it).
    num_classes, input_shape, name
        As in any Keras model.

    Raises
    ------
    TypeError, ValueError
        If ``width_multiplier`` is not above 0, ``dropout`` not in [0, 1), or
        ``input_shape`` not (height, width, channels).
    """
    width_multiplier = _checks.check_real(
        width_multiplier,
        "mobilenet_cnn",
        "width_multiplier",
        low=0,
        low_open=True,
        hint=" (e.g. 0.25 to 1)",
    )
    _checks.check_real(dropout, "mobilenet_cnn", "dropout", low=0, high=1, high_open=True)
    input_shape = _checks.check_image_shape(input_shape, "mobilenet_cnn")

    def scaled(channels: int) -> int:
        return max(1, round(channels * width_multiplier))

    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(
        scaled(stem_filters),
        3,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name="stem",
    )(inputs)
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for index, (filters, stride) in enumerate(blocks, start=1):
        x = mobilenet_block(x, scaled(filters), stride, name=f"block{index}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=name or f"mobilenet_cnn_{width_multiplier:g}")
