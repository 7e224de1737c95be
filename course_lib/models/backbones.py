"""Backbones to transfer, and the surgery that freezes, re-heads and fine-tunes them.

Defined in chapter "Transfer learning".

A *backbone* maps images to features; a *head* maps the features to class
probabilities. ``backbone_classifier`` builds the chapter's network in those
two parts; ``with_new_head``, ``freeze`` and ``unfreeze_top`` reuse a trained
backbone for a new task. ``applications_backbone`` keeps the
``keras.applications`` route open for readers with network access.

*Frozen* means fixed weights **and** fixed features: a frozen layer is not
trained and runs in inference mode, even when ``fit`` calls the model with
``training=True``. Keras 3 does this for ``BatchNormalization``; a Keras
``Dropout`` layer keeps dropping whatever its ``trainable`` flag, so the models
built here use ``FreezableDropout``, which does not drop while frozen.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import keras
from keras import layers

from course_lib import _checks
from course_lib.models.cnn import NOTES_SPEC

__all__ = [
    "FreezableDropout",
    "BACKBONE",
    "BACKBONE_SPEC",
    "backbone_classifier",
    "copy_model",
    "freeze",
    "with_new_head",
    "backbone_of",
    "backbone_blocks",
    "unfreeze_top",
    "APPLICATIONS",
    "WeightsUnavailableError",
    "keras_models_dir",
    "applications_backbone",
]

BACKBONE = "backbone"
"""Name of the backbone inside the models this module builds."""

BACKBONE_SPEC = NOTES_SPEC.replace(
    batch_norm=True, block_dropout=0.25, initializer="he_normal", dropout=0.5
)
"""The notes' network with the recipe of chapter "A CNN classifier": batch
normalization, He initialization, 25% dropout after each pooling, 50% before
the output layer."""

DOWNLOAD_TIMEOUT_S = 30.0
"""Seconds ``applications_backbone`` waits for the weights server."""


def _seeds(seed: int | None, n: int) -> list[int | None]:
    """``n`` distinct seeds derived from ``seed`` (all None for None)."""
    return [None if seed is None else seed + 1_000 * i for i in range(n)]


# --------------------------------------------------------------------------
# Dropout that a freeze turns off
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="course_lib")
class FreezableDropout(layers.Dropout):
    """``keras.layers.Dropout`` that does not drop while frozen (``trainable=False``).

    Defined in chapter "Transfer learning".

    A frozen Keras 3 ``BatchNormalization`` layer runs in inference mode even in
    a training call; a Keras ``Dropout`` layer does not: ``trainable=False``
    leaves it dropping whenever ``fit`` calls the model with ``training=True``,
    and a ``training=False`` recorded in a functional model does not survive
    that call (keras-team/keras issue 20285). This layer reads its own
    ``trainable`` flag instead, like batch normalization: trainable, it is
    ``Dropout``; frozen, it is the identity. The flag is part of the layer's
    configuration, so copies (``copy_model``) and saved models keep it.
    As for batch normalization, recompile a model after changing the flag.

    Parameters
    ----------
    rate : float
        Fraction of the inputs dropped in training mode, in [0, 1).
    **kwargs
        As for ``keras.layers.Dropout`` (``noise_shape``, ``seed``, ``name``,
        ``trainable``...).
    """

    def call(self, inputs, training: bool | None = False):
        """``Dropout.call``, in inference mode whatever ``training`` while frozen."""
        if not self.trainable:
            training = False
        return super().call(inputs, training=training)


def _freezable(layer: keras.layers.Layer) -> keras.layers.Layer:
    """``layer``, or a ``FreezableDropout`` with its configuration if it is a plain ``Dropout``."""
    if type(layer) is layers.Dropout:
        return FreezableDropout.from_config(layer.get_config())
    return layer


def _copy_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    """A new layer with the configuration of ``layer``; ``FreezableDropout`` for ``Dropout``."""
    if type(layer) is layers.Dropout:
        return FreezableDropout.from_config(layer.get_config())
    return layer.__class__.from_config(layer.get_config())


def _unfreezable_dropout(model: keras.Model) -> list[str]:
    """Names of the layers of ``model`` (nested models included) that drop even when frozen."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names += _unfreezable_dropout(layer)
        elif isinstance(layer, layers.Dropout) and not isinstance(layer, FreezableDropout):
            names += [layer.name] if layer.rate > 0 else []
    return names


