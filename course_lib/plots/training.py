"""Figures of training runs and their results: curves, comparisons, errors, searches.

Defined in chapter "A CNN classifier" (learning curves, confusion matrix,
misclassified images); the later chapters add their comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from course_lib import _checks, metrics
from course_lib.data import CLASS_NAMES, NUM_CLASSES, Split
from course_lib.plots.images import show_images

__all__ = [
    "plot_learning_curves",
    "compare_learning_curves",
    "plot_confusion_matrix",
    "show_misclassified",
    "plot_seed_spread",
    "plot_accuracy_against_time",
    "plot_train_val_gap",
    "plot_tradeoffs",
    "plot_accuracy_vs_labels",
    "plot_paired_seeds",
    "plot_search_progress",
    "plot_pareto",
    "plot_hyperparameter_effects",
]


def _logs(history: object) -> Mapping[str, Sequence[float]]:
    """The per-epoch metrics of a Keras ``History`` (or of its ``.history`` dictionary)."""
    return getattr(history, "history", history)


def _check_columns(frame: object, fn: str, name: str, columns: Sequence[str]) -> None:
    """Raise unless ``frame`` is a DataFrame with all of ``columns``."""
    have = getattr(frame, "columns", None)
    if have is None:
        raise TypeError(f"{fn}: {name} must be a pandas DataFrame; got {type(frame).__name__}.")
    missing = [c for c in columns if c not in have]
    if missing:
        raise ValueError(f"{fn}: {name} has no column(s) {missing}; it has {list(have)}.")


_CURVE_NAMES = {"loss": "training loss", "val_loss": "validation loss"}


def _curve_name(key: str) -> str:
    """A readable legend name for a Keras history key: "val_accuracy" -> "validation accuracy"."""
    if key in _CURVE_NAMES:
        return _CURVE_NAMES[key]
    if key.startswith("val_"):
        return "validation " + key[4:].replace("_", " ")
    return "training " + key.replace("_", " ")


def plot_learning_curves(
    history: object,
    ylim: tuple[float, float] | None = (0, 3),
    title: str | None = None,
    panels: bool = False,
    chance: float | None = None,
) -> plt.Figure:
    """Plot every metric of a Keras ``History`` against the epoch, as the notes do.

    Defined in chapter "A CNN classifier".

    ``history`` is what ``fit`` returns (or its ``.history`` dictionary).
    Epochs are numbered from 1 on the x axis.

    Parameters
    ----------
    history : keras.callbacks.History or dict
        Per-epoch metrics.
    ylim : (float, float) or None, default (0, 3)
        Limits of the y axis (one panel only).
    title : str, optional
        Title of the figure.
    panels : bool, default False
        Two panels instead of one: the losses on the left, the other metrics
        (accuracies) on the right from 0 to 1, with readable legend names
        ("validation accuracy"). ``ylim`` is then ignored.
    chance : float, optional
        With ``panels``: a dashed line on the loss panel at this value (the
        loss of uniform predictions, ``ln K`` for K classes).
    """
    import pandas as pd

    fn = "plot_learning_curves"
    frame = pd.DataFrame(_logs(history))
    if frame.empty:
        raise ValueError(f"{fn}: the history holds no epochs; train first.")
    _checks.check_choice(panels, fn, "panels", (True, False))
    frame.index = range(1, len(frame) + 1)
    if not panels:
        ax = frame.plot(figsize=(8, 5), marker="o", markersize=3)
        ax.grid(True)
        ax.set(xlabel="epoch", title=title or "")
        if ylim is not None:
            ax.set_ylim(*ylim)
        return ax.figure
    losses = [c for c in frame.columns if c.endswith("loss")]
    others = [c for c in frame.columns if c not in losses]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    for ax, columns, label in [(axes[0], losses, "loss"), (axes[1], others, "accuracy")]:
        if columns:
            frame[columns].rename(columns=_curve_name).plot(ax=ax, marker="o", markersize=3)
        ax.set(xlabel="epoch", ylabel=label)
        ax.grid(True)
    if chance is not None:
        chance = _checks.check_real(chance, fn, "chance", low=0)
        axes[0].axhline(chance, color="gray", lw=0.8, ls="--", label=f"chance ({chance:.4g})")
        axes[0].legend()
    axes[1].set_ylim(0, 1)
    fig.suptitle(title or "")
    return fig


def compare_learning_curves(
    histories: Mapping[str, object],
    metric: str = "val_accuracy",
    ylim: tuple[float, float] | None = None,
) -> plt.Figure:
    """Plot one metric of several runs, one line per run, to compare trainings.

    Defined in chapter "A CNN classifier".
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, history in histories.items():
        values = _logs(history).get(metric)
        if values is None:
            raise ValueError(f"compare_learning_curves: run {label!r} has no metric {metric!r}.")
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
    ax.set(xlabel="epoch", ylabel=metric)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(True)
    ax.legend()
    return fig


