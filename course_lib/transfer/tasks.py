"""Source and target tasks: one data set cut in two by class.

Defined in chapter "Transfer learning".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from course_lib import _checks
from course_lib.data import CLASS_NAMES, Split, Splits, class_subset

if TYPE_CHECKING:
    pass

__all__ = ["TransferTask", "split_task"]


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
    >>> import numpy as np
    >>> from course_lib.data import ROLES, Split, Splits
    >>> tiny = Splits(*(Split(np.zeros((10, 28, 28, 1)), np.arange(10), n) for n in ROLES))
    >>> task = split_task(tiny, target_classes=(0, 6))  # T-shirt/top vs Shirt
    >>> task.source_names[:3]
    ('Trouser', 'Pullover', 'Dress')
    >>> task.target.test.name, task.target.test.role, task.target.test.y.tolist()
    ('target test', 'test', [0, 1])
    """
    if not isinstance(splits, Splits):
        raise TypeError(
            f"split_task: splits must be the Splits of data.load_splits() (train, valid, test); "
            f"got {type(splits).__name__}."
        )
    target_classes = _checks.check_classes(target_classes, "split_task", len(CLASS_NAMES))
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
