"""Tests of course_lib.augment and the augmentation figures of course_lib.plots."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from course_lib import augment, plots  # noqa: E402
from course_lib.data import Split  # noqa: E402

FILL = -7.0  # a value the random test images never take


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def images(n: int = 16, channels: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, 28, 28, channels)).astype(np.float32)


def erased_mask(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(N, H, W) True where any channel changed."""
    return (before != after).any(axis=-1)


# --------------------------------------------------------------------------
# RandomErasing
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float16", "uint8"])
def test_erasing_keeps_shape_and_dtype(dtype):
    x = (images(6, channels=3) * 200).astype(dtype)
    for value in (3.0, "random"):
        y = np.asarray(augment.RandomErasing(rate=1.0, value=value, seed=0)(x))
        assert y.shape == x.shape and y.dtype == x.dtype
        assert (y != x).any()


def test_erasing_single_image_and_unbatched_channels():
    x = images(1, channels=3)[0]
    y = np.asarray(augment.RandomErasing(rate=1.0, value=FILL, seed=1)(x))
    assert y.shape == (28, 28, 3)
    changed = x != y
    # the same rectangle in every channel
    assert (changed.all(axis=-1) == changed.any(axis=-1)).all() and changed.any()


def test_erasing_is_identity_at_inference():
    x = images()
    layer = augment.RandomErasing(rate=1.0, value=FILL, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    model = keras.Sequential([keras.Input((28, 28, 1)), layer])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_erasing_rate_zero_is_identity_even_in_training():
    x = images()
    np.testing.assert_array_equal(np.asarray(augment.RandomErasing(rate=0.0, seed=0)(x, training=True)), x)


def test_erasing_erases_one_rectangle_of_the_allowed_size_and_shape():
    x = images(200)
    scale, ratio = (0.05, 0.2), (0.5, 2.0)
    y = np.asarray(augment.RandomErasing(rate=1.0, scale=scale, ratio=ratio, value=FILL, seed=2)(x))
    masks = erased_mask(x, y)
    assert masks.any(axis=(1, 2)).all(), "rate=1 erases every image"
    for mask, out in zip(masks, y):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        assert mask.sum() == h * w, "the erased pixels form one filled rectangle"
        assert (out[mask] == FILL).all()
        # h and w are rounded from the drawn area and ratio: allow half a pixel each
        assert scale[0] * 784 * 0.75 <= h * w <= scale[1] * 784 * 1.3
        assert ratio[0] * 0.7 <= h / w <= ratio[1] / 0.7


def test_erasing_rate_is_the_share_of_erased_images():
    x = images(400)
    y = np.asarray(augment.RandomErasing(rate=0.5, value=FILL, seed=3)(x))
    share = erased_mask(x, y).any(axis=(1, 2)).mean()
    assert 0.4 < share < 0.6  # binomial(400, 0.5): 5 standard deviations


def test_erasing_random_value_stays_within_each_image_range():
    x = images(20)
    x[:10] *= 0.1  # images with different ranges
    y = np.asarray(augment.RandomErasing(rate=1.0, value="random", seed=4)(x))
    for before, after in zip(x, y):
        changed = after != before
        assert changed.any()
        assert before.min() <= after[changed].min() and after[changed].max() <= before.max()


def test_erasing_same_seed_same_result_and_fresh_draws_per_call():
    x = images()
    a = augment.RandomErasing(seed=5)
    b = augment.RandomErasing(seed=5)
    first = np.asarray(a(x))
    np.testing.assert_array_equal(first, np.asarray(b(x)))
    assert not np.array_equal(first, np.asarray(a(x))), "a second call draws new rectangles"
    assert not np.array_equal(first, np.asarray(augment.RandomErasing(seed=6)(x)))


def test_erasing_in_tf_data_map_batched_and_not():
    x = images(8)
    layer = augment.RandomErasing(rate=1.0, value=FILL, seed=0)
    batched = tf.data.Dataset.from_tensor_slices(x).batch(4).map(lambda b: layer(b, training=True))
    out = np.concatenate([np.asarray(b) for b in batched])
    assert out.shape == x.shape and erased_mask(x, out).any(axis=(1, 2)).all()
    single = tf.data.Dataset.from_tensor_slices(x).map(layer)
    out = np.stack([np.asarray(b) for b in single])
    assert out.shape == x.shape and erased_mask(x, out).any(axis=(1, 2)).all()


def test_erasing_trains_inside_a_model_and_survives_saving(tmp_path):
    x, y = images(32), np.arange(32) % 2
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), augment.RandomErasing(seed=0), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    erasing = loaded.layers[0]
    assert isinstance(erasing, augment.RandomErasing) and erasing.rate == 0.5 and erasing.ratio == (0.3, 3.3)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rate": 1.5}, r"RandomErasing: rate must be a probability in \[0, 1\].*1\.5"),
        ({"rate": -0.1}, r"rate must be a probability"),
        ({"rate": "half"}, r"rate must be a probability"),
        ({"scale": (0.5, 0.1)}, r"RandomErasing: scale must be a pair \(min, max\) with 0 < min <= max and at most 1"),
        ({"scale": (0.0, 0.3)}, r"scale must be a pair"),
        ({"scale": (0.1, 1.5)}, r"scale must be a pair"),
        ({"scale": 0.3}, r"scale must be a pair.*got 0\.3"),
        ({"ratio": (3.3, 0.3)}, r"RandomErasing: ratio must be a pair \(min, max\) with 0 < min <= max"),
        ({"ratio": (-1, 2)}, r"ratio must be a pair"),
        ({"value": "noise"}, r"value must be a number or 'random'"),
        ({"value": float("nan")}, r"value must be a finite number"),
        ({"seed": -1}, r"seed must be a non-negative integer"),
    ],
)
def test_erasing_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        augment.RandomErasing(**kwargs)


