"""Max and average pooling in NumPy.

Defined in chapter "Pooling". Written to be read, not to be fast; the results
match ``keras.ops.max_pool`` and ``keras.ops.average_pool``, including
``padding="same"``.
"""

from __future__ import annotations

import numpy as np

from course_lib import _checks
from course_lib.ops._validate import _check_not_empty, _check_padding, _check_window_fits
from course_lib.ops.convolution import _pad_amounts, output_size

__all__ = [
    "pool2d",
]


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
