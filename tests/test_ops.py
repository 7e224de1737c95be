"""Tests of course_lib.ops: the course's worked examples, agreement with Keras, and refusals.

Covers the chapters "Convolution", "Pooling" and "Depthwise separable convolution".
"""

from __future__ import annotations

import inspect
from fractions import Fraction

import keras
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from course_lib import ops
from course_lib.ops import (
    classic_kernels,
    conv2d,
    conv2d_macs,
    conv2d_params,
    convolve2d,
    dense_params,
    depthwise_conv2d,
    depthwise_conv2d_macs,
    depthwise_conv2d_params,
    flip_kernel,
    local_params,
    output_size,
    pool2d,
    receptive_field,
    same_padding,
    separable_conv2d,
    separable_conv2d_macs,
    separable_conv2d_params,
    separable_cost_ratio,
    shared_params,
    translate,
)

IMAGE = np.arange(1, 26).reshape(5, 5)  # the 5x5 image 1..25 of the worked examples
X_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
ASYMMETRIC = np.array([[1, 2, 0], [0, 0, 0], [0, 0, -1]])


def random_array(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def keras_output(layer: keras.layers.Layer, x: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    layer.build((None, *x.shape))
    layer.set_weights(weights)
    return keras.ops.convert_to_numpy(layer(x[None]))[0]


# --- worked examples ---------------------------------------------------------


def test_conv2d_worked_example():
    out = conv2d(IMAGE, X_KERNEL)
    assert out.shape == (5 - (3 - 1), 5 - (3 - 1))
    np.testing.assert_array_equal(out, [[35, 40, 45], [60, 65, 70], [85, 90, 95]])
    assert np.issubdtype(out.dtype, np.integer)  # int inputs give exact ints


def test_pooling_worked_example():
    # 2x2 windows, stride 2, "valid": the last row and column of the 5x5 image are dropped
    np.testing.assert_array_equal(pool2d(IMAGE, 2, mode="max"), [[7, 9], [17, 19]])
    np.testing.assert_array_equal(pool2d(IMAGE, 2, mode="avg"), [[4, 6], [14, 16]])
    assert pool2d(IMAGE, 2, mode="avg").dtype == np.float64
    assert pool2d(IMAGE, 2, mode="max").dtype == IMAGE.dtype


def test_same_average_pooling_excludes_padding():
    # Windows hanging over the border average only their real cells (as Keras does):
    # (5 + 10) / 2 = 7.5 and the corner window holds 25 alone.
    expected = [[4, 6, 7.5], [14, 16, 17.5], [21.5, 23.5, 25]]
    np.testing.assert_array_equal(pool2d(IMAGE, 2, mode="avg", padding="same"), expected)
    keras_out = keras.ops.average_pool(IMAGE[None, :, :, None].astype("float32"), 2, 2, "same")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras_out)[0, :, :, 0], expected)


def test_same_max_pooling_ignores_padding():
    # all values negative: zero padding would win the max, but padding is never used
    out = pool2d(-IMAGE, 2, mode="max", padding="same")
    np.testing.assert_array_equal(out, [[-1, -3, -5], [-11, -13, -15], [-21, -23, -25]])


def test_conv2d_same_and_int_padding_examples():
    out = conv2d(IMAGE, X_KERNEL, padding="same")
    assert out.shape == (5, 5)
    assert out[0, 0] == 1 + 7  # corner window: only 1 and 7 are real cells under the X
    np.testing.assert_array_equal(conv2d(IMAGE, X_KERNEL, padding=1), out)
    np.testing.assert_array_equal(conv2d(IMAGE, X_KERNEL, stride=2), [[35, 45], [85, 95]])


def test_output_size_examples():
    assert output_size(5, 3) == 3
    assert output_size(5, 3, padding="same") == 5
    assert output_size(5, 3, stride=2) == 2
    assert output_size(5, 3, stride=2, padding="same") == 3
    assert output_size(5, 3, stride=2, padding=1) == 3
    assert output_size(28, 3) == 26
    assert output_size(2, 5, padding="same") == 2  # "same" never fails


def test_same_padding_puts_the_extra_zero_after():
    assert same_padding(5, 3) == (1, 1)
    assert same_padding(4, 2) == (0, 1)
    assert same_padding(4, 4) == (1, 2)
    assert same_padding(6, 3, stride=2) == (0, 1)
    assert same_padding(5, 1) == (0, 0)
    # Keras agrees: with a 2x2 kernel that picks its top-left cell, "same" output
    # equals the input, so no zero row/column was added before (top/left).
    x = random_array(0, 4, 4, 1)
    kernel = np.zeros((2, 2, 1, 1), np.float32)
    kernel[0, 0] = 1
    keras_out = keras.ops.convert_to_numpy(keras.ops.conv(x[None], kernel, 1, "same"))[0]
    np.testing.assert_allclose(keras_out, x)
    np.testing.assert_allclose(conv2d(x, kernel, padding="same"), x)


