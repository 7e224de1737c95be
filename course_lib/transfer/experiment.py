"""The few-label experiment: from scratch, on frozen features, fine-tuned; over labels and seeds.

Defined in chapter "Transfer learning".

Seeds: the functions here seed the weights, the dropout masks and the samples they draw
from their ``seed`` argument, without touching the global random state. The order of the
training batches (``model.fit`` shuffles) still follows the global seed, which the notebook
sets once in its first cell.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np

from course_lib import _checks
from course_lib.data import Split, Splits, repeat_to, sample_per_class
from course_lib.models.backbones import (
    backbone_blocks,
    backbone_classifier,
    backbone_of,
    freeze,
    unfreeze_top,
    with_new_head,
)

if TYPE_CHECKING:
    import pandas as pd

from course_lib.transfer.tasks import _num_classes

__all__ = [
    "METHODS",
    "BATCH_SIZE",
    "MIN_EPOCH_SIZE",
    "SCRATCH_LEARNING_RATE",
    "HEAD_LEARNING_RATE",
    "train_three_ways",
    "few_label_runs",
    "summarize_runs",
]


METHODS = ("scratch", "frozen", "fine-tuned")
"""The three ways ``few_label_runs`` trains a target model."""

BATCH_SIZE = 32
"""Batch size of every training in ``train_three_ways``."""

MIN_EPOCH_SIZE = 1_000
"""``train_three_ways`` repeats the labelled examples to at least this many images per epoch."""

SCRATCH_LEARNING_RATE = 1e-3
"""Learning rate (Adam) of the network trained from scratch."""

HEAD_LEARNING_RATE = 1e-2
"""Learning rate (Adam) of the new head on the frozen backbone: a linear classifier on
fixed features takes a larger step than a deep network."""


def train_three_ways(
    backbone: keras.Model,
    train: Split,
    test: Split,
    *,
    epochs: int,
    seed: int | None = None,
    fine_tune_learning_rate: float = 1e-4,
) -> dict[str, float]:
    """Test accuracy of a target model trained from scratch, on frozen features, and fine-tuned.

    Defined in chapter "Transfer learning".

    - ``"scratch"``: ``models.backbone_classifier`` from random weights,
      Adam at ``SCRATCH_LEARNING_RATE``, ``epochs`` epochs.
    - ``"frozen"``: a copy of ``backbone``, frozen, with a new head, Adam at
      ``HEAD_LEARNING_RATE``, ``epochs`` epochs.
    - ``"fine-tuned"``: that model, trained ``epochs`` more epochs with the
      whole backbone unfrozen (batch normalization aside) at
      ``fine_tune_learning_rate``.

    Fine-tuning thus trains twice as many epochs as the others, but only the
    second half updates the backbone: scratch and fine-tuning each get
    ``epochs`` epochs of full training. With few labels an epoch would be a
    handful of steps, so an epoch repeats the labelled examples (each
    repetition shuffled) to at least ``MIN_EPOCH_SIZE`` images: every
    training makes at least ``epochs * MIN_EPOCH_SIZE / BATCH_SIZE`` steps.

    ``seed`` seeds the repetition, the initial weights and the dropout masks
    (locally); the batch order follows the global seed. None: not
    reproducible.

    Raises
    ------
    ValueError
        If ``train`` is test data (whatever its name), its labels are not
        0..K-1, or ``test`` has a label outside 0..K-1 (labels not relabelled
        like the training labels: cut both with ``transfer.split_task``).
    """
    from course_lib.train import compile_classifier, evaluate, fit

    fn = "train_three_ways"
    _checks.check_split(train, fn, "train", class_labels=True)
    _checks.refuse_test(train, fn, "train", use="train")
    k = _num_classes(train, fn, "train")
    _checks.check_split(test, fn, "test", class_labels=True)
    outside = sorted(set(np.unique(test.y).tolist()) - set(range(k)))
    if outside:
        raise ValueError(
            f"{fn}: the labels of test must be in 0..{k - 1}, the classes of "
            f"the training labels; split {test.name!r} also has the labels "
            f"{outside}. Relabel the test split like the training split: cut "
            "both with transfer.split_task (or data.class_subset with the same "
            "classes)."
        )
    epochs = _checks.check_int(epochs, fn, "epochs", low=1)
    seed = _checks.check_seed(seed, fn)
    rate = _checks.check_real(
        fine_tune_learning_rate, fn, "fine_tune_learning_rate", low=0, low_open=True
    )
    train = repeat_to(train, MIN_EPOCH_SIZE, seed=seed)
    results: dict[str, float] = {}
    with warnings.catch_warnings():
        # chance-level warnings are expected with few labels
        warnings.simplefilter("ignore", UserWarning)
        shape = tuple(train.x.shape[1:])
        scratch = backbone_classifier(k, input_shape=shape, seed=seed)
        compile_classifier(scratch, "adam", SCRATCH_LEARNING_RATE)
        fit(scratch, train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
        results["scratch"] = evaluate(scratch, test)["accuracy"]

        model = with_new_head(backbone, k, seed=seed)
        inner = freeze(backbone_of(model))
        compile_classifier(model, "adam", HEAD_LEARNING_RATE)
        fit(model, train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
        results["frozen"] = evaluate(model, test)["accuracy"]

        unfreeze_top(inner, len(backbone_blocks(inner)))
        compile_classifier(model, "adam", rate)
        fit(model, train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
        results["fine-tuned"] = evaluate(model, test)["accuracy"]
    return results


def few_label_runs(
    backbone: keras.Model,
    target: Splits,
    label_counts: Sequence[int],
    seeds: int | Sequence[int],
    *,
    epochs: int,
    test_size: int | None = None,
) -> pd.DataFrame:
    """Run ``train_three_ways`` for every number of labels and seed; one row per run and method.

    Defined in chapter "Transfer learning".

    For each count ``n`` and seed ``s``, ``data.sample_per_class(target.train,
    n, seed=s)`` draws the labelled examples and ``train_three_ways`` trains
    with ``seed=s``; every model is scored on the same ``test_size`` images of
    ``target.test`` (all by default, else a balanced sample drawn with seed 0).

    Parameters
    ----------
    seeds : int or sequence of int
        The seeds, or their number ``n`` for the seeds ``0..n-1``.

    Returns
    -------
    pandas.DataFrame
        Columns ``labels``, ``seed``, ``method`` and ``accuracy``.
    """
    import pandas as pd

    fn = "few_label_runs"
    if not isinstance(target, Splits):
        raise TypeError(
            f"{fn}: target must be the Splits of a task (train, valid, test), e.g. "
            f"transfer.split_task(...).target; got {type(target).__name__}."
        )
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        seeds = range(_checks.check_int(seeds, fn, "seeds", low=1))
    seeds = [_checks.check_seed(s, fn) for s in seeds]
    counts = [_checks.check_int(n, fn, "every label count", low=1) for n in label_counts]
    if not seeds or not counts:
        raise ValueError(f"{fn}: give at least one label count and one seed.")
    test = target.test
    if test_size is not None:
        test = sample_per_class(target.test, test_size, seed=0, name=target.test.name)
    rows = []
    for n in counts:
        for seed in seeds:
            labelled = sample_per_class(target.train, n, seed=seed)
            accuracies = train_three_ways(backbone, labelled, test, epochs=epochs, seed=seed)
            rows += [
                {"labels": n, "seed": seed, "method": m, "accuracy": accuracies[m]} for m in METHODS
            ]
    return pd.DataFrame(rows)


def summarize_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of the accuracy per number of labels and method.

    Defined in chapter "Transfer learning".

    Returns a table indexed by ``labels`` with columns ``(method, "mean")``
    and ``(method, "std")``; the standard deviation is over seeds (``ddof=1``,
    NaN for a single seed).
    """
    missing = {"labels", "method", "accuracy"} - set(runs.columns)
    if missing:
        raise ValueError(f"summarize_runs: the runs table lacks the columns {sorted(missing)}.")
    table = runs.pivot_table(
        index="labels", columns="method", values="accuracy", aggfunc=["mean", "std"]
    )
    table = table.swaplevel(axis=1)
    methods = [m for m in METHODS if m in runs["method"].unique()]
    return table.reindex(columns=[(m, stat) for m in methods for stat in ("mean", "std")])
