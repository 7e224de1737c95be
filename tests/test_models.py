"""Tests of course_lib.models: the CNN description, the notes' network, small models,
multiply-adds."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib import models, ops
from course_lib.models import CNNSpec

# The notes' model summary: (layer type, output shape, parameters).
SEED_SUMMARY = [
    ("Conv2D", (None, 28, 28, 32), 320),
    ("SeparableConv2D", (None, 28, 28, 32), 1344),
    ("MaxPooling2D", (None, 14, 14, 32), 0),
    ("Conv2D", (None, 14, 14, 64), 18496),
    ("SeparableConv2D", (None, 14, 14, 64), 4736),
    ("MaxPooling2D", (None, 7, 7, 64), 0),
    ("Conv2D", (None, 7, 7, 128), 73856),
    ("SeparableConv2D", (None, 7, 7, 128), 17664),
    ("MaxPooling2D", (None, 3, 3, 128), 0),
    ("Flatten", (None, 1152), 0),
    ("Dense", (None, 128), 147584),
    ("Dense", (None, 10), 1290),
]


def test_notes_cnn_matches_the_notes_layer_by_layer():
    model = models.notes_cnn()
    got = [
        (layer.__class__.__name__, tuple(layer.output.shape), layer.count_params())
        for layer in model.layers
    ]
    assert got == SEED_SUMMARY
    assert model.count_params() == 265_290


def test_notes_cnn_variants():
    assert models.notes_cnn(conv="standard").count_params() == 435_306
    assert models.notes_cnn(conv="separable").count_params() == 183_987
    bn = models.notes_cnn(batch_norm=True, dropout=0.5)
    names = [layer.__class__.__name__ for layer in bn.layers]
    assert names.count("BatchNormalization") == 7 and "Dropout" in names
    # BatchNormalization replaces the biases: 7 layers lose theirs, gain 4 per channel.
    channels = 2 * (32 + 64 + 128) + 128
    assert bn.count_params() == 265_290 - channels + 4 * channels
    # After the activation, each layer keeps its activation and its bias; BN follows it.
    after = models.notes_cnn(batch_norm=True, batch_norm_position="after")
    names = [layer.__class__.__name__ for layer in after.layers]
    assert "Activation" not in names and names.count("BatchNormalization") == 7
    assert names[:2] == ["Conv2D", "BatchNormalization"]
    assert after.layers[0].get_config()["activation"] == "relu" and after.layers[0].use_bias
    assert after.count_params() == 265_290 + 4 * channels
    assert (
        models.NOTES_SPEC.replace(batch_norm=True, batch_norm_position="after").count_params()
        == after.count_params()
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"conv": "depthwise"}, "conv must be one of"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
        ({"batch_norm_position": "middle"}, "batch_norm_position must be one of"),
    ],
)
def test_notes_cnn_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.notes_cnn(**kwargs)


def test_notes_cnn_block_dropout_after_each_pooling():
    model = models.notes_cnn(block_dropout=0.25)
    names = [layer.__class__.__name__ for layer in model.layers]
    after_pooling = [names[i + 1] for i, n in enumerate(names) if n == "MaxPooling2D"]
    assert after_pooling == ["Dropout"] * 3
    assert model.count_params() == 265_290
    with pytest.raises(ValueError, match=r"block_dropout must be a number in \[0, 1\)"):
        models.notes_cnn(block_dropout=-0.1)


# --- one description: CNNSpec ---------------------------------------------------------

specs = st.builds(
    CNNSpec,
    filters=st.lists(st.sampled_from([4, 8, 16]), min_size=1, max_size=3).map(tuple),
    conv=st.sampled_from(list(models.CONV_KINDS)),
    kernel_size=st.sampled_from([1, 3, 5]),
    batch_norm=st.booleans(),
    batch_norm_position=st.sampled_from(models.BN_POSITIONS),
    block_dropout=st.sampled_from([0.0, 0.2]),
    head=st.sampled_from(models.HEADS),
    dense_units=st.sampled_from([8, 32]),
    dropout=st.sampled_from([0.0, 0.5]),
    num_classes=st.integers(2, 12),
    input_shape=st.sampled_from([(28, 28, 1), (16, 20, 3)]),
)


@given(spec=specs)
def test_spec_counts_equal_keras_counts(spec):
    model = spec.build()
    assert spec.count_params() == model.count_params()
    assert spec.count_macs() == models.count_macs(model)


def test_the_notes_budget_is_computed_from_the_description():
    assert models.NOTES_CNN_PARAMS == models.NOTES_SPEC.count_params() == 265_290
    assert models.NOTES_SPEC.count_macs() == 10_403_456


def test_build_with_a_seed_repeats_without_global_state():
    spec = CNNSpec(filters=(4, 8), batch_norm=True, dropout=0.3, block_dropout=0.1)
    first, second, other = spec.build(seed=7), spec.build(seed=7), spec.build(seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), second.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(first.get_weights(), other.get_weights()))


def test_replace_and_bad_specs():
    assert models.NOTES_SPEC.replace(conv="standard").count_params() == 435_306
    with pytest.raises(TypeError, match="CNNSpec: filters must be an integer >= 1; got 2.5"):
        CNNSpec(filters=(2.5,))
    with pytest.raises(ValueError, match="CNNSpec: head must be one of"):
        CNNSpec(head="dense")
    with pytest.raises(
        ValueError, match="input_shape must be \\(height, width, channels\\).*channel axis"
    ):
        CNNSpec(input_shape=(28, 28))
    with pytest.raises(ValueError, match="halve a 28x28 image to nothing"):
        CNNSpec(filters=(4,) * 5)
    with pytest.raises(TypeError, match="seed must be an integer"):
        CNNSpec().build(seed="0")


# --- small models -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "downsample, params",
    [("maxpool", 28_938), ("avgpool", 28_938), ("stride", 28_938), ("none", 264_138)],
)
def test_small_cnn_parameter_counts(downsample, params):
    # conv1: (5*5*1+1)*16 = 416; conv2: (5*5*16+1)*32 = 12,832; dense: 7*7*32*10+10 = 15,690
    model = models.small_cnn(downsample=downsample)
    assert model.count_params() == params
    assert model.output_shape == (None, 10)


def test_small_cnn_rejects_unknown_downsampling():
    with pytest.raises(ValueError, match="downsample must be one of"):
        models.small_cnn(downsample="maxpooling")


def test_feature_extractor():
    model = models.small_cnn()
    assert models.feature_extractor(model, "pool1").output_shape == (None, 14, 14, 16)
    with pytest.raises(ValueError, match="no layer 'conv9'"):
        models.feature_extractor(model, "conv9")


# --- counting multiply-adds of a model ---------------------------------------------


def test_count_macs_of_the_notes_model_layer_by_layer():
    expected = (
        ops.conv2d_macs(28, 28, 3, 3, 1, 32)
        + ops.separable_conv2d_macs(28, 28, 3, 3, 32, 32)
        + ops.conv2d_macs(14, 14, 3, 3, 32, 64)
        + ops.separable_conv2d_macs(14, 14, 3, 3, 64, 64)
        + ops.conv2d_macs(7, 7, 3, 3, 64, 128)
        + ops.separable_conv2d_macs(7, 7, 3, 3, 128, 128)
        + 1152 * 128
        + 128 * 10
    )
    assert models.count_macs(models.notes_cnn()) == expected == 10_403_456
    # batch normalization, pooling and activations add no multiply-adds
    assert models.count_macs(models.notes_cnn(batch_norm=True)) == expected
    assert models.count_macs(models.notes_cnn(conv="standard")) == 29_275_904
    assert models.count_macs(models.notes_cnn(conv="separable")) == 3_871_952


@pytest.mark.parametrize(
    "layer, expected",
    [
        (keras.layers.Conv2D(8, 3, strides=2, padding="same"), 4 * 4 * 8 * 9 * 4),
        (keras.layers.DepthwiseConv2D(3, depth_multiplier=2), 6 * 6 * 8 * 9),
        (keras.layers.SeparableConv2D(5, 3, padding="same"), 8 * 8 * (4 * 9 + 4 * 5)),
        (keras.layers.Dense(3), 8 * 8 * 4 * 3),  # a Dense on an image acts per pixel
    ],
)
def test_count_macs_of_single_layers(layer, expected):
    model = keras.Sequential([keras.Input((8, 8, 4)), layer])
    assert models.count_macs(model) == expected


def test_count_macs_recurses_into_nested_models_and_rejects_bad_input():
    inner = keras.Sequential([keras.Input((8, 8, 4)), keras.layers.Conv2D(2, 1)], name="inner")
    outer = keras.Sequential(
        [keras.Input((8, 8, 4)), inner, keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    assert models.count_macs(outer) == 8 * 8 * 4 * 2 + 128
    with pytest.raises(TypeError, match="count_macs: model must be a keras.Model"):
        models.count_macs("model")
    with pytest.raises(ValueError, match="count_macs: model .* has no Conv2D"):
        models.count_macs(keras.Sequential([keras.Input((4,)), keras.layers.ReLU()]))
    unknown = keras.Sequential([keras.Input((None, None, 1)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="unknown sizes; expected fixed input sizes"):
        models.count_macs(unknown)


# --- MobileNet-style models ----------------------------------------------------------


@pytest.mark.parametrize("stride, size", [(1, 14), (2, 7)])
def test_mobilenet_block_layers_shape_and_params(stride, size):
    inputs = keras.Input((14, 14, 32))
    block = keras.Model(inputs, models.mobilenet_block(inputs, 64, stride))
    kinds = [layer.__class__.__name__ for layer in block.layers[1:]]
    assert kinds == [
        "DepthwiseConv2D",
        "BatchNormalization",
        "ReLU",
        "Conv2D",
        "BatchNormalization",
        "ReLU",
    ]
    assert block.output_shape == (None, size, size, 64)
    assert (
        block.count_params() == 9 * 32 + 4 * 32 + 32 * 64 + 4 * 64
    )  # no biases: BN supplies the shift
    assert models.count_macs(block) == ops.separable_conv2d_macs(size, size, 3, 3, 32, 64)


def test_mobilenet_block_rejects_bad_options():
    inputs = keras.Input((8, 8, 4))
    with pytest.raises(ValueError, match=r"mobilenet_block: stride must be one of \(1, 2\); got 3"):
        models.mobilenet_block(inputs, 8, stride=3)
    with pytest.raises(ValueError, match="mobilenet_block: filters must be an integer >= 1; got 0"):
        models.mobilenet_block(inputs, 0)


def test_mobilenet_cnn_shape_and_width_multiplier_scaling():
    full = models.mobilenet_cnn(1.0)
    assert full.output_shape == (None, 10)
    assert sum(isinstance(layer, keras.layers.DepthwiseConv2D) for layer in full.layers) == len(
        models.MOBILENET_BLOCKS
    )
    assert full.get_layer("block5_pointwise").output.shape == (None, 7, 7, 256)
    params, macs = full.count_params(), models.count_macs(full)
    for alpha in (0.25, 0.5, 0.75):
        thin = models.mobilenet_cnn(alpha)
        assert thin.get_layer("block5_pointwise").output.shape[-1] == round(256 * alpha)
        # roughly alpha^2: a little more, because depthwise kernels, BN and the head grow only
        # linearly
        assert alpha**2 <= thin.count_params() / params <= 1.4 * alpha**2
        assert alpha**2 <= models.count_macs(thin) / macs <= 1.4 * alpha**2
    out = full(np.zeros((2, 28, 28, 1), np.float32))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out).sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="mobilenet_cnn: width_multiplier must be a number > 0"):
        models.mobilenet_cnn(0)
    with pytest.raises(ValueError, match=r"mobilenet_cnn: dropout must be a number in \[0, 1\)"):
        models.mobilenet_cnn(dropout=1.5)


# --- [hardening] an input shape without its channel axis -----------------------------------


@pytest.mark.parametrize(
    "build, fn",
    [
        (lambda shape: models.small_cnn(input_shape=shape), "small_cnn"),
        (lambda shape: models.mobilenet_cnn(input_shape=shape), "mobilenet_cnn"),
    ],
)
def test_small_models_explain_a_missing_channel_axis(build, fn):
    with pytest.raises(
        ValueError,
        match=rf"^{fn}: input_shape must be \(height, width, channels\); got \(28, 28\)\. "
        r"Add the channel axis: \(28, 28\) becomes \(28, 28, 1\)\.$",
    ):
        build((28, 28))
    with pytest.raises(TypeError, match=f"{fn}: input_shape must be"):
        build(28)
    assert build([32, 32, 3]).input_shape == (None, 32, 32, 3)


# --- initialization and the dense baseline ------------------------------------------------


def test_depthwise_he_normal_counts_the_fan_in_per_channel():
    kernel = np.asarray(models.depthwise_he_normal(seed=0)((3, 3, 256, 1)))
    keras_kernel = np.asarray(keras.initializers.HeNormal(seed=0)((3, 3, 256, 1)))
    assert abs(kernel.std() - np.sqrt(2 / 9)) < 0.02
    assert abs(keras_kernel.std() - np.sqrt(2 / (9 * 256))) < 0.002, "Keras' own fan-in"
    again = np.asarray(models.depthwise_he_normal(seed=0)((3, 3, 256, 1)))
    assert np.array_equal(kernel, again)
    with pytest.raises(TypeError, match="seed must be an integer"):
        models.depthwise_he_normal(seed=1.5)


def test_spec_uses_the_depthwise_initializer_only_for_depthwise_kernels():
    spec = CNNSpec(filters=(64,), initializer="he_normal")
    fixed = spec.replace(depthwise_initializer=models.DEPTHWISE_HE_NORMAL).build(seed=0)
    plain = spec.build(seed=0)

    def depthwise_std(model):
        layer = next(x for x in model.layers if isinstance(x, keras.layers.SeparableConv2D))
        return float(np.std(layer.depthwise_kernel))

    assert abs(depthwise_std(fixed) - np.sqrt(2 / 9)) < 0.06
    assert depthwise_std(plain) < 0.1
    assert spec.count_params() == fixed.count_params()
    with pytest.raises(TypeError, match="depthwise_initializer must be None or the name"):
        CNNSpec(depthwise_initializer=3)
    with pytest.raises(TypeError, match="initializer must be the name of a Keras initializer"):
        CNNSpec(initializer=None)


def test_layer_rms_follows_the_signal_through_the_network():
    x = np.random.default_rng(0).normal(size=(32, 28, 28, 1)).astype("float32")
    notes = models.layer_rms(models.notes_cnn(seed=0), x)
    assert list(notes.index)[-1] == "dense_1" or notes.index[-1].startswith("dense")
    assert notes.name == "rms" and len(notes) == 12
    convs = notes[[i for i in notes.index if "conv" in i]]
    assert convs.iloc[-1] < convs.iloc[0] / 100, "the notes' initialization shrinks the signal"
    fixed = models.layer_rms(
        models.notes_cnn(
            kernel_initializer="he_normal",
            depthwise_initializer=models.DEPTHWISE_HE_NORMAL,
            seed=0,
        ),
        x,
    )
    convs = fixed[[i for i in fixed.index if "conv" in i]]
    assert convs.iloc[-1] > convs.iloc[0] / 10, "He with the right fan-in keeps it"
    with pytest.raises(ValueError, match="x must be a batch of shape \\(N, 28, 28, 1\\)"):
        models.layer_rms(models.notes_cnn(seed=0), x[..., 0])
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        models.layer_rms("model", x)


def test_mlp_budget_seed_and_options():
    model = models.mlp(seed=3)
    assert model.count_params() == 235_146 < models.NOTES_CNN_PARAMS
    assert model.output_shape == (None, 10)
    again = models.mlp(seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again.get_weights()))
    with_dropout = models.mlp(units=(32,), dropout=0.5, seed=0)
    assert sum(isinstance(x, keras.layers.Dropout) for x in with_dropout.layers) == 1
    with pytest.raises(TypeError, match="mlp: units must be a non-empty tuple"):
        models.mlp(units=())
    with pytest.raises(ValueError, match="mlp: dropout must be"):
        models.mlp(dropout=1.0)