def test_erasing_rejects_images_without_channels_axis():
    with pytest.raises(ValueError, match=r"RandomErasing: expected images \(H, W, C\) or a batch"):
        augment.RandomErasing()(np.zeros((4, 28), dtype="float32"))


# --------------------------------------------------------------------------
# pipeline and with_augmentation
# --------------------------------------------------------------------------


def test_pipeline_layers_in_order_and_switched_off():
    full = augment.pipeline(contrast=0.2, erasing=0.5, value_range=(0, 1), seed=0)
    assert [layer.name for layer in full.layers] == ["flip", "translation", "rotation", "zoom", "contrast", "erasing"]
    assert [layer.seed for layer in full.layers] == [0, 1, 2, 3, 4, 5]
    assert isinstance(full.layers[-1], augment.RandomErasing)
    only_flip = augment.pipeline(translation=0, rotation=0, zoom=0)
    assert [layer.name for layer in only_flip.layers] == ["flip"]


def test_pipeline_same_seed_same_images_and_keeps_shape():
    x = images()
    a = np.asarray(augment.pipeline(seed=1)(x))
    b = np.asarray(augment.pipeline(seed=1)(x))
    assert a.shape == x.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, x)
    np.testing.assert_array_equal(np.asarray(augment.pipeline(seed=1)(x, training=False)), x)


def test_pipeline_horizontal_flip_only_mirrors():
    x = images(64)
    out = np.asarray(augment.pipeline(flip="horizontal", translation=0, rotation=0, zoom=0, seed=2)(x))
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_pipeline_nearest_interpolation_only_moves_pixels():
    x = images(8)
    out = np.asarray(augment.pipeline(flip=None, rotation=0.05, zoom=0.1, interpolation="nearest", fill_value=FILL, seed=0)(x))
    for before, after in zip(x, out):
        assert np.isin(after, np.append(before.ravel(), FILL)).all(), "no new (blurred) values"


def test_pipeline_fills_uncovered_pixels_with_fill_value():
    x = np.ones((8, 28, 28, 1), dtype="float32")
    out = np.asarray(augment.pipeline(flip=None, translation=0.3, rotation=0, zoom=0, fill_value=FILL, seed=0)(x))
    assert set(np.unique(out)) <= {1.0, FILL} or np.isclose(out, FILL).any()
    assert np.isclose(out, FILL).any() and out.max() <= 1.0 + 1e-6