def test_parameter_counts_of_a_megapixel_image():
    assert dense_params(1000 * 1000, 10**6) == 10**12
    assert local_params(10**6, 10) == 10**8
    assert local_params(10**6, (10, 10)) == 10**8
    assert shared_params(10) == 100
    assert dense_params(3, 2, bias=True) == 8
    assert local_params(4, 3, bias=True) == 40
    assert shared_params(3, bias=True) == 10


def test_conv2d_params_match_keras():
    assert conv2d_params(3, 3, 1, 32) == 320
    assert conv2d_params(3, 3, 32, 64) == 18_496
    assert conv2d_params(3, 3, 32, 64, bias=False) == 18_432
    layer = keras.layers.Conv2D(64, 3)
    layer.build((None, 28, 28, 32))
    assert layer.count_params() == 18_496


def test_conv2d_macs():
    assert conv2d_macs(26, 26, 3, 3, 1, 32) == 26 * 26 * 32 * 9
    assert conv2d_macs(1, 1, 1, 1, 1, 1) == 1


def test_receptive_field_examples():
    assert receptive_field([(3, 1), (3, 1), (3, 1)]) == [3, 5, 7]
    assert receptive_field([(3, 1), (2, 2), (3, 1)]) == [3, 4, 8]
    assert receptive_field([]) == []
    assert receptive_field([(1, 1)]) == [1]


# --- flipping: convolution vs cross-correlation ------------------------------


def test_flip_kernel_rotates_180_degrees():
    np.testing.assert_array_equal(flip_kernel(ASYMMETRIC), [[-1, 0, 0], [0, 0, 0], [0, 2, 1]])
    kernel4 = np.arange(2 * 3 * 2 * 4).reshape(2, 3, 2, 4)
    np.testing.assert_array_equal(flip_kernel(kernel4)[:, :, 1, 3], kernel4[::-1, ::-1, 1, 3])


def test_convolve2d_is_conv2d_with_flipped_kernel():
    np.testing.assert_array_equal(
        convolve2d(IMAGE, ASYMMETRIC), conv2d(IMAGE, flip_kernel(ASYMMETRIC))
    )
    assert not np.array_equal(convolve2d(IMAGE, ASYMMETRIC), conv2d(IMAGE, ASYMMETRIC))
    # for a symmetric kernel, flipping changes nothing
    np.testing.assert_array_equal(convolve2d(IMAGE, X_KERNEL), conv2d(IMAGE, X_KERNEL))


def test_convolve2d_matches_scipy():
    signal = pytest.importorskip("scipy.signal")
    np.testing.assert_array_equal(
        convolve2d(IMAGE, ASYMMETRIC), signal.convolve2d(IMAGE, ASYMMETRIC, mode="valid")
    )
    np.testing.assert_array_equal(
        conv2d(IMAGE, ASYMMETRIC), signal.correlate2d(IMAGE, ASYMMETRIC, mode="valid")
    )


# --- depthwise and separable convolution ------------------------------------


def test_depthwise_filters_each_channel_alone_in_keras_order():
    x = np.stack([np.arange(16).reshape(4, 4), 100 * np.ones((4, 4), int)], axis=-1)  # 2 channels
    kernel = np.zeros((3, 3, 2, 2), int)
    kernel[1, 1, 0, 0] = 1  # channel 0, kernel 0: the centre pixel
    kernel[:, :, 0, 1] = 1  # channel 0, kernel 1: the 3x3 sum
    kernel[1, 1, 1, 0] = -1  # channel 1, kernel 0: minus the centre
    kernel[0, 0, 1, 1] = 2  # channel 1, kernel 1: twice the top-left
    out = depthwise_conv2d(x, kernel)
    assert out.shape == (2, 2, 4) and np.issubdtype(out.dtype, np.integer)
    np.testing.assert_array_equal(out[:, :, 0], [[5, 6], [9, 10]])  # channel 0 * multiplier 2 + 0
    np.testing.assert_array_equal(out[:, :, 1], [[45, 54], [81, 90]])  # channel 0 * 2 + 1
    np.testing.assert_array_equal(out[:, :, 2], -100 * np.ones((2, 2)))  # channel 1 * 2 + 0
    np.testing.assert_array_equal(out[:, :, 3], 200 * np.ones((2, 2)))  # channel 1 * 2 + 1


def test_separable_is_depthwise_then_pointwise_with_bias():
    x = random_array(0, 6, 6, 3)
    depthwise, pointwise, bias = (
        random_array(1, 3, 3, 3, 2),
        random_array(2, 1, 1, 6, 4),
        random_array(3, 4),
    )
    out = separable_conv2d(x, depthwise, pointwise, stride=2, padding="same", bias=bias)
    filtered = depthwise_conv2d(x, depthwise, stride=2, padding="same")
    np.testing.assert_allclose(out, filtered @ pointwise[0, 0] + bias, rtol=1e-5, atol=1e-6)
    assert out.shape == (3, 3, 4)


def test_notes_separable_layer_params_vs_standard():
    assert separable_conv2d_params(3, 3, 32, 32) == 1_344
    assert conv2d_params(3, 3, 32, 32) == 9_248
    standard = keras.layers.Conv2D(32, 3)
    separable = keras.layers.SeparableConv2D(32, 3)
    standard.build((None, 28, 28, 32))
    separable.build((None, 28, 28, 32))
    assert (standard.count_params(), separable.count_params()) == (9_248, 1_344)


