"""Transfer learning: a source task to pretrain on, a few-label target task, the experiment.

Defined in chapter "Transfer learning".

No ImageNet weights can be downloaded on the machines that build the course, so
the chapter pretrains its own backbone: the lecture notes' network trained on
some Fashion-MNIST classes (the *source task*), then reused on the other classes
(the *target task*) with only a few labelled examples. The networks and their
surgery (new heads, freezing, fine-tuning) live in ``course_lib.models``; the
class subsets and per-class samples in ``course_lib.data``.

- ``course_lib.transfer.tasks``: the source and target tasks (``split_task``);
- ``course_lib.transfer.pretraining``: the backbone pretrained on the source task, cached;
- ``course_lib.transfer.experiment``: the few-label experiment.

Everything is importable from ``course_lib.transfer``.

Seeds: the functions here seed the weights, the dropout masks and the samples
they draw from their ``seed`` argument, without touching the global random
state. The order of the training batches (``model.fit`` shuffles) still
follows the global seed, which the notebook sets once in its first cell.
"""

from course_lib.transfer.experiment import (
    BATCH_SIZE,
    FINE_TUNE_LEARNING_RATE,
    HEAD_LEARNING_RATE,
    METHODS,
    MIN_EPOCH_SIZE,
    SCRATCH_LEARNING_RATE,
    few_label_runs,
    summarize_runs,
    train_three_ways,
)
from course_lib.transfer.pretraining import (
    CACHE_FORMAT,
    PRETRAIN_BATCH_SIZE,
    PRETRAIN_LEARNING_RATE,
    backbone_cache_path,
    pretrained_backbone,
)
from course_lib.transfer.tasks import TransferTask, split_task

__all__ = [
    "TransferTask",
    "split_task",
    "PRETRAIN_BATCH_SIZE",
    "PRETRAIN_LEARNING_RATE",
    "CACHE_FORMAT",
    "backbone_cache_path",
    "pretrained_backbone",
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