def plot_confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> plt.Figure:
    """Show the confusion matrix of the ten classes; rows (true classes) sum to 1.

    Defined in chapter "A CNN classifier".

    The counts come from ``metrics.confusion_matrix``, which also checks the labels.
    """
    matrix = metrics.confusion_matrix(y_true, y_pred, NUM_CLASSES).astype(float)
    matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(matrix, cmap="Blues")
    for i in range(NUM_CLASSES):
        for j in range(NUM_CLASSES):
            value = matrix[i, j]
            if value:
                colour = "white" if value > matrix.max() / 2 else "black"
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(NUM_CLASSES), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(NUM_CLASSES), CLASS_NAMES)
    ax.set(xlabel="predicted", ylabel="true")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def show_misclassified(split: Split, y_pred: np.ndarray, n: int = 20) -> plt.Figure:
    """Show the first ``n`` misclassified images, titled "true / predicted", ten per row.

    Defined in chapter "A CNN classifier".

    Raises
    ------
    ValueError
        If ``y_pred`` is not one predicted class per image of ``split`` (e.g.
        class probabilities), or nothing is misclassified.
    """
    fn = "show_misclassified"
    split = _checks.check_split(split, fn, "split", class_labels=True)
    n = _checks.check_int(n, fn, "n", low=1)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim != 1:
        raise ValueError(
            f"{fn}: y_pred has shape {y_pred.shape}; expected one predicted class per image "
            "(use argmax(axis=1))."
        )
    if len(y_pred) != len(split):
        raise ValueError(
            f"{fn}: y_pred has {len(y_pred)} predictions but split {split.name!r} has "
            f"{len(split)} images; expected one predicted class per image."
        )
    wrong = np.flatnonzero(y_pred != split.y)[:n]
    if len(wrong) == 0:
        raise ValueError(f"{fn}: no misclassified images in split {split.name!r}.")
    titles = [f"{CLASS_NAMES[split.y[i]]}\n/ {CLASS_NAMES[y_pred[i]]}" for i in wrong]
    return show_images(split.x[wrong], titles=titles, ncols=10, size=1.3)