# -- classic kernels and translation -------------------------------------------


def test_classic_kernels_sum_to_one_or_zero():
    kernels = classic_kernels()
    for name in ("identity", "box blur", "Gaussian blur", "sharpen"):
        assert kernels[name].sum() == pytest.approx(1.0), name
    for name in ("Sobel x (vertical edges)", "Sobel y (horizontal edges)", "outline"):
        assert kernels[name].sum() == pytest.approx(0.0), name
    x = np.arange(1, 26, dtype=float).reshape(5, 5)
    np.testing.assert_array_equal(conv2d(x, kernels["identity"]), x[1:-1, 1:-1])


def test_sobel_x_responds_to_vertical_edges_only():
    step = np.zeros((6, 6))
    step[:, 3:] = 1  # a vertical edge
    kernels = classic_kernels()
    assert np.abs(conv2d(step, kernels["Sobel x (vertical edges)"])).max() == 4
    assert np.abs(conv2d(step, kernels["Sobel y (horizontal edges)"])).max() == 0


@pytest.mark.parametrize("dy, dx", [(0, 0), (1, 0), (0, 2), (-1, 3), (2, -2)])
def test_translate_matches_roll_without_wraparound(dy, dx):
    x = np.arange(1, 3 * 6 * 5 + 1).reshape(3, 6, 5)
    shifted = translate(x, dy, dx)
    rolled = np.roll(x, (dy, dx), axis=(1, 2))
    h, w = 6, 5
    keep = np.zeros((h, w), bool)
    keep[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = True
    np.testing.assert_array_equal(shifted[:, keep], rolled[:, keep])
    assert (shifted[:, ~keep] == 0).all()
    assert shifted.shape == x.shape and shifted.dtype == x.dtype


def test_translate_2d_4d_and_far_shifts():
    x = np.arange(1, 10).reshape(3, 3)
    np.testing.assert_array_equal(translate(x, 1, 0), [[0, 0, 0], [1, 2, 3], [4, 5, 6]])
    batch = x[None, :, :, None]
    np.testing.assert_array_equal(
        translate(batch, 0, -1)[0, :, :, 0], [[2, 3, 0], [5, 6, 0], [8, 9, 0]]
    )
    assert (translate(x, 3, 0) == 0).all()


@pytest.mark.parametrize(
    "c_in, c_out, expected", [(32, 32, 1344), (64, 64, 4736), (128, 128, 17664)]
)
def test_separable_conv2d_params_match_the_notes_and_keras(c_in, c_out, expected):
    layer = keras.layers.SeparableConv2D(c_out, 3)
    layer.build((None, 14, 14, c_in))
    assert separable_conv2d_params(3, 3, c_in, c_out) == expected == layer.count_params()


def test_cost_ratio_examples_and_rectangular_kernels():
    assert separable_cost_ratio(3, 32) == pytest.approx(1 / 32 + 1 / 9)
    assert separable_cost_ratio((3, 5), 8) == pytest.approx(1 / 8 + 1 / 15)
    assert separable_conv2d_macs(28, 28, 3, 3, 32, 32) == 28 * 28 * 32 * (9 + 32)
    assert depthwise_conv2d_macs(7, 7, 3, 3, 128, 2) == 7 * 7 * 256 * 9
    assert (
        separable_conv2d_macs(7, 7, 3, 3, 4, 5, depth_multiplier=2) == 7 * 7 * 8 * 9 + 7 * 7 * 8 * 5
    )


# --- agreement with Keras (property-based) -----------------------------------

sizes = st.integers(1, 12)
kernel_sizes = st.integers(1, 5)
strides = st.integers(1, 3)
paddings = st.sampled_from(["valid", "same"])
seeds = st.integers(0, 2**32 - 1)


@given(
    h=sizes,
    w=sizes,
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 4),
    kh=kernel_sizes,
    kw=kernel_sizes,
    stride=strides,
    padding=paddings,
    seed=seeds,
)
def test_conv2d_matches_keras(h, w, c_in, c_out, kh, kw, stride, padding, seed):
    assume(padding == "same" or (kh <= h and kw <= w))
    x = random_array(seed, h, w, c_in)
    kernel = random_array(seed + 1, kh, kw, c_in, c_out)
    expected = keras.ops.convert_to_numpy(
        keras.ops.conv(x[None], kernel, strides=stride, padding=padding)
    )[0]
    out = conv2d(x, kernel, stride, padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


@given(
    h=sizes,
    w=sizes,
    channels=st.integers(1, 3),
    size=kernel_sizes,
    stride=st.none() | strides,
    mode=st.sampled_from(["max", "avg"]),
    padding=paddings,
    seed=seeds,
)
def test_pool2d_matches_keras(h, w, channels, size, stride, mode, padding, seed):
    assume(padding == "same" or size <= min(h, w))
    x = random_array(seed, h, w, channels)
    keras_pool = keras.ops.max_pool if mode == "max" else keras.ops.average_pool
    expected = keras.ops.convert_to_numpy(
        keras_pool(x[None], pool_size=size, strides=stride, padding=padding)
    )[0]
    out = pool2d(x, size, stride, mode, padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@given(n=sizes, k=kernel_sizes, stride=strides, padding=paddings)
def test_output_size_matches_keras(n, k, stride, padding):
    assume(padding == "same" or k <= n)
    layer = keras.layers.Conv2D(1, (k, 1), strides=stride, padding=padding)
    _, h_out, _, _ = layer.compute_output_shape((None, n, 1, 1))
    assert output_size(n, k, stride, padding) == h_out


@given(n=sizes, k=kernel_sizes, stride=strides)
def test_same_padding_gives_ceil_n_over_stride_outputs(n, k, stride):
    before, after = same_padding(n, k, stride)
    assert 0 <= after - before <= 1  # the odd zero goes after
    assert output_size(n + before + after, k, stride) == output_size(n, k, stride, "same")


@given(
    h=sizes,
    w=sizes,
    kh=kernel_sizes,
    kw=kernel_sizes,
    stride=strides,
    p=st.integers(0, 3),
    seed=seeds,
)
def test_int_padding_is_zero_padding_then_valid(h, w, kh, kw, stride, p, seed):
    assume(kh <= h + 2 * p and kw <= w + 2 * p)
    x = random_array(seed, h, w)
    kernel = random_array(seed + 1, kh, kw)
    out = conv2d(x, kernel, stride, padding=p)
    assert out.shape == (output_size(h, kh, stride, p), output_size(w, kw, stride, p))
    np.testing.assert_allclose(out, conv2d(np.pad(x, p), kernel, stride), rtol=1e-6)


@given(
    h=sizes, w=sizes, kh=kernel_sizes, kw=kernel_sizes, stride=strides, padding=paddings, seed=seeds
)
def test_2d_form_equals_3d_form_with_one_channel(h, w, kh, kw, stride, padding, seed):
    assume(padding == "same" or (kh <= h and kw <= w))
    x = random_array(seed, h, w)
    kernel = random_array(seed + 1, kh, kw)
    out2 = conv2d(x, kernel, stride, padding)
    out3 = conv2d(x[:, :, None], kernel[:, :, None, None], stride, padding)
    np.testing.assert_array_equal(out2, out3[:, :, 0])
    size = min(kh, h, w) if padding == "valid" else kh
    for mode in ("max", "avg"):
        pooled2 = pool2d(x, size, stride, mode, padding)
        pooled3 = pool2d(x[:, :, None], size, stride, mode, padding)
        np.testing.assert_array_equal(pooled2, pooled3[:, :, 0])


@given(
    h=sizes,
    w=sizes,
    c_in=st.integers(1, 3),
    multiplier=st.integers(1, 3),
    kh=kernel_sizes,
    kw=kernel_sizes,
    stride=strides,
    padding=paddings,
    seed=seeds,
)
def test_depthwise_conv2d_matches_keras_layer(
    h, w, c_in, multiplier, kh, kw, stride, padding, seed
):
    assume(padding == "same" or (kh <= h and kw <= w))
    x = random_array(seed, h, w, c_in)
    kernel = random_array(seed + 1, kh, kw, c_in, multiplier)
    bias = random_array(seed + 2, c_in * multiplier)
    layer = keras.layers.DepthwiseConv2D(
        (kh, kw), strides=stride, padding=padding, depth_multiplier=multiplier
    )
    expected = keras_output(layer, x, [kernel, bias])
    out = depthwise_conv2d(x, kernel, stride, padding, bias=bias)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


@given(
    h=sizes,
    w=sizes,
    c_in=st.integers(1, 3),
    multiplier=st.integers(1, 2),
    c_out=st.integers(1, 4),
    kh=kernel_sizes,
    kw=kernel_sizes,
    stride=strides,
    padding=paddings,
    seed=seeds,
)
def test_separable_conv2d_matches_keras_layer(
    h, w, c_in, multiplier, c_out, kh, kw, stride, padding, seed
):
    assume(padding == "same" or (kh <= h and kw <= w))
    x = random_array(seed, h, w, c_in)
    depthwise = random_array(seed + 1, kh, kw, c_in, multiplier)
    pointwise = random_array(seed + 2, 1, 1, c_in * multiplier, c_out)
    bias = random_array(seed + 3, c_out)
    layer = keras.layers.SeparableConv2D(
        c_out, (kh, kw), strides=stride, padding=padding, depth_multiplier=multiplier
    )
    expected = keras_output(layer, x, [depthwise, pointwise, bias])
    out = separable_conv2d(x, depthwise, pointwise, stride, padding, bias=bias)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


@given(
    h=sizes,
    w=sizes,
    c_in=st.integers(1, 3),
    multiplier=st.integers(1, 2),
    c_out=st.integers(1, 3),
    k=kernel_sizes,
    stride=strides,
    padding=paddings,
    seed=seeds,
)
def test_separable_is_a_standard_conv_with_a_factored_kernel(
    h, w, c_in, multiplier, c_out, k, stride, padding, seed
):
    # K[:, :, c, o] = sum_m D[:, :, c, m] * P[c * multiplier + m, o]:
    # a standard conv, with fewer free weights
    assume(padding == "same" or k <= min(h, w))
    x = random_array(seed, h, w, c_in)
    depthwise = random_array(seed + 1, k, k, c_in, multiplier)
    pointwise = random_array(seed + 2, 1, 1, c_in * multiplier, c_out)
    full = np.einsum("hwcm,cmo->hwco", depthwise, pointwise[0, 0].reshape(c_in, multiplier, c_out))
    np.testing.assert_allclose(
        separable_conv2d(x, depthwise, pointwise, stride, padding),
        conv2d(x, full, stride, padding),
        rtol=1e-4,
        atol=1e-4,
    )


@given(
    k=st.integers(1, 5),
    c_in=st.integers(1, 64),
    c_out=st.integers(1, 64),
    multiplier=st.integers(1, 3),
    bias=st.booleans(),
)
def test_parameter_counts_match_keras(k, c_in, c_out, multiplier, bias):
    shape = (None, 9, 9, c_in)
    depthwise = keras.layers.DepthwiseConv2D(k, depth_multiplier=multiplier, use_bias=bias)
    separable = keras.layers.SeparableConv2D(c_out, k, depth_multiplier=multiplier, use_bias=bias)
    standard = keras.layers.Conv2D(c_out, k, use_bias=bias)
    for layer in (depthwise, separable, standard):
        layer.build(shape)
    assert depthwise_conv2d_params(k, k, c_in, multiplier, bias=bias) == depthwise.count_params()
    assert (
        separable_conv2d_params(k, k, c_in, c_out, bias=bias, depth_multiplier=multiplier)
        == separable.count_params()
    )
    assert conv2d_params(k, k, c_in, c_out, bias=bias) == standard.count_params()


@given(
    h=st.integers(1, 64),
    w=st.integers(1, 64),
    k=st.integers(1, 7),
    c_in=st.integers(1, 256),
    c_out=st.integers(1, 256),
)
def test_cost_ratio_is_exact_for_macs_and_bias_free_weights(h, w, k, c_in, c_out):
    separable = separable_conv2d_macs(h, w, k, k, c_in, c_out)
    standard = conv2d_macs(h, w, k, k, c_in, c_out)
    exact = Fraction(1, c_out) + Fraction(1, k * k)
    assert Fraction(separable, standard) == exact
    weights = Fraction(
        separable_conv2d_params(k, k, c_in, c_out, bias=False),
        conv2d_params(k, k, c_in, c_out, bias=False),
    )
    assert weights == exact
    assert separable_cost_ratio(k, c_out) == pytest.approx(float(exact), rel=1e-12)


# --- integer and bool inputs -------------------------------------------------------


def test_conv2d_sums_uint8_and_bool_inputs_exactly_in_int64():
    # 200 * 1 summed over 9 cells is 1,800: uint8 arithmetic would wrap around to 8
    out = conv2d(np.full((3, 3), 200, np.uint8), np.ones((3, 3), np.uint8))
    assert out.dtype == np.int64 and out.tolist() == [[1_800]]
    ones = np.ones((4, 4), bool)
    counted = conv2d(ones, np.ones((3, 3), bool), padding="same")
    assert counted.dtype == np.int64 and counted[1, 1] == 9 and counted[0, 0] == 4
    # floats keep their type; a float kernel makes integer images float
    assert conv2d(np.ones((3, 3), np.float32), np.ones((3, 3), np.float32)).dtype == np.float32
    assert conv2d(np.ones((3, 3), np.uint8), np.full((3, 3), 0.5)).tolist() == [[4.5]]
    uint8_maps = depthwise_conv2d(
        np.full((3, 3, 2), 255, np.uint8), np.ones((3, 3, 2, 1), np.uint8)
    )
    assert uint8_maps.tolist() == [[[2_295, 2_295]]]


# --- bad input -----------------------------------------------------------------------

X2 = np.zeros((5, 5))
X3 = np.zeros((5, 5, 3))
K2 = np.zeros((3, 3))
K4 = np.zeros((3, 3, 3, 2))
DW = np.zeros((3, 3, 3, 2))
PW = np.zeros((1, 1, 6, 4))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: conv2d(np.zeros((2, 3, 4, 5)), K4),
            ValueError,
            r"conv2d: x must have 2 dims .*got shape \(2, 3, 4, 5\)",
        ),
        (lambda: conv2d(np.zeros(5), K2), ValueError, r"x must have 2 dims \(H, W\) or 3 dims"),
        (
            lambda: conv2d(X2, K4),
            ValueError,
            r"kernel must have 2 dims \(kh, kw\) .*got shape \(3, 3, 3, 2\)",
        ),
        (
            lambda: conv2d(X3, K2),
            ValueError,
            r"kernel must have 4 dims \(kh, kw, C_in, C_out\) .*got shape \(3, 3\)",
        ),
        (
            lambda: conv2d(X3, np.zeros((3, 3, 2, 4))),
            ValueError,
            r"kernel must have C_in=3 .*; got C_in=2",
        ),
        (
            lambda: conv2d(X2, np.zeros((0, 3))),
            ValueError,
            r"conv2d: kernel must not have an empty axis",
        ),
        (
            lambda: conv2d(np.zeros((0, 5)), K2),
            ValueError,
            r"conv2d: x must not have an empty axis",
        ),
        (
            lambda: conv2d(X2, np.zeros((6, 3))),
            ValueError,
            r"kernel must fit in the padded input \(5, 5\) .*got kernel \(6, 3\)",
        ),
        (
            lambda: conv2d(X2, np.zeros((8, 8)), padding=1),
            ValueError,
            r"must fit in the padded input \(7, 7\)",
        ),
        (
            lambda: conv2d(X2, K2, stride=0),
            ValueError,
            r"conv2d: stride must be an integer >= 1; got 0",
        ),
        (
            lambda: conv2d(X2, K2, stride=1.5),
            TypeError,
            r"conv2d: stride must be an integer >= 1; got 1.5 \(float\)",
        ),
        (
            lambda: conv2d(X2, K2, padding="full"),
            ValueError,
            r"conv2d: padding must be one of \('valid', 'same'\); got 'full'",
        ),
        (
            lambda: conv2d(X2, K2, padding=-1),
            ValueError,
            r"padding must be an integer >= 0; got -1",
        ),
        (
            lambda: conv2d(X2, K2, padding=1.0),
            TypeError,
            r"padding must be an integer >= 0; got 1.0 .*'valid' or 'same'",
        ),
        (
            lambda: pool2d(np.zeros((1, 5, 5, 1))),
            ValueError,
            r"x must have 2 dims \(H, W\) or 3 dims \(H, W, C\)",
        ),
        (lambda: pool2d(X2, size=0), ValueError, r"pool2d: size must be an integer >= 1; got 0"),
        (
            lambda: pool2d(X2, size=2, stride=0),
            ValueError,
            r"pool2d: stride must be an integer >= 1; got 0",
        ),
        (lambda: pool2d(X2, size=2.0), TypeError, r"pool2d: size must be an integer >= 1; got 2.0"),
        (
            lambda: pool2d(X2, mode="min"),
            ValueError,
            r"pool2d: mode must be one of \('max', 'avg'\); got 'min'",
        ),
        (
            lambda: pool2d(X2, padding="SAME"),
            ValueError,
            r"pool2d: padding must be one of \('valid', 'same'\); got 'SAME'",
        ),
        (
            lambda: pool2d(X2, padding=1),
            ValueError,
            r"pool2d: padding must be one of \('valid', 'same'\); got 1",
        ),
        (
            lambda: pool2d(X2, size=6),
            ValueError,
            r"window must fit in the padded input \(5, 5\) .*got window \(6, 6\)",
        ),
        (
            lambda: output_size(5, 6),
            ValueError,
            r"output_size: k must be at most the padded input n \+ 2p = 5 .*got k=6",
        ),
        (
            lambda: output_size(5, 3, stride=0),
            ValueError,
            r"output_size: stride must be an integer >= 1",
        ),
        (
            lambda: output_size(5, 3, padding="full"),
            ValueError,
            r"output_size: padding must be one of",
        ),
        (
            lambda: output_size(5, 3, padding=-2),
            ValueError,
            r"output_size: padding must be an integer >= 0; got -2",
        ),
        (
            lambda: output_size(5, 3, padding=True),
            TypeError,
            r"output_size: padding must be an integer >= 0; got True",
        ),
        (
            lambda: same_padding(-5, 3),
            ValueError,
            r"same_padding: n must be an integer >= 1; got -5",
        ),
        (
            lambda: same_padding(5, 3, stride=0),
            ValueError,
            r"same_padding: stride must be an integer >= 1; got 0",
        ),
        (
            lambda: same_padding(5, "3"),
            TypeError,
            r"same_padding: k must be an integer >= 1; got '3' \(str\)",
        ),
        (
            lambda: receptive_field([(3, 1), (2, 0)]),
            ValueError,
            r"receptive_field: stride of layer 1 must be an integer >= 1",
        ),
        (
            lambda: receptive_field([(3.0, 1)]),
            TypeError,
            r"kernel size of layer 0 must be an integer >= 1; got 3.0",
        ),
        (
            lambda: translate(X2, 0.5, 0),
            TypeError,
            r"translate: dy must be an integer; got 0.5 \(float\)",
        ),
        (lambda: translate(X2, 0, "1"), TypeError, r"translate: dx must be an integer; got '1'"),
        (
            lambda: translate(np.zeros(4), 1, 1),
            ValueError,
            r"translate: images must have shape \(H, W\), \(N, H, W\)",
        ),
        (
            lambda: depthwise_conv2d(np.zeros((5, 5)), DW),
            ValueError,
            r"depthwise_conv2d: x must have 3 dims \(H, W, C_in\)",
        ),
        (
            lambda: depthwise_conv2d(X3, np.zeros((3, 3, 3))),
            ValueError,
            r"depthwise_conv2d: depthwise_kernel must have 4 dims "
            r"\(kh, kw, C_in, depth_multiplier\)",
        ),
        (
            lambda: depthwise_conv2d(X3, np.zeros((3, 3, 2, 1))),
            ValueError,
            r"depthwise_conv2d: depthwise_kernel must have C_in=3 .*got C_in=2",
        ),
        (
            lambda: depthwise_conv2d(X3, np.zeros((3, 3, 3, 0))),
            ValueError,
            r"depthwise_conv2d: depthwise_kernel must not have an empty axis",
        ),
        (
            lambda: depthwise_conv2d(X3, np.zeros((6, 3, 3, 1))),
            ValueError,
            r"depthwise_conv2d: kernel must fit in the padded input \(5, 5\) .*got kernel \(6, 3\)",
        ),
        (
            lambda: depthwise_conv2d(X3, DW, stride=0),
            ValueError,
            r"depthwise_conv2d: stride must be an integer >= 1; got 0",
        ),
        (
            lambda: depthwise_conv2d(X3, DW, padding="full"),
            ValueError,
            r"depthwise_conv2d: padding must be one of \('valid', 'same'\); got 'full'",
        ),
        (
            lambda: depthwise_conv2d(X3, DW, bias=np.zeros(3)),
            ValueError,
            r"depthwise_conv2d: bias must have shape \(C_in \* depth_multiplier,\) = \(6,\); "
            r"got shape \(3,\)",
        ),
        (
            lambda: separable_conv2d(X3, DW, np.zeros((1, 1, 3, 4))),
            ValueError,
            r"separable_conv2d: pointwise_kernel must have shape "
            r"\(1, 1, C_in \* depth_multiplier, C_out\) = \(1, 1, 6, C_out\)",
        ),
        (
            lambda: separable_conv2d(X3, DW, np.zeros((3, 3, 6, 4))),
            ValueError,
            r"separable_conv2d: pointwise_kernel must have shape",
        ),
        (lambda: separable_conv2d(X3, DW, np.zeros((6, 4))), ValueError, r"got shape \(6, 4\)"),
        (
            lambda: separable_conv2d(X3, DW, np.zeros((1, 1, 6, 0))),
            ValueError,
            r"separable_conv2d: pointwise_kernel must not have an empty axis",
        ),
        (
            lambda: separable_conv2d(X3, np.zeros((3, 3, 6)), PW),
            ValueError,
            r"separable_conv2d: depthwise_kernel must have 4 dims",
        ),
        (
            lambda: separable_conv2d(X3, DW, PW, padding=-1),
            ValueError,
            r"separable_conv2d: padding must be an integer >= 0; got -1",
        ),
        (
            lambda: separable_conv2d(X3, DW, PW, bias=np.zeros(6)),
            ValueError,
            r"separable_conv2d: bias must have shape \(C_out,\) = \(4,\)",
        ),
        (
            lambda: dense_params(-784, 10),
            ValueError,
            r"dense_params: n_in must be an integer >= 1; got -784",
        ),
        (
            lambda: dense_params(784, 10, bias="yes"),
            ValueError,
            r"dense_params: bias must be one of \(True, False\); got 'yes'",
        ),
        (
            lambda: conv2d_params(3, 3, 0, 32),
            ValueError,
            r"conv2d_params: c_in must be an integer >= 1; got 0",
        ),
        (
            lambda: conv2d_params(3.5, 3, 1, 32),
            TypeError,
            r"conv2d_params: kh must be an integer >= 1; got 3.5 \(float\)",
        ),
        (
            lambda: local_params(10, (3, 0)),
            ValueError,
            r"local_params: window width must be an integer >= 1; got 0",
        ),
        (
            lambda: local_params(10, (3, 3, 3)),
            TypeError,
            r"local_params: window must be an integer >= 1; got \(3, 3, 3\) .*\(height, width\)",
        ),
        (
            lambda: shared_params(0),
            ValueError,
            r"shared_params: window must be an integer >= 1; got 0",
        ),
        (
            lambda: shared_params(3.0),
            TypeError,
            r"shared_params: window must be an integer >= 1; got 3.0",
        ),
        (
            lambda: separable_cost_ratio(3, 0),
            ValueError,
            r"separable_cost_ratio: c_out must be an integer >= 1; got 0",
        ),
        (
            lambda: separable_cost_ratio((3, 0), 8),
            ValueError,
            r"separable_cost_ratio: k width must be an integer >= 1; got 0",
        ),
    ],
)
def test_bad_input_names_the_function_and_what_was_expected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_error_message_names_function_and_expectation():
    with pytest.raises(ValueError) as info:
        conv2d(np.zeros((2, 3, 4, 5)), K4)
    assert str(info.value) == (
        "conv2d: x must have 2 dims (H, W) or 3 dims (H, W, C_in); got shape (2, 3, 4, 5)."
    )


