"""Tests of course_lib.segmentation: canvases, the FCN, the metrics and the figure."""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_lib import data, seed_everything, segmentation as seg  # noqa: E402
from course_lib.data import CLASS_NAMES, Split  # noqa: E402

@pytest.fixture(scope="module")
def splits():
    if not all((data.SYSTEM_DATA_DIR / spec.filename).is_file() for spec in data.FILES.values()):
        pytest.skip("Fashion-MNIST is not installed")
    return data.load_splits(download=False)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


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
    assert seg.NUM_SEG_CLASSES == 11 == len(seg.SEG_CLASS_NAMES) == len(seg.SEG_COLORS)
    assert seg.SEG_CLASS_NAMES[0] == "background" and seg.SEG_CLASS_NAMES[1:] == CLASS_NAMES


def test_canvases_shapes_dtypes_and_ranges(splits):
    canvases = seg.make_canvases(splits.train, 64, canvas_size=60, seed=0)
    assert canvases.name == "train canvases"
    assert canvases.x.shape == (64, 60, 60, 1) and canvases.x.dtype == np.float32
    assert canvases.y.shape == (64, 60, 60) and canvases.y.dtype == np.int32
    assert 0 <= canvases.x.min() and canvases.x.max() <= 1
    assert 0 <= canvases.y.min() and canvases.y.max() <= 10
    # Every canvas shows something: the last item pasted is never covered.
    assert ((canvases.y != 0).sum(axis=(1, 2)) > 0).all()
    assert all(1 <= len(np.unique(mask[mask > 0])) <= 3 for mask in canvases.y)


def test_background_exactly_where_the_canvas_is_empty(splits):
    for threshold in (0, seg.DEFAULT_THRESHOLD, 100):
        canvases = seg.make_canvases(splits.test, 100, threshold=threshold, seed=1)
        raw = np.rint(canvases.x[..., 0] * 255)
        np.testing.assert_array_equal(canvases.y == 0, raw <= threshold)


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
    canvases = seg.make_canvases(Split(x, np.array([0, 1])), 40, canvas_size=28, items=(2, 2), seed=4)
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
        expected_image = np.where(centre, 50, 0) if matches[0] == "small then small" else np.full((28, 28), 100)
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


@pytest.mark.parametrize(
    "split, kwargs, message",
    [
        (Split(np.zeros((3, 28, 28), np.float32), np.zeros(3, int)), {}, r"raw uint8 images of shape \(N, 28, 28\)"),
        (Split(np.zeros((3, 28, 28, 1), np.uint8), np.zeros(3, int)), {}, r"raw uint8 images"),
        (Split(np.zeros((3, 28, 28), np.uint8), np.zeros((3, 28, 28), int)), {}, "one class index 0..9 per image"),
        (Split(np.zeros((3, 28, 28), np.uint8), np.array([0, 1, 10])), {}, "one class index 0..9 per image"),
        (None, {"n": 0}, "n must be at least 1"),
        (None, {"canvas_size": 27}, "canvas_size must be at least 28"),
        (None, {"items": (0, 2)}, r"1 <= min <= max"),
        (None, {"items": (3, 2)}, r"1 <= min <= max"),
        (None, {"items": (1, 2, 3)}, r"1 <= min <= max"),
        (None, {"threshold": 255}, "threshold must be a pixel value in 0..254"),
    ],
)
def test_make_canvases_rejects_bad_input(split, kwargs, message):
    split = split if split is not None else blob_split([200, 100], [0, 1])
    with pytest.raises(ValueError, match=message):
        seg.make_canvases(split, **{"n": 4, **kwargs})


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------

Y_TRUE = np.array([[0, 0, 1], [1, 2, 2]])
Y_PRED = np.array([[0, 1, 1], [1, 2, 0]])


def test_metrics_on_a_hand_computed_example():
    assert seg.pixel_accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    # class 0: 1 common pixel of 3; class 1: 2 of 3; class 2: 1 of 2; class 3: absent (0/0).
    iou = seg.iou_per_class(Y_TRUE, Y_PRED, num_classes=4)
    np.testing.assert_allclose(iou[:3], [1 / 3, 2 / 3, 1 / 2])
    assert np.isnan(iou[3])
    assert seg.mean_iou(Y_TRUE, Y_PRED, num_classes=4) == pytest.approx(0.5)


def test_metrics_of_a_perfect_prediction():
    assert seg.pixel_accuracy(Y_TRUE, Y_TRUE) == 1.0
    assert seg.mean_iou(Y_TRUE, Y_TRUE, num_classes=11) == 1.0
    assert np.isnan(seg.iou_per_class(Y_TRUE, Y_TRUE, 11)[3:]).all()


def test_mean_iou_agrees_with_keras():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 11, (4, 20, 20))
    y_pred = np.where(rng.random((4, 20, 20)) < 0.6, y_true, rng.integers(0, 11, (4, 20, 20)))
    metric = keras.metrics.MeanIoU(num_classes=11)
    metric.update_state(y_true, y_pred)
    assert seg.mean_iou(y_true, y_pred, 11) == pytest.approx(float(metric.result()), abs=1e-6)


