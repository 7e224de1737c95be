"""Transfer learning: a source task to pretrain on, a few-label target task, the experiment.

Defined in chapter "Transfer learning".

No ImageNet weights can be downloaded on the machines that build the course, so
the chapter pretrains its own backbone: the lecture notes' network trained on
some Fashion-MNIST classes (the *source task*), then reused on the other classes
(the *target task*) with only a few labelled examples. The networks and their
surgery (new heads, freezing, fine-tuning) live in ``course_lib.models``; the
class subsets and per-class samples in ``course_lib.data``.

Seeds: the functions here seed the weights, the dropout masks and the samples
they draw from their ``seed`` argument, without touching the global random
state. The order of the training batches (``model.fit`` shuffles) still
follows the global seed, which the notebook sets once in its first cell.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import keras
import numpy as np

from course_lib import _checks
from course_lib.data import CLASS_NAMES, Split, Splits, class_subset, repeat_to, sample_per_class
from course_lib.data.splits import _check_classes
from course_lib.models.backbones import (
    BACKBONE,
    backbone_blocks,
    backbone_classifier,
    backbone_of,
    freeze,
    unfreeze_top,
    with_new_head,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TransferTask",
    "split_task",
    "PRETRAIN_BATCH_SIZE",
    "PRETRAIN_LEARNING_RATE",
    "backbone_cache_path",
    "pretrained_backbone",
    "METHODS",
    "BATCH_SIZE",
    "MIN_EPOCH_SIZE",
    "SCRATCH_LEARNING_RATE",
    "HEAD_LEARNING_RATE",
    "train_three_ways",
    "few_label_runs",
    "summarize_runs",
]

# --------------------------------------------------------------------------
# Source and target tasks
# --------------------------------------------------------------------------


class TransferTask(NamedTuple):
    """A source task and a target task cut from the same data by class.

    Defined in chapter "Transfer learning".
    """

    source: Splits
    target: Splits
    source_classes: tuple[int, ...]
    target_classes: tuple[int, ...]

    @property
    def source_names(self) -> tuple[str, ...]:
        """Fashion-MNIST names of the source classes, in their new label order."""
        return tuple(CLASS_NAMES[c] for c in self.source_classes)

    @property
    def target_names(self) -> tuple[str, ...]:
        """Fashion-MNIST names of the target classes, in their new label order."""
        return tuple(CLASS_NAMES[c] for c in self.target_classes)


def split_task(splits: Splits, target_classes: Sequence[int]) -> TransferTask:
    """Cut Fashion-MNIST into a source task (the other classes) and a target task.

    Defined in chapter "Transfer learning".

    Both tasks keep the three splits, named e.g. "source train" and
    "target test", with their roles (``data.class_subset`` keeps them), and
    are relabelled 0..K-1: the source classes in increasing order, the target
    classes in the order given.

    Examples
    --------
    >>> task = split_task(splits, target_classes=(0, 6))  # T-shirt/top vs Shirt
    >>> task.source_names[:3]
    ('Trouser', 'Pullover', 'Dress')
    """
    if not isinstance(splits, Splits):
        raise TypeError(
            f"split_task: splits must be the Splits of data.load_splits() (train, valid, test); "
            f"got {type(splits).__name__}."
        )
    target_classes = _check_classes(target_classes, "split_task", len(CLASS_NAMES))
    source_classes = tuple(c for c in range(len(CLASS_NAMES)) if c not in target_classes)
    if len(source_classes) < 2:
        raise ValueError(
            f"split_task: the source task needs at least 2 classes; {target_classes} leaves "
            f"{source_classes}."
        )
    source = Splits(*(class_subset(s, source_classes, f"source {s.name}") for s in splits))
    target = Splits(*(class_subset(s, target_classes, f"target {s.name}") for s in splits))
    return TransferTask(source, target, source_classes, target_classes)


def _num_classes(split: Split, fn: str, name: str) -> int:
    """K, if the labels of ``split`` are exactly the classes 0..K-1."""
    _checks.check_split(split, fn, name, class_labels=True)
    present = np.unique(split.y)
    k = len(present)
    if k < 2 or not np.array_equal(present, np.arange(k)):
        raise ValueError(
            f"{fn}: the labels of {name} must be the classes 0..K-1 of the task, K >= 2; split "
            f"{split.name!r} has the labels {present.tolist()}. Cut the task and relabel it with "
            "transfer.split_task (or data.class_subset)."
        )
    return k


# --------------------------------------------------------------------------
# The pretrained backbone
# --------------------------------------------------------------------------

PRETRAIN_BATCH_SIZE = 64
"""Batch size of ``pretrained_backbone``."""

PRETRAIN_LEARNING_RATE = 1e-3
"""Initial learning rate of ``pretrained_backbone`` (Adam, cosine decay to zero)."""


def _fingerprint(*splits: Split) -> str:
    digest = hashlib.sha256()
    for split in splits:
        digest.update(str(split.x.shape).encode())
        digest.update(np.ascontiguousarray(split.y).tobytes())
        digest.update(np.ascontiguousarray(split.x[:: max(1, len(split) // 64)]).tobytes())
    return digest.hexdigest()[:10]


def backbone_cache_path(
    source_train: Split,
    source_valid: Split | None,
    *,
    epochs: int,
    cache_dir: str | os.PathLike,
    seed: int | None = None,
) -> Path:
    """Where ``pretrained_backbone`` keeps the model trained with these settings.

    Defined in chapter "Transfer learning".

    The file name encodes the number of source classes and images, the epochs,
    the seed and a fingerprint of the data, e.g.
    ``backbone_8cls_n12000_e3_seed0_1a2b3c4d5e.keras`` (``unseeded`` instead
    of ``seed0`` for ``seed=None``).
    """
    k = len(np.unique(source_train.y))
    key = _fingerprint(*(s for s in (source_train, source_valid) if s is not None))
    seeded = "unseeded" if seed is None else f"seed{seed}"
    return Path(cache_dir) / f"backbone_{k}cls_n{len(source_train)}_e{epochs}_{seeded}_{key}.keras"


def _load_cached(path: Path, num_classes: int) -> keras.Model | None:
    """The backbone of the model in ``path``, or None with a warning if the file is unusable."""
    try:
        model = keras.models.load_model(path)
        backbone = model.get_layer(BACKBONE)
        if model.output_shape[-1] != num_classes:
            raise ValueError(
                f"it predicts {model.output_shape[-1]} classes, the source task has {num_classes}"
            )
        return backbone
    except Exception as exc:  # truncated zip, wrong content, foreign file...
        warnings.warn(
            f"pretrained_backbone: the cached model {path} could not be used "
            f"({type(exc).__name__}: {str(exc)[:200]}); it is deleted and trained again.",
            UserWarning,
            stacklevel=3,
        )
        path.unlink(missing_ok=True)
        return None


def pretrained_backbone(
    source_train: Split,
    source_valid: Split | None = None,
    *,
    epochs: int,
    cache_dir: str | os.PathLike,
    seed: int | None = None,
    verbose: str | int = 0,
) -> keras.Model:
    """Train the notes' network on the source task once; reload it afterwards.

    Defined in chapter "Transfer learning".

    The first call builds ``models.backbone_classifier``, trains it with Adam
    (``PRETRAIN_LEARNING_RATE`` decaying to zero along a cosine, batches of
    ``PRETRAIN_BATCH_SIZE``) and saves it in ``cache_dir`` under the name
    ``backbone_cache_path`` gives. Later calls with the same data and settings
    load that file instead of training. A file that cannot be loaded is
    reported (``UserWarning`` naming it), deleted and rebuilt.

    Parameters
    ----------
    source_train, source_valid : Split
        The source task's training data (labels 0..K-1) and, optionally,
        validation data (reported during training only). Neither may be test
        data.
    epochs : int
        Training epochs.
    cache_dir : str or path
        Folder of the cached ``.keras`` files; created if needed.
    seed : int, optional
        Seeds the initial weights and dropout masks (locally); the batch
        order follows the global seed. None: not reproducible.
    verbose : str or int, default 0
        As in ``keras.Model.fit``.

    Returns
    -------
    keras.Model
        The backbone: images to 128 features. The cached file
        (``backbone_cache_path``) holds the whole source classifier.
    """
    from course_lib.train import compile_classifier, fit

    fn = "pretrained_backbone"
    _checks.check_split(source_train, fn, "source_train", class_labels=True)
    _checks.refuse_test(source_train, fn, "source_train", use="train")
    num_classes = _num_classes(source_train, fn, "source_train")
    if source_valid is not None:
        _checks.check_split(source_valid, fn, "source_valid", class_labels=True)
        _checks.refuse_test(source_valid, fn, "source_valid")
    epochs = _checks.check_int(epochs, fn, "epochs", low=1)
    seed = _checks.check_seed(seed, fn)
    path = backbone_cache_path(
        source_train, source_valid, epochs=epochs, cache_dir=cache_dir, seed=seed
    )
    if path.is_file():
        backbone = _load_cached(path, num_classes)
        if backbone is not None:
            return backbone
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = tuple(source_train.x.shape[1:])
    model = backbone_classifier(num_classes, input_shape=shape, seed=seed)
    steps = epochs * int(np.ceil(len(source_train) / PRETRAIN_BATCH_SIZE))
    compile_classifier(model, "adam", PRETRAIN_LEARNING_RATE, decay_steps=steps)
    fit(model, source_train, source_valid, epochs=epochs,
        batch_size=PRETRAIN_BATCH_SIZE, verbose=verbose)
    # Save atomically: an interrupted save must not leave a half-written file.
    partial = path.with_name(path.stem + ".partial.keras")
    model.save(partial)
    os.replace(partial, path)
    return model.get_layer(BACKBONE)


# --------------------------------------------------------------------------
# The few-label experiment
# --------------------------------------------------------------------------

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
                {"labels": n, "seed": seed, "method": m, "accuracy": accuracies[m]}
                for m in METHODS
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
