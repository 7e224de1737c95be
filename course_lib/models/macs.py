"""Counting the multiply-adds of a built Keras model, layer by layer.

Defined in chapter "Depthwise separable convolution".
"""

from __future__ import annotations

import math

import keras
from keras import layers

from course_lib import ops

__all__ = ["layer_macs", "count_macs"]

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
    ``DepthwiseConv2D``, ``SeparableConv2D`` and ``Dense`` layers, with the
    formulas of ``course_lib.ops``; biases, batch normalization, activations
    and pooling are not counted (they are a few operations per output, not a
    sum over a window).
    """
    if not isinstance(layer, _COUNTED):
        return 0
    try:
        out_shape = tuple(layer.output.shape[1:])
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"count_macs: layer {layer.name!r} has no known output shape ({error}); "
            "expected a built Sequential or functional model, e.g. one that starts with "
            "keras.Input."
        ) from None
    if any(size is None for size in out_shape):
        raise ValueError(
            f"count_macs: layer {layer.name!r} has output shape {out_shape} with unknown sizes; "
            "expected fixed input sizes (give keras.Input a full shape)."
        )
    if isinstance(layer, layers.Dense):
        # A Dense layer on a vector, or applied at every position of a feature map.
        positions = math.prod(out_shape[:-1])
        return positions * ops.dense_params(*layer.kernel.shape)
    h_out, w_out, c_out = out_shape
    if isinstance(layer, layers.SeparableConv2D):
        kh, kw, c_in, multiplier = layer.depthwise_kernel.shape
        return ops.separable_conv2d_macs(
            h_out, w_out, kh, kw, c_in, c_out, depth_multiplier=multiplier
        )
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw, c_in, multiplier = layer.kernel.shape
        return ops.depthwise_conv2d_macs(h_out, w_out, kh, kw, c_in, depth_multiplier=multiplier)
    kh, kw, c_in_per_group, _ = layer.kernel.shape  # Conv2D: (kh, kw, C_in / groups, C_out)
    return ops.conv2d_macs(h_out, w_out, kh, kw, c_in_per_group, c_out)


def count_macs(model: keras.Model) -> int:
    """Multiply-adds of a forward pass of a built Keras model on one image.

    Defined in chapter "Depthwise separable convolution".

    The sum of :func:`layer_macs` over the ``Conv2D``, ``DepthwiseConv2D``,
    ``SeparableConv2D`` and ``Dense`` layers, including those of nested
    models. One multiply-add is one product added to a running sum, so the
    floating-point operations are about twice this number.

    Raises
    ------
    TypeError
        If ``model`` is not a Keras model.
    ValueError
        If the model has no layer with a known output shape (build it with
        ``keras.Input``) or none of the counted layer types.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"count_macs: model must be a keras.Model; got {type(model).__name__}.")
    counted = [layer for layer in _flat_layers(model) if isinstance(layer, _COUNTED)]
    if not counted:
        raise ValueError(
            f"count_macs: model {model.name!r} has no Conv2D, DepthwiseConv2D, SeparableConv2D or "
            "Dense layer to count."
        )
    return sum(layer_macs(layer) for layer in counted)
