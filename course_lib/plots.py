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


def _augmented_copies(image: np.ndarray, augmentation, n: int, fn: str) -> np.ndarray:
    """``n`` independent draws of ``augmentation`` on one (H, W, C) image, as an (n, H, W, C) array."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"{fn}: expected one image (H, W) or (H, W, C); got shape {image.shape}.")
    if not callable(augmentation):
        raise TypeError(f"{fn}: augmentation must be callable (e.g. augment.pipeline()); got {type(augmentation).__name__}.")
    batch = np.repeat(image[None], n, axis=0)
    return np.asarray(augmentation(batch, training=True))


def show_augmentations(image: np.ndarray, augmentation, n: int = 15, ncols: int = 8, size: float = 1.1) -> plt.Figure:
    """Show one image and ``n`` random draws of ``augmentation`` applied to it.

    Defined in chapter "Data augmentation".

    The first panel is the original; the others are one batch of ``n``
    copies passed through ``augmentation(..., training=True)``, so each
    copy gets its own random transformation.
    """
    if n < 1:
        raise ValueError(f"show_augmentations: n must be at least 1; got {n}.")
    draws = _augmented_copies(image, augmentation, n, "show_augmentations")
    original = np.asarray(image).reshape(draws.shape[1:])
    images = np.concatenate([original[None], draws])
    titles = ["original"] + [f"draw {i + 1}" for i in range(n)]
    return show_images(images, titles=titles, ncols=ncols, size=size)


def show_augmented_classes(
    split: Split, augmentation, draws: int = 7, class_names: Sequence[str] = CLASS_NAMES
) -> plt.Figure:
    """One row per class: its first image in ``split``, then ``draws`` augmented versions.

    Defined in chapter "Data augmentation".
    """
    if draws < 1:
        raise ValueError(f"show_augmented_classes: draws must be at least 1; got {draws}.")
    rows = []
    for label in range(len(class_names)):
        index = np.flatnonzero(split.y == label)
        if len(index) == 0:
            raise ValueError(f"show_augmented_classes: class {label} has no image in {split.name!r}.")
        image = np.asarray(split.x[index[0]])
        copies = _augmented_copies(image, augmentation, draws, "show_augmented_classes")
        rows.append(np.concatenate([image.reshape(copies.shape[1:])[None], copies]))
    fig = show_images(np.concatenate(rows), ncols=draws + 1, size=0.9)
    for label, ax in enumerate(fig.axes[:: draws + 1]):
        ax.text(-4, 14, class_names[label], ha="right", va="center", fontsize=9)
    fig.axes[0].set_title("original", fontsize=8)
    fig.subplots_adjust(left=0.2)
    return fig


def plot_mean_std(
    summary,
    x: str,
    group: str,
    mean: str = "mean",
    std: str = "std",
    logx: bool = True,
    ylabel: str | None = None,
) -> plt.Figure:
    """Plot ``mean`` against ``x`` with +-``std`` error bars, one line per value of ``group``.

    Defined in chapter "Data augmentation".

    ``summary`` is a pandas DataFrame with (at least) the columns ``x``,
    ``group``, ``mean`` and ``std`` (``std`` may be NaN for a single run).
    """
    missing = [c for c in (x, group, mean, std) if c not in summary.columns]
    if missing:
        raise ValueError(f"plot_mean_std: summary has no column(s) {missing}; it has {list(summary.columns)}.")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, rows in summary.groupby(group, sort=False):
        rows = rows.sort_values(x)
        ax.errorbar(rows[x], rows[mean], yerr=rows[std].fillna(0), marker="o", capsize=4, label=str(label))
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=x, ylabel=ylabel or mean)
    ax.grid(True, which="both", alpha=0.4)
    ax.legend(title=group)
    return fig


def plot_train_val_gap(histories: dict, metric: str = "accuracy", ylim: tuple[float, float] | None = None) -> plt.Figure:
    """Training (dashed) and validation (solid) ``metric`` of several runs, one colour per run.

    Defined in chapter "Data augmentation".

    The vertical distance between a run's two lines is its generalization gap.
    """
    if not histories:
        raise ValueError("plot_train_val_gap: no runs given.")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (label, history) in enumerate(histories.items()):
        logs = getattr(history, "history", history)
        for key in (metric, f"val_{metric}"):
            if key not in logs:
                raise ValueError(f"plot_train_val_gap: run {label!r} has no {key!r}; train it with validation data.")
        epochs = range(1, len(logs[metric]) + 1)
        colour = f"C{i}"
        ax.plot(epochs, logs[metric], "--", color=colour, label=f"{label}: training")
        ax.plot(epochs, logs[f"val_{metric}"], "-", marker="o", markersize=3, color=colour, label=f"{label}: validation")
    ax.set(xlabel="epoch", ylabel=metric)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(True)
    ax.legend()
    return fig


def plot_tradeoffs(results, y: str, xs: Sequence[str], title: str | None = None) -> plt.Figure:
    """Plot one metric against several costs, one panel per cost, one labelled point per model.

    Defined in chapter "Depthwise separable convolution".

    ``results`` is a pandas ``DataFrame`` with one row per model (the index
    names the points) and the columns ``y`` (e.g. ``"test accuracy"``) and
    every name in ``xs`` (e.g. ``"parameters"``, ``"inference ms/image"``).
    """
    missing = [name for name in (y, *xs) if name not in results.columns]
    if missing:
        raise ValueError(f"plot_tradeoffs: results has no column(s) {missing}; its columns are {list(results.columns)}.")
    if len(results) == 0:
        raise ValueError("plot_tradeoffs: results has no rows; expected one row per model.")
    fig, axes = plt.subplots(1, len(xs), figsize=(4.2 * len(xs), 3.6), squeeze=False)
    for ax, x in zip(axes[0], xs):
        ax.scatter(results[x], results[y], s=40)
        for label, row in results.iterrows():
            ax.annotate(str(label), (row[x], row[y]), textcoords="offset points", xytext=(5, 4), fontsize=9)
        ax.set(xlabel=x, ylabel=y)
        ax.grid(True, alpha=0.4)
        ax.margins(x=0.25, y=0.15)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_labels(summary, title: str | None = None, chance: float | None = None) -> plt.Figure:
    """Plot mean test accuracy against the number of labels, one line per method, with ±1 std bars.

    Defined in chapter "Transfer learning".

    ``summary`` is the table ``transfer.summarize_runs`` returns: indexed by
    the number of labels, columns ``(method, "mean")`` and ``(method, "std")``.
    ``chance`` draws the accuracy of guessing as a dashed line.
    """
    columns = getattr(summary, "columns", None)
    if columns is None or getattr(columns, "nlevels", 1) != 2:
        raise ValueError("plot_accuracy_vs_labels: expected the table of transfer.summarize_runs, with (method, statistic) columns.")
    methods = list(dict.fromkeys(m for m, _ in columns))
    if not methods or any((m, "mean") not in columns for m in methods):
        raise ValueError("plot_accuracy_vs_labels: every method needs a 'mean' column.")
    labels = np.asarray(summary.index, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in methods:
        mean = summary[(method, "mean")].to_numpy(dtype=float)
        std = summary[(method, "std")].to_numpy(dtype=float) if (method, "std") in columns else None
        std = None if std is None or np.isnan(std).all() else np.nan_to_num(std)
        ax.errorbar(labels, mean, yerr=std, marker="o", capsize=4, label=method)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle="--", linewidth=1, label="chance")
    if len(labels) > 1:
        ax.set_xscale("log")
    ax.set_xticks(labels, [f"{n:g}" for n in labels])
    ax.minorticks_off()
    ax.set(xlabel="labelled target examples", ylabel="test accuracy", title=title or "")
    ax.grid(True, alpha=0.4)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_search_progress(progress: dict) -> plt.Figure:
    """Best validation accuracy found so far, against trials and against wall time.

    Defined in chapter "Architecture search with Keras Tuner".

    ``progress`` maps a tuner's name to its ``tuning.best_so_far`` frame.
    """
    fig, (by_trial, by_time) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for name, frame in progress.items():
        by_trial.step(frame["trial"], frame["best_val_accuracy"], where="post", marker="o", label=name)
        by_time.step(frame["seconds"] / 60, frame["best_val_accuracy"], where="post", marker="o", label=name)
    by_trial.set(xlabel="trials", ylabel="best validation accuracy so far")
    by_time.set(xlabel="wall time of the trials (minutes)")
    by_trial.legend()
    for ax in (by_trial, by_time):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_pareto(frame, front, budget: int | None = None) -> plt.Figure:
    """Validation accuracy against parameters for every trial, with the Pareto front.

    Defined in chapter "Architecture search with Keras Tuner".

    ``frame`` holds the trials (columns ``params``, ``val_accuracy`` and
    optionally ``tuner``); ``front`` its ``tuning.pareto_front``; ``budget`` draws
    a vertical line at the parameter budget.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4))
    groups = frame.groupby("tuner") if "tuner" in frame.columns else [("trials", frame)]
    for name, group in groups:
        ax.scatter(group["params"], group["val_accuracy"], label=name, alpha=0.7)
    ax.step(front["params"], front["val_accuracy"], where="post", color="black", label="Pareto front")
    if budget is not None:
        ax.axvline(budget, color="grey", linestyle="--", label=f"budget ({budget:,})")
    ax.set(xscale="log", xlabel="parameters", ylabel="validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
