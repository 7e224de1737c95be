"""The lecture notes' CNN family, described once: ``CNNSpec``.

Defined in chapter "A CNN classifier"; the search space of chapter
"Architecture search with Keras Tuner" and the classifier of chapter
"Transfer learning" are built from the same description.

A network of this family is ``len(filters)`` blocks of two "same"
convolutions and a 2x2 max pooling, then a head (``Flatten`` + a hidden
``Dense`` layer, or ``GlobalAveragePooling2D``), then a softmax ``Dense``
layer. Its parameters and multiply-adds are computed from the formulas of
``course_lib.ops``, without building a Keras model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
from keras import layers

from course_lib import _checks, ops
from course_lib.data import NUM_CLASSES
from course_lib.models.initializers import DEPTHWISE_HE_NORMAL, depthwise_he_normal

__all__ = [
    "CONV_KINDS",
    "HEADS",
    "BN_POSITIONS",
    "CNNSpec",
    "NOTES_SPEC",
    "NOTES_CNN_PARAMS",
    "notes_cnn",
]

CONV_KINDS = {"standard": ("conv", "conv"), "separable": ("sep", "sep"), "mixed": ("conv", "sep")}
"""The two convolutions of a block: "mixed" is the notes' Conv2D then SeparableConv2D."""

HEADS = ("flatten", "gap")
"""``Flatten`` + a hidden ``Dense`` layer, or ``GlobalAveragePooling2D`` alone."""

BN_POSITIONS = ("before", "after")
"""Where batch normalization goes: before each hidden layer's activation (layer -> BN ->
activation, the layer without bias, Ioffe and Szegedy's placement) or after it (layer with
activation and bias -> BN)."""

BN_MOMENTUM = 0.9
"""Momentum of every BatchNormalization layer (Keras' default is 0.99): the running
statistics used at inference settle within tens of steps, not hundreds."""


