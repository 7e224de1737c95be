"""Convolution in NumPy: output sizes, padding, conv2d, depthwise, separable and transposed.

Defined in chapter "Convolution"; the depthwise and separable convolutions in
chapter "Depthwise separable convolution"; the transposed convolution and the
matrix of a convolution in chapter "Fully convolutional networks".

Written to be read, not to be fast: the loops run over the output positions
and only the product of one window with the kernel is vectorized. Results match
``keras.ops.conv`` and Keras' ``DepthwiseConv2D`` and ``SeparableConv2D``
layers, including the zeros ``padding="same"`` adds.
"""

from __future__ import annotations

import math

import numpy as np

from course_lib import _checks
from course_lib.ops._validate import (
    Padding,
    _check_not_empty,
    _check_padding,
    _check_sizes,
    _check_window_fits,
)

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
]


# ---------------------------------------------------------------------------
# Output sizes and padding
# ---------------------------------------------------------------------------


def output_size(n: int, k: int, stride: int = 1, padding: Padding = "valid") -> int:
    """Length of the output along one axis of a convolution or pooling.

    Defined in chapter "Convolution".

    Parameters
    ----------
    n : input length; k : window (kernel) length; stride : step >= 1.
    padding : ``"valid"`` (no padding), ``"same"`` (Keras: pad so that the
        output has ``ceil(n / stride)`` positions) or an int ``p`` of zeros
        added on both sides.

    Examples
    --------
    >>> output_size(5, 3), output_size(5, 3, padding="same"), output_size(5, 3, 2, 1)
    (3, 5, 3)
    """
    n, k, stride = _check_sizes("output_size", n=n, k=k, stride=stride)
    padding = _check_padding(padding, "output_size")
    if padding == "same":
        return math.ceil(n / stride)
    p = 0 if padding == "valid" else padding
    if n + 2 * p < k:
        raise ValueError(
            f"output_size: k must be at most the padded input n + 2p = {n + 2 * p} "
            f"(the window must fit); got k={k}."
        )
    return (n + 2 * p - k) // stride + 1


def same_padding(n: int, k: int, stride: int = 1) -> tuple[int, int]:
    """Zeros added (before, after) along one axis by ``padding="same"``.

    Defined in chapter "Convolution".

    Keras and TensorFlow pad just enough for ``ceil(n / stride)`` windows.
    When the total is odd, the extra zero goes *after* (bottom / right).

    >>> same_padding(5, 3), same_padding(4, 2), same_padding(6, 3, stride=2)
    ((1, 1), (0, 1), (0, 1))
    """
    n, k, stride = _check_sizes("same_padding", n=n, k=k, stride=stride)
    n_out = math.ceil(n / stride)
    total = max((n_out - 1) * stride + k - n, 0)
    before = total // 2
    return before, total - before


