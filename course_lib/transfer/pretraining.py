"""The pretrained backbone: the lecture notes' network trained once on the source task, cached.

Defined in chapter "Transfer learning".

Seeds: ``pretrained_backbone`` seeds the weights and dropout masks from its ``seed``
argument, without touching the global random state; the order of the training batches
(``model.fit`` shuffles) follows the global seed, which the notebook sets in its first cell.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from course_lib import _checks
from course_lib.data import Split
from course_lib.models.backbones import (
    BACKBONE,
    backbone_classifier,
)
from course_lib.transfer.tasks import _num_classes

if TYPE_CHECKING:
    pass

__all__ = [
    "PRETRAIN_BATCH_SIZE",
    "PRETRAIN_LEARNING_RATE",
    "CACHE_FORMAT",
    "backbone_cache_path",
    "pretrained_backbone",
]


PRETRAIN_BATCH_SIZE = 64
"""Batch size of ``pretrained_backbone``."""

PRETRAIN_LEARNING_RATE = 1e-3
"""Initial learning rate of ``pretrained_backbone`` (Adam, cosine decay to zero)."""

CACHE_FORMAT = "v2"
"""Format version in the names of the cached backbones (``backbone_cache_path``). ``v2``:
the dropout layers are ``models.FreezableDropout``; the unversioned files of the first
version hold plain ``Dropout`` layers, which keep dropping when frozen."""


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
    the seed, a fingerprint of the data and the format version
    ``CACHE_FORMAT``, e.g. ``backbone_8cls_n12000_e3_seed0_1a2b3c4d5e_v2.keras``
    (``unseeded`` instead of ``seed0`` for ``seed=None``). The version changes
    whenever the saved model changes for the same settings, so a file written
    by an earlier version of the library is not reused.
    """
    k = len(np.unique(source_train.y))
    key = _fingerprint(*(s for s in (source_train, source_valid) if s is not None))
    seeded = "unseeded" if seed is None else f"seed{seed}"
    name = f"backbone_{k}cls_n{len(source_train)}_e{epochs}_{seeded}_{key}_{CACHE_FORMAT}.keras"
    return Path(cache_dir) / name


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
    fit(
        model,
        source_train,
        source_valid,
        epochs=epochs,
        batch_size=PRETRAIN_BATCH_SIZE,
        verbose=verbose,
    )
    # Save atomically: an interrupted save must not leave a half-written file.
    partial = path.with_name(path.stem + ".partial.keras")
    model.save(partial)
    os.replace(partial, path)
    return model.get_layer(BACKBONE)