@dataclass(frozen=True)
class CNNSpec:
    """One network of the lecture notes' family; the defaults are the notes' network.

    Defined in chapter "A CNN classifier".

    Parameters
    ----------
    filters : tuple of int
        Filters of the two convolutions of each block; one block per entry.
    conv : {"mixed", "standard", "separable"}
        The two convolutions of a block (see ``CONV_KINDS``).
    kernel_size : int
        Side of every convolution kernel.
    batch_norm : bool
        BatchNormalization after each convolution (and the hidden Dense
        layer), placed by ``batch_norm_position``.
    batch_norm_position : {"before", "after"}
        "before" the activation (layer -> BN -> activation; the layer then
        has no bias, BN's shift replaces it) or "after" it (layer with its
        activation and bias -> BN). See ``BN_POSITIONS``.
    block_dropout : float
        Dropout rate after each pooling (0: none).
    head : {"flatten", "gap"}
        ``Flatten`` + ``Dense(dense_units)``, or ``GlobalAveragePooling2D``.
    dense_units : int
        Units of the hidden Dense layer ("flatten" head only).
    dropout : float
        Dropout rate before the output layer (0: none).
    activation : str
        Activation of every hidden layer.
    initializer : str
        Initializer of every kernel (e.g. "glorot_uniform", "he_normal").
    depthwise_initializer : str, optional
        Initializer of the depthwise kernels of separable convolutions; None:
        ``initializer``, as Keras does. ``"depthwise_he_normal"``
        (``models.DEPTHWISE_HE_NORMAL``) counts their fan-in per channel
        (``models.depthwise_he_normal``).
    num_classes : int
        Units of the softmax output layer.
    input_shape : (int, int, int)
        Shape of one image, channels last.

    Raises
    ------
    TypeError, ValueError
        For an option of the wrong type or out of range.
    """

    filters: tuple[int, ...] = (32, 64, 128)
    conv: str = "mixed"
    kernel_size: int = 3
    batch_norm: bool = False
    batch_norm_position: str = "before"
    block_dropout: float = 0.0
    head: str = "flatten"
    dense_units: int = 128
    dropout: float = 0.0
    activation: str = "relu"
    initializer: str = "glorot_uniform"
    depthwise_initializer: str | None = None
    num_classes: int = NUM_CLASSES
    input_shape: tuple[int, int, int] = (28, 28, 1)

    def __post_init__(self) -> None:
        fn = "CNNSpec"
        if not isinstance(self.filters, (tuple, list)) or not self.filters:
            raise TypeError(
                f"{fn}: filters must be a non-empty tuple of integers; got {self.filters!r}."
            )
        object.__setattr__(
            self, "filters", tuple(_checks.check_int(f, fn, "filters", low=1) for f in self.filters)
        )
        _checks.check_choice(self.conv, fn, "conv", tuple(CONV_KINDS))
        _checks.check_int(self.kernel_size, fn, "kernel_size", low=1)
        _checks.check_choice(self.batch_norm, fn, "batch_norm", (True, False))
        _checks.check_choice(self.batch_norm_position, fn, "batch_norm_position", BN_POSITIONS)
        _checks.check_real(self.block_dropout, fn, "block_dropout", low=0, high=1, high_open=True)
        _checks.check_choice(self.head, fn, "head", HEADS)
        _checks.check_int(self.dense_units, fn, "dense_units", low=1)
        _checks.check_real(self.dropout, fn, "dropout", low=0, high=1, high_open=True)
        if not isinstance(self.initializer, str):
            raise TypeError(
                f"{fn}: initializer must be the name of a Keras initializer, as 'he_normal'; "
                f"got {self.initializer!r}."
            )
        if self.depthwise_initializer is not None and not isinstance(
            self.depthwise_initializer, str
        ):
            raise TypeError(
                f"{fn}: depthwise_initializer must be None or the name of an initializer, as "
                f"'{DEPTHWISE_HE_NORMAL}'; got {self.depthwise_initializer!r}."
            )
        _checks.check_int(self.num_classes, fn, "num_classes", low=2)
        object.__setattr__(self, "input_shape", _checks.check_image_shape(self.input_shape, fn))
        side = min(self.input_shape[:2]) // 2 ** len(self.filters)
        if side < 1:
            raise ValueError(
                f"{fn}: {len(self.filters)} blocks halve a "
                f"{self.input_shape[0]}x{self.input_shape[1]} image to nothing; "
                "use fewer blocks or a larger input."
            )

    def replace(self, **changes) -> CNNSpec:
        """A copy with some options changed, e.g. ``NOTES_SPEC.replace(batch_norm=True)``."""
        return CNNSpec(**{**asdict(self), **changes})

    # -- what it costs, from the formulas of ops -----------------------------

    def _layers(self) -> list[tuple[str, int, int, int, int]]:
        """(kind, c_in, c_out, output height, output width) of each layer that has weights."""
        height, width, channels = self.input_shape
        rows = []
        for n in self.filters:
            for kind in CONV_KINDS[self.conv]:
                rows.append((kind, channels, n, height, width))
                channels = n
            height, width = height // 2, width // 2
        if self.head == "flatten":
            rows.append(("dense", height * width * channels, self.dense_units, 1, 1))
            channels = self.dense_units
        rows.append(("output", channels, self.num_classes, 1, 1))
        return rows

    @property
    def _norm_before_activation(self) -> bool:
        return self.batch_norm and self.batch_norm_position == "before"

    def count_params(self) -> int:
        """Parameters of the built model (trainable and not), computed without building it.

        Defined in chapter "A CNN classifier".

        Each convolution or hidden Dense layer has its weights (``ops``
        formulas), one bias per output channel unless batch normalization
        comes before its activation, and with batch normalization four
        BatchNormalization values per channel.
        """
        k, total = self.kernel_size, 0
        for kind, c_in, c_out, _, _ in self._layers():
            hidden = kind != "output"
            bias = not (self._norm_before_activation and hidden)
            if kind == "conv":
                total += ops.conv2d_params(k, k, c_in, c_out, bias=bias)
            elif kind == "sep":
                total += ops.separable_conv2d_params(k, k, c_in, c_out, bias=bias)
            else:
                total += ops.dense_params(c_in, c_out, bias=bias)
            if self.batch_norm and hidden:
                total += 4 * c_out
        return total

    def count_macs(self) -> int:
        """Multiply-adds of one forward pass on one image, computed without building the model.

        Defined in chapter "Depthwise separable convolution".

        Counts the products in the convolutions and Dense layers, as
        ``models.count_macs`` does on a built model.
        """
        k, total = self.kernel_size, 0
        for kind, c_in, c_out, h, w in self._layers():
            if kind == "conv":
                total += ops.conv2d_macs(h, w, k, k, c_in, c_out)
            elif kind == "sep":
                total += ops.separable_conv2d_macs(h, w, k, k, c_in, c_out)
            else:
                total += ops.dense_params(c_in, c_out)  # one product per weight
        return total

    # -- the Keras model -----------------------------------------------------

    def build(self, seed: int | None = None, name: str | None = None) -> keras.Sequential:
        """Build the (uncompiled) Keras model.

        Defined in chapter "A CNN classifier".

        Parameters
        ----------
        seed : int, optional
            Seeds every initializer and dropout layer of this model (each
            its own stream), so the same seed builds the same weights without
            touching the global random state. None: not reproducible.
        name : str, optional
            Name of the model; ``"cnn_<conv>"`` by default.
        """
        seed = _checks.check_seed(seed, "CNNSpec.build")
        streams = iter(range(10**6)) if seed is not None else None

        def next_seed() -> int | None:
            return None if streams is None else seed + 1_000 * next(streams)

        def init(kind: str | None = None) -> keras.initializers.Initializer:
            if kind == DEPTHWISE_HE_NORMAL:
                return depthwise_he_normal(seed=next_seed())
            initializer = keras.initializers.get(kind or self.initializer)
            config = initializer.get_config()
            if "seed" in config:
                config["seed"] = next_seed()
            return type(initializer).from_config(config)

        model = keras.Sequential(name=name or f"cnn_{self.conv}")
        model.add(keras.Input(shape=self.input_shape))
        before = self._norm_before_activation
        inner = None if before else self.activation
        use_bias = not before

        def add(layer: keras.layers.Layer) -> None:
            # Without batch normalization the activation sits inside each layer,
            # as in the notes; with it before the activation, the order is
            # layer -> BN -> activation; after it, layer (with activation) -> BN.
            model.add(layer)
            if self.batch_norm:
                model.add(layers.BatchNormalization(momentum=BN_MOMENTUM))
            if before:
                model.add(layers.Activation(self.activation))

        k = self.kernel_size
        for n in self.filters:
            for kind in CONV_KINDS[self.conv]:
                options = dict(padding="same", activation=inner, use_bias=use_bias)
                if kind == "conv":
                    add(layers.Conv2D(n, k, kernel_initializer=init(), **options))
                else:
                    add(
                        layers.SeparableConv2D(
                            n,
                            k,
                            depthwise_initializer=init(self.depthwise_initializer),
                            pointwise_initializer=init(),
                            **options,
                        )
                    )
            model.add(layers.MaxPooling2D(2))
            if self.block_dropout:
                model.add(layers.Dropout(self.block_dropout, seed=next_seed()))
        if self.head == "flatten":
            model.add(layers.Flatten())
            add(
                layers.Dense(
                    self.dense_units, activation=inner, kernel_initializer=init(), use_bias=use_bias
                )
            )
        else:
            model.add(layers.GlobalAveragePooling2D())
        if self.dropout:
            model.add(layers.Dropout(self.dropout, seed=next_seed()))
        # The output layer keeps Keras' default initializer, as in the notes.
        model.add(
            layers.Dense(
                self.num_classes, activation="softmax", kernel_initializer=init("glorot_uniform")
            )
        )
        return model