def test_pipeline_contrast_stays_within_value_range():
    x = images() * 4 - 1  # values in [-1, 3]
    out = np.asarray(augment.pipeline(flip=None, translation=0, rotation=0, zoom=0, contrast=0.5, value_range=(-1, 3), seed=0)(x))
    assert out.min() >= -1 - 1e-5 and out.max() <= 3 + 1e-5 and not np.allclose(out, x)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"flip": "diagonal"}, r"pipeline: flip must be one of"),
        ({"translation": -0.1}, r"pipeline: translation must be a number in \[0, 1\]"),
        ({"rotation": 0.8}, r"pipeline: rotation must be a number in \[0, 0.5\]"),
        ({"erasing": 2}, r"pipeline: erasing must be a number in \[0, 1\]"),
        ({"contrast": 0.2}, r"pipeline: contrast needs value_range"),
        ({"flip": None, "translation": 0, "rotation": 0, "zoom": 0}, r"every transformation is switched off"),
        ({"seed": 1.5}, r"seed must be a non-negative integer"),
        ({"interpolation": "cubic"}, r"pipeline: interpolation must be 'bilinear' or 'nearest'"),
    ],
)
def test_pipeline_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        augment.pipeline(**kwargs)


def test_with_augmentation_puts_it_first_and_is_identity_at_predict():
    base = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(3)], name="base")
    model = augment.with_augmentation(base, augment.pipeline(seed=0))
    assert model.layers[0].name == "augmentation" and model.layers[1:] == base.layers
    assert model.input_shape == base.input_shape and model.name == "base_augmented"
    x = images(8)
    np.testing.assert_allclose(model.predict(x, verbose=0), base.predict(x, verbose=0), rtol=1e-6)
    # the layers are shared: training one trains the other
    assert model.layers[-1].kernel is base.layers[-1].kernel


def test_with_augmentation_nests_a_functional_model():
    inputs = keras.Input((28, 28, 1))
    base = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)), name="functional")
    model = augment.with_augmentation(base, augment.RandomErasing(seed=0))
    assert model.layers[-1] is base and model.output_shape == (None, 2)


def test_with_augmentation_rejects_non_layers():
    base = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()])
    with pytest.raises(TypeError, match="with_augmentation: augmentation must be a Keras layer"):
        augment.with_augmentation(base, lambda x: x)
    with pytest.raises(TypeError, match="with_augmentation: model must be a Keras model"):
        augment.with_augmentation("model", augment.pipeline())


# --------------------------------------------------------------------------
# training_dataset and images_per_second
# --------------------------------------------------------------------------


def labelled_split(n: int = 50) -> Split:
    """Images whose every pixel equals their label: pairing is checkable after shuffling."""
    y = np.arange(n)
    x = np.broadcast_to(y[:, None, None, None], (n, 28, 28, 1)).astype(np.float32)
    return Split(x, y, "labelled")


def test_training_dataset_batches_shuffles_and_keeps_pairs():
    split = labelled_split()
    dataset = augment.training_dataset(split, batch_size=16, seed=0, cache=True, parallel=True, prefetch=True)
    batches = [(np.asarray(x), np.asarray(y)) for x, y in dataset]
    assert [len(y) for _, y in batches] == [16, 16, 16, 2]
    xs, ys = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    assert sorted(ys) == list(range(50)) and not (ys == np.arange(50)).all()
    assert (xs[:, 0, 0, 0] == ys).all(), "images stay with their labels"
    again = np.concatenate([np.asarray(y) for _, y in augment.training_dataset(split, batch_size=16, seed=0)])
    np.testing.assert_array_equal(ys, again)


def test_training_dataset_no_shuffle_keeps_order():
    ys = np.concatenate([np.asarray(y) for _, y in augment.training_dataset(labelled_split(), 8, shuffle=False)])
    np.testing.assert_array_equal(ys, np.arange(50))


def test_training_dataset_preprocess_and_augmentation_are_applied():
    raw = Split(np.full((12, 28, 28, 1), 2, dtype=np.uint8), np.zeros(12, dtype=np.int64), "raw")
    dataset = augment.training_dataset(
        raw,
        batch_size=4,
        preprocess=lambda img: tf.cast(img, tf.float32) / 2.0,
        augmentation=augment.RandomErasing(rate=1.0, value=FILL, seed=0),
        cache=True,
    )
    for _ in range(2):  # the second epoch reads the cache
        xs = np.concatenate([np.asarray(x) for x, _ in dataset])
        assert xs.dtype == np.float32 and set(np.unique(xs)) == {1.0, FILL}
        assert (xs == FILL).any(axis=(1, 2, 3)).all()


