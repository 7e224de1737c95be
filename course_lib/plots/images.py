"""Figures of images and of the operations on them: grids, kernels, feature maps, windows.

Defined in chapter "Setup and data" (image grids), "Convolution" (kernels,
feature maps, the sliding window) and "Pooling".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from course_lib import _checks
from course_lib.data import CLASS_NAMES, Split

__all__ = [
    "show_images",
    "show_classes",
    "plot_sliding_window",
    "show_kernels",
    "show_feature_maps",
    "plot_pooling",
]


def show_images(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 10,
    size: float = 1.2,
    cmap: str = "gray_r",
) -> plt.Figure:
    """Show images (N, H, W) or (N, H, W, 1) in a grid, optionally titled.

    Defined in chapter "Setup and data".

    Returns the figure, so a caller can save or adjust it.

    Raises
    ------
    ValueError
        If the images have the wrong shape, or there is not one title per image.
    """
    fn = "show_images"
    images = _image_batch(images, fn)
    if titles is not None and len(titles) != len(images):
        raise ValueError(
            f"{fn}: {len(images)} images but {len(titles)} titles; pass one title per image."
        )
    ncols = min(_checks.check_int(ncols, fn, "ncols", low=1), len(images))
    size = _checks.check_real(size, fn, "size", low=0, low_open=True)
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def show_classes(split: Split, per_class: int = 8) -> plt.Figure:
    """Show the first ``per_class`` images of every class, one row per class.

    Defined in chapter "Setup and data".

    Raises
    ------
    ValueError
        If a class has fewer than ``per_class`` images in ``split``.
    """
    fn = "show_classes"
    split = _checks.check_split(split, fn, "split", class_labels=True)
    per_class = _checks.check_int(per_class, fn, "per_class", low=1)
    rows = []
    for label in range(len(CLASS_NAMES)):
        index = np.flatnonzero(split.y == label)[:per_class]
        if len(index) < per_class:
            raise ValueError(
                f"{fn}: class {label} has only {len(index)} images in {split.name!r}; "
                f"per_class must be at most {len(index)}."
            )
        rows.append(index)
    order = np.concatenate(rows)
    fig = show_images(split.x[order], ncols=per_class, size=0.9)
    for label, ax in enumerate(fig.axes[::per_class]):
        ax.text(-4, 14, CLASS_NAMES[label], ha="right", va="center", fontsize=9)
    fig.subplots_adjust(left=0.2)
    return fig


def _draw_grid(
    ax: plt.Axes, values: np.ndarray, title: str, shade: np.ndarray | None = None
) -> None:
    """Draw a small integer matrix as a table of numbers, shading selected cells."""
    h, w = values.shape
    ax.imshow(np.zeros((h, w)) if shade is None else shade, cmap="Blues", vmin=0, vmax=1.5)
    for i in range(h):
        for j in range(w):
            text = "" if np.ma.is_masked(values[i, j]) else f"{values[i, j]:g}"
            ax.text(j, i, text, ha="center", va="center", fontsize=10)
    ax.set_xticks(np.arange(-0.5, w), minor=True)
    ax.set_yticks(np.arange(-0.5, h), minor=True)
    ax.grid(which="minor", color="gray", linewidth=0.8)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(title, fontsize=10)


def plot_sliding_window(
    x: np.ndarray, kernel: np.ndarray, output: np.ndarray, positions: Sequence[tuple[int, int]]
) -> plt.Figure:
    """Show a kernel sliding over ``x`` (stride 1): one row per output position.

    Defined in chapter "Convolution".

    Each row shades the input window, shows the kernel, and the output filled
    up to that position. ``output`` is the finished result (e.g. ``conv2d(x, kernel)``).

    Raises
    ------
    ValueError
        If an array is not 2-D, or a position lies outside ``output``.
    """
    fn = "plot_sliding_window"
    x, kernel, output = np.asarray(x), np.asarray(kernel), np.asarray(output)
    for name, array in (("x", x), ("kernel", kernel), ("output", output)):
        if array.ndim != 2:
            raise ValueError(f"{fn}: {name} must be a 2-D array; got shape {array.shape}.")
    for i, j in positions:
        if not (0 <= i < output.shape[0] and 0 <= j < output.shape[1]):
            raise ValueError(
                f"{fn}: positions must lie inside the output of shape {output.shape}; "
                f"got ({i}, {j})."
            )
    kh, kw = kernel.shape
    fig, axes = plt.subplots(len(positions), 3, figsize=(7.5, 2.6 * len(positions)), squeeze=False)
    order = [(i, j) for i in range(output.shape[0]) for j in range(output.shape[1])]
    for row, (i, j) in zip(axes, positions):
        shade = np.zeros(x.shape)
        shade[i : i + kh, j : j + kw] = 1
        _draw_grid(row[0], x, f"input, window at ({i}, {j})", shade)
        _draw_grid(row[1], kernel, "kernel")
        done = np.ma.masked_all(output.shape)
        for a, b in order[: order.index((i, j)) + 1]:
            done[a, b] = output[a, b]
        cell = np.zeros(output.shape)
        cell[i, j] = 1
        _draw_grid(row[2], done, f"output[{i}, {j}] = {output[i, j]:g}", cell)
    fig.tight_layout()
    return fig


def show_kernels(kernels: np.ndarray) -> plt.Figure:
    """Show the first-layer kernels of a Conv2D, shape (kh, kw, 1, n), eight per row.

    Defined in chapter "Convolution".

    Each kernel gets its own symmetric colour scale: red positive, blue negative.
    """
    kernels = np.asarray(kernels)
    if kernels.ndim != 4 or kernels.shape[2] != 1:
        raise ValueError(
            f"show_kernels: kernels must have shape (kh, kw, 1, n); got {kernels.shape}."
        )
    n = kernels.shape[-1]
    ncols = min(8, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.1, nrows * 1.1), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            w = kernels[:, :, 0, k]
            limit = float(np.abs(w).max()) or 1.0
            ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.tight_layout()
    return fig


def show_feature_maps(maps: np.ndarray) -> plt.Figure:
    """Show the channels of one feature map of shape (H, W, C), eight per row.

    Defined in chapter "Convolution".
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(
            f"show_feature_maps: maps must be one feature map (H, W, C); got shape {maps.shape}."
        )
    return show_images(np.moveaxis(maps, -1, 0), ncols=8, size=1.1, cmap="viridis")


