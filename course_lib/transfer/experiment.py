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
    "FINE_TUNE_LEARNING_RATE",
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

FINE_TUNE_LEARNING_RATE = 1e-4
"""Learning rate (Adam) of fine-tuning, ten times smaller than ``SCRATCH_LEARNING_RATE``:
the default of ``train_three_ways`` and the rate of ``few_label_runs``."""


def _method_names(unfreeze: int | Sequence[int] | None, blocks: int, fn: str) -> dict[str, int]:
    """``{method name: top blocks to fine-tune}`` of the fine-tuned models ``unfreeze`` asks for."""
    if unfreeze is None:
        return {"fine-tuned": blocks}
    hint = f" The backbone has {blocks} blocks."
    if isinstance(unfreeze, (str, bytes)) or not isinstance(unfreeze, Sequence):
        n = _checks.check_int(unfreeze, fn, "unfreeze", low=1, high=blocks, hint=hint)
        return {"fine-tuned": n}
    counts = [
        _checks.check_int(n, fn, "every block count of unfreeze", low=1, high=blocks, hint=hint)
        for n in unfreeze
    ]
    if not counts or len(set(counts)) != len(counts):
        raise ValueError(f"{fn}: unfreeze must hold distinct block counts; got {tuple(unfreeze)}.")
    return {f"top {n}": n for n in counts}