NOTES_SPEC = CNNSpec()
"""The lecture notes' network: 3 blocks of Conv2D + SeparableConv2D (32, 64, 128), Flatten,
Dense(128)."""

NOTES_CNN_PARAMS = NOTES_SPEC.count_params()
"""Parameters of the lecture notes' network (265,290), computed from its description."""


def notes_cnn(
    conv: str = "mixed",
    activation: str = "relu",
    batch_norm: bool = False,
    batch_norm_position: str = "before",
    dropout: float = 0.0,
    block_dropout: float = 0.0,
    kernel_initializer: str = "glorot_uniform",
    depthwise_initializer: str | None = None,
    num_classes: int = NUM_CLASSES,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    name: str | None = None,
    seed: int | None = None,
) -> keras.Sequential:
    """The lecture notes' network: three blocks of two convolutions and a pooling.

    Defined in chapter "A CNN classifier".

    With the defaults it is exactly the notes' model: Conv2D(32) ->
    SeparableConv2D(32) -> MaxPooling2D -> Conv2D(64) -> SeparableConv2D(64)
    -> MaxPooling2D -> Conv2D(128) -> SeparableConv2D(128) -> MaxPooling2D ->
    Flatten -> Dense(128) -> Dense(10), all 3x3 "same" convolutions,
    265,290 parameters. Built from ``NOTES_SPEC.replace(...)`` (see
    ``CNNSpec`` for the options); returned uncompiled.
    """
    spec = NOTES_SPEC.replace(
        conv=conv,
        activation=activation,
        batch_norm=batch_norm,
        batch_norm_position=batch_norm_position,
        dropout=dropout,
        block_dropout=block_dropout,
        initializer=kernel_initializer,
        depthwise_initializer=depthwise_initializer,
        num_classes=num_classes,
        input_shape=input_shape,
    )
    return spec.build(seed=seed, name=name or f"notes_cnn_{conv}")