# Every size argument of the counting functions, with a valid value for the others.
COUNTS = [
    (output_size, (5, 3)),
    (same_padding, (5, 3, 1)),
    (dense_params, (784, 10)),
    (local_params, (100, 3)),
    (shared_params, (3,)),
    (conv2d_params, (3, 3, 1, 32)),
    (separable_conv2d_params, (3, 3, 32, 32, True, 1)),
    (depthwise_conv2d_params, (3, 3, 32, 1)),
    (conv2d_macs, (26, 26, 3, 3, 1, 32)),
    (depthwise_conv2d_macs, (28, 28, 3, 3, 32, 1)),
    (separable_conv2d_macs, (28, 28, 3, 3, 32, 32, 1)),
    (separable_cost_ratio, (3, 32)),
]
SIZE_ARGUMENTS = [
    (fn, args, index)
    for fn, args in COUNTS
    for index, value in enumerate(args)
    if not isinstance(value, bool)
]


@pytest.mark.parametrize(
    ("fn", "args", "index"), SIZE_ARGUMENTS, ids=[f"{f.__name__}-{i}" for f, _, i in SIZE_ARGUMENTS]
)
def test_every_size_argument_is_checked(fn, args, index):
    name = list(inspect.signature(fn).parameters)[index]
    fn(*args)  # the valid call works
    for bad, error in (
        (0, ValueError),
        (-3, ValueError),
        (2.5, TypeError),
        (True, TypeError),
        (None, TypeError),
    ):
        changed = list(args)
        changed[index] = bad
        with pytest.raises(
            error, match=rf"^{fn.__name__}: {name} must be an integer >= 1; got {bad!r}"
        ):
            fn(*changed)


