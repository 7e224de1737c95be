"""Architecture search with Keras Tuner: the search space, the tuners, their results.

Defined in chapter "Architecture search with Keras Tuner".

A search runs on a training subset and scores every trial on the validation
split; only the winner, retrained on the full training set, ever sees the test
set (once). Every tuner keeps its state in one folder::

    tuning_dir()/                  _runs/<profile>/tuning by default
        <project_name>/
            oracle.json            the oracle's state (which trials exist, ...)
            tuner0.json            one file per tuner process
            trial_<id>/trial.json  hyperparameters, status, metrics of one trial

so an interrupted search, restarted with the same folder and
``overwrite=False``, continues where it stopped: finished trials are not run
again, the interrupted one is.

Distributed search uses Keras Tuner's own mode: one chief process holds the
oracle and serves trials over gRPC, workers run them. Every process runs the
same script with three environment variables set (the address is the chief's)::

    KERASTUNER_TUNER_ID=chief  KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 python search.py
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 python search.py
    KERASTUNER_TUNER_ID=tuner1 KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 python search.py

All processes must see the same ``directory`` (a shared file system), since
workers save their trials' checkpoints there.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import pandas as pd
from keras import layers

from course_lib.data import NUM_CLASSES, Split
from course_lib.profiles import Profile, profile as current_profile

INPUT_SHAPE = (28, 28, 1)
SEED_CNN_PARAMS = 265_290
"""Parameters of the lecture notes' network (``models.seed_cnn()``): the search's parameter budget."""
TARGET_TEST_ACCURACY = 0.93
"""The chapter's goal for the retrained winner (full profile): test accuracy within ``SEED_CNN_PARAMS``."""

OBJECTIVE = "val_accuracy"
TUNER_KINDS = ("random", "hyperband", "bayesian")
MAX_FILTERS = 128
LEARNING_RATE_RANGES = (("adam", 1e-4, 1e-2), ("sgd", 1e-3, 1e-1))
"""Each optimizer's learning-rate range in the search space: (optimizer, lowest, highest)."""

# Names of the metrics a trial records besides the objective.
PARAMS_METRIC = "num_params"
SECONDS_METRIC = "wall_time_s"
EPOCHS_METRIC = "epochs_trained"
OVER_BUDGET_METRIC = "over_budget"

OVER_BUDGET_SCORE = 0.0
"""The score an over-budget configuration gets in a search: the worst accuracy there is."""


# --------------------------------------------------------------------------
# The search space
# --------------------------------------------------------------------------


