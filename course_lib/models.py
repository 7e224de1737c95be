"""Keras models the chapters build, train and take apart.

Defined in chapters "Convolution" and "Pooling" (``small_cnn``); ``seed_cnn``
in "A CNN classifier"; ``count_macs`` and the MobileNet-style models in
"Depthwise separable convolution".
"""

from __future__ import annotations

import math

import keras
from keras import layers

from course_lib.data import NUM_CLASSES

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
        If ``downsample`` is not one of the four choices.
    """
    choices = ("maxpool", "avgpool", "stride", "none")
    if downsample not in choices:
        raise ValueError(f"small_cnn: downsample must be one of {choices}; got {downsample!r}.")
    model = keras.Sequential(name=name or f"small_cnn_{downsample}")
    model.add(keras.Input(shape=input_shape))
    for i, n in enumerate(filters):
        stride = 2 if downsample == "stride" else 1
        model.add(layers.Conv2D(n, kernel_size, strides=stride, padding="same", activation="relu", name=f"conv{i + 1}"))
        if downsample == "maxpool":
            model.add(layers.MaxPooling2D(2, name=f"pool{i + 1}"))
        elif downsample == "avgpool":
            model.add(layers.AveragePooling2D(2, name=f"pool{i + 1}"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(num_classes, activation="softmax", name="output"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def feature_extractor(model: keras.Model, layer_name: str) -> keras.Model:
    """Return a model mapping ``model``'s input to the output of ``layer_name``."""
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"feature_extractor: no layer {layer_name!r}; the model has {names}.")
    return keras.Model(model.inputs[0], model.get_layer(layer_name).output)


def seed_cnn(
    conv: str = "mixed",
    activation: str = "relu",
    batch_norm: bool = False,
    dropout: float = 0.0,
    block_dropout: float = 0.0,
    kernel_initializer: str = "glorot_uniform",
    num_classes: int = NUM_CLASSES,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    name: str | None = None,
) -> keras.Sequential:
    """The lecture notes' network: three blocks of two convolutions and a pooling.

    Defined in chapter "A CNN classifier".

    With the defaults it is exactly the notes' model: Conv2D(32) ->
    SeparableConv2D(32) -> MaxPooling2D -> Conv2D(64) -> SeparableConv2D(64)
    -> MaxPooling2D -> Conv2D(128) -> SeparableConv2D(128) -> MaxPooling2D ->
    Flatten -> Dense(128) -> Dense(10), all 3x3 "same" convolutions,
    265,290 parameters. The model is returned uncompiled.

    Parameters
    ----------
    conv : {"mixed", "standard", "separable"}
        "mixed" is the notes' Conv2D + SeparableConv2D per block; "standard"
        uses two Conv2D, "separable" two SeparableConv2D per block.
    activation : str
        Activation of every hidden layer.
    batch_norm : bool
        Insert BatchNormalization (momentum 0.9) between each convolution (or
        hidden Dense) and its activation; those layers then have no bias of
        their own.
    dropout : float
        Dropout rate before the output layer (0 disables it).
    block_dropout : float
        Dropout rate after each pooling layer (0 disables it).
    kernel_initializer : str
        Initializer of the convolution and dense kernels ("he_normal" suits ReLU).
    """
    if conv not in ("mixed", "standard", "separable"):
        raise ValueError(f"seed_cnn: conv must be 'mixed', 'standard' or 'separable'; got {conv!r}.")
    for label, rate in (("dropout", dropout), ("block_dropout", block_dropout)):
        if not 0 <= rate < 1:
            raise ValueError(f"seed_cnn: {label} must be in [0, 1); got {rate}.")
    kinds = {"mixed": ("conv", "sep"), "standard": ("conv", "conv"), "separable": ("sep", "sep")}[conv]
    model = keras.Sequential(name=name or f"seed_cnn_{conv}")
    model.add(keras.Input(shape=input_shape))

    # Without batch normalization the activation sits inside each layer, as in
    # the notes; with it, the order is layer -> BatchNormalization -> activation.
    inner = None if batch_norm else activation

    def add(layer: keras.layers.Layer) -> None:
        model.add(layer)
        if batch_norm:
            # momentum 0.9 (Keras' default is 0.99): the running statistics used
            # at inference settle within tens of steps, not hundreds.
            model.add(layers.BatchNormalization(momentum=0.9))
            model.add(layers.Activation(activation))

    for filters in (32, 64, 128):
        for kind in kinds:
            options = dict(padding="same", activation=inner, use_bias=not batch_norm)
            if kind == "conv":
                add(layers.Conv2D(filters, 3, kernel_initializer=kernel_initializer, **options))
            else:
                add(
                    layers.SeparableConv2D(
                        filters,
                        3,
                        depthwise_initializer=kernel_initializer,
                        pointwise_initializer=kernel_initializer,
                        **options,
                    )
                )
        model.add(layers.MaxPooling2D(2))
        if block_dropout:
            model.add(layers.Dropout(block_dropout))
    model.add(layers.Flatten())
    add(layers.Dense(128, activation=inner, kernel_initializer=kernel_initializer, use_bias=not batch_norm))
    if dropout:
        model.add(layers.Dropout(dropout))
    model.add(layers.Dense(num_classes, activation="softmax"))
    return model