def _pad_amounts(n: int, k: int, stride: int, padding: Padding) -> tuple[int, int]:
    """(before, after) padding for "valid", "same" or an int."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        return same_padding(n, k, stride)
    return padding, padding


# ---------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------


def conv2d(
    x: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: Padding = "valid"
) -> np.ndarray:
    """2-D cross-correlation, as computed by a deep-learning conv layer.

    Defined in chapter "Convolution".

    Parameters
    ----------
    x : ``(H, W)`` image, or ``(H, W, C_in)`` with channels last.
    kernel : ``(kh, kw)`` for a 2-D ``x``; ``(kh, kw, C_in, C_out)`` (Keras
        layout) for a 3-D ``x``. The kernel is *not* flipped.
    stride : step of the window in both directions.
    padding : ``"valid"``, ``"same"`` (Keras semantics) or an int; zeros.

    Returns
    -------
    ``(H_out, W_out)`` or ``(H_out, W_out, C_out)``. Integer and bool
    inputs are summed in ``int64``, so the result is exact (``uint8``
    pixels do not overflow); float inputs keep their common float type.

    >>> conv2d(np.full((3, 3), 200, np.uint8), np.ones((3, 3), np.uint8))
    array([[1800]])
    """
    x, kernel = np.asarray(x), np.asarray(kernel)
    _check_conv_args(x, kernel, stride, padding)
    if x.ndim == 2:  # one channel in and out: reuse the general case
        return conv2d(x[:, :, None], kernel[:, :, None, None], stride, padding)[:, :, 0]

    dtype = _sum_dtype(x, kernel)  # int64 for ints and bools: no overflow
    x, kernel = x.astype(dtype), kernel.astype(dtype)
    kh, kw, _, c_out = kernel.shape
    top, bottom = _pad_amounts(x.shape[0], kh, stride, padding)
    left, right = _pad_amounts(x.shape[1], kw, stride, padding)
    x = np.pad(x, ((top, bottom), (left, right), (0, 0)))  # zeros around the image
    _check_window_fits(x.shape[:2], (kh, kw), padding, "conv2d", "kernel")

    h_out = output_size(x.shape[0], kh, stride)  # "valid" on the padded image
    w_out = output_size(x.shape[1], kw, stride)
    out = np.zeros((h_out, w_out, c_out), dtype=dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = x[i * stride : i * stride + kh, j * stride : j * stride + kw]
            # sum over kh, kw and C_in at once: one number per output channel
            out[i, j] = np.tensordot(window, kernel, axes=3)
    return out


def flip_kernel(kernel: np.ndarray) -> np.ndarray:
    """Rotate a kernel by 180 degrees in its two spatial axes.

    Defined in chapter "Convolution".

    Works for ``(kh, kw)`` and ``(kh, kw, C_in, C_out)`` kernels; the
    channel axes are left alone.
    """
    return np.flip(np.asarray(kernel), axis=(0, 1))


def convolve2d(
    x: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: Padding = "valid"
) -> np.ndarray:
    """True (mathematical) 2-D convolution: cross-correlation with a flipped kernel.

    Defined in chapter "Convolution".

    Same arguments and result as :func:`conv2d`. A conv layer learns its
    kernel, so whether it is flipped makes no difference to what it can learn.
    """
    return conv2d(x, flip_kernel(kernel), stride, padding)


# ---------------------------------------------------------------------------
# Depthwise and separable convolution
# ---------------------------------------------------------------------------


def depthwise_conv2d(
    x: np.ndarray,
    depthwise_kernel: np.ndarray,
    stride: int = 1,
    padding: Padding = "valid",
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Filter every input channel with its own kernels; never mix channels.

    Defined in chapter "Depthwise separable convolution".

    Parameters
    ----------
    x : ``(H, W, C_in)`` image, channels last.
    depthwise_kernel : ``(kh, kw, C_in, depth_multiplier)``, the layout of
        Keras' ``DepthwiseConv2D.kernel``: ``depth_multiplier`` 2-D kernels
        for each input channel.
    stride, padding : as in :func:`conv2d`.
    bias : optional ``(C_in * depth_multiplier,)`` added to every position.

    Returns
    -------
    ``(H_out, W_out, C_in * depth_multiplier)``. Output channel
    ``c * depth_multiplier + m`` is input channel ``c`` filtered by kernel
    ``depthwise_kernel[:, :, c, m]``, the order Keras uses. The dtype is
    that of :func:`conv2d`.
    """
    x, depthwise_kernel = np.asarray(x), np.asarray(depthwise_kernel)
    _check_depthwise_args(x, depthwise_kernel, stride, padding, "depthwise_conv2d")
    _, _, c_in, multiplier = depthwise_kernel.shape
    # one 2-D convolution per (input channel, kernel) pair: one channel in, one out
    maps = [
        conv2d(x[:, :, c], depthwise_kernel[:, :, c, m], stride, padding)
        for c in range(c_in)
        for m in range(multiplier)
    ]
    out = np.stack(maps, axis=-1)  # channel index c * multiplier + m
    return _add_bias(out, bias, "depthwise_conv2d", "C_in * depth_multiplier")


