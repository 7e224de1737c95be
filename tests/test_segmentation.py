"""Tests of course_lib.segmentation: canvases and the fully convolutional network.

The metrics are tested in test_metrics.py, the figure in test_plots.py.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import pytest

from course_lib import data, metrics, train
from course_lib import segmentation as seg
from course_lib.data import CLASS_NAMES, Split


@pytest.fixture(scope="module")
def splits():
    if not all((data.SYSTEM_DATA_DIR / spec.filename).is_file() for spec in data.FILES.values()):
        pytest.skip("Fashion-MNIST is not installed")
    return data.load_splits(download=False)


def blob_split(values: list[int], labels: list[int], name: str = "blobs") -> Split:
    """One 28x28 uint8 image per value: a 10x10 square of that value in the middle."""
    x = np.zeros((len(values), 28, 28), np.uint8)
    for image, value in zip(x, values):
        image[9:19, 9:19] = value
    return Split(x, np.array(labels), name)


# --------------------------------------------------------------------------
# make_canvases
# --------------------------------------------------------------------------


def test_class_names():
    assert seg.NUM_SEG_CLASSES == 11 == len(seg.SEG_CLASS_NAMES)
    assert seg.SEG_CLASS_NAMES[0] == "background" and seg.SEG_CLASS_NAMES[1:] == CLASS_NAMES


def test_canvases_shapes_dtypes_and_ranges(splits):
    canvases = seg.make_canvases(splits.train, 64, canvas_size=60, seed=0)
    assert canvases.name == "train canvases" and canvases.role == "train"
    assert canvases.x.shape == (64, 60, 60, 1) and canvases.x.dtype == np.float32
    assert canvases.y.shape == (64, 60, 60) and canvases.y.dtype == np.int32
    assert 0 <= canvases.x.min() and canvases.x.max() <= 1
    assert 0 <= canvases.y.min() and canvases.y.max() <= 10
    # Every canvas shows something: the last item pasted is never covered.
    assert ((canvases.y != 0).sum(axis=(1, 2)) > 0).all()
    assert all(1 <= len(np.unique(mask[mask > 0])) <= 3 for mask in canvases.y)


def test_background_exactly_where_the_canvas_is_empty(splits):
    canvases = seg.make_canvases(splits.test, 100, seed=1)
    raw = np.rint(canvases.x[..., 0] * 255)
    np.testing.assert_array_equal(canvases.y == 0, raw <= seg.THRESHOLD)


def test_canvases_keep_the_role_of_their_split(splits):
    for split in splits:
        canvases = seg.make_canvases(split.take(50), 3, seed=0)
        assert canvases.role == split.role and canvases.name == f"{split.name} canvases"
    renamed = Split(splits.test.x[:50], splits.test.y[:50], "held out", role="test")
    assert seg.make_canvases(renamed, 3, seed=0).role == "test"  # test data, whatever its name


def test_canvases_from_test_images_cannot_train(splits):
    test_canvases = seg.make_canvases(splits.test, 8, seed=0)
    with pytest.raises(ValueError, match="fit: train must not be test data"):
        train.fit(seg.fcn(), test_canvases, epochs=1)


def test_mask_labels_come_from_the_pasted_classes(splits):
    chosen = np.flatnonzero(np.isin(splits.valid.y, [2, 7]))[:200]
    two_classes = Split(splits.valid.x[chosen], splits.valid.y[chosen], "two classes")
    canvases = seg.make_canvases(two_classes, 100, items=(2, 3), seed=2)
    assert set(np.unique(canvases.y)) <= {0, 3, 8}


def test_single_item_lies_fully_inside_the_canvas():
    item = blob_split([200], [4])
    item.x[0, 0, :] = 30  # a first row, to catch items cropped at the top
    canvases = seg.make_canvases(item, 50, canvas_size=40, items=(1, 1), seed=3)
    raw = np.rint(canvases.x[..., 0] * 255)
    assert (raw.sum(axis=(1, 2)) == int(item.x[0].sum())).all()
    assert ((canvases.y == 5).sum(axis=(1, 2)) == 100 + 28).all()
    assert set(np.unique(canvases.y)) == {0, 5}


def test_later_item_takes_the_mask_where_it_is_visible():
    # canvas_size=28: every item is pasted at (0, 0), so only the order differs.
    x = np.zeros((2, 28, 28), np.uint8)
    x[0] = 100  # a full square of class 0 (mask label 1)
    x[1, 9:19, 9:19] = 50  # a darker, smaller square of class 1 (mask label 2)
    two = Split(x, np.array([0, 1]))
    canvases = seg.make_canvases(two, 40, canvas_size=28, items=(2, 2), seed=4)
    centre = np.zeros((28, 28), bool)
    centre[9:19, 9:19] = True
    patterns = {
        "full on top": np.ones((28, 28)),
        "small then small": np.where(centre, 2, 0),
        "full then small": np.where(centre, 2, 1),  # the darker item is on top in the mask
    }
    seen = set()
    for image, mask in zip(canvases.x[..., 0], canvases.y):
        matches = [name for name, pattern in patterns.items() if np.array_equal(mask, pattern)]
        assert len(matches) == 1
        seen.add(matches[0])
        expected_image = (
            np.where(centre, 50, 0) if matches[0] == "small then small" else np.full((28, 28), 100)
        )
        np.testing.assert_array_equal(np.rint(image * 255), expected_image)
    assert seen == set(patterns)


def test_canvases_are_deterministic_for_a_seed(splits):
    a = seg.make_canvases(splits.test, 20, seed=5)
    b = seg.make_canvases(splits.test, 20, seed=5)
    c = seg.make_canvases(splits.test, 20, seed=6)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


def test_canvases_are_fast(splits):
    start = time.perf_counter()
    canvases = seg.make_canvases(splits.train, 5_000, seed=0)
    assert time.perf_counter() - start < 5.0  # about 0.4 s on two cores
    assert len(canvases) == 5_000


def test_canvases_are_random_without_a_seed():
    items = blob_split([200, 100, 50], [0, 1, 2])
    a, b = (seg.make_canvases(items, 20) for _ in range(2))
    assert not np.array_equal(a.y, b.y)


UINT8 = np.zeros((3, 28, 28), np.uint8)


@pytest.mark.parametrize(
    "split, kwargs, error, message",
    [
        ((UINT8, np.zeros(3, int)), {}, TypeError, "split must be a course_lib.data.Split"),
        (
            Split(UINT8.astype(np.float32), np.zeros(3, int)),
            {},
            ValueError,
            r"raw uint8 images of shape \(N, 28, 28\).*before data.standardize",
        ),
        (Split(UINT8[..., None], np.zeros(3, int)), {}, ValueError, "raw uint8 images"),
        (Split(UINT8, np.zeros((3, 28, 28), int)), {}, ValueError, "one class index per image"),
        (Split(UINT8, np.array([0, 1, 10])), {}, ValueError, "one class index 0..9 per image"),
        (Split(UINT8[:0], np.zeros(0, int)), {}, ValueError, "one class index 0..9 per image"),
        (None, {"n": 0}, ValueError, "n must be an integer >= 1; got 0"),
        (None, {"n": 2.0}, TypeError, "n must be an integer"),
        (None, {"canvas_size": 27}, ValueError, "canvas_size must be an integer >= 28; got 27"),
        (None, {"items": (0, 2)}, ValueError, r"items\[0\] must be an integer >= 1"),
        (None, {"items": (3, 2)}, ValueError, r"1 <= min <= max"),
        (None, {"items": (1, 2, 3)}, ValueError, r"1 <= min <= max"),
        (None, {"items": 2}, TypeError, r"items must be a pair \(min, max\)"),
        (None, {"seed": -1}, ValueError, "seed must be an integer in"),
    ],
)
def test_make_canvases_rejects_bad_input(split, kwargs, error, message):
    split = split if split is not None else blob_split([200, 100], [0, 1])
    with pytest.raises(error, match=f"make_canvases: .*{message}"):
        seg.make_canvases(split, **{"n": 4, **kwargs})


# --------------------------------------------------------------------------
# The fully convolutional network
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return seg.fcn()


def test_fcn_has_no_dense_layer_and_a_small_parameter_count(model):
    assert model.input_shape == (None, None, None, 1)
    assert not any(isinstance(layer, keras.layers.Dense) for layer in model.layers)
    # encoder 320 + 18,496; bottleneck 2 x 36,928; decoder 16,448 + 8,224;
    # classifier 32 * 11 + 11 = 363
    assert model.count_params() == 117_707 < 150_000


def test_fcn_options_keep_the_parameters_and_change_the_wiring():
    plain = seg.fcn(seed=0)
    no_skips = seg.fcn(skips=False, seed=0)
    dilated = seg.fcn(bottleneck_dilations=(2, 4), seed=0)
    assert plain.count_params() == no_skips.count_params() == dilated.count_params()
    adds = [layer.name for layer in plain.layers if isinstance(layer, keras.layers.Add)]
    assert adds == ["dec2_skip", "dec1_skip"]
    assert not any(isinstance(layer, keras.layers.Add) for layer in no_skips.layers)
    assert no_skips.name == "fcn_no_skips"
    bottleneck = [layer for layer in dilated.layers if layer.name.startswith("bottleneck")]
    assert [layer.dilation_rate for layer in bottleneck] == [(2, 2), (4, 4)]
    assert all(
        layer.dilation_rate == (1, 1)
        for layer in plain.layers
        if isinstance(layer, keras.layers.Conv2D)
    )
    three = seg.fcn(bottleneck_dilations=(1, 2, 4), seed=0)
    assert [layer.name for layer in three.layers if layer.name.startswith("bottleneck")] == [
        "bottleneck_conv1",
        "bottleneck_conv2",
        "bottleneck_conv3",
    ]
    x = np.zeros((1, 56, 56, 1), np.float32)
    for model in (no_skips, dilated, three):
        assert model.predict(x, verbose=0).shape == (1, 56, 56, 11)


def test_fcn_seed_builds_the_same_weights():
    a, b = seg.fcn(seed=3), seg.fcn(seed=3)
    c = seg.fcn(seed=4)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    kernels = [w for w in a.get_weights() if w.ndim == 4]
    assert len({float(np.abs(k).sum()) for k in kernels}) == len(kernels), "one stream per layer"
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])
    # the same seed with other options: the same first kernel (the wiring comes later)
    np.testing.assert_array_equal(seg.fcn(skips=False, seed=3).get_weights()[0], a.get_weights()[0])
    assert not np.array_equal(seg.fcn().get_weights()[0], seg.fcn().get_weights()[0])


def test_fcn_logs_pixel_accuracy_and_mean_iou():
    model = seg.fcn(num_classes=3, filters=(4,), seed=0)
    rng = np.random.default_rng(0)
    x = rng.random((4, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, (4, 8, 8)).astype(np.int32)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    pred = seg.predict_masks(model, x)
    assert logs["accuracy"] == pytest.approx(metrics.pixel_accuracy(y, pred), abs=1e-6)
    assert logs["mean_iou"] == pytest.approx(metrics.mean_iou(y, pred, 3), abs=1e-5)


def test_fcn_learning_rate_and_cosine_decay():
    constant = seg.fcn(filters=(4,), learning_rate=2e-3)
    assert float(keras.ops.convert_to_numpy(constant.optimizer.learning_rate)) == pytest.approx(
        2e-3
    )
    decayed = seg.fcn(filters=(4,), learning_rate=2e-3, decay_steps=100)
    schedule = decayed.optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert float(schedule(0)) == pytest.approx(2e-3) and float(schedule(100)) == pytest.approx(0)


@pytest.mark.parametrize(
    "kwargs, field",
    [({}, 26), ({"bottleneck_dilations": (2, 4)}, 58), ({"filters": (8, 16, 32)}, 54)],
)
def test_receptive_field_of_the_bottleneck(kwargs, field):
    # default: conv 3, pool 4, conv 8, pool 10, then two 3x3 at stride 4: 10 + 8 + 8
    # dilated: 10 + 2 * 2 * 4 + 2 * 4 * 4; three levels: 22 + 2 * 8 + 2 * 8 at stride 8
    assert seg.receptive_field(seg.fcn(**kwargs)) == field


def test_receptive_field_rejects_a_non_model():
    with pytest.raises(TypeError, match="receptive_field: model must be a keras.Model"):
        seg.receptive_field("fcn")


@pytest.mark.parametrize("size", [56, 112])
def test_fcn_predicts_a_distribution_per_pixel(model, size):
    x = np.random.default_rng(size).random((2, size, size, 1)).astype(np.float32)
    probabilities = np.asarray(model(x))
    assert probabilities.shape == (2, size, size, 11)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    masks = seg.predict_masks(model, x[..., 0])
    assert masks.shape == (2, size, size) and masks.dtype == np.int32
    np.testing.assert_array_equal(masks, probabilities.argmax(axis=-1))


def test_fcn_depth_follows_filters():
    model = seg.fcn(num_classes=3, filters=(8, 16, 32))
    assert model.predict(np.zeros((1, 56, 56, 1)), verbose=0).shape == (1, 56, 56, 3)
    pools = [layer.name for layer in model.layers if "pool" in layer.name]
    assert pools == ["enc1_pool", "enc2_pool", "enc3_pool"]


def test_fcn_is_compiled_as_a_classifier(model):
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.loss == "sparse_categorical_crossentropy"


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"filters": ()}, ValueError, "filters must be a non-empty tuple of positive integers"),
        ({"filters": 32}, TypeError, "filters must be a non-empty tuple"),
        ({"filters": (16, 0)}, ValueError, r"filters\[1\] must be an integer >= 1; got 0"),
        ({"filters": (16.0,)}, TypeError, r"filters\[0\] must be an integer"),
        ({"num_classes": 1}, ValueError, "num_classes must be an integer >= 2"),
        ({"skips": "yes"}, TypeError, "skips must be True or False; got 'yes'"),
        ({"skips": 1}, TypeError, "skips must be True or False"),
        ({"bottleneck_dilations": ()}, ValueError, "bottleneck_dilations must be a non-empty"),
        ({"bottleneck_dilations": 2}, TypeError, "bottleneck_dilations must be a non-empty"),
        ({"bottleneck_dilations": (1, 0)}, ValueError, r"bottleneck_dilations\[1\] must be"),
        ({"bottleneck_dilations": (1.5,)}, TypeError, r"bottleneck_dilations\[0\] must be"),
        ({"seed": -1}, ValueError, "seed must be an integer in"),
        ({"seed": 1.0}, TypeError, "seed must be an integer"),
        ({"learning_rate": 0}, ValueError, "learning_rate must be"),
        ({"decay_steps": 0}, ValueError, "decay_steps must be an integer >= 1"),
    ],
)
def test_fcn_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=f"fcn: {message}"):
        seg.fcn(**kwargs)


def test_predict_masks_rejects_bad_shapes(model):
    with pytest.raises(ValueError, match=r"\(N, H, W, 1\) or \(N, H, W\); got \(56, 56\)"):
        seg.predict_masks(model, np.zeros((56, 56)))
    with pytest.raises(ValueError, match=r"got \(1, 56, 56, 3\)"):
        seg.predict_masks(model, np.zeros((1, 56, 56, 3)))
    with pytest.raises(TypeError, match="predict_masks: model must be a keras.Model"):
        seg.predict_masks(lambda x: x, np.zeros((1, 56, 56)))


def test_predict_masks_names_the_sizes_that_work(model):
    # 58 is not a multiple of 4: the decoder would fail inside Keras' Add layer.
    message = r"multiples of 4 for this model \(its 2 poolings.*got canvases of 58x58.*56 or 60"
    with pytest.raises(ValueError, match=f"predict_masks: height and width must be {message}"):
        seg.predict_masks(model, np.zeros((1, 58, 58, 1)))
    deeper = seg.fcn(num_classes=3, filters=(4, 4, 4))
    with pytest.raises(ValueError, match=r"multiples of 8.*got canvases of 56x60.*56 or 64"):
        seg.predict_masks(deeper, np.zeros((1, 56, 60)))
    assert seg.predict_masks(deeper, np.zeros((1, 64, 40))).shape == (1, 64, 40)


def test_short_training_learns_where_the_items_are(splits):
    canvases = seg.make_canvases(splits.train, 300, seed=0)
    test = seg.make_canvases(splits.test, 100, seed=1)
    model = seg.fcn(seed=0)
    history = train.fit(model, canvases, epochs=4, batch_size=16, verbose=0)  # about 15 s
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    pred = seg.predict_masks(model, test.x)
    baseline = metrics.pixel_accuracy(test.y, np.zeros_like(test.y))  # all background: about 0.8
    assert metrics.pixel_accuracy(test.y, pred) > baseline + 0.005
    # Item versus background, whatever the class: a good part is found already
    # (IoU 0.35 here; marking every pixel as an item would score about 0.2).
    assert metrics.iou_per_class(test.y > 0, pred > 0, 2)[1] > 0.25
