"""The search space: the lecture notes' CNN family as Keras Tuner hyperparameters.

Defined in chapter "Architecture search with Keras Tuner".

``spec_from_hp`` reads a configuration from Keras Tuner's hyperparameters and
returns a ``models.CNNSpec``, the description of chapter "A CNN classifier":
the spec builds the network and counts its parameters, so the search space
holds no layer code of its own.
"""

from __future__ import annotations

import time

import keras
import keras_tuner
import numpy as np

from course_lib import _checks
from course_lib import train as training
from course_lib.data import Split
from course_lib.models import CONV_KINDS, DEPTHWISE_HE_NORMAL, HEADS, NOTES_CNN_PARAMS, CNNSpec

__all__ = [
    "NOTES_CNN_PARAMS",
    "MAX_FILTERS",
    "LEARNING_RATE_RANGES",
    "OBJECTIVE",
    "CNNHyperModel",
    "spec_from_hp",
    "chosen_learning_rate",
    "compile_for",
]

MAX_FILTERS = 128
LEARNING_RATE_RANGES = (("adam", 1e-4, 1e-2), ("sgd", 1e-3, 1e-1))
"""Each optimizer's learning-rate range in the search space: (optimizer, lowest, highest)."""

OBJECTIVE = "val_accuracy"
"""What every search maximizes: the validation accuracy of a trial's best epoch."""

# Names of the metrics a trial records besides the objective.
PARAMS_METRIC = "num_params"
SECONDS_METRIC = "wall_time_s"
EPOCHS_METRIC = "epochs_trained"
OVER_BUDGET_METRIC = "over_budget"


def spec_from_hp(hp: keras_tuner.HyperParameters) -> CNNSpec:
    """The network that the hyperparameters ``hp`` describe, as a ``models.CNNSpec``.

    Defined in chapter "Architecture search with Keras Tuner".

    Registers every hyperparameter of the space in ``hp``; values already
    set in ``hp.values`` are used, the others get their defaults.
    """
    blocks = hp.Int("blocks", 2, 3)
    filters = []
    for i in range(3):
        # Block i+1 exists when blocks >= i+1; its filters exist only then.
        with hp.conditional_scope("blocks", list(range(i + 1, 4))):
            n = hp.Int(f"filters_{i + 1}", 16, MAX_FILTERS, step=2, sampling="log")
        if i < blocks:
            filters.append(n)
    conv = hp.Choice("conv", list(CONV_KINDS))
    kernel_size = hp.Choice("kernel_size", [3, 5])
    batch_norm = hp.Boolean("batch_norm")
    dropout = hp.Float("dropout", 0.0, 0.5, step=0.1)
    head = hp.Choice("head", list(HEADS))
    with hp.conditional_scope("head", ["flatten"]):
        units = hp.Int("dense_units", 32, 256, step=2, sampling="log")
    hp.Choice("optimizer", [optimizer for optimizer, _, _ in LEARNING_RATE_RANGES])
    for optimizer, low, high in LEARNING_RATE_RANGES:
        with hp.conditional_scope("optimizer", [optimizer]):
            hp.Float(f"{optimizer}_learning_rate", low, high, sampling="log")
    return CNNSpec(
        filters=tuple(filters),
        conv=conv,
        kernel_size=kernel_size,
        batch_norm=bool(batch_norm),
        block_dropout=dropout,
        head=head,
        dense_units=units if head == "flatten" else CNNSpec.dense_units,
        dropout=dropout,
        initializer="he_normal",
        # Keras' own depthwise initializer starts separable layers sqrt(C) times too
        # small (chapter "A CNN classifier"); standard layers ignore this argument.
        depthwise_initializer=DEPTHWISE_HE_NORMAL,
    )


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
            f"chosen_learning_rate: the optimizer is {optimizer!r} but the "
            f"hyperparameters have no {name!r} (they have {sorted(hp.values)}). "
            "Set the rate under the chosen optimizer's name."
        )
    return float(hp.get(name))