def plot_pooling(x: np.ndarray, outputs: Mapping[str, np.ndarray]) -> plt.Figure:
    """Show the 2x2 pooling windows (stride 2) on ``x``, one shade each, next to pooled outputs.

    Defined in chapter "Pooling".

    ``outputs`` maps a title (e.g. ``"max"``) to a pooled array of ``x``
    computed with 2x2 windows, stride 2 and "valid" padding.

    Raises
    ------
    TypeError
        If ``outputs`` is not a mapping.
    ValueError
        If ``outputs`` is empty, or an output does not have the pooled shape of ``x``.
    """
    fn = "plot_pooling"
    size = 2
    x = np.asarray(x)
    if not isinstance(outputs, Mapping):
        raise TypeError(
            f"{fn}: outputs must map a title to a pooled array, e.g. {{'max': pool2d(x, 2)}}; "
            f"got {type(outputs).__name__}."
        )
    if not outputs:
        raise ValueError(
            f"{fn}: outputs must map at least one title to a pooled array, e.g. "
            "{'max': pool2d(x, 2)}; got an empty mapping."
        )
    if x.ndim != 2:
        raise ValueError(f"{fn}: x must be a 2-D array; got shape {x.shape}.")
    pooled = ((x.shape[0] - size) // size + 1, (x.shape[1] - size) // size + 1)
    for title, out in outputs.items():
        if np.shape(out) != pooled:
            raise ValueError(
                f"{fn}: output {title!r} must have the shape {pooled} of x pooled with 2x2 windows "
                f"and stride 2; got {np.shape(out)}."
            )
    checker = np.add.outer(np.arange(pooled[0]), np.arange(pooled[1])) % 2
    cells = 0.3 + 0.9 * checker
    shade = np.zeros(x.shape)
    for i in range(pooled[0]):
        for j in range(pooled[1]):
            shade[i * size : i * size + size, j * size : j * size + size] = cells[i, j]
    fig, axes = plt.subplots(1, 1 + len(outputs), figsize=(2.6 * (1 + len(outputs)), 2.8))
    _draw_grid(axes[0], x, f"input, {size}x{size} windows, stride {size}", shade)
    for ax, (title, out) in zip(axes[1:], outputs.items()):
        _draw_grid(ax, np.asarray(out), title, cells)
    fig.tight_layout()
    return fig


def _image_batch(images: np.ndarray, fn: str) -> np.ndarray:
    """``images`` as an (N, H, W) array, N >= 1; (N, H, W, 1) loses its channel axis."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(
            f"{fn}: images must have shape (N, H, W) or (N, H, W, 1) with N >= 1; "
            f"got {images.shape}."
        )
    return images
