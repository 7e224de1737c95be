"""Keras models the chapters build, train and take apart.

Defined in chapters "Convolution" and "Pooling" (``small_cnn``).
"""

from __future__ import annotations

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
