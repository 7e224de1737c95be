"""The tuners: Keras Tuner's three search algorithms over ``CNNHyperModel``, and the search.

Defined in chapter "Architecture search with Keras Tuner".

Every tuner keeps its state in one folder::

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

    export KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000
    KERASTUNER_TUNER_ID=chief python search.py
    KERASTUNER_TUNER_ID=tuner0 python search.py
    KERASTUNER_TUNER_ID=tuner1 python search.py

All processes must see the same ``directory`` (a shared file system), since
workers save their trials' checkpoints there.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import keras_tuner
from keras_tuner.src.distribute import utils as dist_utils

from course_lib import _checks
from course_lib.data import NUM_CLASSES, Split
from course_lib.profiles import Profile
from course_lib.profiles import profile as current_profile
from course_lib.tuning.space import (
    EPOCHS_METRIC,
    NOTES_CNN_PARAMS,
    OBJECTIVE,
    OVER_BUDGET_METRIC,
    PARAMS_METRIC,
    SECONDS_METRIC,
    CNNHyperModel,
)

__all__ = [
    "TUNER_KINDS",
    "OVER_BUDGET_SCORE",
    "SEED_SPACING",
    "tuning_dir",
    "hyperband_trials",
    "make_tuner",
    "oracle_seed",
    "search",
]

TUNER_KINDS = ("random", "hyperband", "bayesian")
OVER_BUDGET_SCORE = 0.0
"""The score an over-budget configuration gets in a search: the worst accuracy there is."""
SEED_SPACING = 1_000_000
INPUT_SHAPE = (28, 28, 1)


class _ScoreOverBudgetAsZero:
    """Tuner mixin: an over-budget configuration scores 0 (``OVER_BUDGET_SCORE``), untrained.

    Rejecting it with ``FailedTrialError`` leaves the trial without a score, so
    a Bayesian oracle learns nothing from it and may propose the same
    configuration again. The worst possible accuracy, 0, tells a model-based
    oracle (Bayesian optimization) that the region is worthless, and never
    ranks the configuration above a trained one; random search and Hyperband
    draw at random and learn nothing from it. The trial records
    ``over_budget = 1`` and no time.
    """

    def run_trial(self, trial, *args, **kwargs):
        budget = self.hypermodel.max_params
        if budget is not None:
            params = self.hypermodel.count_params(trial.hyperparameters)
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


def hyperband_trials(max_epochs: int, factor: int = 3) -> tuple[int, int]:
    """Trials and training epochs of one Hyperband iteration: ``(trials, epochs)``.

    Defined in chapter "Architecture search with Keras Tuner".

    Follows Keras Tuner's ``HyperbandOracle``: brackets from the most
    aggressive (many models, few epochs) to plain random search; each round of
    successive halving keeps the best 1/``factor`` and trains them up to
    ``factor`` times longer, continuing from their checkpoint. A continuation
    counts as a trial and trains only the extra epochs.

    Raises
    ------
    TypeError, ValueError
        If ``max_epochs`` is not an integer >= 1 or ``factor`` an integer >= 2.
    """
    max_epochs = _checks.check_int(max_epochs, "hyperband_trials", "max_epochs", low=1)
    factor = _checks.check_int(factor, "hyperband_trials", "factor", low=2)
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
    return 1 + _checks.check_int(seed, "oracle_seed", "seed", low=0) * SEED_SPACING


def make_tuner(
    kind: str = "random",
    *,
    max_trials: int,
    epochs: int,
    directory: str | os.PathLike | None = None,
    project_name: str | None = None,
    seed: int | None = None,
    overwrite: bool = False,
    max_params: int | None = NOTES_CNN_PARAMS,
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
    seed : int, optional
        Seed of the oracle (which configurations it proposes, see
        ``oracle_seed``) and of the models' initial weights; different seeds
        give different proposals. None: a search that is not reproducible.
        The training itself (the order of the batches) follows Keras' global
        random state, which the chapter seeds in its first cell.
    overwrite : bool, default False
        False reloads an existing project and continues it; True deletes it.
    max_params : int or None, default ``NOTES_CNN_PARAMS``
        Parameter budget (the lecture notes' network); None for no budget.
    strategy : tf.distribute.Strategy, optional
        Build and train every trial's model under this strategy (for
        instance ``tf.distribute.MirroredStrategy()`` over several GPUs).

    Raises
    ------
    TypeError, ValueError
        For an unknown ``kind``, a ``max_trials`` or ``epochs`` below 1, or
        a bad ``seed``; ValueError for a saved search to reload whose files
        were cut short (a search killed while writing them).
    """
    fn = "make_tuner"
    _checks.check_choice(kind, fn, "kind", TUNER_KINDS)
    max_trials = _checks.check_int(max_trials, fn, "max_trials", low=1)
    epochs = _checks.check_int(epochs, fn, "epochs", low=1)
    seed = _checks.check_seed(seed, fn)
    directory = Path(directory if directory is not None else tuning_dir())
    project_name = project_name or kind
    if not overwrite:
        _check_saved_search(directory / project_name)
    hypermodel = CNNHyperModel(max_params=max_params, seed=seed)
    common = dict(
        hypermodel=hypermodel,
        objective=keras_tuner.Objective(OBJECTIVE, direction="max"),
        seed=None if seed is None else oracle_seed(seed),
        directory=str(directory),
        project_name=project_name,
        overwrite=overwrite,
        distribution_strategy=strategy,
        # A crashed trial must not end the search.
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
            iterations = math.ceil(max_trials / per_iteration)
            tuner = _Hyperband(
                max_epochs=epochs, factor=3, hyperband_iterations=iterations, **common
            )
        # The base Oracle stops creating trials once it has max_trials of them.
        # A worker wraps the oracle in an OracleClient.
        oracle = getattr(tuner.oracle, "_oracle", tuner.oracle)
        oracle.max_trials = max_trials
    return tuner


def _check_saved_search(project: Path) -> None:
    """Refuse to reload a search whose JSON files were cut short, naming the file and the remedy.

    Keras Tuner reloads ``project`` if it holds this process's ``tuner*.json``: the chief (or
    a lone tuner) also reads ``oracle.json`` and every ``trial_*/trial.json``. A search killed
    while writing one leaves it cut short, and Keras Tuner fails with a bare JSONDecodeError.
    """
    own = project / f"{os.environ.get('KERASTUNER_TUNER_ID', 'tuner0')}.json"
    if not own.is_file():
        return  # Keras Tuner starts a new search
    files = [own]
    if not (dist_utils.has_chief_oracle() and not dist_utils.is_chief_oracle()):
        files += [project / "oracle.json", *sorted(project.glob("trial_*/trial.json"))]
    for path in filter(Path.is_file, files):
        try:
            json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(
                f"make_tuner: cannot reload the search in {project}: {path} cannot be read "
                f"({err}); a search killed while writing it leaves it cut short. To start the "
                f"search over, delete the folder {project} or pass overwrite=True (deleting only "
                "a trial's folder does not work: oracle.json still lists the trial)."
            ) from err


@contextlib.contextmanager
def _budget_suspended(hypermodel: CNNHyperModel) -> Iterator[None]:
    """Lift ``hypermodel.max_params`` for the duration of the block."""
    budget = hypermodel.max_params
    hypermodel.max_params = None
    try:
        yield
    finally:
        hypermodel.max_params = budget


def _check_tuner(tuner: object, fn: str) -> keras_tuner.Tuner:
    if not isinstance(tuner, keras_tuner.Tuner):
        raise TypeError(
            f"{fn}: tuner must be a keras_tuner Tuner (see make_tuner); got {type(tuner).__name__}."
        )
    return tuner


def search(
    tuner: keras_tuner.Tuner,
    train: Split,
    valid: Split,
    *,
    epochs: int,
    batch_size: int = 64,
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
        Never test data, whatever the split's name.
    epochs : int
        Epochs of every trial (Hyperband sets its own; pass its ``max_epochs``).
    batch_size : int, default 64

    Returns
    -------
    keras_tuner.Tuner
        The same tuner, for chaining.

    Raises
    ------
    TypeError, ValueError
        If ``train`` or ``valid`` is test data or does not hold 28x28x1 images.
    """
    fn = "search"
    _check_tuner(tuner, fn)
    _checks.check_training_data(train, valid, fn, image_shape=INPUT_SHAPE)
    _checks.check_training_labels(train, valid, fn, NUM_CLASSES)
    epochs = _checks.check_int(epochs, fn, "epochs", low=1)
    batch_size = _checks.check_int(batch_size, fn, "batch_size", low=1)
    with _tracebacks_silenced(), _harmless_warnings_silenced():
        tuner.search(train, valid, epochs=epochs, batch_size=batch_size, verbose=0)
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


HARMLESS_WARNINGS = (
    # Hyperband continues a trial from its checkpoint: the weights are loaded into a
    # freshly compiled model, whose optimizer has no state yet, so Keras skips the
    # optimizer's saved variables (the continuation starts with fresh momentum).
    "Skipping variable loading for optimizer",
    # Bayesian optimization's Gaussian process (scikit-learn) fitting a length scale
    # at the edge of its range, common with few trials; the search goes on.
    "The optimal value found for dimension",
)
"""Starts of warnings a search raises by design; ``search`` does not show them."""


@contextlib.contextmanager
def _harmless_warnings_silenced() -> Iterator[None]:
    """Hide the warnings of ``HARMLESS_WARNINGS`` during a search; every other one shows."""
    with warnings.catch_warnings():
        for start in HARMLESS_WARNINGS:
            warnings.filterwarnings("ignore", message=start)
        yield


def _warn_about_crashes(tuner: keras_tuner.Tuner) -> None:
    """Warn about trials that crashed, as opposed to configurations rejected on purpose.

    Keras Tuner marks both FAILED; a rejection raised ``FailedTrialError``
    (``CNNHyperModel.build`` over the budget), a crash raised anything else.
    """
    trials = getattr(tuner.oracle, "trials", None)
    if trials is None:  # a worker of a distributed search: the chief holds the trials
        return
    crashed = [
        t
        for t in trials.values()
        if t.status in ("FAILED", "INVALID") and "FailedTrialError" not in (t.message or "")
    ]
    if crashed:
        last = (crashed[-1].message or "").strip().splitlines()
        warnings.warn(
            f"search: {len(crashed)} trial(s) crashed, e.g. trial {crashed[-1].trial_id}: "
            f"{last[-1] if last else 'no message'}. Their tracebacks are in trial.message "
            "(tuner.oracle.trials); a configuration rejected on purpose raises FailedTrialError "
            "instead.",
            RuntimeWarning,
            stacklevel=3,
        )