def _check_freezable(model: keras.Model, fn: str, name: str) -> None:
    """Refuse a model whose dropout layers would keep dropping once frozen."""
    active = _unfreezable_dropout(model)
    if active:
        raise ValueError(
            f"{fn}: {name} must not contain dropout layers that keep dropping when frozen; "
            f"{model.name!r} contains {active}. Keras dropout ignores trainable=False in the "
            "training calls of fit; pass a copy made by copy_model (or the backbone of "
            "with_new_head, which copies it): its Dropout layers are FreezableDropout."
        )


# --------------------------------------------------------------------------
# The chapter's classifier: a backbone and a head
# --------------------------------------------------------------------------


def backbone_classifier(
    num_classes: int, input_shape: tuple[int, int, int] = (28, 28, 1), seed: int | None = None
) -> keras.Model:
    """The notes' network in two parts: a backbone named ``"backbone"``, then a head.

    Defined in chapter "Transfer learning".

    Built from ``BACKBONE_SPEC``: the backbone is everything up to the
    128-unit dense block, images to 128 features; the head is the dropout
    and the softmax ``Dense(num_classes)``. Trained as a whole, it is also the
    from-scratch baseline of the chapter. Its dropout layers are
    ``FreezableDropout`` (same rates and seeds as ``CNNSpec.build``): they
    drop while trainable and stop once frozen. Uncompiled.

    Parameters
    ----------
    num_classes : int
        Classes of the task (at least 2).
    input_shape : (int, int, int), default (28, 28, 1)
        Shape of one image, channels last.
    seed : int, optional
        Seeds every initializer and dropout layer (``CNNSpec.build``); None:
        not reproducible.
    """
    num_classes = _checks.check_int(num_classes, "backbone_classifier", "num_classes", low=2)
    spec = BACKBONE_SPEC.replace(num_classes=num_classes, input_shape=tuple(input_shape))
    full = spec.build(seed=seed)
    cut = -2 if spec.dropout else -1  # the head: [Dropout,] Dense(num_classes)
    parts = [_freezable(layer) for layer in full.layers]
    backbone = keras.Sequential([keras.Input(shape=spec.input_shape), *parts[:cut]], name=BACKBONE)
    inputs = keras.Input(shape=spec.input_shape, name="images")
    x = backbone(inputs)
    for layer in parts[cut:]:
        x = layer(x)
    return keras.Model(inputs, x, name=f"backbone_classifier_{num_classes}")


# --------------------------------------------------------------------------
# Freezing, new heads, fine-tuning
# --------------------------------------------------------------------------


def _check_model(model: object, fn: str, name: str) -> keras.Model:
    if not isinstance(model, keras.Model):
        raise TypeError(f"{fn}: {name} must be a keras.Model; got {type(model).__name__}.")
    return model


