"""Tests of the chapter "Depthwise separable convolution": NumPy ops against Keras,
parameter and multiply-add counts, MobileNet-style models, throughput and the trade-off plot."""

from __future__ import annotations

import math
import os
from fractions import Fraction

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from course_lib import models, ops, plots  # noqa: E402
from course_lib.throughput import Throughput, measure_throughput  # noqa: E402

FAST = settings(max_examples=30, deadline=None)
sizes = st.integers(1, 10)
kernel_sizes = st.integers(1, 4)
strides = st.integers(1, 3)
paddings = st.sampled_from(["valid", "same"])
seeds = st.integers(0, 2**32 - 1)


def random_array(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def keras_output(layer: keras.layers.Layer, x: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    layer.build((None, *x.shape))
    layer.set_weights(weights)
    return keras.ops.convert_to_numpy(layer(x[None]))[0]


# --- worked examples -----------------------------------------------------------


def test_depthwise_filters_each_channel_alone_in_keras_order():
    x = np.stack([np.arange(16).reshape(4, 4), 100 * np.ones((4, 4), int)], axis=-1)  # 2 channels
    kernel = np.zeros((3, 3, 2, 2), int)
    kernel[1, 1, 0, 0] = 1  # channel 0, kernel 0: the centre pixel
    kernel[:, :, 0, 1] = 1  # channel 0, kernel 1: the 3x3 sum
    kernel[1, 1, 1, 0] = -1  # channel 1, kernel 0: minus the centre
    kernel[0, 0, 1, 1] = 2  # channel 1, kernel 1: twice the top-left
    out = ops.depthwise_conv2d(x, kernel)
    assert out.shape == (2, 2, 4) and np.issubdtype(out.dtype, np.integer)
    np.testing.assert_array_equal(out[:, :, 0], [[5, 6], [9, 10]])  # channel 0 * multiplier 2 + 0
    np.testing.assert_array_equal(out[:, :, 1], [[45, 54], [81, 90]])  # channel 0 * 2 + 1
    np.testing.assert_array_equal(out[:, :, 2], -100 * np.ones((2, 2)))  # channel 1 * 2 + 0
    np.testing.assert_array_equal(out[:, :, 3], 200 * np.ones((2, 2)))  # channel 1 * 2 + 1


def test_separable_is_depthwise_then_pointwise_with_bias():
    x = random_array(0, 6, 6, 3)
    depthwise, pointwise, bias = random_array(1, 3, 3, 3, 2), random_array(2, 1, 1, 6, 4), random_array(3, 4)
    out = ops.separable_conv2d(x, depthwise, pointwise, stride=2, padding="same", bias=bias)
    filtered = ops.depthwise_conv2d(x, depthwise, stride=2, padding="same")
    np.testing.assert_allclose(out, filtered @ pointwise[0, 0] + bias, rtol=1e-5, atol=1e-6)
    assert out.shape == (3, 3, 4)


def test_notes_separable_layer_params_vs_standard():
    assert ops.separable_conv2d_params(3, 3, 32, 32) == 1_344
    assert ops.conv2d_params(3, 3, 32, 32) == 9_248
    standard = keras.layers.Conv2D(32, 3)
    separable = keras.layers.SeparableConv2D(32, 3)
    standard.build((None, 28, 28, 32))
    separable.build((None, 28, 28, 32))
    assert (standard.count_params(), separable.count_params()) == (9_248, 1_344)


# --- agreement with Keras (property-based) -----------------------------------------


@FAST
@given(h=sizes, w=sizes, c_in=st.integers(1, 3), multiplier=st.integers(1, 3), kh=kernel_sizes,
       kw=kernel_sizes, stride=strides, padding=paddings, seed=seeds)
def test_depthwise_conv2d_matches_keras_layer(h, w, c_in, multiplier, kh, kw, stride, padding, seed):
    assume(padding == "same" or (kh <= h and kw <= w))
    x = random_array(seed, h, w, c_in)
    kernel = random_array(seed + 1, kh, kw, c_in, multiplier)
    bias = random_array(seed + 2, c_in * multiplier)
    layer = keras.layers.DepthwiseConv2D((kh, kw), strides=stride, padding=padding, depth_multiplier=multiplier)
    expected = keras_output(layer, x, [kernel, bias])
    out = ops.depthwise_conv2d(x, kernel, stride, padding, bias=bias)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


@FAST
@given(h=sizes, w=sizes, c_in=st.integers(1, 3), multiplier=st.integers(1, 2), c_out=st.integers(1, 4),
       kh=kernel_sizes, kw=kernel_sizes, stride=strides, padding=paddings, seed=seeds)
def test_separable_conv2d_matches_keras_layer(h, w, c_in, multiplier, c_out, kh, kw, stride, padding, seed):
    assume(padding == "same" or (kh <= h and kw <= w))
    x = random_array(seed, h, w, c_in)
    depthwise = random_array(seed + 1, kh, kw, c_in, multiplier)
    pointwise = random_array(seed + 2, 1, 1, c_in * multiplier, c_out)
    bias = random_array(seed + 3, c_out)
    layer = keras.layers.SeparableConv2D(
        c_out, (kh, kw), strides=stride, padding=padding, depth_multiplier=multiplier
    )
    expected = keras_output(layer, x, [depthwise, pointwise, bias])
    out = ops.separable_conv2d(x, depthwise, pointwise, stride, padding, bias=bias)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


@FAST
@given(h=sizes, w=sizes, c_in=st.integers(1, 3), multiplier=st.integers(1, 2), c_out=st.integers(1, 3),
       k=kernel_sizes, stride=strides, padding=paddings, seed=seeds)
def test_separable_is_a_standard_conv_with_a_factored_kernel(h, w, c_in, multiplier, c_out, k, stride, padding, seed):
    # K[:, :, c, o] = sum_m D[:, :, c, m] * P[c * multiplier + m, o]: a standard conv, fewer free weights
    assume(padding == "same" or k <= min(h, w))
    x = random_array(seed, h, w, c_in)
    depthwise = random_array(seed + 1, k, k, c_in, multiplier)
    pointwise = random_array(seed + 2, 1, 1, c_in * multiplier, c_out)
    full = np.einsum("hwcm,cmo->hwco", depthwise, pointwise[0, 0].reshape(c_in, multiplier, c_out))
    np.testing.assert_allclose(
        ops.separable_conv2d(x, depthwise, pointwise, stride, padding),
        ops.conv2d(x, full, stride, padding),
        rtol=1e-4, atol=1e-4,
    )


@FAST
@given(k=st.integers(1, 5), c_in=st.integers(1, 64), c_out=st.integers(1, 64), multiplier=st.integers(1, 3),
       bias=st.booleans())
def test_parameter_counts_match_keras(k, c_in, c_out, multiplier, bias):
    shape = (None, 9, 9, c_in)
    depthwise = keras.layers.DepthwiseConv2D(k, depth_multiplier=multiplier, use_bias=bias)
    separable = keras.layers.SeparableConv2D(c_out, k, depth_multiplier=multiplier, use_bias=bias)
    standard = keras.layers.Conv2D(c_out, k, use_bias=bias)
    for layer in (depthwise, separable, standard):
        layer.build(shape)
    assert ops.depthwise_conv2d_params(k, k, c_in, multiplier, bias=bias) == depthwise.count_params()
    assert ops.separable_conv2d_params(k, k, c_in, c_out, bias=bias, depth_multiplier=multiplier) == separable.count_params()
    assert ops.conv2d_params(k, k, c_in, c_out, bias=bias) == standard.count_params()


@FAST
@given(h=st.integers(1, 64), w=st.integers(1, 64), k=st.integers(1, 7), c_in=st.integers(1, 256),
       c_out=st.integers(1, 256))
def test_cost_ratio_is_exact_for_macs_and_bias_free_weights(h, w, k, c_in, c_out):
    separable = ops.separable_conv2d_macs(h, w, k, k, c_in, c_out)
    standard = ops.conv2d_macs(h, w, k, k, c_in, c_out)
    exact = Fraction(1, c_out) + Fraction(1, k * k)
    assert Fraction(separable, standard) == exact
    weights = Fraction(ops.separable_conv2d_params(k, k, c_in, c_out, bias=False), ops.conv2d_params(k, k, c_in, c_out, bias=False))
    assert weights == exact
    assert ops.separable_cost_ratio(k, c_out) == pytest.approx(float(exact), rel=1e-12)


def test_cost_ratio_examples_and_rectangular_kernels():
    assert ops.separable_cost_ratio(3, 32) == pytest.approx(1 / 32 + 1 / 9)
    assert ops.separable_cost_ratio((3, 5), 8) == pytest.approx(1 / 8 + 1 / 15)
    assert ops.separable_conv2d_macs(28, 28, 3, 3, 32, 32) == 28 * 28 * 32 * (9 + 32)
    assert ops.depthwise_conv2d_macs(7, 7, 3, 3, 128, 2) == 7 * 7 * 256 * 9
    assert ops.separable_conv2d_macs(7, 7, 3, 3, 4, 5, depth_multiplier=2) == 7 * 7 * 8 * 9 + 7 * 7 * 8 * 5
    with pytest.raises(ValueError, match="separable_cost_ratio: c_out must be an int >= 1"):
        ops.separable_cost_ratio(3, 0)


# --- bad input -------------------------------------------------------------------

X = np.zeros((5, 5, 3))
DW = np.zeros((3, 3, 3, 2))
PW = np.zeros((1, 1, 6, 4))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ops.depthwise_conv2d(np.zeros((5, 5)), DW), r"depthwise_conv2d: x must have 3 dims \(H, W, C_in\)"),
        (lambda: ops.depthwise_conv2d(X, np.zeros((3, 3, 3))), r"depthwise_conv2d: depthwise_kernel must have 4 dims \(kh, kw, C_in, depth_multiplier\)"),
        (lambda: ops.depthwise_conv2d(X, np.zeros((3, 3, 2, 1))), r"depthwise_conv2d: channel mismatch: x has C_in=3 .* depthwise_kernel has C_in=2"),
        (lambda: ops.depthwise_conv2d(X, np.zeros((3, 3, 3, 0))), r"depthwise_conv2d: depthwise_kernel has an empty axis"),
        (lambda: ops.depthwise_conv2d(X, np.zeros((6, 3, 3, 1))), r"depthwise_conv2d: kernel \(6, 3\) is larger than the padded input \(5, 5\)"),
        (lambda: ops.depthwise_conv2d(X, DW, stride=0), r"depthwise_conv2d: stride must be an int >= 1; got 0"),
        (lambda: ops.depthwise_conv2d(X, DW, padding="full"), r"depthwise_conv2d: unknown padding 'full'"),
        (lambda: ops.depthwise_conv2d(X, DW, bias=np.zeros(3)), r"depthwise_conv2d: bias must have shape \(C_in \* depth_multiplier,\) = \(6,\); got shape \(3,\)"),
        (lambda: ops.separable_conv2d(X, DW, np.zeros((1, 1, 3, 4))), r"separable_conv2d: pointwise_kernel must have shape \(1, 1, C_in \* depth_multiplier, C_out\) = \(1, 1, 6, C_out\)"),
        (lambda: ops.separable_conv2d(X, DW, np.zeros((3, 3, 6, 4))), r"separable_conv2d: pointwise_kernel must have shape"),
        (lambda: ops.separable_conv2d(X, DW, np.zeros((6, 4))), r"got shape \(6, 4\)"),
        (lambda: ops.separable_conv2d(X, np.zeros((3, 3, 6)), PW), r"separable_conv2d: depthwise_kernel must have 4 dims"),
        (lambda: ops.separable_conv2d(X, DW, PW, padding=-1), r"separable_conv2d: padding must be a non-negative int"),
        (lambda: ops.separable_conv2d(X, DW, PW, bias=np.zeros(6)), r"separable_conv2d: bias must have shape \(C_out,\) = \(4,\)"),
    ],
)
def test_bad_input_names_the_function_and_the_expected_layout(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- counting multiply-adds of a model ---------------------------------------------


def test_count_macs_of_the_notes_model_layer_by_layer():
    expected = (
        ops.conv2d_macs(28, 28, 3, 3, 1, 32) + ops.separable_conv2d_macs(28, 28, 3, 3, 32, 32)
        + ops.conv2d_macs(14, 14, 3, 3, 32, 64) + ops.separable_conv2d_macs(14, 14, 3, 3, 64, 64)
        + ops.conv2d_macs(7, 7, 3, 3, 64, 128) + ops.separable_conv2d_macs(7, 7, 3, 3, 128, 128)
        + 1152 * 128 + 128 * 10
    )
    assert models.count_macs(models.seed_cnn()) == expected == 10_403_456
    # batch normalization, pooling and activations add no multiply-adds
    assert models.count_macs(models.seed_cnn(batch_norm=True)) == expected
    assert models.count_macs(models.seed_cnn(conv="standard")) == 29_275_904
    assert models.count_macs(models.seed_cnn(conv="separable")) == 3_871_952


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
    outer = keras.Sequential([keras.Input((8, 8, 4)), inner, keras.layers.Flatten(), keras.layers.Dense(1)])
    assert models.count_macs(outer) == 8 * 8 * 4 * 2 + 128
    with pytest.raises(TypeError, match="count_macs: expected a keras.Model"):
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
    assert kinds == ["DepthwiseConv2D", "BatchNormalization", "ReLU", "Conv2D", "BatchNormalization", "ReLU"]
    assert block.output_shape == (None, size, size, 64)
    assert block.count_params() == 9 * 32 + 4 * 32 + 32 * 64 + 4 * 64  # no biases: BN supplies the shift
    assert models.count_macs(block) == ops.separable_conv2d_macs(size, size, 3, 3, 32, 64)


def test_mobilenet_block_rejects_bad_options():
    inputs = keras.Input((8, 8, 4))
    with pytest.raises(ValueError, match="mobilenet_block: stride must be 1 or 2; got 3"):
        models.mobilenet_block(inputs, 8, stride=3)
    with pytest.raises(ValueError, match="mobilenet_block: filters must be an int >= 1; got 0"):
        models.mobilenet_block(inputs, 0)


def test_mobilenet_cnn_shape_and_width_multiplier_scaling():
    full = models.mobilenet_cnn(1.0)
    assert full.output_shape == (None, 10)
    assert sum(isinstance(layer, keras.layers.DepthwiseConv2D) for layer in full.layers) == len(models.MOBILENET_BLOCKS)
    assert full.get_layer("block5_pointwise").output.shape == (None, 7, 7, 256)
    params, macs = full.count_params(), models.count_macs(full)
    for alpha in (0.25, 0.5, 0.75):
        thin = models.mobilenet_cnn(alpha)
        assert thin.get_layer("block5_pointwise").output.shape[-1] == round(256 * alpha)
        # roughly alpha^2: a little more, because depthwise kernels, BN and the head grow only linearly
        assert alpha**2 <= thin.count_params() / params <= 1.4 * alpha**2
        assert alpha**2 <= models.count_macs(thin) / macs <= 1.4 * alpha**2
    out = full(np.zeros((2, 28, 28, 1), np.float32))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out).sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="mobilenet_cnn: width_multiplier must be a number > 0"):
        models.mobilenet_cnn(0)
    with pytest.raises(ValueError, match=r"mobilenet_cnn: dropout must be in \[0, 1\)"):
        models.mobilenet_cnn(dropout=1.5)