def compile_for(
    model: keras.Model, hp: keras_tuner.HyperParameters, decay_steps: int | None = None
) -> keras.Model:
    """Compile ``model`` with the optimizer and learning rate that ``hp`` chose; return it.

    Defined in chapter "Architecture search with Keras Tuner".

    ``train.compile_classifier`` with ``hp``'s choices. With ``decay_steps``
    the rate decays to zero on a cosine over that many steps; without it, it
    stays constant, as in the search's short trials.
    """
    rate = chosen_learning_rate(hp)
    return training.compile_classifier(model, hp.get("optimizer"), rate, decay_steps=decay_steps)


class CNNHyperModel(keras_tuner.HyperModel):
    """The search space: CNNs of the lecture notes' family for 28x28x1 images, 10 classes.

    Defined in chapter "Architecture search with Keras Tuner".

    A model is ``blocks`` blocks of two "same" convolutions and a 2x2 max
    pooling, then a head, then a softmax ``Dense`` layer (``models.CNNSpec``,
    He-initialized). The hyperparameters (``spec_from_hp``):

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
    with 128 units): ``NOTES_CNN_PARAMS`` (265,290) parameters.

    Each optimizer has its own learning-rate range: SGD with momentum needs
    rates about ten times Adam's (the chapter "A CNN classifier" trains with
    Adam at 1e-3; SGD's usual starting point is 1e-2 to 1e-1); on one range
    for both, most trials of one optimizer would barely learn.
    ``chosen_learning_rate(hp)`` reads the rate of the chosen optimizer.

    Parameters
    ----------
    max_params : int, optional
        Parameter budget. ``build`` raises ``keras_tuner.errors.FailedTrialError``
        for a larger configuration. The tuners of ``make_tuner`` do not even
        build it: they score it ``OVER_BUDGET_SCORE`` (0) without training,
        so a Bayesian oracle learns that the region is out of bounds.
    seed : int, optional
        Seeds the weights and dropout of every model this hypermodel builds
        (the same seed for every trial), so two trials differ only by their
        hyperparameters. None: not reproducible.
    name : str, default "cnn"

    Raises
    ------
    ValueError
        If ``max_params`` is below the parameter count of the smallest
        configuration (the defaults), which Keras Tuner builds when it sets up
        the search space.
    """

    def __init__(
        self, max_params: int | None = None, seed: int | None = None, name: str = "cnn"
    ) -> None:
        super().__init__(name=name)
        if max_params is not None:
            max_params = _checks.check_int(max_params, "CNNHyperModel", "max_params", low=1)
        self.max_params = max_params
        self.seed = _checks.check_seed(seed, "CNNHyperModel")
        if self.max_params is not None:
            smallest = self.count_params(keras_tuner.HyperParameters())
            if self.max_params < smallest:
                raise ValueError(
                    f"CNNHyperModel: max_params={self.max_params:,} is below the smallest model "
                    f"in the search space ({smallest:,} parameters with the default "
                    "hyperparameters); no trial could run. Expected a budget of at least that "
                    "many parameters."
                )
        self._built_at: float | None = None

    def architecture(self, hp: keras_tuner.HyperParameters) -> keras.Sequential:
        """The (uncompiled) model that ``hp`` describes: ``spec_from_hp(hp).build(...)``.

        Defined in chapter "Architecture search with Keras Tuner".
        """
        spec = spec_from_hp(hp)
        name = f"{self.name}_{spec.conv}_{len(spec.filters)}blocks"
        return spec.build(seed=self.seed, name=name)

    def count_params(self, hp: keras_tuner.HyperParameters) -> int:
        """Parameters of the model ``hp`` describes, counted without building it.

        Defined in chapter "Architecture search with Keras Tuner".

        ``spec_from_hp(hp).count_params()``: the same count as
        ``architecture(hp).count_params()`` in microseconds rather than the
        second a Keras model takes to build, so over-budget configurations
        are turned away at no cost.
        """
        return spec_from_hp(hp).count_params()

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
                f"CNNHyperModel.build: {n:,} parameters, above the budget "
                f"max_params={self.max_params:,}; trial skipped without training."
            )
        return compile_for(self.architecture(hp), hp)

    def fit(
        self,
        hp: keras_tuner.HyperParameters,
        model: keras.Model,
        train: Split,
        valid: Split,
        **kwargs,
    ) -> dict:
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
