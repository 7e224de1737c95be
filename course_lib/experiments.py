"""Repeated experiments: conditions times seeds, and the words their results allow.

A difference between two conditions means something only next to the
seed-to-seed spread. ``run`` runs every condition with the same seeds,
``summarize`` gives each condition's mean and t interval, ``paired_difference``
compares two conditions seed by seed, and ``verdict`` says it in words.

Defined in chapter "Setup and data".

Examples
--------
>>> def baseline(seed):
...     return {"accuracy": 0.90 + 0.01 * (seed % 3)}
>>> def augmented(seed):
...     return {"accuracy": 0.92 + 0.01 * (seed % 3) + 0.002 * (seed % 2)}
>>> frame = run({"baseline": baseline, "augmented": augmented}, seeds=range(5))
>>> list(frame.columns)
['condition', 'seed', 'accuracy', 'wall_time_s']
>>> summarize(frame, "accuracy")[["n", "mean"]].round(3).reset_index()
   condition  n   mean
0   baseline  5  0.908
1  augmented  5  0.929
>>> verdict(paired_difference(frame, "accuracy", "baseline", "augmented"))
'better by 2.1 points (95% CI 1.9 to 2.2)'
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from course_lib import _checks

__all__ = ["run", "summarize", "Difference", "paired_difference", "verdict", "gap_reading"]

_RESERVED = ("condition", "seed", "wall_time_s")


def _check_seeds(seeds: object, fn: str) -> tuple[int, ...]:
    """Return ``seeds`` as a tuple of distinct integers in ``[0, 2**32 - 1]`` (at least one)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)):
        raise TypeError(f"{fn}: seeds must be a sequence of integers, as range(5); got {seeds!r}.")
    seeds = tuple(_checks.check_int(s, fn, "every seed", low=0, high=2**32 - 1) for s in seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"{fn}: seeds must be distinct and at least one; got {seeds}.")
    return seeds


def _check_metrics(result: object, fn: str, where: str) -> dict[str, float]:
    """Return one run's ``{metric: value}`` with every value as a ``float``."""
    if not isinstance(result, Mapping) or not result:
        raise TypeError(
            f"{fn}: {where} must return {{metric: number}}, as train.evaluate() does; "
            f"got {result!r}."
        )
    for name, value in result.items():
        if not isinstance(name, str) or name in _RESERVED:
            raise ValueError(f"{fn}: {where} returned a metric named {name!r}; name it otherwise.")
        if np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "iuf":
            raise TypeError(f"{fn}: {where} returned {name}={value!r}; a metric is one number.")
    return {name: float(value) for name, value in result.items()}


def run(
    conditions: Mapping[str, Callable[[int], Mapping[str, float]]], seeds: Sequence[int]
) -> pd.DataFrame:
    """Run every condition with every seed and return one row per run.

    Defined in chapter "Setup and data".

    The seed loop is the outer one (seed 0 runs every condition, then seed 1
    does...), so a machine that slows down during the experiment (other jobs,
    heat) slows every condition alike, and an interruption leaves pairs.

    Parameters
    ----------
    conditions : mapping of str to callable
        ``{name: f}`` where ``f(seed)`` does one run (builds, trains and
        scores a model, say) and returns ``{metric: number}``; every run
        must return the same metric names. The function seeds what it uses
        itself (``CNNSpec.build(seed=seed)``, ``Split.sample(n, seed=seed)``).
    seeds : sequence of int
        Distinct seeds in ``[0, 2**32 - 1]``, the same for every condition,
        e.g. ``range(5)``. An interval needs at least two.

    Returns
    -------
    pandas.DataFrame
        Columns ``condition``, ``seed``, one per metric (in the first run's
        order) and ``wall_time_s``, the seconds each call took.

    Raises
    ------
    TypeError
        For conditions that are not ``{str: function}``, a seed that is not
        an integer, or a run that returns something other than numbers.
    ValueError
        For no condition, no seed, a repeated or negative seed, or runs that
        return different metric names.
    """
    fn = "run"
    if not isinstance(conditions, Mapping) or not all(
        isinstance(name, str) and callable(f) for name, f in conditions.items()
    ):
        raise TypeError(
            f"{fn}: conditions must be {{name: function of a seed}}; got {conditions!r}."
        )
    if not conditions:
        raise ValueError(f"{fn}: conditions must hold at least one condition; got none.")
    seeds = _check_seeds(seeds, fn)
    rows, names = [], None
    for seed in seeds:
        for condition, function in conditions.items():
            start = time.perf_counter()
            result = function(seed)
            elapsed = time.perf_counter() - start
            where = f"condition {condition!r} with seed {seed}"
            metrics = _check_metrics(result, fn, where)
            if names is None:
                names = list(metrics)
            elif set(metrics) != set(names):
                raise ValueError(
                    f"{fn}: every run must return the same metrics; {where} returned "
                    f"{sorted(metrics)}, the first run {sorted(names)}."
                )
            rows.append({"condition": condition, "seed": seed, **metrics, "wall_time_s": elapsed})
    return pd.DataFrame(rows, columns=["condition", "seed", *names, "wall_time_s"])


