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
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from course_lib import _checks

__all__ = [
    "output_size",
    "same_padding",
    "conv2d",
    "flip_kernel",
    "convolve2d",
    "depthwise_conv2d",
    "separable_conv2d",
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

Padding = str | int


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
# Pooling
# ---------------------------------------------------------------------------


def pool2d(
    x: np.ndarray,
    size: int = 2,
    stride: int | None = None,
    mode: str = "max",
    padding: str = "valid",
) -> np.ndarray:
    """Max or average pooling over ``size x size`` windows of each channel.

    Defined in chapter "Pooling".

    Parameters
    ----------
    x : ``(H, W)`` or ``(H, W, C)``.
    size : side of the square window.
    stride : step of the window; defaults to ``size`` (non-overlapping).
    mode : ``"max"`` or ``"avg"``.
    padding : ``"valid"`` or ``"same"`` (Keras semantics).

    Notes
    -----
    With ``"same"``, windows may hang over the border. As in Keras, the
    cells outside the image are simply left out of the window: they never
    win the max and do not count in the average (which divides by the number
    of real cells). Averages of integers are floats.
    """
    x = np.asarray(x)
    stride = size if stride is None else stride
    _check_pool_args(x, size, stride, mode, padding)
    if x.ndim == 2:  # a single channel: reuse the general case
        return pool2d(x[:, :, None], size, stride, mode, padding)[:, :, 0]

    h, w, channels = x.shape
    top, _ = _pad_amounts(h, size, stride, padding)
    left, _ = _pad_amounts(w, size, stride, padding)
    h_out = output_size(h, size, stride, padding)
    w_out = output_size(w, size, stride, padding)
    reduce = np.max if mode == "max" else np.mean
    averaging_ints = mode == "avg" and not np.issubdtype(x.dtype, np.floating)
    dtype = np.float64 if averaging_ints else x.dtype  # the mean of ints is a float
    out = np.zeros((h_out, w_out, channels), dtype=dtype)
    for i in range(h_out):
        r = i * stride - top  # first row of the window, in image coordinates
        rows = slice(max(r, 0), min(r + size, h))  # clip the window to the image
        for j in range(w_out):
            c = j * stride - left
            cols = slice(max(c, 0), min(c + size, w))
            out[i, j] = reduce(x[rows, cols], axis=(0, 1))
    return out


# ---------------------------------------------------------------------------
# Counting parameters and operations
# ---------------------------------------------------------------------------


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
        "depthwise_conv2d_macs", h_out=h_out, w_out=w_out, kh=kh, kw=kw, c_in=c_in,
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
        "separable_conv2d_macs", h_out=h_out, w_out=w_out, kh=kh, kw=kw, c_in=c_in,
        c_out=c_out, depth_multiplier=depth_multiplier,
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

    Defined in chapter "Pooling".

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


def classic_kernels() -> dict[str, np.ndarray]:
    """Hand-designed 3x3 kernels from image processing, by name.

    Defined in chapter "Convolution".

    Blurs average a neighbourhood, ``sharpen`` adds the difference between a
    pixel and its neighbours back to it, the Sobel kernels respond to
    horizontal and vertical intensity changes, and ``outline`` (a Laplacian)
    responds to any change. Kernels sum to 1 when they keep brightness and
    to 0 when they only detect change.
    """
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    return {
        "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
        "box blur": np.full((3, 3), 1 / 9),
        "Gaussian blur": np.outer([1, 2, 1], [1, 2, 1]) / 16,
        "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
        "Sobel x (vertical edges)": sobel_x,
        "Sobel y (horizontal edges)": sobel_x.T.copy(),
        "outline": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float64),
    }


def translate(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift images ``dy`` pixels down and ``dx`` right, filling with zeros.

    Defined in chapter "Pooling".

    ``images`` has shape ``(H, W)``, ``(N, H, W)`` or ``(N, H, W, C)``; the
    two spatial axes are the first two of ``(H, W)`` and axes 1 and 2
    otherwise. Negative shifts move up or left. Pixels shifted out are lost
    (no wrap-around), as when an object moves in a camera's view.
    """
    images = np.asarray(images)
    if images.ndim not in (2, 3, 4):
        raise ValueError(
            "translate: images must have shape (H, W), (N, H, W) or (N, H, W, C); "
            f"got shape {images.shape}."
        )
    dy = _checks.check_int(dy, "translate", "dy")
    dx = _checks.check_int(dx, "translate", "dx")
    rows, cols = (0, 1) if images.ndim == 2 else (1, 2)
    h, w = images.shape[rows], images.shape[cols]
    out = np.zeros_like(images)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src = [slice(None)] * images.ndim
    dst = [slice(None)] * images.ndim
    src[rows], dst[rows] = slice(max(-dy, 0), h - max(dy, 0)), slice(max(dy, 0), h - max(-dy, 0))
    src[cols], dst[cols] = slice(max(-dx, 0), w - max(dx, 0)), slice(max(dx, 0), w - max(-dx, 0))
    out[tuple(dst)] = images[tuple(src)]
    return out


# ---------------------------------------------------------------------------
# Input checks (private): each error says what was wrong and what was expected
# ---------------------------------------------------------------------------


def _check_sizes(fn: str, **sizes: object) -> list[int]:
    """Check that every size (pixels, channels, kernels) is an integer >= 1; return them."""
    return [_checks.check_int(value, fn, name, low=1) for name, value in sizes.items()]


def _check_bias(bias: object, fn: str) -> None:
    _checks.check_choice(bias, fn, "bias", (True, False))


def _check_padding(padding: object, fn: str, allow_int: bool = True) -> Padding:
    """Return ``padding`` if it is "valid", "same" or (when allowed) an int >= 0."""
    if isinstance(padding, str) or not allow_int:
        return _checks.check_choice(padding, fn, "padding", ("valid", "same"))
    hint = " It may also be 'valid' or 'same'."
    return _checks.check_int(padding, fn, "padding", low=0, hint=hint)


def _sum_dtype(x: np.ndarray, kernel: np.ndarray) -> np.dtype:
    """The dtype sums of products are computed in: int64 for bool and integer inputs."""
    dtype = np.result_type(x, kernel)
    if dtype.kind in "biu":  # int64 (float64 for uint64, which int64 cannot hold)
        return np.result_type(dtype, np.int64)
    return dtype


def _check_not_empty(array: np.ndarray, fn: str, name: str) -> None:
    if array.size == 0:
        raise ValueError(f"{fn}: {name} must not have an empty axis; got shape {array.shape}.")


def _check_window_fits(
    hw: tuple[int, ...], window: tuple[int, int], padding: Padding, fn: str, what: str
) -> None:
    """Raise if a (kh, kw) window is larger than the (padded) (H, W) input."""
    if window[0] > hw[0] or window[1] > hw[1]:
        raise ValueError(
            f"{fn}: {what} must fit in the padded input {tuple(hw)} (padding={padding!r}); "
            f"got {what} {tuple(window)}."
        )


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


def _check_pool_args(
    x: np.ndarray, size: object, stride: object, mode: object, padding: object
) -> None:
    fn = "pool2d"
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{fn}: x must have 2 dims (H, W) or 3 dims (H, W, C); got shape {x.shape}."
        )
    _check_not_empty(x, fn, "x")
    _checks.check_int(size, fn, "size", low=1)
    _checks.check_int(stride, fn, "stride", low=1)
    _checks.check_choice(mode, fn, "mode", ("max", "avg"))
    _check_padding(padding, fn, allow_int=False)
    if padding == "valid":
        _check_window_fits(x.shape[:2], (size, size), padding, fn, "window")


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
