"""Readable NumPy reference implementations of convolution and pooling.

Defined in the chapters "Convolution" and "Pooling" of the course; the
depthwise and separable convolutions and their costs in chapter "Depthwise
separable convolution".

Every function here is written to be read, not to be fast: it loops over the
output positions explicitly and only vectorizes the product of one window
with the kernel. The results match Keras (``keras.ops.conv``,
``keras.ops.max_pool``, ``keras.ops.average_pool``, the ``DepthwiseConv2D``
and ``SeparableConv2D`` layers), including the way ``padding="same"`` adds
zeros, so the book can check one against the other.

Array layout is channels-last, as in Keras: images are ``(H, W)`` or
``(H, W, C)`` and kernels are ``(kh, kw)`` or ``(kh, kw, C_in, C_out)``;
depthwise kernels are ``(kh, kw, C_in, depth_multiplier)``.

Output sizes, padding and the convolutions are in ``course_lib.ops.convolution``;
pooling in ``course_lib.ops.pooling``; counts of weights, multiply-adds and
receptive fields in ``course_lib.ops.costs``; the classic kernels and
``translate`` in ``course_lib.ops.images``. Everything is importable from
``course_lib.ops``.
"""

from course_lib.ops.convolution import (
    conv2d,
    conv2d_matrix,
    conv_transpose2d,
    convolve2d,
    depthwise_conv2d,
    flip_kernel,
    output_size,
    same_padding,
    separable_conv2d,
)
from course_lib.ops.costs import (
    conv2d_macs,
    conv2d_params,
    dense_params,
    depthwise_conv2d_macs,
    depthwise_conv2d_params,
    local_params,
    receptive_field,
    separable_conv2d_macs,
    separable_conv2d_params,
    separable_cost_ratio,
    shared_params,
)
from course_lib.ops.images import classic_kernels, translate
from course_lib.ops.pooling import pool2d

__all__ = [
    "output_size",
    "same_padding",
    "conv2d",
    "flip_kernel",
    "convolve2d",
    "depthwise_conv2d",
    "separable_conv2d",
    "conv_transpose2d",
    "conv2d_matrix",
    "pool2d",
    "dense_params",
    "local_params",
    "shared_params",
    "conv2d_params",
    "conv2d_macs",
    "separable_conv2d_params",
    "depthwise_conv2d_params",
    "depthwise_conv2d_macs",
    "separable_conv2d_macs",
    "separable_cost_ratio",
    "receptive_field",
    "classic_kernels",
    "translate",
]
