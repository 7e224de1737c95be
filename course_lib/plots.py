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


def plot_pooling(x: np.ndarray, outputs: dict[str, np.ndarray], size: int = 2, stride: int | None = None) -> plt.Figure:
    """Show the pooling windows on ``x`` (one shade each) next to pooled outputs.

    ``outputs`` maps a title (e.g. ``"max"``) to a pooled array of ``x``
    computed with the same ``size`` and ``stride`` and "valid" padding.
    """
    stride = stride or size
    first = next(iter(outputs.values()))
    shade = np.zeros(x.shape)
    for i in range(first.shape[0]):
        for j in range(first.shape[1]):
            shade[i * stride : i * stride + size, j * stride : j * stride + size] = 0.3 + 0.9 * ((i + j) % 2)
    fig, axes = plt.subplots(1, 1 + len(outputs), figsize=(2.6 * (1 + len(outputs)), 2.8))
    _draw_grid(axes[0], x, f"input, {size}x{size} windows, stride {stride}", shade)
    for ax, (title, out) in zip(axes[1:], outputs.items()):
        cells = np.array([[0.3 + 0.9 * ((i + j) % 2) for j in range(out.shape[1])] for i in range(out.shape[0])])
        _draw_grid(ax, out, title, cells)
    fig.tight_layout()
    return fig


def plot_learning_curves(history, ylim: tuple[float, float] | None = (0, 3), title: str | None = None) -> plt.Figure:
    """Plot every metric of a Keras ``History`` against the epoch, as the notes do.

    Defined in chapter "A CNN classifier".

    ``history`` is what ``fit`` returns (or its ``.history`` dictionary).
    Epochs are numbered from 1 on the x axis.
    """
    import pandas as pd

    logs = getattr(history, "history", history)
    frame = pd.DataFrame(logs)
    if frame.empty:
        raise ValueError("plot_learning_curves: the history holds no epochs; train first.")
    frame.index = range(1, len(frame) + 1)
    ax = frame.plot(figsize=(8, 5), marker="o", markersize=3)
    ax.grid(True)
    ax.set(xlabel="epoch", title=title or "")
    if ylim is not None:
        ax.set_ylim(*ylim)
    return ax.figure


def compare_learning_curves(histories: dict, metric: str = "val_accuracy", ylim: tuple[float, float] | None = None) -> plt.Figure:
    """Plot one metric of several runs, one line per run, to compare trainings.

    Defined in chapter "A CNN classifier".
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, history in histories.items():
        values = getattr(history, "history", history).get(metric)
        if values is None:
            raise ValueError(f"compare_learning_curves: run {label!r} has no metric {metric!r}.")
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
    ax.set(xlabel="epoch", ylabel=metric)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(True)
    ax.legend()
    return fig


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = len(CLASS_NAMES)) -> np.ndarray:
    """Count matrix ``m[i, j]``: examples of true class ``i`` predicted as ``j``.

    Defined in chapter "A CNN classifier".
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"confusion_matrix: expected two label vectors of equal length; got {y_true.shape} and {y_pred.shape}.")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def plot_confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str] = CLASS_NAMES, normalize: bool = True
) -> plt.Figure:
    """Show the confusion matrix; rows are true classes, normalized to sum to 1.

    Defined in chapter "A CNN classifier".
    """
    matrix = confusion_matrix(y_true, y_pred, len(class_names)).astype(float)
    if normalize:
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(matrix, cmap="Blues")
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            value = matrix[i, j]
            if value:
                text = f"{value:.2f}" if normalize else f"{value:.0f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if value > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set(xlabel="predicted", ylabel="true")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def show_misclassified(
    split: Split, y_pred: np.ndarray, n: int = 20, class_names: Sequence[str] = CLASS_NAMES, ncols: int = 10
) -> plt.Figure:
    """Show the first ``n`` misclassified images, titled "true / predicted".

    Defined in chapter "A CNN classifier".
    """
    y_pred = np.asarray(y_pred)
    if y_pred.shape != split.y.shape:
        raise ValueError(f"show_misclassified: {len(y_pred)} predictions for a split of {len(split)} images.")
    wrong = np.flatnonzero(y_pred != split.y)[:n]
    if len(wrong) == 0:
        raise ValueError("show_misclassified: no misclassified images in this split.")
    titles = [f"{class_names[split.y[i]]}\n/ {class_names[y_pred[i]]}" for i in wrong]
    return show_images(split.x[wrong], titles=titles, ncols=ncols, size=1.3)