def copy_model(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with its own weights (same values): training it leaves ``model`` intact.

    Defined in chapter "Transfer learning".

    The copy keeps the ``trainable`` flag of every layer, nested models
    included: a frozen or partly frozen backbone inside a trainable model
    keeps its frozen layers (batch normalization included) frozen. Its plain
    ``keras.layers.Dropout`` layers, nested models included, become
    ``FreezableDropout`` layers with the same configuration: identical while
    trainable, and switched off by ``freeze``.

    Parameters
    ----------
    model : keras.Model
        A functional or ``Sequential`` model.

    Returns
    -------
    keras.Model
        The copy, uncompiled.
    """
    _check_model(model, "copy_model", "model")
    clone = keras.models.clone_model(model, clone_function=_copy_layer, recursive=True)
    clone.set_weights(model.get_weights())
    clone.trainable = model.trainable
    _copy_trainable_flags(model, clone)
    return clone


def _copy_trainable_flags(source: keras.Model, target: keras.Model) -> None:
    """Give every layer of ``target`` the ``trainable`` flag of its twin in ``source``.

    Setting ``trainable`` on a model passes the value down to all its layers
    (``keras.layers.Layer.trainable``), so one assignment to the whole model
    would make a frozen or partly frozen nested backbone fully trainable, batch
    normalization included. The flags are therefore set layer by layer, a
    nested model's own flag before those of its layers.
    """
    for src, dst in zip(source.layers, target.layers, strict=True):
        dst.trainable = src.trainable
        if isinstance(src, keras.Model):
            _copy_trainable_flags(src, dst)


def freeze(model: keras.Model) -> keras.Model:
    """Freeze ``model``: fixed weights and fixed features; return ``model``.

    Defined in chapter "Transfer learning".

    Every layer becomes non-trainable (``trainable=False``), nested models
    included, so training leaves its weights alone, and every layer runs in
    inference mode even when ``fit`` calls the model with ``training=True``:
    batch normalization uses its moving mean and variance (Keras 3 does that
    for frozen ``BatchNormalization``) and ``FreezableDropout`` drops nothing.
    The features a frozen backbone computes are therefore the same in
    training and in inference, and from one step to the next.

    Recompile any model that contains it afterwards: Keras reads the trainable
    flags when ``compile`` is called.

    Parameters
    ----------
    model : keras.Model
        The model to freeze, in place.

    Returns
    -------
    keras.Model
        ``model`` itself.

    Raises
    ------
    ValueError
        If ``model`` contains a ``keras.layers.Dropout`` layer (or a
        subclass such as ``SpatialDropout2D``) that is not a
        ``FreezableDropout`` and has a positive rate: it would keep dropping
        in training calls, frozen or not. Nothing is changed then. Freeze a
        copy instead (``copy_model``, or ``with_new_head``, which copies by
        default): its plain ``Dropout`` layers are ``FreezableDropout``.
    """
    _check_freezable(_check_model(model, "freeze", "model"), "freeze", "model")
    model.trainable = False
    return model


def with_new_head(
    backbone: keras.Model,
    num_classes: int,
    *,
    dropout: float = 0.5,
    copy: bool = True,
    name: str | None = None,
    seed: int | None = None,
) -> keras.Model:
    """Put a new classifier on a backbone: dropout and a softmax ``Dense(num_classes)``.

    Defined in chapter "Transfer learning".

    The backbone is called with ``training=False``, as the Keras
    transfer-learning guide writes it. In Keras 3 that flag is overridden when
    ``fit`` calls the whole model with ``training=True`` (keras-team/keras
    issue 20285); what keeps a frozen backbone in inference mode (batch
    normalization on the source task's statistics, no dropout) is that its
    layers are not trainable: ``freeze`` and ``unfreeze_top`` see to that.
    Freezing is left to the caller. The head's dropout and, with
    ``copy=True``, the backbone's are ``FreezableDropout`` (see ``copy_model``).

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
    seed : int, optional
        Seeds the head's initializer and dropout; None: not reproducible.

    Returns
    -------
    keras.Model
        Uncompiled; ``backbone_of(model)`` returns its backbone.
    """
    fn = "with_new_head"
    _check_model(backbone, fn, "backbone")
    num_classes = _checks.check_int(num_classes, fn, "num_classes", low=2)
    dropout = _checks.check_real(dropout, fn, "dropout", low=0, high=1, high_open=True)
    _checks.check_choice(copy, fn, "copy", (True, False))
    kernel_seed, dropout_seed = _seeds(_checks.check_seed(seed, fn), 2)
    if copy:
        backbone = copy_model(backbone)
    inputs = keras.Input(shape=backbone.input_shape[1:], name="images")
    x = backbone(inputs, training=False)
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = FreezableDropout(dropout, seed=dropout_seed, name="head_dropout")(x)
    initializer = keras.initializers.GlorotUniform(seed=kernel_seed)
    outputs = layers.Dense(num_classes, "softmax", kernel_initializer=initializer, name="head")(x)
    return keras.Model(inputs, outputs, name=name or "transfer_model")


def _nested(model: keras.Model) -> list[keras.Model]:
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def backbone_of(model: keras.Model) -> keras.Model:
    """The backbone inside a model built by ``with_new_head`` or ``backbone_classifier``.

    Defined in chapter "Transfer learning".

    Raises
    ------
    ValueError
        Unless ``model`` holds exactly one nested model.
    """
    nested = _nested(_check_model(model, "backbone_of", "model"))
    if len(nested) != 1:
        raise ValueError(
            f"backbone_of: expected one nested backbone model in {model.name!r}; "
            f"found {len(nested)}."
        )
    return nested[0]


def backbone_blocks(backbone: keras.Model) -> list[list[keras.layers.Layer]]:
    """Group a backbone's layers into blocks, each ending at a pooling layer (and its dropout).

    Defined in chapter "Transfer learning".

    For the notes' network: the three convolution blocks and, last, the dense
    block (Flatten, Dense(128) and its normalization and activation).
    """
    _check_model(backbone, "backbone_blocks", "backbone")
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
    ``n_blocks`` equal to the number of blocks unfreezes everything. The
    ``FreezableDropout`` layers of the unfrozen blocks drop again in training;
    those of the frozen blocks do not, so the frozen blocks compute fixed
    features (see ``freeze``). Batch normalization layers stay frozen, hence
    in inference mode: they keep the source task's statistics, as the Keras
    guide advises when fine-tuning. Recompile the model afterwards, with a
    small learning rate.

    Parameters
    ----------
    backbone : keras.Model
        The backbone itself (``backbone_of(model)``), changed in place.
    n_blocks : int
        How many blocks, counted from the top, become trainable.

    Returns
    -------
    list of str
        Names of the layers with trainable weights after the call.

    Raises
    ------
    ValueError
        If ``backbone`` contains a nested model (a whole model with its
        head: pass ``backbone_of(model)``) or a dropout layer that is not a
        ``FreezableDropout`` (see ``freeze``), or ``n_blocks`` is out of range.
    """
    fn = "unfreeze_top"
    _check_model(backbone, fn, "backbone")
    nested = _nested(backbone)
    if nested:
        # Unfreezing a nested model as one layer would unfreeze every layer in
        # it, batch normalization included.
        raise ValueError(
            f"{fn}: backbone must be the backbone itself, a model without nested models; "
            f"{backbone.name!r} contains the model {nested[0].name!r}. For a model built by "
            "with_new_head or backbone_classifier, pass backbone_of(model)."
        )
    _check_freezable(backbone, fn, "backbone")
    blocks = backbone_blocks(backbone)
    hint = f" The backbone has {len(blocks)} blocks."
    n_blocks = _checks.check_int(n_blocks, fn, "n_blocks", low=0, high=len(blocks), hint=hint)
    backbone.trainable = True
    top = {id(layer) for block in blocks[len(blocks) - n_blocks :] for layer in block}
    for layer in backbone.layers:
        layer.trainable = id(layer) in top and not isinstance(layer, layers.BatchNormalization)
    return [layer.name for layer in backbone.layers if layer.trainable and layer.weights]


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
"""``keras.applications`` models ``applications_backbone`` knows, and the module of their
``preprocess_input``."""


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
    fn = "applications_backbone"
    _checks.check_choice(name, fn, "name", tuple(APPLICATIONS))
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ValueError(
            f"{fn}: input_shape must be (height, width, 1 or 3 channels); got {input_shape}."
        )
    size = _checks.check_int(size, fn, "size", low=32)
    _checks.check_choice(weights, fn, "weights", (None, "imagenet"))
    constructor = getattr(keras.applications, name)
    preprocess = getattr(keras.applications, APPLICATIONS[name]).preprocess_input

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        base = constructor(
            include_top=False, weights=weights, input_shape=(size, size, 3), pooling="avg"
        )
    except Exception as exc:
        if weights != "imagenet":
            raise
        raise WeightsUnavailableError(
            f"{fn}: the ImageNet weights of {name} could not be downloaded "
            f"({type(exc).__name__}: {str(exc)[:300]}). This machine probably has no network "
            "access. Either download the weights file named in the URL above on a machine that "
            f"has access and put it in {keras_models_dir()} (Keras looks there before "
            "downloading), or build the backbone with weights=None (random initialization)."
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
