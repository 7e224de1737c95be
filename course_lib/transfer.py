"""Transfer learning: a source task to pretrain on, a few-label target task, and backbones.

Defined in chapter "Transfer learning".

No ImageNet weights can be downloaded on the machines that build the course, so
the chapter pretrains its own backbone: the lecture notes' network trained on
some Fashion-MNIST classes (the *source task*), then reused on the other classes
(the *target task*) with only a few labelled examples. ``applications_backbone``
keeps the ``keras.applications`` route open for readers with network access.
"""

from __future__ import annotations

import hashlib
import os
import socket
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import keras
import numpy as np
from keras import layers

from course_lib.data import CLASS_NAMES, Split, Splits

if TYPE_CHECKING:
    import pandas as pd

BACKBONE = "backbone"
"""Name of the backbone inside the models this module builds."""

DOWNLOAD_TIMEOUT_S = 30.0

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


def _check_classes(classes: Sequence[int], fn: str, num_classes: int | None = None) -> tuple[int, ...]:
    try:
        classes = tuple(int(c) for c in classes)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: classes must be a sequence of class indices; got {classes!r}.") from None
    if len(classes) < 2:
        raise ValueError(f"{fn}: a task needs at least 2 classes; got {classes}.")
    if len(set(classes)) != len(classes):
        raise ValueError(f"{fn}: classes must be distinct; got {classes}.")
    if num_classes is not None and any(not 0 <= c < num_classes for c in classes):
        raise ValueError(f"{fn}: classes must be in 0..{num_classes - 1}; got {classes}.")
    return classes