class CNNHyperModel(keras_tuner.HyperModel):
    """The search space: CNNs of the lecture notes' family for 28x28x1 images, 10 classes.

    Defined in chapter "Architecture search with Keras Tuner".

    A model is ``blocks`` blocks of two "same" convolutions and a 2x2 max
    pooling, then a head, then a softmax ``Dense`` layer. The hyperparameters:

    ========================  ===================================================
    ``blocks``                2 or 3
    ``filters_1..3``          16, 32, 64 or 128 filters in block 1, 2, 3
                              (``filters_3`` only exists when ``blocks`` is 3)
    ``conv``                  "standard" (two Conv2D), "separable" (two
                              SeparableConv2D) or "mixed" (Conv2D then
                              SeparableConv2D, as in the lecture notes)
    ``kernel_size``           3 or 5
    ``batch_norm``            BatchNormalization (momentum 0.9) after every
                              convolution and hidden Dense layer, or not
    ``dropout``               0.0 to 0.5 in steps of 0.1, after every pooling
                              and before the output layer (0 disables it)
    ``head``                  "flatten" (Flatten + Dense + ReLU) or "gap"
                              (GlobalAveragePooling2D, no hidden layer)
    ``dense_units``           32 to 256 (powers of two), only for "flatten"
    ``optimizer``             "adam" or "sgd" (momentum 0.9, Nesterov)
    ``adam_learning_rate``    1e-4 to 1e-2, sampled on a log scale (Adam only)
    ``sgd_learning_rate``     1e-3 to 1e-1, sampled on a log scale (SGD only)
    ========================  ===================================================

    The lecture notes' network is in the space (3 blocks of 32, 64, 128
    filters, "mixed", kernel 3, no batch normalization, no dropout, "flatten"
    with 128 units): 265,290 parameters.

    Each optimizer has its own learning-rate range: SGD with momentum needs
    rates about ten times Adam's (the chapter "A CNN classifier" trains with
    Adam at 1e-3; SGD's usual starting point is 1e-2 to 1e-1). On one range
    for both, most trials of one optimizer would barely learn (SGD did, on
    Adam's range, in an earlier version of the chapter).
    ``chosen_learning_rate(hp)`` reads the rate of the chosen optimizer.

    Parameters
    ----------
    max_params : int, optional
        Parameter budget. ``build`` raises ``keras_tuner.errors.FailedTrialError``
        for a larger configuration. The tuners of ``make_tuner`` do not even
        build it: they score it ``OVER_BUDGET_SCORE`` (0) without training,
        so the oracle learns that the region is out of bounds.
    seed : int, optional
        Seeds the weights of every model this hypermodel builds (the same seed
        for every trial), so two trials differ only by their hyperparameters.

    Raises
    ------
    ValueError
        If ``max_params`` is below the parameter count of the smallest
        configuration (the defaults), which Keras Tuner builds when it sets up
        the search space.
    """

    def __init__(self, max_params: int | None = None, seed: int | None = None, name: str = "cnn") -> None:
        super().__init__(name=name)
        if max_params is not None and (isinstance(max_params, bool) or not isinstance(max_params, (int, np.integer))):
            raise TypeError(f"CNNHyperModel: max_params must be an integer or None; got {max_params!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"CNNHyperModel: seed must be a non-negative integer or None; got {seed!r}.")
        self.max_params = None if max_params is None else int(max_params)
        self.seed = seed
        if self.max_params is not None:
            smallest = self.count_params(keras_tuner.HyperParameters())
            if self.max_params < smallest:
                raise ValueError(
                    f"CNNHyperModel: max_params={self.max_params:,} is below the smallest model in the search "
                    f"space ({smallest:,} parameters with the default hyperparameters); no trial could run. "
                    "Expected a budget of at least that many parameters."
                )
        self._built_at: float | None = None

    # -- the architecture ---------------------------------------------------

    def architecture(self, hp: keras_tuner.HyperParameters) -> keras.Sequential:
        """Return the (uncompiled) model that the hyperparameters ``hp`` describe.

        Defined in chapter "Architecture search with Keras Tuner".

        Registers every hyperparameter in ``hp``; values already set in
        ``hp.values`` are used, the others get their defaults.
        """
        values = self._values(hp)
        filters, conv, kernel_size = values["filters"], values["conv"], values["kernel_size"]
        batch_norm, dropout, head, units = values["batch_norm"], values["dropout"], values["head"], values["dense_units"]
        blocks = len(filters)

        if self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        kinds = {"standard": ("conv", "conv"), "separable": ("sep", "sep"), "mixed": ("conv", "sep")}[conv]
        model = keras.Sequential(name=f"{self.name}_{conv}_{blocks}blocks")
        model.add(keras.Input(shape=INPUT_SHAPE))

        def add(layer: keras.layers.Layer) -> None:
            model.add(layer)
            if batch_norm:
                model.add(layers.BatchNormalization(momentum=0.9))
                model.add(layers.Activation("relu"))

        inner = None if batch_norm else "relu"
        for n in filters:
            for kind in kinds:
                options = dict(padding="same", activation=inner, use_bias=not batch_norm)
                if kind == "conv":
                    add(layers.Conv2D(n, kernel_size, kernel_initializer="he_normal", **options))
                else:
                    add(
                        layers.SeparableConv2D(
                            n, kernel_size, depthwise_initializer="he_normal", pointwise_initializer="he_normal", **options
                        )
                    )
            model.add(layers.MaxPooling2D(2))
            if dropout:
                model.add(layers.Dropout(dropout))
        if head == "flatten":
            model.add(layers.Flatten())
            add(layers.Dense(units, activation=inner, kernel_initializer="he_normal", use_bias=not batch_norm))
            if dropout:
                model.add(layers.Dropout(dropout))
        else:
            model.add(layers.GlobalAveragePooling2D())
        model.add(layers.Dense(NUM_CLASSES, activation="softmax"))
        return model

    def count_params(self, hp: keras_tuner.HyperParameters) -> int:
        """Parameters of the model ``hp`` describes, counted without building it.

        Defined in chapter "Architecture search with Keras Tuner".

        The same count as ``architecture(hp).count_params()`` (the tests check
        it), in microseconds rather than the second a Keras model takes to
        build, so over-budget configurations are turned away at no cost. With kernel
        side k, c_in input and c_out output channels: a Conv2D has
        k*k*c_in*c_out weights, a SeparableConv2D k*k*c_in (depthwise) +
        c_in*c_out (pointwise); each has c_out biases without batch
        normalization, 4*c_out BatchNormalization parameters with it.
        """
        values = self._values(hp)
        k, bn = values["kernel_size"], values["batch_norm"]
        kinds = {"standard": ("conv", "conv"), "separable": ("sep", "sep"), "mixed": ("conv", "sep")}[values["conv"]]
        total, channels, side = 0, INPUT_SHAPE[-1], INPUT_SHAPE[0]
        for n in values["filters"]:
            for kind in kinds:
                total += k * k * channels * n if kind == "conv" else k * k * channels + channels * n
                total += 4 * n if bn else n
                channels = n
            side //= 2
        if values["head"] == "flatten":
            units = values["dense_units"]
            total += side * side * channels * units + (4 * units if bn else units)
            channels = units
        return int(total + channels * NUM_CLASSES + NUM_CLASSES)

    @staticmethod
    def _values(hp: keras_tuner.HyperParameters) -> dict:
        """The architecture's hyperparameters from ``hp`` (registering them, with defaults if unset)."""
        blocks = hp.Int("blocks", 2, 3)
        filters = []
        for i in range(3):
            # Block i+1 exists when blocks >= i+1; its filters are a hyperparameter only then.
            with hp.conditional_scope("blocks", list(range(i + 1, 4))):
                n = hp.Int(f"filters_{i + 1}", 16, MAX_FILTERS, step=2, sampling="log")
            if i < blocks:
                filters.append(n)
        values = dict(
            filters=filters,
            conv=hp.Choice("conv", ["standard", "separable", "mixed"]),
            kernel_size=hp.Choice("kernel_size", [3, 5]),
            batch_norm=hp.Boolean("batch_norm"),
            dropout=hp.Float("dropout", 0.0, 0.5, step=0.1),
            head=hp.Choice("head", ["flatten", "gap"]),
        )
        with hp.conditional_scope("head", ["flatten"]):
            values["dense_units"] = hp.Int("dense_units", 32, 256, step=2, sampling="log")
        values["optimizer"] = hp.Choice("optimizer", ["adam", "sgd"])
        for optimizer, low, high in LEARNING_RATE_RANGES:
            with hp.conditional_scope("optimizer", [optimizer]):
                hp.Float(f"{optimizer}_learning_rate", low, high, sampling="log")
        values["learning_rate"] = chosen_learning_rate(hp)
        return values

    # -- what Keras Tuner calls ---------------------------------------------

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """Return the compiled model for ``hp``; reject it if it exceeds ``max_params``.

        Defined in chapter "Architecture search with Keras Tuner".

        Raises
        ------
        keras_tuner.errors.FailedTrialError
            If the model has more than ``max_params`` parameters.
        """
        self._built_at = time.perf_counter()
        n = self.count_params(hp)
        if self.max_params is not None and n > self.max_params:
            raise keras_tuner.errors.FailedTrialError(
                f"CNNHyperModel.build: {n:,} parameters, above the budget max_params={self.max_params:,}; "
                "trial skipped without training."
            )
        model = self.architecture(hp)
        compile_for(model, hp)
        return model

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, train: Split, valid: Split, **kwargs) -> dict:
        """Train ``model`` on ``train``, score it on ``valid``; return what the trial records.

        Defined in chapter "Architecture search with Keras Tuner".

        Returns
        -------
        dict
            ``val_accuracy`` (the best epoch's, the search objective),
            ``num_params``, ``wall_time_s`` (seconds from ``build`` to the
            end of training) and ``epochs_trained``. Keras Tuner stores them
            with the trial, in ``trial.json``.
        """
        started = self._built_at if self._built_at is not None else time.perf_counter()
        history = model.fit(train.x, train.y, validation_data=(valid.x, valid.y), **kwargs)
        seconds = time.perf_counter() - started
        self._built_at = None
        values = history.history.get(OBJECTIVE) or [float("nan")]
        return {
            OBJECTIVE: float(np.nanmax(values)) if not np.all(np.isnan(values)) else float("nan"),
            PARAMS_METRIC: float(model.count_params()),
            SECONDS_METRIC: float(seconds),
            EPOCHS_METRIC: float(len(history.history.get("loss", []))),
        }


