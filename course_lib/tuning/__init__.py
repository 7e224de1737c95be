"""Architecture search with Keras Tuner: the search space, the tuners, their results.

Defined in chapter "Architecture search with Keras Tuner".

A search runs on a training subset and scores every trial on the validation
split; only the final models, built afresh and trained once the design is
frozen, ever see the test set (once each).

- ``course_lib.tuning.space``: the search space (``CNNHyperModel``,
  ``spec_from_hp``) and how a configuration is compiled;
- ``course_lib.tuning.tuners``: the three tuners (``make_tuner``) and the
  search itself (``search``), resumable and distributable;
- ``course_lib.tuning.results``: one row per trial, the best trials, the
  search's progress and the Pareto front;
- ``course_lib.tuning.retrain``: a trial's network built afresh
  (``build_trial``) and a final round among the best (``final_round``).

Everything is importable from ``course_lib.tuning``.
"""

from course_lib.tuning.results import (
    best_so_far,
    best_trial,
    pareto_front,
    results_frame,
    top_trials,
)
from course_lib.tuning.retrain import build_configuration, build_trial, final_round
from course_lib.tuning.space import (
    LEARNING_RATE_RANGES,
    MAX_FILTERS,
    NOTES_CNN_PARAMS,
    OBJECTIVE,
    CNNHyperModel,
    chosen_learning_rate,
    compile_for,
    spec_from_hp,
)
from course_lib.tuning.tuners import (
    OVER_BUDGET_SCORE,
    SEED_SPACING,
    TUNER_KINDS,
    hyperband_trials,
    make_tuner,
    oracle_seed,
    search,
    tuning_dir,
)

__all__ = [
    "NOTES_CNN_PARAMS",
    "MAX_FILTERS",
    "LEARNING_RATE_RANGES",
    "OBJECTIVE",
    "CNNHyperModel",
    "spec_from_hp",
    "chosen_learning_rate",
    "compile_for",
    "TUNER_KINDS",
    "OVER_BUDGET_SCORE",
    "SEED_SPACING",
    "tuning_dir",
    "hyperband_trials",
    "make_tuner",
    "oracle_seed",
    "search",
    "results_frame",
    "best_trial",
    "top_trials",
    "best_so_far",
    "pareto_front",
    "build_configuration",
    "build_trial",
    "final_round",
]
