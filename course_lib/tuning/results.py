"""Reading a search's results: one row per trial, the best trials, progress and the Pareto front.

Defined in chapter "Architecture search with Keras Tuner".
"""

from __future__ import annotations

import math

import keras_tuner
import numpy as np
import pandas as pd

from course_lib import _checks
from course_lib.tuning.space import (
    EPOCHS_METRIC,
    LEARNING_RATE_RANGES,
    OBJECTIVE,
    OVER_BUDGET_METRIC,
    PARAMS_METRIC,
    SECONDS_METRIC,
    spec_from_hp,
)
from course_lib.tuning.tuners import _check_tuner

__all__ = ["results_frame", "best_trial", "top_trials", "best_so_far", "pareto_front"]

Trial = keras_tuner.engine.trial.Trial


# --------------------------------------------------------------------------
# Reading trials
# --------------------------------------------------------------------------


def _oracle_of(tuner: keras_tuner.Tuner, fn: str):
    oracle = tuner.oracle
    if not hasattr(oracle, "trials"):
        raise ValueError(
            f"{fn}: this tuner is a worker of a distributed search; its trials live in the chief's "
            "oracle. Call it on the chief, or on a tuner made (without the KERASTUNER_* variables) "
            "from the same folder."
        )
    return oracle


def _metric(trial: Trial, name: str) -> float:
    if trial.metrics.exists(name):
        value = trial.metrics.get_best_value(name)
        if value is not None:
            return float(value)
    return float("nan")


def _over_budget(trial: Trial) -> bool:
    """Whether the trial is an over-budget configuration, scored 0 without training."""
    return _metric(trial, OVER_BUDGET_METRIC) == 1.0


def _trained(trial: Trial) -> bool:
    """Whether the trial completed within the parameter budget (so it trained)."""
    return trial.status == "COMPLETED" and not _over_budget(trial) and trial.score is not None


def _trials_in_order(oracle) -> list[Trial]:
    """The oracle's trials in the order they were created (ids "0", "1", ..., "10")."""
    return [oracle.trials[i] for i in sorted(oracle.trials, key=lambda t: (len(t), t))]


def _configuration(hp: keras_tuner.HyperParameters) -> dict:
    """``hp``'s values without Keras Tuner's ``tuner/*`` bookkeeping (Hyperband's epochs, ...)."""
    return {k: v for k, v in hp.values.items() if not k.startswith("tuner/")}


def _readable_values(hp: keras_tuner.HyperParameters) -> dict:
    """The configuration, with the per-optimizer rates merged into one ``learning_rate``."""
    values = _configuration(hp)
    rates = {opt: values.pop(f"{opt}_learning_rate", None) for opt, _, _ in LEARNING_RATE_RANGES}
    values["learning_rate"] = rates.get(values.get("optimizer"))
    return values


def _completed_trial_of(tuner: keras_tuner.Tuner, trial: object, fn: str) -> Trial:
    """``trial`` if it is a trial of ``tuner`` that completed within the budget."""
    oracle = _oracle_of(tuner, fn)
    trial_id = getattr(trial, "trial_id", None)
    if trial_id not in oracle.trials:
        raise ValueError(
            f"{fn}: trial {trial_id!r} is not a trial of the tuner in {tuner.project_dir}; "
            "pass one of its trials."
        )
    trial = oracle.trials[trial_id]
    if not _trained(trial):
        raise ValueError(
            f"{fn}: trial {trial_id!r} did not complete within the parameter budget (status "
            f"{trial.status!r}); pass a trial that trained, e.g. one of top_trials()."
        )
    return trial


# --------------------------------------------------------------------------
# One search
# --------------------------------------------------------------------------


def results_frame(tuner: keras_tuner.Tuner) -> pd.DataFrame:
    """One row per trial: its id, status, score, size, cost and hyperparameters.

    Defined in chapter "Architecture search with Keras Tuner".

    Columns: ``trial_id``, ``status`` ("COMPLETED", "OVER_BUDGET" for a
    configuration above the parameter budget, scored 0 without
    training, "FAILED" for a rejected or crashed one, "RUNNING" for an
    interrupted one...), ``val_accuracy`` (the trial's best epoch; NaN when
    nothing was trained), ``params``, ``wall_time_s``,
    ``epochs`` (trained in this trial), then one column per hyperparameter
    (missing where it does not apply, e.g. ``dense_units`` with a "gap"
    head), except that the optimizer's rate is one column, ``learning_rate``,
    whichever optimizer the trial chose (the space names it
    ``adam_learning_rate`` or ``sgd_learning_rate``). Keras Tuner's
    bookkeeping values (Hyperband's ``tuner/epochs``, ...) are left out.
    Rows are in the order the trials were created.
    """
    _check_tuner(tuner, "results_frame")
    oracle = _oracle_of(tuner, "results_frame")
    rows = []
    for trial in _trials_in_order(oracle):
        params = _metric(trial, PARAMS_METRIC)
        if math.isnan(params):
            # A rejected trial never trained, so it recorded nothing: count its parameters now.
            params = float(spec_from_hp(trial.hyperparameters.copy()).count_params())
        status, score = trial.status, _metric(trial, OBJECTIVE)
        if _over_budget(trial):
            # The score of 0 steered the oracle away; it is not a measured accuracy.
            status, score = "OVER_BUDGET", float("nan")
        rows.append(
            {
                "trial_id": trial.trial_id,
                "status": status,
                OBJECTIVE: score,
                "params": params,
                "wall_time_s": _metric(trial, SECONDS_METRIC),
                "epochs": _metric(trial, EPOCHS_METRIC),
                **_readable_values(trial.hyperparameters),
            }
        )
    columns = ["trial_id", "status", OBJECTIVE, "params", "wall_time_s", "epochs"]
    frame = pd.DataFrame(rows, columns=None if rows else columns)
    if rows:
        frame["params"] = frame["params"].astype("Int64")
    return frame