def chosen_learning_rate(hp: keras_tuner.HyperParameters) -> float:
    """The learning rate ``hp`` chose for its optimizer: ``<optimizer>_learning_rate``.

    Defined in chapter "Architecture search with Keras Tuner".

    Raises
    ------
    ValueError
        If ``hp`` has no rate for its optimizer (e.g. values set by hand
        under the wrong name).
    """
    optimizer = hp.get("optimizer")
    name = f"{optimizer}_learning_rate"
    if name not in hp.values:
        raise ValueError(
            f"chosen_learning_rate: the optimizer is {optimizer!r} but the hyperparameters have no {name!r} "
            f"(they have {sorted(hp.values)}). Set the rate under the chosen optimizer's name."
        )
    return float(hp.get(name))


def compile_for(
    model: keras.Model, hp: keras_tuner.HyperParameters, decay_steps: int | None = None
) -> keras.Model:
    """Compile ``model`` with the optimizer and learning rate that ``hp`` chose.

    Defined in chapter "Architecture search with Keras Tuner".

    With ``decay_steps``, the learning rate starts at the chosen value and
    follows a cosine decay to zero over that many steps (the schedule of
    chapter "A CNN classifier"); without it, it stays constant, as in the
    search's short trials.
    """
    rate = chosen_learning_rate(hp)
    if decay_steps is not None:
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=_positive_int(decay_steps, "compile_for", "decay_steps"))
    if hp.get("optimizer") == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=rate)
    else:
        optimizer = keras.optimizers.SGD(learning_rate=rate, momentum=0.9, nesterov=True)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# --------------------------------------------------------------------------
# Tuners
# --------------------------------------------------------------------------


class _ScoreOverBudgetAsZero:
    """Tuner mixin: an over-budget configuration scores ``OVER_BUDGET_SCORE``, untrained.

    Rejecting it with ``FailedTrialError`` leaves the trial without a score, so
    a Bayesian oracle learns nothing from it and may propose the same
    configuration again (it did, in the chapter's first searches). The worst
    possible accuracy, 0, tells the oracle that the region is worthless and
    never ranks the configuration above a trained one; the trial records
    ``over_budget = 1`` and no time.
    """

    def run_trial(self, trial, *args, **kwargs):
        hypermodel = self.hypermodel
        budget = getattr(hypermodel, "max_params", None)
        if isinstance(hypermodel, CNNHyperModel) and budget is not None:
            params = hypermodel.count_params(trial.hyperparameters)
            if params > budget:
                return {
                    OBJECTIVE: OVER_BUDGET_SCORE,
                    PARAMS_METRIC: float(params),
                    SECONDS_METRIC: 0.0,
                    EPOCHS_METRIC: 0.0,
                    OVER_BUDGET_METRIC: 1.0,
                }
        return super().run_trial(trial, *args, **kwargs)


