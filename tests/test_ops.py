"""Tests of course_lib.ops: the course's worked examples, and agreement with Keras."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from course_lib.ops import (  # noqa: E402
    conv2d,
    conv2d_macs,
    conv2d_params,
    convolve2d,
    dense_params,
    flip_kernel,
    local_params,
    output_size,
    pool2d,
    receptive_field,
    same_padding,
    shared_params,
)

FAST = settings(max_examples=40, deadline=None)

IMAGE = np.arange(1, 26).reshape(5, 5)  # the 5x5 image 1..25 of the worked examples
X_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
ASYMMETRIC = np.array([[1, 2, 0], [0, 0, 0], [0, 0, -1]])


def random_array(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


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
    np.testing.assert_array_equal(convolve2d(IMAGE, ASYMMETRIC), conv2d(IMAGE, flip_kernel(ASYMMETRIC)))
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


# --- bad input -----------------------------------------------------------------

X2 = np.zeros((5, 5))
X3 = np.zeros((5, 5, 3))
K2 = np.zeros((3, 3))
K4 = np.zeros((3, 3, 3, 2))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: conv2d(np.zeros((2, 3, 4, 5)), K4), r"x must have 2 dims .*got shape \(2, 3, 4, 5\)"),
        (lambda: conv2d(np.zeros(5), K2), r"x must have 2 dims \(H, W\) or 3 dims"),
        (lambda: conv2d(X2, K4), r"kernel must have 2 dims \(kh, kw\); got shape \(3, 3, 3, 2\)"),
        (lambda: conv2d(X3, K2), r"kernel must have 4 dims \(kh, kw, C_in, C_out\); got shape \(3, 3\)"),
        (lambda: conv2d(X3, np.zeros((3, 3, 2, 4))), r"channel mismatch: x has C_in=3 .*kernel expects C_in=2"),
        (lambda: conv2d(X2, np.zeros((6, 3))), r"kernel \(6, 3\) is larger than the padded input \(5, 5\)"),
        (lambda: conv2d(X2, np.zeros((8, 8)), padding=1), r"larger than the padded input \(7, 7\)"),
        (lambda: conv2d(X2, K2, stride=0), r"stride must be an int >= 1; got 0"),
        (lambda: conv2d(X2, K2, stride=1.5), r"stride must be an int >= 1; got 1.5"),
        (lambda: conv2d(X2, K2, padding="full"), r"unknown padding 'full'; expected 'valid', 'same'"),
        (lambda: conv2d(X2, K2, padding=-1), r"padding must be a non-negative int; got -1"),
        (lambda: conv2d(X2, K2, padding=1.0), r"padding must be 'valid', 'same' or an int >= 0"),
        (lambda: pool2d(np.zeros((1, 5, 5, 1))), r"x must have 2 dims \(H, W\) or 3 dims \(H, W, C\)"),
        (lambda: pool2d(X2, size=0), r"size must be an int >= 1; got 0"),
        (lambda: pool2d(X2, size=2, stride=0), r"stride must be an int >= 1; got 0"),
        (lambda: pool2d(X2, mode="min"), r"unknown mode 'min'; expected 'max' or 'avg'"),
        (lambda: pool2d(X2, padding="SAME"), r"unknown padding 'SAME'; expected 'valid' or 'same'"),
        (lambda: pool2d(X2, padding=1), r"padding must be 'valid' or 'same'; got 1"),
        (lambda: pool2d(X2, size=6), r"window \(6, 6\) is larger than the padded input \(5, 5\)"),
        (lambda: output_size(5, 6), r"window k=6 is larger than the padded input"),
        (lambda: output_size(5, 3, stride=0), r"stride must be an int >= 1"),
        (lambda: output_size(5, 3, padding="full"), r"unknown padding 'full'"),
        (lambda: output_size(5, 3, padding=-2), r"non-negative int; got -2"),
        (lambda: receptive_field([(3, 1), (2, 0)]), r"stride of layer 1 must be an int >= 1"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_error_message_names_function_and_expectation():
    with pytest.raises(ValueError) as info:
        conv2d(np.zeros((2, 3, 4, 5)), K4)
    assert str(info.value) == (
        "conv2d: x must have 2 dims (H, W) or 3 dims (H, W, C_in); got shape (2, 3, 4, 5)"
    )


# --- agreement with Keras (property-based) -----------------------------------

sizes = st.integers(1, 12)
kernel_sizes = st.integers(1, 5)
strides = st.integers(1, 3)
paddings = st.sampled_from(["valid", "same"])
seeds = st.integers(0, 2**32 - 1)


@FAST
@given(h=sizes, w=sizes, c_in=st.integers(1, 3), c_out=st.integers(1, 4), kh=kernel_sizes,
       kw=kernel_sizes, stride=strides, padding=paddings, seed=seeds)
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


@FAST
@given(h=sizes, w=sizes, channels=st.integers(1, 3), size=kernel_sizes,
       stride=st.none() | strides, mode=st.sampled_from(["max", "avg"]), padding=paddings,
       seed=seeds)
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


@FAST
@given(n=sizes, k=kernel_sizes, stride=strides, padding=paddings)
def test_output_size_matches_keras(n, k, stride, padding):
    assume(padding == "same" or k <= n)
    layer = keras.layers.Conv2D(1, (k, 1), strides=stride, padding=padding)
    _, h_out, _, _ = layer.compute_output_shape((None, n, 1, 1))
    assert output_size(n, k, stride, padding) == h_out


@FAST
@given(n=sizes, k=kernel_sizes, stride=strides)
def test_same_padding_gives_ceil_n_over_stride_outputs(n, k, stride):
    before, after = same_padding(n, k, stride)
    assert 0 <= after - before <= 1  # the odd zero goes after
    assert output_size(n + before + after, k, stride) == output_size(n, k, stride, "same")


@FAST
@given(h=sizes, w=sizes, kh=kernel_sizes, kw=kernel_sizes, stride=strides,
       p=st.integers(0, 3), seed=seeds)
def test_int_padding_is_zero_padding_then_valid(h, w, kh, kw, stride, p, seed):
    assume(kh <= h + 2 * p and kw <= w + 2 * p)
    x = random_array(seed, h, w)
    kernel = random_array(seed + 1, kh, kw)
    out = conv2d(x, kernel, stride, padding=p)
    assert out.shape == (output_size(h, kh, stride, p), output_size(w, kw, stride, p))
    np.testing.assert_allclose(out, conv2d(np.pad(x, p), kernel, stride), rtol=1e-6)


@FAST
@given(h=sizes, w=sizes, kh=kernel_sizes, kw=kernel_sizes, stride=strides, padding=paddings,
       seed=seeds)
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


# -- classic kernels and translation -------------------------------------------


def test_classic_kernels_sum_to_one_or_zero():
    from course_lib.ops import classic_kernels

    kernels = classic_kernels()
    for name in ("identity", "box blur", "Gaussian blur", "sharpen"):
        assert kernels[name].sum() == pytest.approx(1.0), name
    for name in ("Sobel x (vertical edges)", "Sobel y (horizontal edges)", "outline"):
        assert kernels[name].sum() == pytest.approx(0.0), name
    x = np.arange(1, 26, dtype=float).reshape(5, 5)
    np.testing.assert_array_equal(conv2d(x, kernels["identity"]), x[1:-1, 1:-1])


def test_sobel_x_responds_to_vertical_edges_only():
    from course_lib.ops import classic_kernels

    step = np.zeros((6, 6))
    step[:, 3:] = 1  # a vertical edge
    kernels = classic_kernels()
    assert np.abs(conv2d(step, kernels["Sobel x (vertical edges)"])).max() == 4
    assert np.abs(conv2d(step, kernels["Sobel y (horizontal edges)"])).max() == 0


@pytest.mark.parametrize("dy, dx", [(0, 0), (1, 0), (0, 2), (-1, 3), (2, -2)])
def test_translate_matches_roll_without_wraparound(dy, dx):
    from course_lib.ops import translate

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
    from course_lib.ops import translate

    x = np.arange(1, 10).reshape(3, 3)
    np.testing.assert_array_equal(translate(x, 1, 0), [[0, 0, 0], [1, 2, 3], [4, 5, 6]])
    batch = x[None, :, :, None]
    np.testing.assert_array_equal(translate(batch, 0, -1)[0, :, :, 0], [[2, 3, 0], [5, 6, 0], [8, 9, 0]])
    assert (translate(x, 3, 0) == 0).all()
    with pytest.raises(ValueError, match="dy and dx must be integers"):
        translate(x, 0.5, 0)
    with pytest.raises(ValueError, match="expected"):
        translate(np.zeros(4), 1, 1)


@pytest.mark.parametrize("c_in, c_out, expected", [(32, 32, 1344), (64, 64, 4736), (128, 128, 17664)])
def test_separable_conv2d_params_match_the_notes_and_keras(c_in, c_out, expected):
    from course_lib.ops import separable_conv2d_params

    layer = keras.layers.SeparableConv2D(c_out, 3)
    layer.build((None, 14, 14, c_in))
    assert separable_conv2d_params(3, 3, c_in, c_out) == expected == layer.count_params()