def best_trial(tuner: keras_tuner.Tuner) -> Trial:
    """The completed trial with the best validation accuracy, among those that trained.

    Defined in chapter "Architecture search with Keras Tuner".

    Unlike ``tuner.oracle.get_best_trials(1)``, never an over-budget
    configuration (scored 0 without training), even when no trained model
    did better than 0.

    Raises
    ------
    ValueError
        If no trial has completed within the parameter budget.
    """
    _check_tuner(tuner, "best_trial")
    oracle = _oracle_of(tuner, "best_trial")
    trained = [t for t in _trials_in_order(oracle) if _trained(t)]
    if not trained:
        raise ValueError(
            f"best_trial: the tuner in {tuner.project_dir} has no completed trial within the "
            f"parameter budget ({len(oracle.trials)} trials in all); run search() first."
        )
    return max(trained, key=lambda t: t.score)  # the earliest of equals


# --------------------------------------------------------------------------
# Several searches
# --------------------------------------------------------------------------


def top_trials(tuners: dict[str, keras_tuner.Tuner], count: int) -> list[tuple[str, Trial]]:
    """The ``count`` best distinct configurations of several searches: ``[(name, trial), ...]``.

    Defined in chapter "Architecture search with Keras Tuner".

    Completed trials within the budget, best validation accuracy first; a
    configuration found twice (by two tuners, or continued by Hyperband)
    appears once, with its best trial. ``name`` is the tuner's key in
    ``tuners``. ``final_round`` retrains them briefly and ranks them again.

    Raises
    ------
    TypeError, ValueError
        If ``count`` is not a positive integer, ``tuners`` not a non-empty
        dict, or no trial completed.
    """
    count = _checks.check_int(count, "top_trials", "count", low=1)
    if not isinstance(tuners, dict) or not tuners:
        raise TypeError(
            "top_trials: tuners must be a non-empty dict of name -> tuner; "
            f"got {type(tuners).__name__}."
        )
    best: dict[tuple, tuple[str, Trial]] = {}
    for name, tuner in tuners.items():
        _check_tuner(tuner, "top_trials")
        for trial in _trials_in_order(_oracle_of(tuner, "top_trials")):
            if not _trained(trial):
                continue
            key = tuple(sorted(_configuration(trial.hyperparameters).items()))
            if key not in best or trial.score > best[key][1].score:
                best[key] = (name, trial)
    if not best:
        raise ValueError(
            "top_trials: no trial completed within the parameter budget in any of the tuners."
        )
    return sorted(best.values(), key=lambda pair: -pair[1].score)[:count]


# --------------------------------------------------------------------------
# Reading a results frame
# --------------------------------------------------------------------------


def _check_frame(frame: object, fn: str, columns: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{fn}: expected the DataFrame of results_frame(); got {type(frame).__name__}."
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{fn}: the frame lacks columns {missing}; pass the DataFrame of results_frame()."
        )
    return frame


def best_so_far(frame: pd.DataFrame) -> pd.DataFrame:
    """The search's progress: best validation accuracy after each trial.

    Defined in chapter "Architecture search with Keras Tuner".

    Returns a frame with one row per trial, in the order the trials ran:
    ``trial`` (1, 2, ...), ``seconds`` (cumulative wall time of the trials so
    far) and ``best_val_accuracy`` (the best completed trial so far; NaN
    until one completes). Over-budget and failed trials count as trials and
    add their (zero or short) time.
    """
    frame = _check_frame(frame, "best_so_far", ("val_accuracy", "wall_time_s"))
    scores = frame["val_accuracy"].astype(float).to_numpy()
    seconds = np.nan_to_num(frame["wall_time_s"].astype(float).to_numpy())
    best = pd.Series(scores).cummax().ffill().to_numpy()  # a failed trial keeps the best so far
    trials = np.arange(1, len(frame) + 1)
    return pd.DataFrame({"trial": trials, "seconds": np.cumsum(seconds), "best_val_accuracy": best})


def pareto_front(frame: pd.DataFrame) -> pd.DataFrame:
    """The completed trials no other trial beats with fewer parameters.

    Defined in chapter "Architecture search with Keras Tuner".

    A trial is on the front when every trial with at most as many
    parameters has a lower validation accuracy: it is the best model of
    its size. Rows are sorted by parameter count.
    """
    frame = _check_frame(frame, "pareto_front", ("val_accuracy", "params"))
    done = frame.dropna(subset=["val_accuracy", "params"])
    done = done.sort_values(["params", "val_accuracy"], ascending=[True, False])
    keep, best = [], -np.inf
    for index, row in done.iterrows():
        if row["val_accuracy"] > best:
            keep.append(index)
            best = row["val_accuracy"]
    return done.loc[keep]