class _RandomSearch(_ScoreOverBudgetAsZero, keras_tuner.RandomSearch):
    """``keras_tuner.RandomSearch`` that scores over-budget configurations 0, untrained."""


class _BayesianOptimization(_ScoreOverBudgetAsZero, keras_tuner.BayesianOptimization):
    """``keras_tuner.BayesianOptimization`` that scores over-budget configurations 0, untrained."""


class _Hyperband(_ScoreOverBudgetAsZero, keras_tuner.Hyperband):
    """``keras_tuner.Hyperband`` that scores over-budget configurations 0, untrained."""


def tuning_dir(root: str | os.PathLike = "_runs", profile: Profile | str | None = None) -> Path:
    """The folder that holds a profile's tuner projects: ``root/<profile name>/tuning``.

    Defined in chapter "Architecture search with Keras Tuner".

    One folder per profile, so a fast test run never reloads (or overwrites)
    the full profile's search. ``profile`` defaults to ``course_lib.profile()``.
    """
    if profile is None or isinstance(profile, str):
        profile = current_profile(profile)
    return Path(root) / profile.name / "tuning"


def _positive_int(value: object, fn: str, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{fn}: {label} must be a positive integer; got {value!r}.")
    return int(value)


def hyperband_trials(max_epochs: int, factor: int = 3) -> tuple[int, int]:
    """Trials and training epochs of one Hyperband iteration: ``(trials, epochs)``.

    Defined in chapter "Architecture search with Keras Tuner".

    Follows Keras Tuner's ``HyperbandOracle``: brackets from the most
    aggressive (many models, few epochs) to plain random search; each round of
    successive halving keeps the best 1/``factor`` and trains them up to
    ``factor`` times longer, continuing from their checkpoint. A continuation
    counts as a trial and trains only the extra epochs.
    """
    max_epochs = _positive_int(max_epochs, "hyperband_trials", "max_epochs")
    if factor < 2:
        raise ValueError(f"hyperband_trials: factor must be an integer of at least 2; got {factor!r}.")
    brackets, e = 0, float(max_epochs)
    while e >= 1:
        e /= factor
        brackets += 1
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    trials = epochs = 0
    for bracket in range(brackets - 1, -1, -1):
        previous = 0
        for round_num in range(bracket + 1):
            size = math.ceil(end_size / (bracket + 1) * factor ** (bracket - round_num))
            round_epochs = math.ceil(max_epochs / factor ** (bracket - round_num))
            trials += size
            epochs += size * (round_epochs - previous)
            previous = round_epochs
    return trials, epochs


def make_tuner(
    kind: str = "random",
    *,
    max_trials: int,
    epochs: int,
    directory: str | os.PathLike | None = None,
    project_name: str | None = None,
    seed: int = 0,
    overwrite: bool = False,
    hypermodel: keras_tuner.HyperModel | None = None,
    max_params: int | None = SEED_CNN_PARAMS,
    strategy=None,
) -> keras_tuner.Tuner:
    """A Keras Tuner of ``kind`` over ``CNNHyperModel``, maximizing ``val_accuracy``.

    Defined in chapter "Architecture search with Keras Tuner".

    Parameters
    ----------
    kind : {"random", "hyperband", "bayesian"}
        ``RandomSearch``, ``Hyperband`` or ``BayesianOptimization``.
    max_trials : int
        Trial budget, for every kind. Hyperband has no such argument of its
        own: it gets as many Hyperband iterations as needed and stops after
        ``max_trials`` trials; its continuations count as trials but train
        fewer epochs, so compare kinds against wall time (or epochs) too.
        Over-budget configurations count as trials: each is scored
        ``OVER_BUDGET_SCORE`` (0) without being built or trained, and
        ``results_frame`` marks it "OVER_BUDGET".
    epochs : int
        Epochs of a trial (``RandomSearch``, ``BayesianOptimization``), the
        longest training of a configuration for Hyperband (``max_epochs``).
    directory : str or path, optional
        Root of the tuner folders; ``tuning_dir()`` by default.
    project_name : str, optional
        Subfolder of this search; ``kind`` by default.
    seed : int, default 0
        Seed of the oracle (which configurations it proposes) and of the
        models' initial weights. Different seeds give different proposals,
        even neighbouring ones (see ``oracle_seed``).
    overwrite : bool, default False
        False reloads an existing project and continues it; True deletes it.
    hypermodel : keras_tuner.HyperModel, optional
        Default ``CNNHyperModel(max_params=max_params, seed=seed)``.
    max_params : int or None, default 265,290
        Parameter budget of the default hypermodel (the lecture notes' network).
    strategy : tf.distribute.Strategy, optional
        Build and train every trial's model under this strategy (for
        instance ``tf.distribute.MirroredStrategy()`` over several GPUs).
    Raises
    ------
    ValueError
        For an unknown ``kind`` or a non-positive ``max_trials``/``epochs``.
    """
    if kind not in TUNER_KINDS:
        raise ValueError(f"make_tuner: kind must be one of {TUNER_KINDS}; got {kind!r}.")
    max_trials = _positive_int(max_trials, "make_tuner", "max_trials")
    epochs = _positive_int(epochs, "make_tuner", "epochs")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"make_tuner: seed must be a non-negative integer; got {seed!r}.")
    hypermodel = hypermodel if hypermodel is not None else CNNHyperModel(max_params=max_params, seed=int(seed))
    common = dict(
        hypermodel=hypermodel,
        objective=keras_tuner.Objective(OBJECTIVE, direction="max"),
        seed=oracle_seed(int(seed)),
        directory=str(directory if directory is not None else tuning_dir()),
        project_name=project_name or kind,
        overwrite=overwrite,
        distribution_strategy=strategy,
        # Failed trials (e.g. a custom hypermodel's rejections) must not end the search.
        max_consecutive_failed_trials=max_trials + 1,
    )
    # Setting up the space, Keras Tuner builds models with default values for
    # whatever it is not exploring; the budget applies to trials, not to those.
    with _budget_suspended(hypermodel):
        if kind == "random":
            tuner = _RandomSearch(max_trials=max_trials, **common)
        elif kind == "bayesian":
            # The default (3 random trials per hyperparameter) would spend the whole
            # budget on random trials; a quarter of it is enough to fit the first model.
            tuner = _BayesianOptimization(
                max_trials=max_trials, num_initial_points=max(2, max_trials // 4), **common
            )
        else:
            per_iteration, _ = hyperband_trials(epochs)
            tuner = _Hyperband(
                max_epochs=epochs, factor=3, hyperband_iterations=math.ceil(max_trials / per_iteration), **common
            )
        # The base Oracle stops creating trials once it has max_trials of them.
        oracle = getattr(tuner.oracle, "_oracle", tuner.oracle)  # a worker wraps it in an OracleClient
        oracle.max_trials = max_trials
    return tuner


SEED_SPACING = 1_000_000


def oracle_seed(seed: int) -> int:
    """The seed ``make_tuner`` gives Keras Tuner's oracle for our ``seed``.

    Defined in chapter "Architecture search with Keras Tuner".

    Keras Tuner draws the n-th random hyperparameter value of a search with
    seed ``oracle seed + n``, so oracles seeded 1 and 2 replay each other's
    draws shifted by one value: their searches share configurations. Spacing
    the seeds ``SEED_SPACING`` apart keeps searches of different seeds
    independent (a search draws about a dozen values per trial). The result
    is never 0, which Keras Tuner reads as "no seed".
    """
    return 1 + seed * SEED_SPACING


@contextlib.contextmanager
def _budget_suspended(hypermodel: keras_tuner.HyperModel) -> Iterator[None]:
    """Lift a ``CNNHyperModel``'s ``max_params`` for the duration of the block."""
    budget = getattr(hypermodel, "max_params", None)
    if isinstance(hypermodel, CNNHyperModel):
        hypermodel.max_params = None
    try:
        yield
    finally:
        if isinstance(hypermodel, CNNHyperModel):
            hypermodel.max_params = budget


def _check_tuning_split(split: object, fn: str, role: str) -> Split:
    if not isinstance(split, Split):
        raise TypeError(
            f"{fn}: {role} must be a course_lib.data.Split (images and labels together); got {type(split).__name__}."
        )
    if tuple(split.x.shape[1:]) != INPUT_SHAPE:
        hint = " Add the channel axis: data.standardize() returns (N, 28, 28, 1)." if split.x.ndim == 3 else ""
        raise ValueError(
            f"{fn}: {role} {split.name!r} has images of shape {tuple(split.x.shape[1:])}; "
            f"the search space expects {INPUT_SHAPE}.{hint}"
        )
    return split


def _check_not_test(split: Split, fn: str, role: str = "valid") -> None:
    if split.name.strip().lower() != "test":
        return
    if role == "valid":
        why = ("A search picks among many models by their score on valid, so that score is optimistic; the "
               "test set must stay unseen until the winner's single final evaluation.")
        remedy = "Pass the validation split (data.load_splits().valid)."
    else:
        why = "A model trained on the test set makes its final evaluation meaningless."
        remedy = "Train on the training split, or on training and validation together (data.combine)."
    raise ValueError(f"{fn}: {role} is the split named 'test'. {why} {remedy}")


def _check_tuner(tuner: object, fn: str) -> keras_tuner.Tuner:
    if not isinstance(tuner, keras_tuner.Tuner):
        raise TypeError(f"{fn}: tuner must be a keras_tuner Tuner (see make_tuner); got {type(tuner).__name__}.")
    return tuner


def search(
    tuner: keras_tuner.Tuner,
    train: Split,
    valid: Split,
    *,
    epochs: int,
    batch_size: int = 64,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int = 0,
) -> keras_tuner.Tuner:
    """Run ``tuner``'s search: train each trial on ``train``, score it on ``valid``.

    Defined in chapter "Architecture search with Keras Tuner".

    Returns after ``max_trials`` trials, or at once if they have all run (a
    reloaded, finished search). An interrupted search resumes: call
    ``make_tuner`` with the same folder and ``overwrite=False``, then
    ``search`` again. In a distributed search the chief blocks here, serving
    trials, until every worker is done.

    Parameters
    ----------
    tuner : keras_tuner.Tuner
        From ``make_tuner``.
    train, valid : Split
        Training data of every trial and the validation split that scores it.
        Never the test set.
    epochs : int
        Epochs of every trial (Hyperband sets its own; pass its ``max_epochs``).
    batch_size : int, default 64
    callbacks : list of keras.callbacks.Callback, optional
        Added to every trial's training (copied per trial).
    verbose : int, default 0
        Keras' progress output for each training; 1 also prints Keras Tuner's
        table of each trial (which clears a notebook cell's earlier output).

    Returns
    -------
    keras_tuner.Tuner
        The same tuner, for chaining.

    Raises
    ------
    ValueError
        If ``valid`` is named "test", or a split does not hold 28x28x1 images.
    """
    _check_tuner(tuner, "search")
    _check_tuning_split(train, "search", "train")
    _check_tuning_split(valid, "search", "valid")
    _check_not_test(valid, "search")
    epochs = _positive_int(epochs, "search", "epochs")
    batch_size = _positive_int(batch_size, "search", "batch_size")
    with _tracebacks_silenced():
        tuner.search(
            train, valid, epochs=epochs, batch_size=batch_size, callbacks=list(callbacks or []), verbose=verbose
        )
    _warn_about_crashes(tuner)
    return tuner


@contextlib.contextmanager
def _tracebacks_silenced() -> Iterator[None]:
    """Stop Keras Tuner printing a traceback for every failed trial.

    With its default ``DEBUG = True``, Keras Tuner prints the full traceback of
    each trial that raised, including the ``FailedTrialError`` a hypermodel
    raises to reject a configuration on purpose (``CNNHyperModel.build`` does
    over the budget, when a tuner not made by ``make_tuner`` builds it). The
    message is kept with the trial either way (``trial.message``).
    """
    from keras_tuner.src import config

    debug = config.DEBUG
    config.DEBUG = False
    try:
        yield
    finally:
        config.DEBUG = debug


def _warn_about_crashes(tuner: keras_tuner.Tuner) -> None:
    """Warn about trials that crashed, as opposed to configurations rejected on purpose.

    Keras Tuner marks both FAILED; a rejection raised ``FailedTrialError``
    (``CNNHyperModel.build`` over the budget), a crash raised anything else.
    """
    trials = getattr(tuner.oracle, "trials", None)
    if trials is None:  # a worker of a distributed search: the chief holds the trials
        return
    crashed = [
        t for t in trials.values() if t.status in ("FAILED", "INVALID") and "FailedTrialError" not in (t.message or "")
    ]
    if crashed:
        last = (crashed[-1].message or "").strip().splitlines()
        warnings.warn(
            f"search: {len(crashed)} trial(s) crashed, e.g. trial {crashed[-1].trial_id}: "
            f"{last[-1] if last else 'no message'}. Their tracebacks are in trial.message "
            "(tuner.oracle.trials); a configuration rejected on purpose raises FailedTrialError instead.",
            RuntimeWarning,
            stacklevel=3,
        )


def _oracle_of(tuner: keras_tuner.Tuner, fn: str):
    oracle = tuner.oracle
    if not hasattr(oracle, "trials"):
        raise ValueError(
            f"{fn}: this tuner is a worker of a distributed search; its trials live in the chief's oracle. "
            "Call it on the chief, or on a tuner made (without the KERASTUNER_* variables) from the same folder."
        )
    return oracle


def _metric(trial, name: str) -> float:
    if trial.metrics.exists(name):
        value = trial.metrics.get_best_value(name)
        if value is not None:
            return float(value)
    return float("nan")


def _over_budget(trial) -> bool:
    """Whether the trial is an over-budget configuration, scored 0 without training."""
    return _metric(trial, OVER_BUDGET_METRIC) == 1.0


def _trials_in_order(oracle) -> list:
    """The oracle's trials in the order they were created (ids "0", "1", ..., "10")."""
    return [oracle.trials[i] for i in sorted(oracle.trials, key=lambda t: (len(t), t))]


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
    ``adam_learning_rate`` or ``sgd_learning_rate``). Hyperband's bookkeeping
    values keep their ``tuner/`` prefix.
    Rows are in the order the trials were created.
    """
    _check_tuner(tuner, "results_frame")
    oracle = _oracle_of(tuner, "results_frame")
    hypermodel = tuner.hypermodel
    rows = []
    for trial in _trials_in_order(oracle):
        params = _metric(trial, PARAMS_METRIC)
        if math.isnan(params) and hasattr(hypermodel, "count_params"):
            # A rejected trial never trained, so it recorded nothing: count its parameters now.
            hp = trial.hyperparameters.copy()
            params = float(hypermodel.count_params(hp))
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


def _readable_values(hp: keras_tuner.HyperParameters) -> dict:
    """``hp``'s values with the per-optimizer rates merged into one ``learning_rate``."""
    values = dict(hp.values)
    rates = {optimizer: values.pop(f"{optimizer}_learning_rate", None) for optimizer, _, _ in LEARNING_RATE_RANGES}
    values["learning_rate"] = rates.get(values.get("optimizer"))
    return values