def _check_frame(frame: object, fn: str, metric: object, *columns: str) -> pd.DataFrame:
    """Return ``frame`` if it is a DataFrame with the columns and a numeric, NaN-free metric."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{fn}: frame must be a pandas DataFrame, as experiments.run() returns; "
            f"got {type(frame).__name__}."
        )
    for column in (metric, *columns):
        if not isinstance(column, str):
            raise TypeError(f"{fn}: metric and by must be column names (str); got {column!r}.")
        if column not in frame.columns:
            raise ValueError(
                f"{fn}: frame has no column {column!r}; its columns are {list(frame.columns)}."
            )
    values = frame[metric]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise TypeError(f"{fn}: metric {metric!r} must be numeric; its dtype is {values.dtype}.")
    if values.isna().any():
        raise ValueError(
            f"{fn}: metric {metric!r} has NaN values, in rows {list(frame.index[values.isna()])}."
            " Drop those runs (or those seeds from every condition) first."
        )
    return frame


def _t_interval(mean: float, std: float, n: int, confidence: float) -> tuple[float, float]:
    """The t interval ``mean +- t * std / sqrt(n)`` of ``n`` values (NaN for n < 2)."""
    if n < 2:
        return math.nan, math.nan
    half = stats.t.ppf((1 + confidence) / 2, n - 1) * std / math.sqrt(n)
    return mean - half, mean + half


def summarize(
    frame: pd.DataFrame, metric: str, by: str = "condition", confidence: float = 0.95
) -> pd.DataFrame:
    """Mean, spread and confidence interval of ``metric`` for each condition.

    Defined in chapter "Setup and data".

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per run, as ``run`` returns.
    metric : str
        The column to summarize, e.g. ``"accuracy"``.
    by : str, default "condition"
        The column whose values form the groups.
    confidence : float, default 0.95
        The level of the interval, in ``(0, 1)``.

    Returns
    -------
    pandas.DataFrame
        One row per group (in order of appearance), indexed by ``by``, with
        columns ``n``, ``mean``, ``std`` (``ddof=1``), ``ci_low`` and
        ``ci_high``: the t interval ``mean +- t(n - 1) * std / sqrt(n)``,
        NaN (as ``std``) for a single run.

    Raises
    ------
    TypeError
        If ``frame`` is not a DataFrame or the metric is not numeric.
    ValueError
        For a missing column, a NaN metric value or a confidence outside ``(0, 1)``.
    """
    fn = "summarize"
    _check_frame(frame, fn, metric, by)
    confidence = _checks.check_real(
        confidence, fn, "confidence", low=0, high=1, low_open=True, high_open=True
    )
    rows = {}
    for group, values in frame.groupby(by, sort=False)[metric]:
        n, mean = len(values), float(values.mean())
        std = float(values.std(ddof=1)) if n > 1 else math.nan
        rows[group] = (n, mean, std, *_t_interval(mean, std, n, confidence))
    summary = pd.DataFrame.from_dict(
        rows, orient="index", columns=["n", "mean", "std", "ci_low", "ci_high"]
    )
    summary.index.name = by
    return summary


@dataclass(frozen=True)
class Difference:
    """The paired difference ``b - a`` of a metric between two conditions.

    Defined in chapter "Setup and data".

    ``metric`` of condition ``b`` minus that of ``a`` on the ``seeds`` both
    ran with (increasing): ``mean`` and ``std`` (``ddof=1``) of the per-seed
    differences, and the t interval ``ci_low``, ``ci_high`` of the mean at
    level ``confidence`` (e.g. 0.95).
    """

    metric: str
    a: str
    b: str
    seeds: tuple[int, ...]
    mean: float
    std: float
    ci_low: float
    ci_high: float
    confidence: float

    @property
    def n(self) -> int:
        """The number of paired seeds."""
        return len(self.seeds)


def _by_seed(frame: pd.DataFrame, metric: str, condition: str, fn: str) -> pd.Series:
    """``metric`` of one condition, indexed by seed; refuses a seed that ran twice."""
    rows = frame[frame["condition"] == condition]
    if rows.empty:
        known = list(dict.fromkeys(frame["condition"]))
        raise ValueError(f"{fn}: frame has no condition {condition!r}; it has {known}.")
    repeated = rows["seed"][rows["seed"].duplicated()].tolist()
    if repeated:
        raise ValueError(
            f"{fn}: condition {condition!r} has several rows for the seeds {repeated}; "
            "a paired comparison needs one run per condition and seed."
        )
    return rows.set_index("seed")[metric]


def paired_difference(
    frame: pd.DataFrame, metric: str, a: str, b: str, confidence: float = 0.95
) -> Difference:
    """Compare condition ``b`` with condition ``a`` seed by seed: ``b - a``.

    Defined in chapter "Setup and data".

    Only the seeds both conditions ran with count. The interval is narrower
    than one from the two means when a seed moves both conditions alike (the
    same initial weights, the same sample); it excludes 0 exactly when the
    paired t-test (``scipy.stats.ttest_rel``) has a p-value below
    ``1 - confidence``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per run with columns ``condition``, ``seed`` and ``metric``,
        as ``run`` returns.
    metric : str
        The column to compare.
    a, b : str
        The two conditions; ``a`` is the reference (the baseline), so a
        positive difference means ``b`` scored higher.
    confidence : float, default 0.95
        The level of the interval, in ``(0, 1)``.

    Returns
    -------
    Difference

    Raises
    ------
    TypeError
        If ``frame`` is not a DataFrame or the metric is not numeric.
    ValueError
        For a missing column or condition, ``a == b``, a seed that ran twice
        for one condition, a NaN metric value, fewer than two shared seeds.
    """
    fn = "paired_difference"
    _check_frame(frame, fn, metric, "condition", "seed")
    confidence = _checks.check_real(
        confidence, fn, "confidence", low=0, high=1, low_open=True, high_open=True
    )
    if a == b:
        raise ValueError(f"{fn}: a and b must be two different conditions; got {a!r} twice.")
    values_a = _by_seed(frame, metric, a, fn)
    values_b = _by_seed(frame, metric, b, fn)
    seeds = sorted(set(values_a.index) & set(values_b.index))
    if len(seeds) < 2:
        raise ValueError(
            f"{fn}: conditions {a!r} and {b!r} share {len(seeds)} seed(s) ({seeds}); an "
            "interval needs at least 2. Run both conditions with the same seeds, e.g. "
            "run(conditions, seeds=range(5))."
        )
    diffs = values_b.loc[seeds].to_numpy(float) - values_a.loc[seeds].to_numpy(float)
    mean, std = float(diffs.mean()), float(diffs.std(ddof=1))
    low, high = _t_interval(mean, std, len(seeds), confidence)
    seeds = tuple(int(s) for s in seeds)
    return Difference(metric, a, b, seeds, mean, std, float(low), float(high), confidence)


def verdict(
    difference: Difference,
    *,
    unit: str = "points",
    scale: float = 100,
    digits: int = 1,
    higher_is_better: bool = True,
) -> str:
    """The words a difference and its interval allow, for the prose.

    Defined in chapter "Setup and data".

    ``"better by 2.1 points (95% CI 1.2 to 3.0)"`` when the interval lies on
    the good side of 0, ``"worse by ..."`` on the bad side (both give the
    size of the gain or loss: positive numbers), and ``"no difference this
    experiment can detect (95% CI -0.8 to +1.1)"`` when it contains 0 (the
    interval of ``b - a``, signed).

    Parameters
    ----------
    difference : Difference
        From ``paired_difference``; ``b`` is better or worse than ``a``.
    unit : str, default "points"
        Written after the size of the difference ("" for none).
    scale : float, default 100
        Multiplies every number: 100 turns accuracies in ``[0, 1]`` into
        percentage points; 1 keeps the metric's own unit (seconds, say).
    digits : int, default 1
        Decimals of every number.
    higher_is_better : bool, default True
        False for metrics that should go down (a loss, a time): then a
        negative ``b - a`` is "better".

    Raises
    ------
    TypeError
        If ``difference`` is not a Difference, or for arguments of the wrong type.
    ValueError
        For a scale <= 0, digits < 0, a non-boolean ``higher_is_better`` or
        an interval that is not finite.

    Examples
    --------
    >>> d = Difference(metric="loss", a="adam", b="sgd", seeds=(0, 1, 2), mean=0.021,
    ...                std=0.004, ci_low=0.012, ci_high=0.030, confidence=0.95)
    >>> verdict(d, unit="", scale=1, digits=3, higher_is_better=False)
    'worse by 0.021 (95% CI 0.012 to 0.030)'
    """
    fn = "verdict"
    if not isinstance(difference, Difference):
        raise TypeError(
            f"{fn}: difference must be a Difference, as paired_difference() returns; "
            f"got {type(difference).__name__}."
        )
    if not isinstance(unit, str):
        raise TypeError(f'{fn}: unit must be a str ("" for none); got {unit!r}.')
    _checks.check_choice(higher_is_better, fn, "higher_is_better", (True, False))
    scale = _checks.check_real(scale, fn, "scale", low=0, low_open=True)
    digits = _checks.check_int(digits, fn, "digits", low=0)
    mean, low, high = (scale * v for v in (difference.mean, difference.ci_low, difference.ci_high))
    level = f"{100 * difference.confidence:g}% CI"
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(
            f"{fn}: difference must have a finite interval; got {difference.ci_low} to "
            f"{difference.ci_high}. paired_difference() needs at least 2 shared seeds."
        )
    if low <= 0 <= high:
        return (
            f"no difference this experiment can detect "
            f"({level} {low:+.{digits}f} to {high:+.{digits}f})"
        )
    word = "better" if (low > 0) == higher_is_better else "worse"
    if low < 0:  # give the size of the change: positive numbers
        mean, low, high = -mean, -high, -low
    unit = f" {unit}" if unit else ""
    return f"{word} by {mean:.{digits}f}{unit} ({level} {low:.{digits}f} to {high:.{digits}f})"


def gap_reading(difference: Difference, gap_without: float, gap_with: float) -> str:
    """What a change of the train-validation gap means, given the verdict on validation accuracy.

    Defined in chapter "Data augmentation".

    A regularizer (augmentation, dropout) is meant to shrink the gap between
    training and validation accuracy, but a smaller gap is good news only when
    the validation accuracy did not fall: with lower validation accuracy it is
    underfitting. ``difference`` is the paired difference of validation
    accuracy, with the regularizer against without (``paired_difference``);
    ``gap_without`` and ``gap_with`` are the two mean gaps.

    >>> d = Difference("accuracy", "without", "with", (0, 1), 0.02, 0.01, 0.01, 0.03, 0.95)
    >>> gap_reading(d, gap_without=0.16, gap_with=0.07)
    'less overfitting: a smaller gap, with higher validation accuracy'
    """
    if not isinstance(difference, Difference):
        raise TypeError(
            "gap_reading: difference must be a Difference from paired_difference; "
            f"got {type(difference).__name__}."
        )
    gap_without = _checks.check_real(gap_without, "gap_reading", "gap_without")
    gap_with = _checks.check_real(gap_with, "gap_reading", "gap_with")
    if gap_with >= gap_without:
        return "no smaller gap"
    if difference.ci_high < 0:
        return "underfitting: a smaller gap, with lower validation accuracy"
    if difference.ci_low > 0:
        return "less overfitting: a smaller gap, with higher validation accuracy"
    return "a smaller gap, with no detectable change of validation accuracy"
