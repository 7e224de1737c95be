"""Counting weights, multiply-adds and receptive fields of layers.

Defined in chapter "Convolution" (dense, local, shared and conv layers, receptive
fields), chapter "A CNN classifier" and chapter "Depthwise separable convolution"
(depthwise and separable layers).
"""

from __future__ import annotations

from collections.abc import Sequence

from course_lib import _checks
from course_lib.ops._validate import _check_sizes

__all__ = [
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
]


def _area(window: object, fn: str, name: str = "window") -> int:
    """Number of cells of a square (int side) or (height, width) window."""
    if isinstance(window, (tuple, list)) and len(window) == 2:
        height = _checks.check_int(window[0], fn, f"{name} height", low=1)
        width = _checks.check_int(window[1], fn, f"{name} width", low=1)
        return height * width
    hint = " Pass the side of a square window or (height, width)."
    side = _checks.check_int(window, fn, name, low=1, hint=hint)
    return side**2


def dense_params(n_in: int, n_out: int, bias: bool = False) -> int:
    """Weights of a fully connected layer: every output sees every input.

    Defined in chapter "Convolution".

    >>> dense_params(1000 * 1000, 10**6)  # a megapixel image into 10^6 neurons
    1000000000000
    """
    n_in, n_out = _check_sizes("dense_params", n_in=n_in, n_out=n_out)
    _check_bias(bias, "dense_params")
    return n_in * n_out + (n_out if bias else 0)


def local_params(n_out: int, window: int | tuple[int, int], bias: bool = False) -> int:
    """Weights of a locally connected layer: each output sees only its own window.

    Defined in chapter "Convolution".

    ``window`` is the side of a square window or ``(height, width)``.

    >>> local_params(10**6, 10)  # 10^6 neurons, each with its own 10x10 weights
    100000000
    """
    (n_out,) = _check_sizes("local_params", n_out=n_out)
    _check_bias(bias, "local_params")
    return n_out * _area(window, "local_params") + (n_out if bias else 0)


def shared_params(window: int | tuple[int, int], bias: bool = False) -> int:
    """Weights when all outputs share one window of weights (one conv filter).

    Defined in chapter "Convolution".

    >>> shared_params(10)  # independent of the image size!
    100
    """
    _check_bias(bias, "shared_params")
    return _area(window, "shared_params") + (1 if bias else 0)