def plot_seed_spread(
    runs: object,
    x: str,
    y: str,
    group: str,
    panel: str | None = None,
    ylabel: str | None = None,
) -> plt.Figure:
    """Every run of a seeded experiment as a dot, and per ``x`` the mean +- std, per ``group``.

    Defined in chapter "Data augmentation".

    ``runs`` is a tidy pandas DataFrame, one row per run (as
    ``experiments.run`` returns), with the columns ``x``, ``y`` and
    ``group`` (and ``panel``, when given: one panel per value, sharing the
    y axis). The x axis is logarithmic; the groups are drawn side by side
    around each ``x`` so that their dots do not hide each other.
    """
    fn = "plot_seed_spread"
    _check_columns(runs, fn, "runs", [c for c in (x, y, group, panel) if c is not None])
    if len(runs) == 0:
        raise ValueError(f"{fn}: runs is empty; pass one row per run.")
    panels = list(dict.fromkeys(runs[panel])) if panel is not None else [None]
    groups = list(dict.fromkeys(runs[group]))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.5 * len(panels), 4.2), sharey=True, squeeze=False
    )
    for ax, value in zip(axes[0], panels):
        rows = runs if value is None else runs[runs[panel] == value]
        for i, name in enumerate(groups):
            mine = rows[rows[group] == name]
            # a factor on a log axis: the same visual offset at every x
            shift = 1.0 + 0.08 * (i - (len(groups) - 1) / 2)
            ax.scatter(mine[x] * shift, mine[y], color=f"C{i}", s=12, alpha=0.5)
            stats = mine.groupby(x)[y].agg(["mean", "std"])
            ax.errorbar(
                stats.index * shift,
                stats["mean"],
                yerr=stats["std"].fillna(0),
                color=f"C{i}",
                marker="o",
                capsize=4,
                label=f"{name} (mean ± std)",
            )
        ax.set_xscale("log")
        ax.set_xlabel(f"{x} (log scale)")
        if value is not None:
            shown = f"{value:,}" if isinstance(value, (int, np.integer)) else str(value)
            ax.set_title(f"{panel}: {shown}")
        ax.grid(True, which="both", alpha=0.4)
    axes[0][0].set_ylabel(ylabel or f"{y} (dots: seeds)")
    axes[0][0].legend()
    return fig


def plot_accuracy_against_time(
    curves: Mapping[str, tuple[object, object]],
    ylabel: str = "validation accuracy",
    title: str | None = None,
) -> plt.Figure:
    """Accuracy after each epoch against the minutes trained so far, one line per recipe.

    Defined in chapter "A CNN classifier".

    ``curves`` maps a recipe's name to ``(minutes, accuracy)``, two arrays of
    the same shape: ``(epochs,)`` for one run, or ``(seeds, epochs)`` for
    several seeds. A point is the mean over seeds of both coordinates, with
    an error bar of one standard deviation of the accuracy; the legend says
    which recipes are one run. The left panel shows the whole range (0 to 1),
    the right one zooms on the best final accuracies.
    """
    fn = "plot_accuracy_against_time"
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError(
            f"{fn}: curves must be a non-empty mapping name -> (minutes, accuracy); "
            f"got {curves!r:.80}."
        )
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
    finals = []
    for i, (name, pair) in enumerate(curves.items()):
        if not (isinstance(pair, Sequence) and len(pair) == 2):
            raise TypeError(f"{fn}: curves[{name!r}] must be a pair (minutes, accuracy).")
        minutes, accuracy = (np.atleast_2d(np.asarray(a, dtype=float)) for a in pair)
        if minutes.shape != accuracy.shape or minutes.ndim != 2 or minutes.size == 0:
            raise ValueError(
                f"{fn}: curves[{name!r}] has minutes of shape {np.shape(pair[0])} and "
                f"accuracy of shape {np.shape(pair[1])}; they must match, (epochs,) for "
                "one run or (seeds, epochs)."
            )
        seeds = len(accuracy)
        spread = accuracy.std(axis=0, ddof=1) if seeds > 1 else None
        label = f"{name} (one run)" if seeds == 1 else f"{name} (mean of {seeds} seeds ± std)"
        for ax in axes:
            ax.errorbar(
                minutes.mean(axis=0),
                accuracy.mean(axis=0),
                yerr=spread,
                color=f"C{i}",
                marker="os^Dv<>ph*"[i % 10],
                capsize=3,
                label=label,
            )
        finals.append(accuracy.mean(axis=0)[-1])
    for ax in axes:
        ax.set(xlabel="training minutes (validation included)", ylabel=ylabel)
        ax.grid(True, alpha=0.4)
    axes[0].set(ylim=(0, 1), title="the whole range")
    low, high = min(finals), max(finals)
    axes[1].set(
        ylim=(max(0.0, low - 0.05), min(1.0, high + 0.02)), title="zoomed on the best accuracies"
    )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2)
    if title:
        fig.suptitle(title)
    return fig