def best_trial(tuner: keras_tuner.Tuner) -> keras_tuner.engine.trial.Trial:
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
    trained = [t for t in _trials_in_order(oracle) if t.status == "COMPLETED" and not _over_budget(t)]
    if not trained:
        raise ValueError(
            f"best_trial: the tuner in {tuner.project_dir} has no completed trial within the parameter budget "
            f"({len(oracle.trials)} trials in all); run search() first."
        )
    return max(trained, key=lambda t: t.score)  # the earliest of equals


def retrain_best(
    tuner: keras_tuner.Tuner,
    train: Split,
    valid: Split | None,
    *,
    epochs: int,
    batch_size: int = 64,
    run_dir: str | os.PathLike | None = None,
    patience: int | None = None,
    seed: int | None = None,
    cosine_decay: bool = False,
    augmentation: keras.layers.Layer | None = None,
    verbose: str | int = 0,
    trial: keras_tuner.engine.trial.Trial | None = None,
) -> tuple[keras.Model, keras.callbacks.History]:
    """Build the best trial's configuration (or ``trial``'s) afresh and train it with ``course_lib.train.fit``.

    Defined in chapter "Architecture search with Keras Tuner".

    The search trained each configuration briefly on a subset; the winner is
    retrained from scratch on ``train`` (typically the full training set),
    reporting on ``valid``. Evaluate the returned model on the test set once,
    with ``course_lib.train.evaluate``.

    Parameters
    ----------
    tuner : keras_tuner.Tuner
        A tuner whose search has at least one completed trial.
    train : Split
    valid : Split or None
        Reported on after every epoch. None for a final training on all the
        labelled data (training and validation images together, see
        ``course_lib.data.combine``), once the configuration and the epochs
        are chosen: there is then nothing left to validate on.
    epochs, batch_size, run_dir, patience, verbose
        As in ``course_lib.train.fit``.
    seed : int, optional
        Seed for the new model's initial weights; by default the hypermodel's.
    cosine_decay : bool, default False
        Decay the chosen learning rate to zero over the ``epochs`` (cosine
        schedule, see ``compile_for``) instead of keeping it constant as the
        search did. A long training usually ends better with it.
    augmentation : keras.layers.Layer, optional
        Put this layer (e.g. ``augment.pipeline(...)``) in front of the
        winner, active in training only (``augment.with_augmentation``). It
        adds no parameters, so the winner stays within the budget.
    trial : keras_tuner Trial, optional
        Retrain this trial of ``tuner`` instead of the best one (for a final
        round among the ``top_trials``). It must have completed within the
        parameter budget.

    Returns
    -------
    (keras.Model, keras.callbacks.History)

    Raises
    ------
    ValueError
        If no trial has completed, ``train`` or ``valid`` is named "test", or
        ``trial`` is not a completed, within-budget trial of ``tuner``.
    """
    from course_lib import train as training

    _check_tuner(tuner, "retrain_best")
    _check_tuning_split(train, "retrain_best", "train")
    _check_not_test(train, "retrain_best", "train")
    if valid is not None:
        _check_tuning_split(valid, "retrain_best", "valid")
        _check_not_test(valid, "retrain_best")
    best = best_trial(tuner) if trial is None else _check_trial_of(tuner, trial, "retrain_best")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    hypermodel = tuner.hypermodel
    if seed is not None and isinstance(hypermodel, CNNHyperModel):
        hypermodel = CNNHyperModel(max_params=hypermodel.max_params, seed=seed, name=hypermodel.name)
    hp = best.hyperparameters.copy()
    model = hypermodel.build(hp)
    decay_steps = None
    if cosine_decay:
        epochs = _positive_int(epochs, "retrain_best", "epochs")
        batch_size = _positive_int(batch_size, "retrain_best", "batch_size")
        decay_steps = epochs * math.ceil(len(train) / batch_size)
    if augmentation is not None:
        from course_lib import augment

        model = augment.with_augmentation(model, augmentation)
    if cosine_decay or augmentation is not None:
        compile_for(model, hp, decay_steps=decay_steps)
    history = training.fit(
        model, train, valid, epochs=epochs, batch_size=batch_size, run_dir=run_dir, patience=patience, verbose=verbose
    )
    return model, history


