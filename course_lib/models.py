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
    return keras.Model(model.inputs, model.get_layer(layer_name).output)
