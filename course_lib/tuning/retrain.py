"""After the search: a trial's network built afresh, and a final round among the best.

Defined in chapter "Architecture search with Keras Tuner".

The search trained each configuration briefly on a subset. ``build_trial``
builds a trial's configuration from scratch, compiled with its optimizer and
learning rate, for a real training with ``train.fit`` (which refuses test
data); ``final_round`` does that for the best few and ranks them again.
"""

from __future__ import annotations

import math
import time

import keras
import keras_tuner
import pandas as pd

from course_lib import _checks, augment
from course_lib import train as training
from course_lib.data import Split
from course_lib.tuning.results import Trial, _completed_trial_of, best_trial, top_trials
from course_lib.tuning.space import CNNHyperModel, compile_for
from course_lib.tuning.tuners import INPUT_SHAPE, _check_tuner

__all__ = ["build_configuration", "build_trial", "final_round"]


def build_trial(
    tuner: keras_tuner.Tuner,
    trial: Trial | None = None,
    *,
    seed: int | None = None,
    augmentation: keras.layers.Layer | None = None,
    decay_steps: int | None = None,
) -> keras.Model:
    """The best trial's network (or ``trial``'s), built afresh and compiled.

    Defined in chapter "Architecture search with Keras Tuner".

    Train it with ``train.fit``, then evaluate it on the test set once with
    ``train.evaluate``.

    Parameters
    ----------
    tuner : keras_tuner.Tuner
        A tuner whose search has at least one completed trial.
    trial : keras_tuner Trial, optional
        A trial of ``tuner`` that completed within the parameter budget
        (e.g. one of ``top_trials``); the best one (``best_trial``) by default.
    seed : int, optional
        Seed of the initial weights and dropout. None: not reproducible.
    augmentation : keras.layers.Layer, optional
        Put this layer (e.g. ``augment.pipeline(...)``) in front, active in
        training only (``augment.with_augmentation``). It adds no
        parameters, so the network stays within the budget.
    decay_steps : int, optional
        Decay the chosen learning rate to zero on a cosine over this many
        steps (usually epochs times steps per epoch) instead of keeping it
        constant as the search did. A long training usually ends better with it.

    Raises
    ------
    ValueError
        If no trial has completed within the budget, or ``trial`` is not a
        completed, within-budget trial of ``tuner``.
    """
    _check_tuner(tuner, "build_trial")
    seed = _checks.check_seed(seed, "build_trial")
    if trial is None:
        trial = best_trial(tuner)
    else:
        trial = _completed_trial_of(tuner, trial, "build_trial")
    return build_configuration(
        trial.hyperparameters, seed=seed, augmentation=augmentation, decay_steps=decay_steps
    )


def build_configuration(
    hp: keras_tuner.HyperParameters,
    *,
    seed: int | None = None,
    augmentation: keras.layers.Layer | None = None,
    decay_steps: int | None = None,
) -> keras.Model:
    """The network that the hyperparameters ``hp`` describe, built afresh and compiled.

    Defined in chapter "Architecture search with Keras Tuner".

    What ``build_trial`` does for a trial, for any point of the search space,
    e.g. the lecture notes' network with its values fixed by hand, so that it
    can be trained with exactly the recipe of the search's winner. The
    arguments are those of ``build_trial``; ``hp`` is not modified.
    """
    if not isinstance(hp, keras_tuner.HyperParameters):
        raise TypeError(
            "build_configuration: hp must be a keras_tuner.HyperParameters (e.g. a "
            f"trial's .hyperparameters); got {type(hp).__name__}."
        )
    seed = _checks.check_seed(seed, "build_configuration")
    hp = hp.copy()
    model = CNNHyperModel(seed=seed).architecture(hp)
    if augmentation is not None:
        model = augment.with_augmentation(model, augmentation)
    return compile_for(model, hp, decay_steps=decay_steps)


def final_round(
    tuners: dict[str, keras_tuner.Tuner],
    train: Split,
    valid: Split,
    *,
    count: int,
    epochs: int,
    batch_size: int = 64,
    augmentation: keras.layers.Layer | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Train the ``count`` best configurations briefly with the final recipe; rank them again.

    Defined in chapter "Architecture search with Keras Tuner".

    The searches ranked their trials by a short training on a subset. The
    finalists (``top_trials(tuners, count)``) are each built afresh
    (``build_trial``) and trained for ``epochs`` epochs on ``train`` with
    the recipe of the final training (the learning rate decays to zero on a
    cosine, ``augmentation`` in front), and judged by their validation
    accuracy after it. The round need not train longer than a search trial;
    what it adds is the recipe of the real training, and repeated seeds:
    ``seed`` seeds every finalist's initial weights and dropout; call it
    once per seed and compare the finalists seed by seed
    (``experiments.paired_difference``) before reading much into their order.

    Returns
    -------
    pd.DataFrame
        One row per finalist, best first: ``tuner``, ``trial_id``,
        ``search_val_accuracy`` (its score in the search),
        ``val_accuracy`` (after this round), ``params``, ``wall_time_s``.
        ``final_round(...).iloc[0]`` is the winner; pass
        ``tuners[row.tuner].oracle.trials[row.trial_id]`` to ``build_trial``.

    Raises
    ------
    TypeError, ValueError
        As ``top_trials``, or if ``train`` or ``valid`` is test data
        (whatever its name) or does not hold 28x28x1 images.
    """
    fn = "final_round"
    _checks.check_training_data(train, valid, fn, image_shape=INPUT_SHAPE)
    epochs = _checks.check_int(epochs, fn, "epochs", low=1)
    batch_size = _checks.check_int(batch_size, fn, "batch_size", low=1)
    seed = _checks.check_seed(seed, fn)
    decay_steps = epochs * math.ceil(len(train) / batch_size)
    recipe = dict(augmentation=augmentation, decay_steps=decay_steps, seed=seed)
    schedule = dict(epochs=epochs, batch_size=batch_size, verbose=0)
    rows = []
    for name, trial in top_trials(tuners, count):
        started = time.perf_counter()
        model = build_trial(tuners[name], trial, **recipe)
        history = training.fit(model, train, valid, **schedule)
        rows.append(
            {
                "tuner": name,
                "trial_id": trial.trial_id,
                "search_val_accuracy": float(trial.score),
                "val_accuracy": float(history.history["val_accuracy"][-1]),
                "params": int(model.count_params()),
                "wall_time_s": time.perf_counter() - started,
            }
        )
        del model
    frame = pd.DataFrame(rows)
    # A stable sort keeps the search's order among equals.
    frame = frame.sort_values("val_accuracy", ascending=False, kind="stable")
    return frame.reset_index(drop=True)