def _train_ways(
    backbone: keras.Model,
    train: Split,
    evaluate_on: Sequence[Split],
    *,
    epochs: int,
    seed: int | None,
    fine_tune_learning_rate: float,
    unfreeze: int | Sequence[int] | None,
    fn: str,
    names: Sequence[str],
) -> dict[str, list[float]]:
    """``{method: [accuracy on each split of evaluate_on]}``, arguments checked here.

    ``names``: what the caller calls each split of ``evaluate_on``, for the error messages.
    """
    from course_lib.train import compile_classifier, evaluate, fit

    _checks.check_split(train, fn, "train", class_labels=True)
    _checks.refuse_test(train, fn, "train", use="train")
    k = _num_classes(train, fn, "train")
    for split, name in zip(evaluate_on, names, strict=True):
        _checks.check_split(split, fn, name, class_labels=True)
        outside = sorted(set(np.unique(split.y).tolist()) - set(range(k)))
        if outside:
            raise ValueError(
                f"{fn}: the labels of {name} must be in 0..{k - 1}, the classes of "
                f"the training labels; split {split.name!r} also has the labels "
                f"{outside}. Relabel {name} like the training split: cut both with "
                "transfer.split_task (or data.class_subset with the same classes)."
            )
    epochs = _checks.check_int(epochs, fn, "epochs", low=1)
    seed = _checks.check_seed(seed, fn)
    rate = _checks.check_real(
        fine_tune_learning_rate, fn, "fine_tune_learning_rate", low=0, low_open=True
    )
    methods = _method_names(unfreeze, len(backbone_blocks(backbone)), fn)
    train = repeat_to(train, MIN_EPOCH_SIZE, seed=seed)

    def scores(model: keras.Model) -> list[float]:
        return [evaluate(model, split)["accuracy"] for split in evaluate_on]

    results: dict[str, list[float]] = {}
    with warnings.catch_warnings():
        # chance-level warnings are expected with few labels
        warnings.simplefilter("ignore", UserWarning)
        shape = tuple(train.x.shape[1:])
        scratch = backbone_classifier(k, input_shape=shape, seed=seed)
        compile_classifier(scratch, "adam", SCRATCH_LEARNING_RATE)
        fit(scratch, train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
        results["scratch"] = scores(scratch)

        # A frozen backbone is a fixed feature extractor (batch normalization on its
        # moving statistics, FreezableDropout off): its features are computed once and
        # the head (dropout and softmax layer, shared with the model) trains on them.
        model = with_new_head(backbone, k, seed=seed)
        inner = freeze(backbone_of(model))
        features = inner.predict(train.x, batch_size=256, verbose=0)
        top = [
            layer
            for layer in model.layers
            if layer is not inner and not isinstance(layer, keras.layers.InputLayer)
        ]
        head = keras.Sequential([keras.Input(shape=features.shape[1:]), *top], name="head_only")
        compile_classifier(head, "adam", HEAD_LEARNING_RATE)
        head.fit(features, train.y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
        compile_classifier(model, "adam", HEAD_LEARNING_RATE)
        results["frozen"] = scores(model)

        head_weights = model.get_weights()
        for name, n_blocks in methods.items():
            model.set_weights(head_weights)
            unfreeze_top(inner, n_blocks)
            compile_classifier(model, "adam", rate)
            fit(model, train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
            results[name] = scores(model)
            freeze(inner)
    return results


def train_three_ways(
    backbone: keras.Model,
    train: Split,
    test: Split,
    *,
    epochs: int,
    seed: int | None = None,
    fine_tune_learning_rate: float = FINE_TUNE_LEARNING_RATE,
    unfreeze: int | Sequence[int] | None = None,
) -> dict[str, float]:
    """Accuracy of a target model trained from scratch, on frozen features, and fine-tuned.

    Defined in chapter "Transfer learning".

    - ``"scratch"``: ``models.backbone_classifier`` from random weights,
      Adam at ``SCRATCH_LEARNING_RATE``, ``epochs`` epochs.
    - ``"frozen"``: a copy of ``backbone``, frozen, with a new head, Adam at
      ``HEAD_LEARNING_RATE``, ``epochs`` epochs. A frozen backbone computes
      the same features in every call (see ``models.freeze``), so they are
      computed once and the head trains on them: the same training, faster.
    - ``"fine-tuned"``: that model, trained ``epochs`` more epochs with the top
      ``unfreeze`` blocks of the backbone unfrozen (all of them by default;
      batch normalization stays frozen) at ``fine_tune_learning_rate``.

    Fine-tuning thus trains twice as many epochs as the others, but only the
    second half updates the backbone: scratch and fine-tuning each get
    ``epochs`` epochs of full training. With few labels an epoch would be a
    handful of steps, so an epoch repeats the labelled examples (each
    repetition shuffled) to at least ``MIN_EPOCH_SIZE`` images: every
    training makes at least ``epochs * MIN_EPOCH_SIZE / BATCH_SIZE`` steps,
    the same number for every label count up to ``MIN_EPOCH_SIZE``.

    ``seed`` seeds the repetition, the initial weights and the dropout masks
    (locally); the batch order follows the global seed. None: not
    reproducible.

    Parameters
    ----------
    backbone : keras.Model
        The pretrained backbone (``transfer.pretrained_backbone``), images to
        features; left intact (the frozen and fine-tuned models use a copy).
    train : Split
        The labelled target examples, labels 0..K-1; not test data.
    test : Split
        The data every model is scored on (validation data while choices are
        being made; test data once, at the end). Labels as ``train``'s.
    epochs : int
        Epochs of each training (at least 1): scratch, the head, and the
        fine-tuning.
    seed : int, optional
        Seeds the repetition of the examples, the initial weights and the
        dropout masks (locally); None: not reproducible.
    fine_tune_learning_rate : float, default FINE_TUNE_LEARNING_RATE
        Learning rate (Adam) of the fine-tuning, > 0.
    unfreeze : int or sequence of int, optional
        Top blocks (``models.backbone_blocks``) the fine-tuning unfreezes:
        all by default. A sequence (e.g. ``(1, 2, 4)``) fine-tunes one model
        per count, each from the same trained head, under the method names
        ``"top 1"``, ``"top 2"``... instead of ``"fine-tuned"``.

    Returns
    -------
    dict of str to float
        Accuracy on ``test`` per method: ``"scratch"``, ``"frozen"`` and
        ``"fine-tuned"`` (or ``"top 1"``, ``"top 2"``... for a sequence
        ``unfreeze``).

    Raises
    ------
    ValueError
        If ``train`` is test data (whatever its name), its labels are not
        0..K-1, ``test`` has a label outside 0..K-1 (labels not relabelled
        like the training labels: cut both with ``transfer.split_task``), or
        a block count is out of range.
    """
    results = _train_ways(
        backbone,
        train,
        [test],
        epochs=epochs,
        seed=seed,
        fine_tune_learning_rate=fine_tune_learning_rate,
        unfreeze=unfreeze,
        fn="train_three_ways",
        names=["test"],
    )
    return {method: scores[0] for method, scores in results.items()}


def few_label_runs(
    backbone: keras.Model,
    target: Splits,
    label_counts: Sequence[int],
    seeds: int | Sequence[int],
    *,
    epochs: int,
    test_size: int | None = None,
    evaluate_on: Sequence[str] = ("test",),
    unfreeze: int | Sequence[int] | None = None,
) -> pd.DataFrame:
    """Run ``train_three_ways`` for every number of labels and seed; one row per run and method.

    Defined in chapter "Transfer learning".

    For each count ``n`` and seed ``s``, ``data.sample_per_class(target.train,
    n, seed=s)`` draws the labelled examples and ``train_three_ways`` trains
    with ``seed=s`` (fine-tuning at ``FINE_TUNE_LEARNING_RATE``); every model
    is scored on the same images: the splits of ``target`` named in
    ``evaluate_on`` (``test_size`` images of the test split, balanced and
    drawn with seed 0, or all of it by default).

    Parameters
    ----------
    seeds : int or sequence of int
        The seeds, or their number ``n`` for the seeds ``0..n-1``.
    evaluate_on : sequence of str, default ("test",)
        ``"valid"`` and/or ``"test"``: the first gives the column
        ``accuracy``, each other one a column ``<name>_accuracy``.
    unfreeze : int or sequence of int, optional
        As in ``train_three_ways``.

    Returns
    -------
    pandas.DataFrame
        Columns ``labels``, ``seed``, ``method``, ``accuracy`` (and
        ``test_accuracy`` for ``evaluate_on=("valid", "test")``).
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
    if isinstance(evaluate_on, str):
        evaluate_on = (evaluate_on,)
    names = [
        _checks.check_choice(s, fn, "every split of evaluate_on", ("valid", "test"))
        for s in evaluate_on
    ]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"{fn}: evaluate_on must name distinct splits; got {tuple(names)}.")
    test = target.test
    if test_size is not None:
        test = sample_per_class(target.test, test_size, seed=0, name=target.test.name)
    splits = [test if name == "test" else target.valid for name in names]
    columns = ["accuracy", *(f"{name}_accuracy" for name in names[1:])]
    rows = []
    for n in counts:
        for seed in seeds:
            labelled = sample_per_class(target.train, n, seed=seed)
            results = _train_ways(
                backbone,
                labelled,
                splits,
                epochs=epochs,
                seed=seed,
                fine_tune_learning_rate=FINE_TUNE_LEARNING_RATE,
                unfreeze=unfreeze,
                fn=fn,
                names=[f"target.{name}" for name in names],
            )
            rows += [
                {"labels": n, "seed": seed, "method": m, **dict(zip(columns, scores))}
                for m, scores in results.items()
            ]
    return pd.DataFrame(rows)


def summarize_runs(runs: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Mean and standard deviation of the accuracy per number of labels and method.

    Defined in chapter "Transfer learning".

    Returns a table indexed by ``labels`` with columns ``(method, "mean")``
    and ``(method, "std")`` of the column ``metric`` (``"test_accuracy"``,
    say); the standard deviation is over seeds (``ddof=1``, NaN for a single
    seed). The methods of ``METHODS`` come first, others (``"top 1"``...) in
    the order they appear.
    """
    missing = {"labels", "method", metric} - set(runs.columns)
    if missing:
        raise ValueError(f"summarize_runs: the runs table lacks the columns {sorted(missing)}.")
    table = runs.pivot_table(
        index="labels", columns="method", values=metric, aggfunc=["mean", "std"]
    )
    table = table.swaplevel(axis=1)
    present = list(dict.fromkeys(runs["method"]))
    methods = [m for m in METHODS if m in present] + [m for m in present if m not in METHODS]
    return table.reindex(columns=[(m, stat) for m in methods for stat in ("mean", "std")])