def _check_trial_of(tuner: keras_tuner.Tuner, trial: object, fn: str) -> keras_tuner.engine.trial.Trial:
    oracle = _oracle_of(tuner, fn)
    trial_id = getattr(trial, "trial_id", None)
    if trial_id not in oracle.trials:
        raise ValueError(f"{fn}: trial {trial_id!r} is not a trial of the tuner in {tuner.project_dir}; pass one of its trials.")
    trial = oracle.trials[trial_id]
    if trial.status != "COMPLETED" or _over_budget(trial):
        raise ValueError(
            f"{fn}: trial {trial_id!r} did not complete within the parameter budget (status {trial.status!r}); "
            "pass a trial that trained, e.g. one of top_trials()."
        )
    return trial


def top_trials(tuners: dict[str, keras_tuner.Tuner], count: int) -> list[tuple[str, keras_tuner.engine.trial.Trial]]:
    """The ``count`` best distinct configurations of several searches: ``[(name, trial), ...]``.

    Defined in chapter "Architecture search with Keras Tuner".

    Completed trials within the budget, best validation accuracy first; a
    configuration found twice (by two tuners, or continued by Hyperband)
    appears once, with its best trial. ``name`` is the tuner's key in
    ``tuners``. Retrain each with ``retrain_best(tuners[name], ...,
    trial=trial)`` and keep the one with the best validation accuracy: a
    final round that judges the finalists by the training they will get.

    Raises
    ------
    ValueError
        If ``count`` is not a positive integer or no trial completed.
    """
    count = _positive_int(count, "top_trials", "count")
    if not isinstance(tuners, dict) or not tuners:
        raise TypeError(f"top_trials: tuners must be a non-empty dict of name -> tuner; got {type(tuners).__name__}.")
    best: dict[tuple, tuple[str, keras_tuner.engine.trial.Trial]] = {}
    for name, tuner in tuners.items():
        _check_tuner(tuner, "top_trials")
        for trial in _trials_in_order(_oracle_of(tuner, "top_trials")):
            if trial.status != "COMPLETED" or _over_budget(trial) or trial.score is None:
                continue
            values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
            key = tuple(sorted(values.items()))
            if key not in best or trial.score > best[key][1].score:
                best[key] = (name, trial)
    if not best:
        raise ValueError("top_trials: no trial completed within the parameter budget in any of the tuners.")
    return sorted(best.values(), key=lambda pair: -pair[1].score)[:count]