def conv2d_params(kh: int, kw: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """Trainable parameters of a Keras ``Conv2D(c_out, (kh, kw))`` layer.

    Defined in chapter "Convolution".

    Each of the ``c_out`` filters has ``kh * kw * c_in`` weights and one bias.

    >>> conv2d_params(3, 3, 1, 32), conv2d_params(3, 3, 32, 64)
    (320, 18496)
    """
    fn = "conv2d_params"
    kh, kw, c_in, c_out = _check_sizes(fn, kh=kh, kw=kw, c_in=c_in, c_out=c_out)
    _check_bias(bias, fn)
    return (kh * kw * c_in + (1 if bias else 0)) * c_out


def separable_conv2d_params(
    kh: int, kw: int, c_in: int, c_out: int, bias: bool = True, depth_multiplier: int = 1
) -> int:
    """Trainable parameters of a Keras ``SeparableConv2D(c_out, (kh, kw))`` layer.

    Defined in chapter "A CNN classifier"; ``depth_multiplier`` in chapter
    "Depthwise separable convolution".

    A depthwise ``kh x kw`` kernel per input channel (``depth_multiplier``
    of them), then a ``1 x 1`` convolution mixing the ``c_in *
    depth_multiplier`` channels into ``c_out``, plus its biases.

    >>> separable_conv2d_params(3, 3, 32, 32)
    1344
    """
    fn = "separable_conv2d_params"
    kh, kw, c_in, c_out, depth_multiplier = _check_sizes(
        fn, kh=kh, kw=kw, c_in=c_in, c_out=c_out, depth_multiplier=depth_multiplier
    )
    _check_bias(bias, fn)
    inner = c_in * depth_multiplier
    return kh * kw * inner + inner * c_out + (c_out if bias else 0)


def depthwise_conv2d_params(
    kh: int, kw: int, c_in: int, depth_multiplier: int = 1, bias: bool = True
) -> int:
    """Trainable parameters of a Keras ``DepthwiseConv2D((kh, kw))`` layer.

    Defined in chapter "Depthwise separable convolution".

    ``depth_multiplier`` kernels of ``kh x kw`` per input channel, and one
    bias per output channel.

    >>> depthwise_conv2d_params(3, 3, 32)
    320
    """
    fn = "depthwise_conv2d_params"
    kh, kw, c_in, depth_multiplier = _check_sizes(
        fn, kh=kh, kw=kw, c_in=c_in, depth_multiplier=depth_multiplier
    )
    _check_bias(bias, fn)
    outputs = c_in * depth_multiplier
    return kh * kw * outputs + (outputs if bias else 0)


def conv2d_macs(h_out: int, w_out: int, kh: int, kw: int, c_in: int, c_out: int) -> int:
    """Multiply-adds of one conv layer on one image.

    Defined in chapter "Convolution".

    Every one of the ``h_out * w_out * c_out`` outputs is a sum of
    ``kh * kw * c_in`` products.

    >>> conv2d_macs(26, 26, 3, 3, 1, 32)
    194688
    """
    h_out, w_out, kh, kw, c_in, c_out = _check_sizes(
        "conv2d_macs", h_out=h_out, w_out=w_out, kh=kh, kw=kw, c_in=c_in, c_out=c_out
    )
    return h_out * w_out * c_out * (kh * kw * c_in)


def depthwise_conv2d_macs(
    h_out: int, w_out: int, kh: int, kw: int, c_in: int, depth_multiplier: int = 1
) -> int:
    """Multiply-adds of one depthwise conv layer on one image.

    Defined in chapter "Depthwise separable convolution".

    Each of the ``h_out * w_out * c_in * depth_multiplier`` outputs is a sum
    of ``kh * kw`` products: one channel's window, not all of them.

    >>> depthwise_conv2d_macs(28, 28, 3, 3, 32)
    225792
    """
    h_out, w_out, kh, kw, c_in, depth_multiplier = _check_sizes(
        "depthwise_conv2d_macs",
        h_out=h_out,
        w_out=w_out,
        kh=kh,
        kw=kw,
        c_in=c_in,
        depth_multiplier=depth_multiplier,
    )
    return h_out * w_out * c_in * depth_multiplier * kh * kw


def separable_conv2d_macs(
    h_out: int, w_out: int, kh: int, kw: int, c_in: int, c_out: int, depth_multiplier: int = 1
) -> int:
    """Multiply-adds of one separable conv layer on one image: depthwise + pointwise.

    Defined in chapter "Depthwise separable convolution".

    The pointwise (1x1) step computes ``h_out * w_out * c_out`` outputs, each
    a sum of ``c_in * depth_multiplier`` products.

    >>> separable_conv2d_macs(28, 28, 3, 3, 32, 32)
    1028608
    """
    h_out, w_out, kh, kw, c_in, c_out, depth_multiplier = _check_sizes(
        "separable_conv2d_macs",
        h_out=h_out,
        w_out=w_out,
        kh=kh,
        kw=kw,
        c_in=c_in,
        c_out=c_out,
        depth_multiplier=depth_multiplier,
    )
    depthwise = depthwise_conv2d_macs(h_out, w_out, kh, kw, c_in, depth_multiplier)
    pointwise = h_out * w_out * c_out * c_in * depth_multiplier
    return depthwise + pointwise


def separable_cost_ratio(k: int | tuple[int, int], c_out: int) -> float:
    """Multiply-adds of a separable conv divided by those of a standard conv.

    Defined in chapter "Depthwise separable convolution".

    For a ``k x k`` kernel (or ``(kh, kw)``), ``c_out`` output channels and a
    depth multiplier of 1, the ratio is exactly ``1 / c_out + 1 / k**2``,
    whatever the input channels and the image size (Howard et al., 2017).
    It is also the ratio of the weights when biases are left out.

    >>> separable_cost_ratio(3, 32)  # 1/32 + 1/9
    0.1423611111111111
    """
    (c_out,) = _check_sizes("separable_cost_ratio", c_out=c_out)
    return 1 / c_out + 1 / _area(k, "separable_cost_ratio", "k")


def receptive_field(layers: Sequence[tuple[int, int]]) -> list[int]:
    """Receptive field size after each layer of a stack of convs / poolings.

    Defined in chapter "Convolution".

    ``layers`` is a sequence of ``(kernel_size, stride)``. With ``r_0 = 1``
    and jump ``j_0 = 1`` (distance, in input pixels, between neighbouring
    outputs)::

        r_l = r_{l-1} + (k_l - 1) * j_{l-1}
        j_l = j_{l-1} * s_l

    >>> receptive_field([(3, 1), (3, 1), (3, 1)])  # three 3x3 convs see 7x7
    [3, 5, 7]
    >>> receptive_field([(3, 1), (2, 2), (3, 1)])  # conv, 2x2 pool, conv
    [3, 4, 8]
    """
    fn = "receptive_field"
    r, jump, sizes = 1, 1, []
    for index, (k, s) in enumerate(layers):
        k = _checks.check_int(k, fn, f"kernel size of layer {index}", low=1)
        s = _checks.check_int(s, fn, f"stride of layer {index}", low=1)
        r = r + (k - 1) * jump
        jump = jump * s
        sizes.append(r)
    return sizes


def _check_bias(bias: object, fn: str) -> None:
    _checks.check_choice(bias, fn, "bias", (True, False))