def class_subset(split: Split, classes: Sequence[int], name: str | None = None) -> Split:
    """Keep the images of ``classes`` and relabel them 0..K-1 in the order given.

    Defined in chapter "Transfer learning".

    Parameters
    ----------
    split : Split
        Images with class-index labels.
    classes : sequence of int
        The original labels to keep; ``classes[i]`` becomes label ``i``.
    name : str, optional
        Name of the new split (default: the old name).

    Raises
    ------
    TypeError, ValueError
        If ``split`` is not a Split with one class index per image, or the
        classes are fewer than two, repeated or absent from the split.
    """
    if not isinstance(split, Split):
        raise TypeError(f"class_subset: split must be a course_lib.data.Split; got {type(split).__name__}.")
    if split.y.ndim != 1:
        raise ValueError(f"class_subset: needs one class index per image; labels of {split.name!r} have shape {split.y.shape}.")
    classes = _check_classes(classes, "class_subset")
    missing = [c for c in classes if not np.any(split.y == c)]
    if missing:
        raise ValueError(f"class_subset: split {split.name!r} has no image of class {missing}.")
    relabel = np.full(max(int(split.y.max()), max(classes)) + 1, -1, dtype=np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    keep = np.flatnonzero(relabel[split.y] >= 0)
    return Split(split.x[keep], relabel[split.y[keep]], name or split.name)


def sample_per_class(split: Split, n: int, seed: int = 0, name: str | None = None) -> Split:
    """Draw ``n`` labelled examples, as balanced over the classes as ``n`` allows.

    Defined in chapter "Transfer learning".

    Each of the K classes gets ``n // K`` examples and ``n % K`` classes, drawn
    at random, get one more. The examples are returned shuffled.

    Raises
    ------
    ValueError
        If ``n`` is smaller than the number of classes or a class has too few
        images.
    """
    if not isinstance(split, Split) or split.y.ndim != 1:
        raise TypeError("sample_per_class: split must be a course_lib.data.Split with one class index per image.")
    classes = np.unique(split.y)
    k = len(classes)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < k:
        raise ValueError(f"sample_per_class: n must be an integer of at least one example per class ({k}); got {n!r}.")
    rng = np.random.default_rng(seed)
    counts = np.full(k, n // k)
    counts[rng.choice(k, size=n % k, replace=False)] += 1
    chosen = []
    for c, count in zip(classes, counts):
        pool = np.flatnonzero(split.y == c)
        if len(pool) < count:
            raise ValueError(
                f"sample_per_class: class {c} of {split.name!r} has {len(pool)} images, {count} were asked for."
            )
        chosen.append(rng.choice(pool, size=count, replace=False))
    index = rng.permutation(np.concatenate(chosen))
    return Split(split.x[index], split.y[index], name or f"{split.name}[{n}]")


def split_task(splits: Splits, target_classes: Sequence[int]) -> TransferTask:
    """Cut Fashion-MNIST into a source task (the other classes) and a target task.

    Defined in chapter "Transfer learning".

    Both tasks keep the three splits (train, valid, test) and are relabelled
    0..K-1: the source classes in increasing order, the target classes in the
    order given.

    Examples
    --------
    >>> task = split_task(splits, target_classes=(0, 6))  # T-shirt/top vs Shirt
    >>> task.source_names[:3]
    ('Trouser', 'Pullover', 'Dress')
    """
    target_classes = _check_classes(target_classes, "split_task", len(CLASS_NAMES))
    source_classes = tuple(c for c in range(len(CLASS_NAMES)) if c not in target_classes)
    if len(source_classes) < 2:
        raise ValueError(f"split_task: the source task needs at least 2 classes; {target_classes} leaves {source_classes}.")
    source = Splits(*(class_subset(s, source_classes, f"source {s.name}") for s in splits))
    target = Splits(*(class_subset(s, target_classes, f"target {s.name}") for s in splits))
    return TransferTask(source, target, source_classes, target_classes)


# --------------------------------------------------------------------------
# The pretrained backbone
# --------------------------------------------------------------------------


def seed_classifier(num_classes: int, input_shape: tuple[int, int, int] = (28, 28, 1), dropout: float = 0.5) -> keras.Model:
    """The notes' network split in two: a backbone named ``"backbone"``, then a head.

    Defined in chapter "Transfer learning".

    The backbone is ``models.seed_cnn`` with the fixed recipe of chapter "A CNN
    classifier" (batch normalization, He initialization, 25% dropout after each
    pooling) up to its 128-unit dense layer; the head is dropout and a softmax
    ``Dense(num_classes)``. Trained as a whole, it is also the from-scratch
    baseline of the chapter. Uncompiled.
    """
    from course_lib.models import seed_cnn

    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"seed_classifier: num_classes must be an integer of at least 2; got {num_classes!r}.")
    full = seed_cnn(batch_norm=True, block_dropout=0.25, kernel_initializer="he_normal", input_shape=input_shape)
    # seed_cnn ends with Dense(10); everything before it is the backbone.
    backbone = keras.Sequential([keras.Input(shape=input_shape), *full.layers[:-1]], name=BACKBONE)
    inputs = keras.Input(shape=input_shape, name="images")
    x = backbone(inputs)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(int(num_classes), activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=f"seed_classifier_{num_classes}")


def _fingerprint(*splits: Split) -> str:
    digest = hashlib.sha256()
    for split in splits:
        digest.update(str(split.x.shape).encode())
        digest.update(np.ascontiguousarray(split.y).tobytes())
        digest.update(np.ascontiguousarray(split.x[:: max(1, len(split) // 64)]).tobytes())
    return digest.hexdigest()[:10]


def backbone_cache_path(
    source_train: Split, source_valid: Split | None, *, epochs: int, cache_dir: str | os.PathLike, seed: int = 0
) -> Path:
    """Where ``pretrained_backbone`` keeps the model trained with these settings.

    Defined in chapter "Transfer learning".

    The file name encodes the number of source classes and images, the epochs,
    the seed and a fingerprint of the data, e.g.
    ``backbone_8cls_n12000_e3_seed0_1a2b3c4d5e.keras``.
    """
    k = len(np.unique(source_train.y))
    key = _fingerprint(*(s for s in (source_train, source_valid) if s is not None))
    return Path(cache_dir) / f"backbone_{k}cls_n{len(source_train)}_e{epochs}_seed{seed}_{key}.keras"


def _load_cached(path: Path, num_classes: int) -> keras.Model | None:
    """The model in ``path``, or None with a warning if the file is unusable."""
    try:
        model = keras.models.load_model(path)
        backbone = model.get_layer(BACKBONE)
        if model.output_shape[-1] != num_classes:
            raise ValueError(f"it predicts {model.output_shape[-1]} classes, the source task has {num_classes}")
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
    seed: int = 0,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    verbose: str | int = 0,
) -> keras.Model:
    """Train the notes' network on the source task once; reload it afterwards.

    Defined in chapter "Transfer learning".

    The first call builds ``seed_classifier``, trains it with Adam (learning
    rate decaying to zero along a cosine) and saves it in ``cache_dir`` under
    the name ``backbone_cache_path`` gives. Later calls with the same data and
    settings load that file instead of training. A file that cannot be loaded
    is reported (``UserWarning`` naming it), deleted and rebuilt.

    Parameters
    ----------
    source_train, source_valid : Split
        The source task's training data and, optionally, validation data
        (reported during training only).
    epochs : int
        Training epochs.
    cache_dir : str or path
        Folder of the cached ``.keras`` files; created if needed.
    seed : int, default 0
        Seeds the initialization and the batch order.
    batch_size, learning_rate, verbose
        As in ``keras.Model.fit`` and ``keras.optimizers.Adam``.

    Returns
    -------
    keras.Model
        The backbone: images to 128 features. The cached file
        (``backbone_cache_path``) holds the whole source classifier.
    """
    from course_lib.seeding import seed_everything
    from course_lib.train import fit

    if not isinstance(source_train, Split):
        raise TypeError(f"pretrained_backbone: source_train must be a course_lib.data.Split; got {type(source_train).__name__}.")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"pretrained_backbone: epochs must be a positive integer; got {epochs!r}.")
    num_classes = int(source_train.y.max()) + 1
    path = backbone_cache_path(source_train, source_valid, epochs=epochs, cache_dir=cache_dir, seed=seed)
    if path.is_file():
        backbone = _load_cached(path, num_classes)
        if backbone is not None:
            return backbone
    path.parent.mkdir(parents=True, exist_ok=True)
    seed_everything(seed)
    model = seed_classifier(num_classes, input_shape=tuple(source_train.x.shape[1:]))
    steps = epochs * int(np.ceil(len(source_train) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit(model, source_train, source_valid, epochs=epochs, batch_size=batch_size, verbose=verbose)
    # Save atomically: an interrupted save must not leave a half-written file.
    partial = path.with_name(path.stem + ".partial.keras")
    model.save(partial)
    os.replace(partial, path)
    return model.get_layer(BACKBONE)


# --------------------------------------------------------------------------
# Freezing, new heads, fine-tuning
# --------------------------------------------------------------------------


def copy_model(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with its own weights (same values), so training it leaves ``model`` intact.

    Defined in chapter "Transfer learning".
    """
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone.trainable = model.trainable
    return clone


def freeze(model: keras.Model) -> keras.Model:
    """Make every weight of ``model`` non-trainable; return ``model``.

    Defined in chapter "Transfer learning".

    Recompile any model that contains it afterwards: Keras reads the trainable
    flags when ``compile`` is called.
    """
    model.trainable = False
    return model


def with_new_head(
    backbone: keras.Model,
    num_classes: int,
    *,
    dropout: float = 0.5,
    copy: bool = True,
    name: str | None = None,
) -> keras.Model:
    """Put a new classifier on a backbone: dropout and a softmax ``Dense(num_classes)``.

    Defined in chapter "Transfer learning".

    The backbone is called with ``training=False``, as the Keras
    transfer-learning guide writes it. In Keras 3 that flag is overridden when
    ``fit`` calls the whole model with ``training=True`` (keras-team/keras
    issue 20285); what keeps batch normalization in inference mode, using the
    statistics learned on the source task, is that its layers are not
    trainable: ``freeze`` and ``unfreeze_top`` see to that. Freezing is left to
    the caller.

    Parameters
    ----------
    backbone : keras.Model
        Maps images to features; a ``(None, d)`` output or a feature map
        (then pooled by ``GlobalAveragePooling2D``).
    num_classes : int
        Classes of the new task (at least 2).
    dropout : float, default 0.5
        Dropout rate before the new output layer (0 disables it).
    copy : bool, default True
        Put the head on a copy of the backbone, so the original stays intact.
    name : str, optional
        Name of the new model.

    Returns
    -------
    keras.Model
        Uncompiled; ``backbone_of(model)`` returns its backbone.
    """
    if not isinstance(backbone, keras.Model):
        raise TypeError(f"with_new_head: backbone must be a keras.Model; got {type(backbone).__name__}.")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"with_new_head: num_classes must be an integer of at least 2; got {num_classes!r}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"with_new_head: dropout must be in [0, 1); got {dropout}.")
    if copy:
        backbone = copy_model(backbone)
    inputs = keras.Input(shape=backbone.input_shape[1:], name="images")
    x = backbone(inputs, training=False)
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(int(num_classes), activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=name or "transfer_model")


def backbone_of(model: keras.Model) -> keras.Model:
    """The backbone inside a model built by ``with_new_head`` or ``seed_classifier``.

    Defined in chapter "Transfer learning".
    """
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(f"backbone_of: expected one nested backbone model in {model.name!r}; found {len(nested)}.")
    return nested[0]


def backbone_blocks(backbone: keras.Model) -> list[list[keras.layers.Layer]]:
    """Group a backbone's layers into blocks, each ending at a pooling layer (and its dropout).

    Defined in chapter "Transfer learning".

    For the notes' network: the three convolution blocks and, last, the dense
    block (Flatten, Dense(128) and its normalization and activation).
    """
    blocks: list[list[keras.layers.Layer]] = [[]]
    pooled = False  # the current block has reached its pooling layer
    for layer in backbone.layers:
        if pooled and not isinstance(layer, layers.Dropout):
            blocks.append([])
            pooled = False
        blocks[-1].append(layer)
        pooled = pooled or isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D))
    return [block for block in blocks if block]


def unfreeze_top(backbone: keras.Model, n_blocks: int) -> list[str]:
    """Make the top ``n_blocks`` blocks of ``backbone`` trainable, the others frozen.

    Defined in chapter "Transfer learning".

    Blocks are those of ``backbone_blocks``; ``n_blocks=0`` freezes everything,
    ``n_blocks`` equal to the number of blocks unfreezes everything. Batch
    normalization layers stay frozen, hence in inference mode: they keep the
    source task's statistics, as the Keras guide advises when fine-tuning.
    Recompile the model afterwards, with a small learning rate.

    Returns
    -------
    list of str
        Names of the layers with trainable weights after the call.
    """
    blocks = backbone_blocks(backbone)
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) or not 0 <= n_blocks <= len(blocks):
        raise ValueError(f"unfreeze_top: n_blocks must be an integer in 0..{len(blocks)} (the backbone has {len(blocks)} blocks); got {n_blocks!r}.")
    backbone.trainable = True
    top = {id(layer) for block in blocks[len(blocks) - n_blocks :] for layer in block}
    for layer in backbone.layers:
        layer.trainable = id(layer) in top and not isinstance(layer, layers.BatchNormalization)
    return [layer.name for layer in backbone.layers if layer.trainable and layer.weights]


# --------------------------------------------------------------------------
# The few-label experiment
# --------------------------------------------------------------------------

METHODS = ("scratch", "frozen", "fine-tuned")
"""The three ways ``few_label_runs`` trains a target model."""


def train_three_ways(
    backbone: keras.Model,
    train: Split,
    test: Split,
    *,
    epochs: int,
    seed: int = 0,
    batch_size: int = 32,
    min_epoch_size: int = 1000,
    head_learning_rate: float = 1e-2,
    fine_tune_blocks: int | None = None,
    fine_tune_learning_rate: float = 1e-4,
) -> dict[str, float]:
    """Test accuracy of a target model trained from scratch, on frozen features, and fine-tuned.

    Defined in chapter "Transfer learning".

    - ``"scratch"``: ``seed_classifier`` from random weights, Adam at 1e-3,
      ``epochs`` epochs.
    - ``"frozen"``: a copy of ``backbone``, frozen, with a new head, Adam at
      ``head_learning_rate`` (a linear classifier on fixed features takes a
      larger step than a deep network), ``epochs`` epochs.
    - ``"fine-tuned"``: that model, trained ``epochs`` more epochs with the top
      ``fine_tune_blocks`` blocks unfrozen (all by default) at
      ``fine_tune_learning_rate``.

    Fine-tuning thus trains twice as many epochs as the others, but only the
    second half updates the backbone: scratch and fine-tuning each get
    ``epochs`` epochs of full training. With few labels an epoch would be a
    handful of steps, so an epoch repeats the labelled examples (each
    repetition shuffled) to at least ``min_epoch_size`` images: every
    training makes at least ``epochs * min_epoch_size / batch_size`` steps.
    """
    from course_lib.seeding import seed_everything
    from course_lib.train import evaluate, fit

    k = int(max(train.y.max(), test.y.max())) + 1
    train = repeat_to(train, min_epoch_size, seed=seed)
    results: dict[str, float] = {}
    loss = "sparse_categorical_crossentropy"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # chance-level warnings are expected with few labels
        seed_everything(seed)
        scratch = seed_classifier(k, input_shape=tuple(train.x.shape[1:]))
        scratch.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=["accuracy"])
        fit(scratch, train, epochs=epochs, batch_size=batch_size, verbose=0)
        results["scratch"] = evaluate(scratch, test)["accuracy"]

        seed_everything(seed)
        model = with_new_head(backbone, k)
        freeze(backbone_of(model))
        model.compile(optimizer=keras.optimizers.Adam(head_learning_rate), loss=loss, metrics=["accuracy"])
        fit(model, train, epochs=epochs, batch_size=batch_size, verbose=0)
        results["frozen"] = evaluate(model, test)["accuracy"]

        inner = backbone_of(model)
        unfreeze_top(inner, len(backbone_blocks(inner)) if fine_tune_blocks is None else fine_tune_blocks)
        model.compile(optimizer=keras.optimizers.Adam(fine_tune_learning_rate), loss=loss, metrics=["accuracy"])
        fit(model, train, epochs=epochs, batch_size=batch_size, verbose=0)
        results["fine-tuned"] = evaluate(model, test)["accuracy"]
    return results


def repeat_to(split: Split, size: int, seed: int = 0) -> Split:
    """Repeat the examples of ``split``, each copy in a new random order, until there are at least ``size``.

    Defined in chapter "Transfer learning".

    A split already that large is returned unchanged.
    """
    if len(split) >= size:
        return split
    rng = np.random.default_rng(seed)
    copies = -(-size // len(split))
    index = np.concatenate([rng.permutation(len(split)) for _ in range(copies)])
    return Split(split.x[index], split.y[index], split.name)


def few_label_runs(
    backbone: keras.Model,
    target: Splits,
    label_counts: Sequence[int],
    seeds: int | Sequence[int],
    *,
    epochs: int,
    test_size: int | None = None,
    **options,
) -> pd.DataFrame:
    """Run ``train_three_ways`` for every number of labels and seed; one row per run and method.

    Defined in chapter "Transfer learning".

    For each count ``n`` and seed ``s``, ``sample_per_class(target.train, n,
    seed=s)`` draws the labelled examples; every model is scored on the same
    ``test_size`` images of ``target.test`` (all by default, else a balanced
    sample drawn with seed 0).

    Returns
    -------
    pandas.DataFrame
        Columns ``labels``, ``seed``, ``method`` and ``accuracy``.
    """
    import pandas as pd

    seeds = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else list(seeds)
    if not seeds or not label_counts:
        raise ValueError("few_label_runs: give at least one label count and one seed.")
    test = target.test if test_size is None else sample_per_class(target.test, test_size, seed=0, name=target.test.name)
    rows = []
    for n in label_counts:
        for seed in seeds:
            labelled = sample_per_class(target.train, int(n), seed=seed)
            accuracies = train_three_ways(backbone, labelled, test, epochs=epochs, seed=seed, **options)
            rows += [{"labels": int(n), "seed": seed, "method": m, "accuracy": accuracies[m]} for m in METHODS]
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
    table = runs.pivot_table(index="labels", columns="method", values="accuracy", aggfunc=["mean", "std"])
    table = table.swaplevel(axis=1)
    methods = [m for m in METHODS if m in runs["method"].unique()]
    return table.reindex(columns=[(m, stat) for m in methods for stat in ("mean", "std")])


# --------------------------------------------------------------------------
# keras.applications backbones
# --------------------------------------------------------------------------

APPLICATIONS: dict[str, str] = {
    "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": "mobilenet_v3",
    "ResNet50": "resnet",
    "EfficientNetB0": "efficientnet",
    "DenseNet121": "densenet",
}
"""``keras.applications`` models ``applications_backbone`` knows, and the module of their ``preprocess_input``."""


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights of a ``keras.applications`` model could not be obtained.

    Defined in chapter "Transfer learning".
    """


def keras_models_dir() -> Path:
    """Folder where Keras looks for (and downloads) pretrained weights."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def applications_backbone(
    name: str = "MobileNetV2",
    input_shape: tuple[int, int, int] = (28, 28, 1),
    size: int = 96,
    weights: str | None = None,
) -> keras.Model:
    """A ``keras.applications`` network adapted to small grayscale images.

    Defined in chapter "Transfer learning".

    The model resizes the images to ``size`` by ``size`` (``Resizing``),
    repeats a single channel three times, applies the application's own
    ``preprocess_input`` and returns its globally average-pooled features.
    It expects raw pixel values (0 to 255), which is what the ImageNet
    preprocessing assumes, not the course's standardized images.

    Parameters
    ----------
    name : str, default "MobileNetV2"
        One of ``APPLICATIONS``.
    input_shape : (int, int, int)
        Shape of the images fed to the model, channels last, 1 or 3 channels.
    size : int, default 96
        Side the images are resized to; at least 32. MobileNetV2's ImageNet
        weights exist for 96, 128, 160, 192 and 224.
    weights : None or "imagenet"
        Random initialization, or the ImageNet weights (downloaded into
        ``~/.keras/models`` on first use).

    Raises
    ------
    ValueError
        For an unknown name, a bad shape or size.
    WeightsUnavailableError
        If ``weights="imagenet"`` and the weights file cannot be downloaded;
        the message says where to put the file instead.
    """
    if name not in APPLICATIONS:
        raise ValueError(f"applications_backbone: unknown application {name!r}; choose one of {sorted(APPLICATIONS)}.")
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ValueError(f"applications_backbone: input_shape must be (height, width, 1 or 3 channels); got {input_shape}.")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 32:
        raise ValueError(f"applications_backbone: size must be an integer of at least 32 pixels; got {size!r}.")
    if weights not in (None, "imagenet"):
        raise ValueError(f"applications_backbone: weights must be None or 'imagenet'; got {weights!r}.")
    constructor = getattr(keras.applications, name)
    preprocess = getattr(keras.applications, APPLICATIONS[name]).preprocess_input

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        base = constructor(include_top=False, weights=weights, input_shape=(size, size, 3), pooling="avg")
    except Exception as exc:
        if weights != "imagenet":
            raise
        raise WeightsUnavailableError(
            f"applications_backbone: the ImageNet weights of {name} could not be downloaded "
            f"({type(exc).__name__}: {str(exc)[:300]}). This machine probably has no network access. "
            f"Either download the weights file named in the URL above on a machine that has access and "
            f"put it in {keras_models_dir()} (Keras looks there before downloading), "
            "or build the backbone with weights=None (random initialization)."
        ) from None
    finally:
        socket.setdefaulttimeout(previous)

    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = layers.Resizing(size, size, name="resize")(inputs)
    if input_shape[-1] == 1:
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    x = preprocess(x)
    outputs = base(x)
    return keras.Model(inputs, outputs, name=f"{name.lower()}_{size}")


# --------------------------------------------------------------------------
# Another domain: scikit-learn's handwritten digits
# --------------------------------------------------------------------------


def load_digits_splits(test_size: int = 797, image_size: int = 28, seed: int = 0) -> Splits:
    """scikit-learn's 1,797 handwritten digits, upsampled and standardized like Fashion-MNIST.

    Defined in chapter "Transfer learning".

    The 8 by 8 images (values 0 to 16) are resized to ``image_size`` by
    ``image_size`` (bilinear), then standardized with one mean and one
    standard deviation fitted on the training images, as
    ``data.standardize`` does. ``test`` holds ``test_size`` images, ``valid``
    100 and ``train`` the rest (900 by default).

    Returns
    -------
    Splits
        ``float32`` images of shape (N, image_size, image_size, 1), labels
        0..9; a stratified, seeded split.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    if not 100 <= test_size <= len(digits.target) - 300:
        raise ValueError(f"load_digits_splits: test_size must be between 100 and {len(digits.target) - 300}; got {test_size}.")
    x = digits.images.astype(np.float32)[..., None]
    x = np.asarray(keras.ops.image.resize(x, (image_size, image_size), interpolation="bilinear"), dtype=np.float32)
    y = digits.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed)
    x_train, x_valid, y_train, y_valid = train_test_split(x_rest, y_rest, test_size=100, stratify=y_rest, random_state=seed)
    mean, std = float(x_train.mean()), float(x_train.std())

    def scale(a: np.ndarray) -> np.ndarray:
        return ((a - mean) / std).astype(np.float32)

    return Splits(
        Split(scale(x_train), y_train, "digits train"),
        Split(scale(x_valid), y_valid, "digits valid"),
        Split(scale(x_test), y_test, "digits test"),
    )