def final_round(
    tuners: dict[str, keras_tuner.Tuner],
    train: Split,
    valid: Split,
    *,
    count: int,
    epochs: int,
    batch_size: int = 64,
    augmentation: keras.layers.Layer | None = None,
    verbose: str | int = 0,
) -> pd.DataFrame:
    """Retrain the ``count`` best configurations briefly with the final recipe; rank them by validation.

    Defined in chapter "Architecture search with Keras Tuner".

    The searches ranked their trials by a short training on a subset. The
    finalists (``top_trials(tuners, count)``) are each trained afresh for
    ``epochs`` epochs on ``train`` with the recipe of the final training (the
    learning rate decays to zero on a cosine schedule, ``augmentation`` in
    front), and judged by their validation accuracy after it: one more round
    of successive halving, on all the training data.

    Returns
    -------
    pd.DataFrame
        One row per finalist, best first: ``tuner``, ``trial_id``,
        ``search_val_accuracy`` (its score in the search),
        ``val_accuracy`` (after this round), ``params``, ``wall_time_s``.
        ``final_round(...).iloc[0]`` is the winner; pass
        ``tuners[row.tuner].oracle.trials[row.trial_id]`` to
        ``retrain_best(..., trial=)``.

    Raises
    ------
    ValueError
        As ``top_trials`` and ``retrain_best`` (e.g. ``valid`` named "test").
    """
    _check_tuning_split(valid, "final_round", "valid")
    _check_not_test(valid, "final_round")
    rows = []
    for name, trial in top_trials(tuners, count):
        started = time.perf_counter()
        model, history = retrain_best(
            tuners[name], train, valid, epochs=epochs, batch_size=batch_size, cosine_decay=True,
            augmentation=augmentation, verbose=verbose, trial=trial,
        )
        rows.append(
            {
                "tuner": name,
                "trial_id": trial.trial_id,
                "search_val_accuracy": float(trial.score),
                "val_accuracy": float(history.history["val_accuracy"][-1]),
                "params": int(tuners[name].hypermodel.count_params(trial.hyperparameters.copy())),
                "wall_time_s": time.perf_counter() - started,
            }
        )
        del model
    frame = pd.DataFrame(rows)
    # A stable sort keeps the search's order among equals.
    return frame.sort_values("val_accuracy", ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------
# Reading the results
# --------------------------------------------------------------------------


def _check_frame(frame: object, fn: str, columns: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{fn}: expected the DataFrame of results_frame(); got {type(frame).__name__}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{fn}: the frame lacks columns {missing}; pass the DataFrame of results_frame().")
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
    return pd.DataFrame(
        {"trial": np.arange(1, len(frame) + 1), "seconds": np.cumsum(seconds), "best_val_accuracy": best}
    )


def pareto_front(frame: pd.DataFrame) -> pd.DataFrame:
    """The completed trials no other trial beats with fewer parameters.

    Defined in chapter "Architecture search with Keras Tuner".

    A trial is on the front when every trial with at most as many parameters
    has a lower validation accuracy: it is the best model of its size. Rows
    are sorted by parameter count.
    """
    frame = _check_frame(frame, "pareto_front", ("val_accuracy", "params"))
    done = frame.dropna(subset=["val_accuracy", "params"]).sort_values(["params", "val_accuracy"], ascending=[True, False])
    keep, best = [], -np.inf
    for index, row in done.iterrows():
        if row["val_accuracy"] > best:
            keep.append(index)
            best = row["val_accuracy"]
    return done.loc[keep]
