"""Figures the chapters share: image grids and learning curves.

Defined in chapter "Setup and data" (image grids).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from course_lib.data import CLASS_NAMES, Split


def show_images(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 10,
    size: float = 1.2,
    cmap: str = "gray_r",
) -> plt.Figure:
    """Show images (N, H, W) or (N, H, W, 1) in a grid, optionally titled.

    Returns the figure, so a caller can save or adjust it.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"show_images: expected images of shape (N, H, W) or (N, H, W, 1); got {images.shape}.")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"show_images: {len(images)} images but {len(titles)} titles.")
    ncols = max(1, min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def show_classes(split: Split, per_class: int = 8, class_names: Sequence[str] = CLASS_NAMES) -> plt.Figure:
    """Show the first ``per_class`` images of every class, one row per class."""
    rows = []
    for label in range(len(class_names)):
        index = np.flatnonzero(split.y == label)[:per_class]
        if len(index) < per_class:
            raise ValueError(f"show_classes: class {label} has only {len(index)} images in {split.name!r}.")
        rows.append(index)
    order = np.concatenate(rows)
    fig = show_images(split.x[order], ncols=per_class, size=0.9)
    for label, ax in enumerate(fig.axes[::per_class]):
        ax.text(-4, 14, class_names[label], ha="right", va="center", fontsize=9)
    fig.subplots_adjust(left=0.2)
    return fig


def _draw_grid(ax: plt.Axes, values: np.ndarray, title: str, shade: np.ndarray | None = None) -> None:
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
    x: np.ndarray, kernel: np.ndarray, output: np.ndarray, positions: Sequence[tuple[int, int]], stride: int = 1
) -> plt.Figure:
    """Show a kernel sliding over ``x``: one row per output position.

    Each row shades the input window, shows the kernel, and the output filled
    up to that position. ``output`` is the finished result (e.g. ``conv2d(x, kernel)``).
    """
    kh, kw = kernel.shape
    fig, axes = plt.subplots(len(positions), 3, figsize=(7.5, 2.6 * len(positions)), squeeze=False)
    order = [(i, j) for i in range(output.shape[0]) for j in range(output.shape[1])]
    for row, (i, j) in zip(axes, positions):
        shade = np.zeros(x.shape)
        shade[i * stride : i * stride + kh, j * stride : j * stride + kw] = 1
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


def show_kernels(kernels: np.ndarray, ncols: int = 8) -> plt.Figure:
    """Show the first-layer kernels of a Conv2D, shape (kh, kw, 1, n), one image each.

    Each kernel gets its own symmetric colour scale: red positive, blue negative.
    """
    kernels = np.asarray(kernels)
    if kernels.ndim != 4 or kernels.shape[2] != 1:
        raise ValueError(f"show_kernels: expected a (kh, kw, 1, n) kernel; got shape {kernels.shape}.")
    n = kernels.shape[-1]
    ncols = min(ncols, n)
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


def show_feature_maps(maps: np.ndarray, ncols: int = 8, size: float = 1.1) -> plt.Figure:
    """Show the channels of one feature map of shape (H, W, C), one image each."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"show_feature_maps: expected one feature map (H, W, C); got shape {maps.shape}.")
    return show_images(np.moveaxis(maps, -1, 0), ncols=ncols, size=size, cmap="viridis")