# --- throughput ---------------------------------------------------------------------


def tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_inference_throughput_has_one_rate_per_repeat():
    x = np.zeros((10, 6, 6, 1), np.float32)
    result = measure_throughput(tiny_model(), x, batch_size=4, repeats=3)
    assert isinstance(result, Throughput)
    assert len(result.images_per_second) == 3 and all(r > 0 and math.isfinite(r) for r in result.images_per_second)
    assert result.images == 8 and result.batch_size == 4 and result.mode == "inference"  # whole batches only
    assert min(result.images_per_second) <= result.median <= max(result.images_per_second)
    assert result.ms_per_image == pytest.approx(1000 / result.median)
    assert result.summary().startswith("inference: median ")


def test_training_throughput_leaves_weights_and_optimizer_unchanged():
    model = tiny_model()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, 8)
    model.fit(x, y, epochs=1, verbose=0)  # an optimizer with a state to keep
    weights = model.get_weights()
    state = [v.numpy().copy() for v in model.optimizer.variables]
    result = measure_throughput(model, x, y, batch_size=4, repeats=2, training=True)
    assert result.mode == "training" and len(result.images_per_second) == 2
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(state, model.optimizer.variables):
        np.testing.assert_array_equal(before, after.numpy())
    # an optimizer that never stepped is restored to its initial state too
    fresh = tiny_model()
    start = fresh.get_weights()
    measure_throughput(fresh, x, y, batch_size=4, repeats=1, training=True)
    assert int(fresh.optimizer.iterations.numpy()) == 0
    for before, after in zip(start, fresh.get_weights()):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"batch_size": 0, "repeats": 1}, ValueError, "batch_size must be an int >= 1; got 0"),
        ({"batch_size": 2, "repeats": 0}, ValueError, "repeats must be an int >= 1; got 0"),
        ({"batch_size": 20, "repeats": 1}, ValueError, "x has 10 images, fewer than one batch of 20"),
        ({"batch_size": 2, "repeats": 1, "training": True}, ValueError, "training=True needs labels y"),
        ({"batch_size": 2, "repeats": 1, "training": True, "y": np.zeros(3)}, ValueError, "x has 10 images but y has 3 labels"),
    ],
)
def test_throughput_bad_input(kwargs, error, match):
    with pytest.raises(error, match=f"measure_throughput: {match}"):
        measure_throughput(tiny_model(), np.zeros((10, 6, 6, 1), np.float32), **kwargs)