def separable_conv2d(
    x: np.ndarray,
    depthwise_kernel: np.ndarray,
    pointwise_kernel: np.ndarray,
    stride: int = 1,
    padding: Padding = "valid",
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Depthwise separable convolution: filter each channel, then mix channels with 1x1.

    Defined in chapter "Depthwise separable convolution".

    Parameters
    ----------
    x : ``(H, W, C_in)`` image, channels last.
    depthwise_kernel : ``(kh, kw, C_in, depth_multiplier)``, Keras'
        ``SeparableConv2D.depthwise_kernel``.
    pointwise_kernel : ``(1, 1, C_in * depth_multiplier, C_out)``, Keras'
        ``SeparableConv2D.pointwise_kernel``.
    stride, padding : of the depthwise step, as in Keras (the 1x1 step
        always has stride 1 and needs no padding).
    bias : optional ``(C_out,)``, added after the pointwise step.

    Returns
    -------
    ``(H_out, W_out, C_out)``.
    """
    x = np.asarray(x)
    depthwise_kernel = np.asarray(depthwise_kernel)
    pointwise_kernel = np.asarray(pointwise_kernel)
    _check_depthwise_args(x, depthwise_kernel, stride, padding, "separable_conv2d")
    _check_pointwise_kernel(depthwise_kernel, pointwise_kernel)
    filtered = depthwise_conv2d(x, depthwise_kernel, stride, padding)  # spatial filtering only
    combined = conv2d(filtered, pointwise_kernel)  # 1x1: a weighted sum of channels per pixel
    return _add_bias(combined, bias, "separable_conv2d", "C_out")


# ---------------------------------------------------------------------------
# Input checks (private)
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Transposed convolution and the matrix of a convolution
# ---------------------------------------------------------------------------


def conv_transpose2d(x: np.ndarray, kernel: np.ndarray, stride: int = 1) -> np.ndarray:
    """Transposed convolution of one channel, no padding: every pixel stamps a scaled kernel.

    Defined in chapter "Fully convolutional networks".

    Input pixel ``(i, j)`` adds ``x[i, j] * kernel`` into the output at
    ``(i * stride, j * stride)``; where stamps overlap, they add. The output
    has ``(H - 1) * stride + kh`` rows and ``(W - 1) * stride + kw`` columns.
    Matches Keras' ``Conv2DTranspose(1, (kh, kw), strides=stride,
    use_bias=False)`` with ``kernel`` as its weights when the kernel is at
    least as large as the stride (for a smaller kernel Keras appends
    ``stride - k`` rows or columns of zeros).

    Parameters
    ----------
    x : ``(H, W)`` image.
    kernel : ``(kh, kw)`` kernel.
    stride : distance between the stamps of neighbouring pixels.

    >>> conv_transpose2d(np.array([[1, 2]]), np.ones((1, 2), int), stride=2)
    array([[1, 1, 2, 2]])
    """
    x, kernel = np.asarray(x), np.asarray(kernel)
    _check_plain_2d(x, kernel, stride, "conv_transpose2d")
    (h, w), (kh, kw) = x.shape, kernel.shape
    dtype = _sum_dtype(x, kernel)
    out = np.zeros(((h - 1) * stride + kh, (w - 1) * stride + kw), dtype=dtype)
    for i in range(h):
        for j in range(w):
            out[i * stride : i * stride + kh, j * stride : j * stride + kw] += x[i, j] * kernel
    return out


def conv2d_matrix(kernel: np.ndarray, n: int, stride: int = 1) -> np.ndarray:
    """The matrix ``C`` of a no-padding convolution on an ``n x n`` image: ``conv2d(x) == C @ x``.

    Defined in chapter "Fully convolutional networks".

    Each row holds the kernel at one window position, zeros elsewhere, laid
    out like the flattened image (``x.ravel()``), so ``C @ x.ravel()`` equals
    ``conv2d(x, kernel, stride).ravel()``. Its transpose ``C.T`` maps the
    output's shape back to the input's: it is :func:`conv_transpose2d`.

    Parameters
    ----------
    kernel : ``(kh, kw)`` kernel.
    n : side of the square input image.
    stride : step of the window in both directions.
    """
    kernel = np.asarray(kernel)
    n = _checks.check_int(n, "conv2d_matrix", "n", low=1)
    _check_plain_2d(np.zeros((n, n)), kernel, stride, "conv2d_matrix")
    kh, kw = kernel.shape
    if kh > n or kw > n:
        raise ValueError(
            f"conv2d_matrix: a kernel of shape {kernel.shape} does not fit an image of side "
            f"n={n}; use n >= {max(kh, kw)}."
        )
    rows = []
    for i in range(output_size(n, kh, stride)):
        for j in range(output_size(n, kw, stride)):
            window = np.zeros((n, n), dtype=np.result_type(kernel, np.float64))
            window[i * stride : i * stride + kh, j * stride : j * stride + kw] = kernel
            rows.append(window.ravel())
    return np.array(rows)


def _check_plain_2d(x: np.ndarray, kernel: np.ndarray, stride: object, fn: str) -> None:
    """One channel: a 2-D image and a 2-D kernel, both non-empty, and an integer stride >= 1."""
    if x.ndim != 2 or kernel.ndim != 2:
        raise ValueError(
            f"{fn}: x and kernel must both be 2-D, one channel (H, W) and (kh, kw); got shapes "
            f"{x.shape} and {kernel.shape}."
        )
    _check_not_empty(x, fn, "x")
    _check_not_empty(kernel, fn, "kernel")
    _checks.check_int(stride, fn, "stride", low=1)


def _sum_dtype(x: np.ndarray, kernel: np.ndarray) -> np.dtype:
    """The dtype sums of products are computed in: int64 for bool and integer inputs."""
    dtype = np.result_type(x, kernel)
    if dtype.kind in "biu":  # int64 (float64 for uint64, which int64 cannot hold)
        return np.result_type(dtype, np.int64)
    return dtype


def _check_conv_args(x: np.ndarray, kernel: np.ndarray, stride: object, padding: object) -> None:
    fn = "conv2d"
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{fn}: x must have 2 dims (H, W) or 3 dims (H, W, C_in); got shape {x.shape}."
        )
    if x.ndim == 2 and kernel.ndim != 2:
        raise ValueError(
            f"{fn}: kernel must have 2 dims (kh, kw) for a 2-D x of shape {x.shape}; "
            f"got shape {kernel.shape}."
        )
    if x.ndim == 3 and kernel.ndim != 4:
        raise ValueError(
            f"{fn}: kernel must have 4 dims (kh, kw, C_in, C_out) for a 3-D x of shape {x.shape}; "
            f"got shape {kernel.shape}."
        )
    if x.ndim == 3 and kernel.shape[2] != x.shape[2]:
        raise ValueError(
            f"{fn}: kernel must have C_in={x.shape[2]} (the channels of x, shape {x.shape}) "
            f"in its axis 2; got C_in={kernel.shape[2]} (shape {kernel.shape})."
        )
    _check_not_empty(x, fn, "x")
    _check_not_empty(kernel, fn, "kernel")
    _checks.check_int(stride, fn, "stride", low=1)
    _check_padding(padding, fn)


def _check_depthwise_args(
    x: np.ndarray, kernel: np.ndarray, stride: object, padding: object, fn: str
) -> None:
    if x.ndim != 3:
        raise ValueError(f"{fn}: x must have 3 dims (H, W, C_in); got shape {x.shape}.")
    if kernel.ndim != 4:
        raise ValueError(
            f"{fn}: depthwise_kernel must have 4 dims (kh, kw, C_in, depth_multiplier), "
            f"the layout of Keras' DepthwiseConv2D; got shape {kernel.shape}."
        )
    if kernel.shape[2] != x.shape[2]:
        raise ValueError(
            f"{fn}: depthwise_kernel must have C_in={x.shape[2]} (the channels of x, "
            f"shape {x.shape}) in its axis 2, (kh, kw, C_in, depth_multiplier); "
            f"got C_in={kernel.shape[2]} (shape {kernel.shape})."
        )
    _check_not_empty(x, fn, "x")
    _check_not_empty(kernel, fn, "depthwise_kernel")
    _checks.check_int(stride, fn, "stride", low=1)
    _check_padding(padding, fn)
    kh, kw = kernel.shape[:2]
    padded = [n + sum(_pad_amounts(n, k, stride, padding)) for n, k in zip(x.shape[:2], (kh, kw))]
    _check_window_fits(tuple(padded), (kh, kw), padding, fn, "kernel")


def _check_pointwise_kernel(depthwise_kernel: np.ndarray, pointwise_kernel: np.ndarray) -> None:
    fn = "separable_conv2d"
    inner = depthwise_kernel.shape[2] * depthwise_kernel.shape[3]
    if pointwise_kernel.ndim != 4 or pointwise_kernel.shape[:3] != (1, 1, inner):
        raise ValueError(
            f"{fn}: pointwise_kernel must have shape (1, 1, C_in * depth_multiplier, C_out) = "
            f"(1, 1, {inner}, C_out) for a depthwise_kernel of shape {depthwise_kernel.shape}; "
            f"got shape {pointwise_kernel.shape}."
        )
    _check_not_empty(pointwise_kernel, fn, "pointwise_kernel")


def _add_bias(out: np.ndarray, bias: np.ndarray | None, fn: str, expected: str) -> np.ndarray:
    if bias is None:
        return out
    bias = np.asarray(bias)
    if bias.shape != (out.shape[-1],):
        raise ValueError(
            f"{fn}: bias must have shape ({expected},) = ({out.shape[-1]},); "
            f"got shape {bias.shape}."
        )
    return out + bias