# --------------------------------------------------------------------------
# Counting multiply-adds
# --------------------------------------------------------------------------

_COUNTED = (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D, layers.Dense)


def _flat_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers, with nested models replaced by their own layers."""
    flat = []
    for layer in model.layers:
        flat += _flat_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return flat


def layer_macs(layer: keras.layers.Layer) -> int:
    """Multiply-adds of one built layer on one image (0 for layers without weights to multiply).

    Defined in chapter "Depthwise separable convolution".

    Counts the products of inputs with kernel weights in ``Conv2D``,
    ``DepthwiseConv2D``, ``SeparableConv2D`` and ``Dense`` layers; biases,
    batch normalization, activations and pooling are not counted (they are
    a few operations per output, not a sum over a window).
    """
    if not isinstance(layer, _COUNTED):
        return 0
    try:
        out_shape = tuple(layer.output.shape[1:])
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"count_macs: layer {layer.name!r} has no known output shape ({error}); "
            "expected a built Sequential or functional model, e.g. one that starts with keras.Input."
        ) from None
    if any(size is None for size in out_shape):
        raise ValueError(
            f"count_macs: layer {layer.name!r} has output shape {out_shape} with unknown sizes; "
            "expected fixed input sizes (give keras.Input a full shape)."
        )
    positions = math.prod(out_shape[:-1])  # output pixels (or 1 for a Dense on a vector)
    if isinstance(layer, layers.SeparableConv2D):  # before Conv2D: it is not a subclass, but be explicit
        kh, kw, c_in, multiplier = layer.depthwise_kernel.shape
        c_out = out_shape[-1]
        return positions * (kh * kw * c_in * multiplier + c_in * multiplier * c_out)
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw, c_in, multiplier = layer.kernel.shape
        return positions * kh * kw * c_in * multiplier
    # Conv2D (kernel (kh, kw, C_in / groups, C_out)) and Dense (kernel (n_in, n_out)):
    # every output is a sum of one product per kernel entry feeding it.
    kernel = layer.kernel.shape
    return positions * math.prod(kernel)


def count_macs(model: keras.Model) -> int:
    """Multiply-adds of a forward pass of a built Keras model on one image.

    Defined in chapter "Depthwise separable convolution".

    The sum of :func:`layer_macs` over the ``Conv2D``, ``DepthwiseConv2D``,
    ``SeparableConv2D`` and ``Dense`` layers, including those of nested
    models. One multiply-add is one product added to a running sum, so the
    floating-point operations are about twice this number.

    Raises
    ------
    ValueError
        If the model has no layer with a known output shape (build it with
        ``keras.Input``) or none of the counted layer types.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"count_macs: expected a keras.Model; got {type(model).__name__}.")
    counted = [layer for layer in _flat_layers(model) if isinstance(layer, _COUNTED)]
    if not counted:
        raise ValueError(
            f"count_macs: model {model.name!r} has no Conv2D, DepthwiseConv2D, SeparableConv2D or Dense layer to count."
        )
    return sum(layer_macs(layer) for layer in counted)


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
    if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
        raise ValueError(f"mobilenet_block: filters must be an int >= 1; got {filters!r}.")
    if stride not in (1, 2):
        raise ValueError(f"mobilenet_block: stride must be 1 or 2; got {stride!r}.")
    x = layers.DepthwiseConv2D(
        3, strides=stride, padding="same", use_bias=False,
        depthwise_initializer=kernel_initializer, name=f"{name}_depthwise",
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
    """
    if isinstance(width_multiplier, bool) or not isinstance(width_multiplier, (int, float)) or width_multiplier <= 0:
        raise ValueError(f"mobilenet_cnn: width_multiplier must be a number > 0 (e.g. 0.25 to 1); got {width_multiplier!r}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"mobilenet_cnn: dropout must be in [0, 1); got {dropout}.")

    def scaled(channels: int) -> int:
        return max(1, round(channels * width_multiplier))

    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(scaled(stem_filters), 3, padding="same", use_bias=False, kernel_initializer="he_normal", name="stem")(inputs)
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for index, (filters, stride) in enumerate(blocks, start=1):
        x = mobilenet_block(x, scaled(filters), stride, name=f"block{index}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=name or f"mobilenet_cnn_{width_multiplier:g}")