def plot_train_val_gap(
    histories: Mapping[str, object], ylim: tuple[float, float] | None = None
) -> plt.Figure:
    """Training (dashed) and validation (solid) accuracy of several runs, one colour per run.

    Defined in chapter "Data augmentation".

    The vertical distance between a run's two lines is its generalization gap.
    """
    fn = "plot_train_val_gap"
    if not histories:
        raise ValueError(f"{fn}: no runs given; pass {{name: history}} of at least one run.")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (label, history) in enumerate(histories.items()):
        logs = _logs(history)
        for key in ("accuracy", "val_accuracy"):
            if key not in logs:
                raise ValueError(
                    f"{fn}: run {label!r} has no {key!r}; train it with validation data."
                )
        epochs = range(1, len(logs["accuracy"]) + 1)
        colour = f"C{i}"
        ax.plot(epochs, logs["accuracy"], "--", color=colour, label=f"{label}: training")
        ax.plot(
            epochs,
            logs["val_accuracy"],
            "-",
            marker="o",
            markersize=3,
            color=colour,
            label=f"{label}: validation",
        )
    ax.set(xlabel="epoch", ylabel="accuracy")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(True)
    ax.legend()
    return fig


def plot_tradeoffs(
    results: object,
    y: str,
    xs: Sequence[str],
    title: str | None = None,
    interval: tuple[str, str] | None = None,
    x_intervals: Mapping[str, tuple[str, str]] | None = None,
) -> plt.Figure:
    """Plot one metric against several costs, one panel per cost, one labelled point per model.

    Defined in chapter "Depthwise separable convolution".

    ``results`` is a pandas ``DataFrame`` with one row per model (the index
    names the points) and the columns ``y`` (e.g. ``"validation accuracy"``)
    and every name in ``xs`` (e.g. ``"parameters"``, ``"inference ms/image"``).
    ``interval``, a pair of column names such as ``("ci_low", "ci_high")``,
    draws a vertical bar from one to the other through each point (the
    spread of ``y`` over seeds, say). ``x_intervals`` does the same
    horizontally for some of the costs: it maps a name in ``xs`` to a pair of
    columns, e.g. ``{"ms/image": ("ms low", "ms high")}`` for the range of
    repeated timings.
    """
    fn = "plot_tradeoffs"
    if interval is not None and (
        not isinstance(interval, tuple)
        or len(interval) != 2
        or not all(isinstance(c, str) for c in interval)
    ):
        raise TypeError(
            f"{fn}: interval must be a pair of column names, as ('ci_low', 'ci_high'); "
            f"got {interval!r}."
        )
    if x_intervals is None:
        x_intervals = {}
    if not isinstance(x_intervals, Mapping) or not all(
        isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(c, str) for c in pair)
        for pair in x_intervals.values()
    ):
        raise TypeError(
            f"{fn}: x_intervals must map a cost to a pair of column names, as "
            f"{{'ms': ('ms_low', 'ms_high')}}; got {x_intervals!r}."
        )
    unknown = [x for x in x_intervals if x not in xs]
    if unknown:
        raise ValueError(f"{fn}: x_intervals names costs not in xs: {unknown}; xs is {list(xs)}.")
    x_bounds = [c for pair in x_intervals.values() for c in pair]
    _check_columns(results, fn, "results", (y, *xs, *(interval or ()), *x_bounds))
    if len(results) == 0:
        raise ValueError(f"{fn}: results has no rows; expected one row per model.")
    fig, axes = plt.subplots(1, len(xs), figsize=(4.2 * len(xs), 3.6), squeeze=False)
    for ax, x in zip(axes[0], xs):
        if interval is not None:
            low, high = (results[c].to_numpy(float) for c in interval)
            centre = results[y].to_numpy(float)
            ax.errorbar(
                results[x],
                centre,
                yerr=[centre - low, high - centre],
                fmt="none",
                ecolor="0.5",
                capsize=4,
            )
        if x in x_intervals:
            low, high = (results[c].to_numpy(float) for c in x_intervals[x])
            centre = results[x].to_numpy(float)
            ax.errorbar(
                centre,
                results[y].to_numpy(float),
                xerr=[centre - low, high - centre],
                fmt="none",
                ecolor="0.5",
                capsize=4,
            )
        ax.scatter(results[x], results[y], s=40, zorder=3)
        for label, row in results.iterrows():
            ax.annotate(
                str(label), (row[x], row[y]), textcoords="offset points", xytext=(5, 4), fontsize=9
            )
        ax.set(xlabel=x, ylabel=y)
        ax.grid(True, alpha=0.4)
        ax.margins(x=0.25, y=0.15)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_labels(
    summary: object,
    title: str | None = None,
    chance: float | None = None,
    ylabel: str = "test accuracy",
) -> plt.Figure:
    """Plot mean accuracy against the number of labels, one line per method, with ±1 std bars.

    Defined in chapter "Transfer learning".

    ``summary`` is the table ``transfer.summarize_runs`` returns: indexed by
    the number of labels, columns ``(method, "mean")`` and ``(method, "std")``.
    ``chance`` draws the accuracy of guessing as a dashed line; ``ylabel``
    names the data scored (``"validation accuracy"``, say).
    """
    fn = "plot_accuracy_vs_labels"
    if not isinstance(ylabel, str):
        raise TypeError(f"{fn}: ylabel must be a str; got {ylabel!r}.")
    columns = getattr(summary, "columns", None)
    if columns is None or getattr(columns, "nlevels", 1) != 2:
        raise ValueError(
            f"{fn}: expected the table of transfer.summarize_runs, with (method, statistic) "
            f"columns; got a {type(summary).__name__} with columns "
            f"{[] if columns is None else list(columns)}."
        )
    methods = list(dict.fromkeys(m for m, _ in columns))
    if not methods or any((m, "mean") not in columns for m in methods):
        raise ValueError(f"{fn}: every method needs a 'mean' column.")
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
    ax.set(xlabel="labelled target examples", ylabel=ylabel, title=title or "")
    ax.grid(True, alpha=0.4)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_paired_seeds(
    runs: object,
    condition: str,
    y: str,
    order: Sequence[str],
    labels: Sequence[str] | None = None,
    scale: float = 1.0,
    ylabel: str | None = None,
    xlabel: str | None = None,
) -> plt.Figure:
    """A seeded comparison: one gray line per seed across the conditions, mean +- std on top.

    Defined in chapter "Transfer learning".

    ``runs`` is a tidy pandas DataFrame, one row per run (as
    ``experiments.run`` returns), with the columns ``condition``, ``y`` and
    ``"seed"``. ``order`` names the conditions to show, left to right;
    ``labels`` (as many) are their tick labels. A seed's line joins the runs
    that share that seed, so a pairing the mean hides (every seed gains, or
    one seed carries the mean) shows. ``scale`` multiplies ``y`` (100 for
    percent).
    """
    fn = "plot_paired_seeds"
    _check_columns(runs, fn, "runs", (condition, y, "seed"))
    order = list(order)
    missing = [name for name in order if name not in set(runs[condition])]
    if not order or missing:
        raise ValueError(
            f"{fn}: order must name conditions of runs[{condition!r}]; "
            f"{missing or 'none'} not among {sorted(set(runs[condition]))}."
        )
    if labels is not None and len(labels) != len(order):
        raise ValueError(f"{fn}: labels has {len(labels)} names for {len(order)} conditions.")
    shown = runs[runs[condition].isin(order)]
    positions = range(len(order))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for _, of_seed in shown.groupby("seed"):
        points = of_seed.set_index(condition)[y].reindex(order)
        ax.plot(positions, scale * points, "o-", color="gray", alpha=0.5)
    stats = shown.groupby(condition)[y].agg(["mean", "std"]).reindex(order)
    ax.errorbar(
        positions,
        scale * stats["mean"],
        yerr=scale * stats["std"].fillna(0),
        fmt="s",
        color="C3",
        capsize=5,
        label="mean ± std; gray: one line per seed",
    )
    ax.set_xticks(list(positions), list(labels) if labels is not None else order)
    ax.set(xlabel=xlabel or condition, ylabel=ylabel or y)
    ax.legend()
    return fig