def test_training_dataset_feeds_model_fit():
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(50, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    dataset = augment.training_dataset(labelled_split(), 16, augmentation=augment.pipeline(seed=0), seed=0, prefetch=True)
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # the dataset shuffles
    assert np.isfinite(history.history["loss"][0])


def test_training_dataset_rejects_bad_input():
    split = labelled_split()
    with pytest.raises(TypeError, match="training_dataset: split must be a course_lib.data.Split"):
        augment.training_dataset((split.x, split.y))
    with pytest.raises(ValueError, match=r"expected images \(N, H, W, C\).*Add the channel axis"):
        augment.training_dataset(Split(split.x[..., 0], split.y, "flat"))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        augment.training_dataset(split, batch_size=0)
    with pytest.raises(TypeError, match="augmentation must be callable"):
        augment.training_dataset(split, augmentation="flip")


def test_images_per_second_measures_a_rate():
    dataset = augment.training_dataset(labelled_split(), 10, shuffle=False)
    rate = augment.images_per_second(dataset, repeats=2)
    assert isinstance(rate, float) and rate > 0
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        augment.images_per_second(dataset, repeats=0)
    empty = tf.data.Dataset.from_tensor_slices((np.zeros((0, 28, 28, 1)), np.zeros(0)))
    with pytest.raises(ValueError, match="yielded no images"):
        augment.images_per_second(empty, repeats=1, warmup=False)


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------


def test_show_augmentations_original_then_draws():
    fig = plots.show_augmentations(images(1)[0], augment.pipeline(seed=0), n=7, ncols=4)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 8 and titles[0] == "original" and titles[-1] == "draw 7"
    assert len(plots.show_augmentations(images(1)[0, :, :, 0], augment.pipeline(seed=0), n=3).axes) == 4
    with pytest.raises(ValueError, match=r"show_augmentations: expected one image"):
        plots.show_augmentations(images(2), augment.pipeline())
    with pytest.raises(TypeError, match="augmentation must be callable"):
        plots.show_augmentations(images(1)[0], "flip")


def test_show_augmented_classes_one_row_per_class():
    y = np.repeat(np.arange(10), 2)
    split = Split(images(20), y, "s")
    fig = plots.show_augmented_classes(split, augment.pipeline(seed=0), draws=3)
    assert len(fig.axes) == 40 and fig.axes[0].get_title() == "original"
    with pytest.raises(ValueError, match="class 9 has no image"):
        plots.show_augmented_classes(Split(images(9), np.arange(9), "s"), augment.pipeline(), draws=2)


def test_plot_mean_std_one_line_per_group():
    summary = pd.DataFrame(
        {"size": [100, 1000, 100, 1000], "aug": ["no", "no", "yes", "yes"], "mean": [0.7, 0.8, 0.75, 0.82], "std": [0.01, np.nan, 0.02, 0.01]}
    )
    fig = plots.plot_mean_std(summary, x="size", group="aug")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_legend().get_texts()] == ["no", "yes"]
    with pytest.raises(ValueError, match=r"plot_mean_std: summary has no column\(s\) \['spread'\]"):
        plots.plot_mean_std(summary, x="size", group="aug", std="spread")


def test_plot_train_val_gap_two_lines_per_run():
    histories = {"a": {"accuracy": [0.5, 0.9], "val_accuracy": [0.5, 0.7]}, "b": {"accuracy": [0.4, 0.6], "val_accuracy": [0.45, 0.65]}}
    fig = plots.plot_train_val_gap(histories, ylim=(0, 1))
    assert len(fig.axes[0].lines) == 4 and fig.axes[0].get_ylim() == (0, 1)
    with pytest.raises(ValueError, match="run 'c' has no 'val_accuracy'"):
        plots.plot_train_val_gap({"c": {"accuracy": [0.5]}})
    with pytest.raises(ValueError, match="no runs given"):
        plots.plot_train_val_gap({})