def test_numpy_integers_are_sizes_and_counts_are_python_ints():
    assert conv2d_params(np.int64(3), np.int32(3), 1, 32) == 320
    assert type(dense_params(np.int64(784), np.int64(10))) is int
    assert output_size(np.int64(5), 3) == 3 and same_padding(np.int8(5), 3) == (1, 1)
    np.testing.assert_array_equal(conv2d(IMAGE, X_KERNEL, stride=np.int64(2)), [[35, 45], [85, 95]])


# --- transposed convolution and the matrix of a convolution ---------------------------------


def keras_conv_transpose(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    layer = keras.layers.Conv2DTranspose(1, kernel.shape, strides=stride, use_bias=False)
    layer.build((None, *x.shape, 1))
    layer.set_weights([kernel[:, :, None, None].astype("float32")])
    return np.asarray(layer(x[None, :, :, None].astype("float32")))[0, :, :, 0]


def test_conv_transpose2d_worked_example_stamps_and_overlaps():
    x = np.array([[1, 2], [3, 4]])
    tiled = ops.conv_transpose2d(x, np.array([[1, 0], [2, 1]]), stride=2)
    assert tiled.tolist() == [[1, 0, 2, 0], [2, 1, 4, 2], [3, 0, 4, 0], [6, 3, 8, 4]]
    overlapping = ops.conv_transpose2d(x, np.ones((3, 3), int), stride=2)
    assert overlapping.shape == (5, 5) and overlapping[2, 2] == 1 + 2 + 3 + 4


@settings(max_examples=30, deadline=None)  # each example builds a Keras layer
@given(
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    seed=st.integers(0, 10),
)
def test_conv_transpose2d_matches_keras_and_is_the_transposed_matrix(h, w, k, stride, seed):
    assume(k >= stride)  # a smaller kernel: Keras appends stride - k zero rows and columns
    rng = np.random.default_rng(seed)
    x, kernel = rng.integers(-3, 4, (h, w)), rng.integers(-3, 4, (k, k))
    ours = ops.conv_transpose2d(x, kernel, stride)
    assert ours.shape == ((h - 1) * stride + k, (w - 1) * stride + k)
    np.testing.assert_allclose(ours, keras_conv_transpose(x, kernel, stride), atol=1e-4)
    n = ours.shape[0]
    if h == w and ops.output_size(n, k, stride) == h:  # C maps n x n images to h x h outputs
        matrix = ops.conv2d_matrix(kernel, n, stride)
        np.testing.assert_array_equal(matrix.T @ x.ravel(), ours.ravel())


def test_conv2d_matrix_computes_conv2d():
    kernel, image = np.array([[1, 0], [2, 1]]), np.arange(16).reshape(4, 4)
    matrix = ops.conv2d_matrix(kernel, n=4, stride=2)
    assert matrix.shape == (4, 16)
    np.testing.assert_array_equal(matrix @ image.ravel(), conv2d(image, kernel, 2).ravel())


def test_transposed_convolution_rejects_bad_input():
    with pytest.raises(ValueError, match=r"conv_transpose2d: x and kernel must both be 2-D"):
        ops.conv_transpose2d(np.ones((2, 2, 1)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="conv_transpose2d: stride must be"):
        ops.conv_transpose2d(np.ones((2, 2)), np.ones((2, 2)), stride=0)
    with pytest.raises(ValueError, match=r"does not fit an image of side n=2; use n >= 3"):
        ops.conv2d_matrix(np.ones((3, 3)), n=2)