def plot_search_progress(progress: Mapping[str, object]) -> plt.Figure:
    """Best validation accuracy found so far, against trials and against wall time.

    Defined in chapter "Architecture search with Keras Tuner".

    ``progress`` maps a tuner's name to its ``tuning.best_so_far`` frame.
    """
    fn = "plot_search_progress"
    if not progress:
        raise ValueError(
            f"{fn}: progress must map at least one tuner's name to its best_so_far frame."
        )
    for name, frame in progress.items():
        _check_columns(frame, fn, f"progress[{name!r}]", ("trial", "seconds", "best_val_accuracy"))
    fig, (by_trial, by_time) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for name, frame in progress.items():
        by_trial.step(
            frame["trial"], frame["best_val_accuracy"], where="post", marker="o", label=name
        )
        by_time.step(
            frame["seconds"] / 60, frame["best_val_accuracy"], where="post", marker="o", label=name
        )
    by_trial.set(xlabel="trials", ylabel="best validation accuracy so far")
    by_time.set(xlabel="wall time of the trials (minutes)")
    by_trial.legend()
    for ax in (by_trial, by_time):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_pareto(frame: object, front: object, budget: int | None = None) -> plt.Figure:
    """Validation accuracy against parameters for every trial, with the Pareto front.

    Defined in chapter "Architecture search with Keras Tuner".

    ``frame`` holds the trials (columns ``params``, ``val_accuracy`` and
    optionally ``tuner``); ``front`` its ``tuning.pareto_front``; ``budget`` draws
    a vertical line at the parameter budget.
    """
    fn = "plot_pareto"
    _check_columns(frame, fn, "frame", ("params", "val_accuracy"))
    _check_columns(front, fn, "front", ("params", "val_accuracy"))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    groups = frame.groupby("tuner") if "tuner" in frame.columns else [("trials", frame)]
    for name, group in groups:
        ax.scatter(group["params"], group["val_accuracy"], label=name, alpha=0.7)
    ax.step(
        front["params"], front["val_accuracy"], where="post", color="black", label="Pareto front"
    )
    if budget is not None:
        ax.axvline(budget, color="grey", linestyle="--", label=f"budget ({budget:,})")
    ax.set(xscale="log", xlabel="parameters", ylabel="validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _is_numeric(values) -> bool:
    """Whether a column holds numbers (not booleans, not strings) once its NaNs are dropped."""
    values = values.dropna()
    return (
        len(values) > 0
        and all(isinstance(v, (int, float, np.integer, np.floating)) for v in values)
        and not any(isinstance(v, (bool, np.bool_)) for v in values)
    )


def plot_hyperparameter_effects(
    frame: object,
    metric: str = "val_accuracy",
    columns: Sequence[str] | None = None,
    group: str | None = "tuner",
    ncols: int = 4,
    ylabel: str | None = None,
) -> plt.Figure:
    """Small multiples: ``metric`` against each hyperparameter, one panel per column.

    Defined in chapter "Architecture search with Keras Tuner".

    Every row of ``frame`` (e.g. the completed trials of ``tuning.results_frame``)
    is one point in every panel where its value is not missing. A numeric
    column is drawn on a numeric axis (logarithmic when its positive values
    span more than a factor of 20, as learning rates do), with integer ticks
    when all its values are whole numbers (blocks, filters, units); any other
    column (strings, booleans) on a categorical axis, with a small horizontal
    jitter so equal values stay visible (on a numeric axis, equal values
    overlap). Points are coloured by ``group`` when the
    frame has that column. A panel where the points rise or fall together
    suggests the hyperparameter mattered; with a few trials per value, it
    suggests, not shows.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per trial, with ``metric`` and every name in ``columns``.
    metric : str, default "val_accuracy"
    columns : sequence of str, optional
        The hyperparameters, one panel each, in order; by default every column
        except ``metric`` and ``group`` that has at least one value.
    group : str or None, default "tuner"
        Colour the points by this column (when present); None: one colour.
    ncols : int, default 4
        Panels per row.
    ylabel : str, optional
        Label of the shared y axis; by default "validation accuracy" for
        ``"val_accuracy"`` and the metric's name for any other metric.

    Raises
    ------
    TypeError, ValueError
        If ``frame`` is not a DataFrame, lacks a column, has no row with a
        value of ``metric``, or ``columns`` is empty.
    """
    fn = "plot_hyperparameter_effects"
    if not isinstance(metric, str):
        raise TypeError(f"{fn}: metric must be a column name (str); got {metric!r}.")
    ncols = _checks.check_int(ncols, fn, "ncols", low=1)
    if ylabel is None:
        ylabel = "validation accuracy" if metric == "val_accuracy" else metric
    elif not isinstance(ylabel, str):
        raise TypeError(f"{fn}: ylabel must be a str or None; got {ylabel!r}.")
    _check_columns(frame, fn, "frame", (metric,))
    if columns is None:
        columns = [c for c in frame.columns if c not in (metric, group) and frame[c].notna().any()]
    elif isinstance(columns, str) or not isinstance(columns, Sequence):
        raise TypeError(f"{fn}: columns must be a sequence of column names; got {columns!r}.")
    columns = list(columns)
    if not columns:
        raise ValueError(f"{fn}: columns must name at least one hyperparameter; got none.")
    _check_columns(frame, fn, "frame", columns)
    frame = frame[frame[metric].notna()]
    if frame.empty:
        raise ValueError(f"{fn}: frame has no row with a value of {metric!r}.")
    groups = (
        list(frame.groupby(group, sort=True))
        if group is not None and group in frame.columns
        else [(None, frame)]
    )
    colors = {name: f"C{i}" for i, (name, _) in enumerate(groups)}
    nrows = math.ceil(len(columns) / ncols)
    fig, axes = plt.subplots(
        nrows,
        min(ncols, len(columns)),
        figsize=(3 * min(ncols, len(columns)), 2.6 * nrows),
        sharey=True,
        squeeze=False,
    )
    rng = np.random.default_rng(0)
    for ax, column in zip(axes.flat, columns):
        values = frame[column]
        numeric = _is_numeric(values)
        if not numeric:
            levels = sorted({str(v) for v in values.dropna()})
            ax.set_xticks(range(len(levels)), levels)
            ax.set_xlim(-0.5, len(levels) - 0.5)
        for name, part in groups:
            part = part[part[column].notna()]
            if numeric:
                x = part[column].astype(float).to_numpy()
            else:
                x = np.array([levels.index(str(v)) for v in part[column]], dtype=float)
                x = x + rng.uniform(-0.15, 0.15, size=len(x))
            label = None if name is None else str(name)
            ax.scatter(x, part[metric], s=22, alpha=0.75, color=colors[name], label=label)
        if numeric:
            positive = values.dropna().astype(float)
            positive = positive[positive > 0]
            if len(positive) and positive.max() > 20 * positive.min():
                ax.set_xscale("log")
            elif all(float(v).is_integer() for v in values.dropna()):
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(column)
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel(ylabel)
    for ax in list(axes.flat)[len(columns) :]:
        ax.set_visible(False)
    if len(groups) > 1:
        axes.flat[0].legend(fontsize="small")
    fig.tight_layout()
    return fig
