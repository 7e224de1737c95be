"""Backbones to transfer, and the surgery that freezes, re-heads and fine-tunes them.

Defined in chapter "Transfer learning".

A *backbone* maps images to features; a *head* maps the features to class
probabilities. ``backbone_classifier`` builds the chapter's network in those
two parts; ``with_new_head``, ``freeze`` and ``unfreeze_top`` reuse a trained
backbone for a new task. ``applications_backbone`` keeps the
``keras.applications`` route open for readers with network access.
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
    from-scratch baseline of the chapter. Uncompiled.

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
    backbone_layers = [keras.Input(shape=spec.input_shape), *full.layers[:cut]]
    backbone = keras.Sequential(backbone_layers, name=BACKBONE)
    inputs = keras.Input(shape=spec.input_shape, name="images")
    x = backbone(inputs)
    for layer in full.layers[cut:]:
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
    """
    _check_model(model, "copy_model", "model")
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
    _check_model(model, "freeze", "model")
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
        x = layers.Dropout(dropout, seed=dropout_seed, name="head_dropout")(x)
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
    ``n_blocks`` equal to the number of blocks unfreezes everything. Batch
    normalization layers stay frozen, hence in inference mode: they keep the
    source task's statistics, as the Keras guide advises when fine-tuning.
    Recompile the model afterwards, with a small learning rate.

    Returns
    -------
    list of str
        Names of the layers with trainable weights after the call.

    Raises
    ------
    ValueError
        If ``backbone`` contains a nested model (a whole model with its
        head: pass ``backbone_of(model)``), or ``n_blocks`` is out of range.
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