def test_all_background_prediction_has_high_accuracy_but_low_mean_iou():
    y_true = np.zeros((10, 10), int)
    y_true[:2, :2] = 3  # 4% of the pixels
    y_pred = np.zeros_like(y_true)
    assert seg.pixel_accuracy(y_true, y_pred) == pytest.approx(0.96)
    assert seg.mean_iou(y_true, y_pred) == pytest.approx(0.48)  # (0.96 + 0) / 2


def test_metrics_reject_bad_label_maps():
    with pytest.raises(ValueError, match=r"same shape; got \(2, 3\) and \(3, 2\)"):
        seg.pixel_accuracy(Y_TRUE, Y_PRED.T)
    with pytest.raises(ValueError, match=r"same shape.*predict_masks"):
        seg.mean_iou(Y_TRUE, np.zeros((2, 3, 11)), 11)
    with pytest.raises(ValueError, match="integer class labels; got dtype float64"):
        seg.iou_per_class(Y_TRUE, Y_PRED.astype(float), 4)
    with pytest.raises(ValueError, match=r"y_true has labels 0\.\.2, expected 0\.\.1"):
        seg.iou_per_class(Y_TRUE, Y_PRED, 2)
    with pytest.raises(ValueError, match="empty"):
        seg.pixel_accuracy(np.zeros(0, int), np.zeros(0, int))


# --------------------------------------------------------------------------
# The fully convolutional network
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return seg.fcn()


def test_fcn_has_no_dense_layer_and_a_small_parameter_count(model):
    assert model.input_shape == (None, None, None, 1)
    assert not any(isinstance(layer, keras.layers.Dense) for layer in model.layers)
    # encoder 320 + 18,496; bottleneck 2 x 36,928; decoder 16,448 + 8,224; classifier 32*11 + 11 = 363
    assert model.count_params() == 117_707 < 150_000


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
    assert [layer.name for layer in model.layers if "pool" in layer.name] == ["enc1_pool", "enc2_pool", "enc3_pool"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": ()}, "non-empty tuple of positive integers"),
        ({"filters": (16, 0)}, "positive"),
        ({"num_classes": 1}, "at least 2"),
    ],
)
def test_fcn_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        seg.fcn(**kwargs)


def test_predict_masks_rejects_bad_shapes(model):
    with pytest.raises(ValueError, match=r"\(N, H, W, 1\) or \(N, H, W\); got \(56, 56\)"):
        seg.predict_masks(model, np.zeros((56, 56)))
    with pytest.raises(ValueError, match=r"got \(1, 56, 56, 3\)"):
        seg.predict_masks(model, np.zeros((1, 56, 56, 3)))


def test_short_training_learns_where_the_items_are(splits):
    seed_everything(0)
    train = seg.make_canvases(splits.train, 300, seed=0)
    test = seg.make_canvases(splits.test, 100, seed=1)
    model = seg.fcn()
    history = model.fit(train.x, train.y, epochs=4, batch_size=16, verbose=0)  # about 15 s
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    pred = seg.predict_masks(model, test.x)
    baseline = seg.pixel_accuracy(test.y, np.zeros_like(test.y))  # all background: about 0.8
    assert seg.pixel_accuracy(test.y, pred) > baseline + 0.005
    # Item versus background, whatever the class: a good part is found already
    # (IoU 0.35 here; marking every pixel as an item would score about 0.2).
    assert seg.iou_per_class(test.y > 0, pred > 0, 2)[1] > 0.25


# --------------------------------------------------------------------------
# Figure
# --------------------------------------------------------------------------


def test_show_segmentation_layout():
    canvases = seg.make_canvases(blob_split([200, 90], [3, 8]), 5, seed=0)
    fig = seg.show_segmentation(canvases.x, canvases.y, canvases.y, n=3)
    assert len(fig.axes) == 9
    assert fig.axes[2].get_title() == "predicted (100.0% pixels)"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(seg.SEG_CLASS_NAMES)
    assert len(seg.show_segmentation(canvases.x[..., 0], canvases.y, n=10).axes) == 10  # 5 rows, 2 columns


def test_show_segmentation_rejects_bad_input():
    x, masks = np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8), int)
    with pytest.raises(ValueError, match=r"true_masks must have shape \(2, 8, 8\)"):
        seg.show_segmentation(x, masks[:, :4])
    with pytest.raises(ValueError, match=r"pred_masks must have shape \(2, 8, 8\)"):
        seg.show_segmentation(x, masks, masks[:1])
    with pytest.raises(ValueError, match="n must be at least 1"):
        seg.show_segmentation(x, masks, n=0)
    with pytest.raises(ValueError, match=r"images of shape \(N, H, W\)"):
        seg.show_segmentation(np.zeros((8, 8)), masks)