def test_throughput_rejects_wrong_shapes_uncompiled_training_and_non_models():
    uncompiled = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.zeros((4, 6, 6, 1), np.float32)
    with pytest.raises(ValueError, match=r"measure_throughput: the model expects images of shape \(6, 6, 1\); x has \(6, 6\)"):
        measure_throughput(uncompiled, x[..., 0], batch_size=2, repeats=1)
    with pytest.raises(ValueError, match="training=True needs a compiled model"):
        measure_throughput(uncompiled, x, np.zeros(4), batch_size=2, repeats=1, training=True)
    with pytest.raises(TypeError, match="measure_throughput: expected a keras.Model"):
        measure_throughput(lambda v: v, x, batch_size=2, repeats=1)


# --- the trade-off plot ---------------------------------------------------------------


def test_plot_tradeoffs_one_panel_per_cost_one_label_per_model():
    results = pd.DataFrame(
        {"test accuracy": [0.9, 0.88], "parameters": [400_000, 180_000], "inference ms/image": [1.0, 0.5]},
        index=["standard", "separable"],
    )
    fig = plots.plot_tradeoffs(results, "test accuracy", ["parameters", "inference ms/image"], title="t")
    assert [ax.get_xlabel() for ax in fig.axes] == ["parameters", "inference ms/image"]
    assert sorted(text.get_text() for text in fig.axes[0].texts) == ["separable", "standard"]
    with pytest.raises(ValueError, match=r"plot_tradeoffs: results has no column\(s\) \['MACs'\]"):
        plots.plot_tradeoffs(results, "test accuracy", ["MACs"])
    with pytest.raises(ValueError, match="no rows"):
        plots.plot_tradeoffs(results.iloc[:0], "test accuracy", ["parameters"])
    plt.close("all")
