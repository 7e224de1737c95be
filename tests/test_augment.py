"""Tests of course_lib.augment: random erasing, pipelines, and tf.data input pipelines.

The figures of chapter "Data augmentation" are tested in tests/test_plots.py.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib import augment
from course_lib.data import Split

FILL = -7.0  # a value the random test images never take


def images(n: int = 16, channels: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, 28, 28, channels)).astype(np.float32)


def erased_mask(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(N, H, W) True where any channel changed."""
    return (before != after).any(axis=-1)


def flat_model(name: str = "base") -> keras.Sequential:
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(3)], name=name
    )


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


def test_erasing_the_same_rectangle_in_every_channel():
    x = images(4, channels=3)
    y = np.asarray(augment.RandomErasing(rate=1.0, value=FILL, seed=1)(x))
    changed = x != y
    assert (changed.all(axis=-1) == changed.any(axis=-1)).all()
    assert changed.any(axis=(1, 2, 3)).all()


def test_erasing_is_identity_at_inference():
    x = images()
    layer = augment.RandomErasing(rate=1.0, value=FILL, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    model = keras.Sequential([keras.Input((28, 28, 1)), layer])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_erasing_rate_zero_is_identity_even_in_training():
    x = images()
    np.testing.assert_array_equal(
        np.asarray(augment.RandomErasing(rate=0.0, seed=0)(x, training=True)), x
    )


def test_erasing_erases_one_rectangle_of_the_papers_size_and_shape():
    x = images(200)
    scale, ratio = augment.RandomErasing.scale, augment.RandomErasing.ratio
    assert (scale, ratio) == ((0.02, 0.33), (0.3, 3.3))  # Zhong et al. (2017)
    y = np.asarray(augment.RandomErasing(rate=1.0, value=FILL, seed=2)(x))
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


def test_erasing_in_tf_data_map_on_batches():
    x = images(8)
    layer = augment.RandomErasing(rate=1.0, value=FILL, seed=0)
    batched = tf.data.Dataset.from_tensor_slices(x).batch(4).map(lambda b: layer(b, training=True))
    out = np.concatenate([np.asarray(b) for b in batched])
    assert out.shape == x.shape and erased_mask(x, out).any(axis=(1, 2)).all()
    with pytest.raises(ValueError, match=r"RandomErasing: images must be a batch \(N, H, W, C\)"):
        tf.data.Dataset.from_tensor_slices(x).map(layer)  # single images: batch them first


def test_erasing_trains_inside_a_model_and_survives_saving(tmp_path):
    x, y = images(32), np.arange(32) % 2
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            augment.RandomErasing(seed=0),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    erasing = loaded.layers[0]
    assert isinstance(erasing, augment.RandomErasing) and erasing.rate == 0.5 and erasing.seed == 0
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"rate": 1.5},
            ValueError,
            r"RandomErasing: rate must be a number in \[0, 1\]; got 1\.5\. It is the probability",
        ),
        ({"rate": -0.1}, ValueError, r"rate must be a number in \[0, 1\]; got -0\.1"),
        ({"rate": "half"}, TypeError, r"rate must be a number in \[0, 1\]; got 'half' \(str\)"),
        (
            {"value": "noise"},
            ValueError,
            r"RandomErasing: value must be one of \('random',\); got 'noise'",
        ),
        ({"value": float("nan")}, ValueError, r"RandomErasing: value must be a number; got nan"),
        ({"value": None}, TypeError, r"RandomErasing: value must be a number; got None .*'random'"),
        (
            {"seed": -1},
            ValueError,
            r"RandomErasing: seed must be an integer in \[0, 4294967295\]; got -1",
        ),
        (
            {"seed": 2**32},
            ValueError,
            r"RandomErasing: seed must be an integer in \[0, 4294967295\]",
        ),
        ({"seed": 1.0}, TypeError, r"RandomErasing: seed must be an integer .*Pass None"),
        ({"scale": (0.1, 0.2)}, ValueError, r"Unrecognized keyword arguments .*scale"),
    ],
)
def test_erasing_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        augment.RandomErasing(**kwargs)


@pytest.mark.parametrize("shape", [(8, 28, 28), (28, 28, 1), (4, 28), (2, 28, 28, 1, 1)])
def test_erasing_refuses_anything_but_a_batch_of_images(shape):
    layer = augment.RandomErasing(rate=1.0, seed=0)
    x = np.zeros(shape, dtype="float32")
    with pytest.raises(
        ValueError, match=r"RandomErasing: images must be a batch \(N, H, W, C\), channels last"
    ):
        layer(x)
    with pytest.raises(ValueError, match=r"images must be a batch"):
        layer(x, training=False)


def test_erasing_refuses_a_batch_without_channel_axis_with_the_remedy():
    layer = augment.RandomErasing(seed=0)
    layer(images(2))  # built on a proper batch first
    with pytest.raises(
        ValueError,
        match=r"got shape \(8, 28, 28\)\. A batch of grayscale images needs its channel axis",
    ):
        layer(images(8)[..., 0])
    with pytest.raises(ValueError, match=r"images must be a batch \(N, H, W, C\)"):
        keras.Sequential([keras.Input((28, 28)), augment.RandomErasing()])


# --------------------------------------------------------------------------
# pipeline and with_augmentation
# --------------------------------------------------------------------------


def test_pipeline_layers_in_order_and_switched_off():
    full = augment.pipeline(seed=0)
    assert full.name == "augmentation"
    assert [layer.name for layer in full.layers] == ["flip", "translation", "rotation", "zoom"]
    assert [layer.seed for layer in full.layers] == [0, 1, 2, 3]
    only_flip = augment.pipeline(translation=0, rotation=0, zoom=0)
    assert [layer.name for layer in only_flip.layers] == ["flip"]
    no_flip = augment.pipeline(flip=None, rotation=0, seed=10)
    assert [(layer.name, layer.seed) for layer in no_flip.layers] == [
        ("translation", 10),
        ("zoom", 11),
    ]


def test_pipeline_refuses_a_batch_without_channel_axis():
    # Not one image of 28 channels: Keras' input spec of the pipeline wants (N, H, W, C).
    x = images(8)
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        augment.pipeline(seed=0)(x[..., 0])
    built = augment.pipeline(seed=0)
    assert np.asarray(built(x)).shape == x.shape
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        built(x[0])  # one image needs its batch axis: x[0][None]
    # A model with an input shape (28, 28, 1) adds the missing channel axis itself (Keras).
    model = augment.with_augmentation(flat_model(), augment.pipeline(seed=0))
    assert model.predict(x[..., 0], verbose=0).shape == (8, 3)


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
    out = np.asarray(
        augment.pipeline(flip="horizontal", translation=0, rotation=0, zoom=0, seed=2)(x)
    )
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_pipeline_nearest_interpolation_only_moves_pixels():
    x = images(8)
    out = np.asarray(
        augment.pipeline(
            flip=None, rotation=0.05, zoom=0.1, interpolation="nearest", fill_value=FILL, seed=0
        )(x)
    )
    for before, after in zip(x, out):
        assert np.isin(after, np.append(before.ravel(), FILL)).all(), "no new (blurred) values"


def test_pipeline_fills_uncovered_pixels_with_fill_value():
    x = np.ones((8, 28, 28, 1), dtype="float32")
    out = np.asarray(
        augment.pipeline(flip=None, translation=0.3, rotation=0, zoom=0, fill_value=FILL, seed=0)(x)
    )
    assert set(np.unique(out)) <= {1.0, FILL} or np.isclose(out, FILL).any()
    assert np.isclose(out, FILL).any() and out.max() <= 1.0 + 1e-6


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"flip": "diagonal"},
            ValueError,
            r"pipeline: flip must be one of \('horizontal', .*None\); got 'diagonal'",
        ),
        ({"flip": True}, ValueError, r"pipeline: flip must be one of"),
        (
            {"translation": -0.1},
            ValueError,
            r"pipeline: translation must be a number in \[0, 1\]; got -0\.1\. 0 leaves",
        ),
        (
            {"rotation": 0.8},
            ValueError,
            r"pipeline: rotation must be a number in \[0, 0\.5\]; got 0\.8",
        ),
        (
            {"zoom": "0.1"},
            TypeError,
            r"pipeline: zoom must be a number in \[0, 1\]; got '0\.1' \(str\)",
        ),
        (
            {"fill_value": float("inf")},
            ValueError,
            r"pipeline: fill_value must be a number; got inf",
        ),
        (
            {"flip": None, "translation": 0, "rotation": 0, "zoom": 0},
            ValueError,
            r"pipeline: at least one of flip, translation",
        ),
        (
            {"seed": 1.5},
            TypeError,
            r"pipeline: seed must be an integer in \[0, 4294967295\]; got 1\.5",
        ),
        (
            {"seed": -3},
            ValueError,
            r"pipeline: seed must be an integer in \[0, 4294967295\]; got -3",
        ),
        (
            {"interpolation": "cubic"},
            ValueError,
            r"pipeline: interpolation must be one of \('bilinear', 'nearest'\); got 'cubic'",
        ),
        ({"contrast": 0.2}, TypeError, r"unexpected keyword argument 'contrast'"),
        ({"erasing": 0.5}, TypeError, r"unexpected keyword argument 'erasing'"),
    ],
)
def test_pipeline_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        augment.pipeline(**kwargs)


def test_with_augmentation_puts_it_first_and_is_identity_at_predict():
    base = flat_model()
    model = augment.with_augmentation(base, augment.pipeline(seed=0))
    assert model.layers[0].name == "augmentation" and model.layers[1:] == base.layers
    assert model.input_shape == base.input_shape and model.name == "base_augmented"
    x = images(8)
    np.testing.assert_allclose(model.predict(x, verbose=0), base.predict(x, verbose=0), rtol=1e-6)
    # the layers are shared: training one trains the other
    assert model.layers[-1].kernel is base.layers[-1].kernel


def test_with_augmentation_nests_a_functional_model():
    inputs = keras.Input((28, 28, 1))
    base = keras.Model(
        inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)), name="functional"
    )
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
    dataset = augment.training_dataset(
        split, batch_size=16, seed=0, cache=True, parallel=True, prefetch=True
    )
    batches = [(np.asarray(x), np.asarray(y)) for x, y in dataset]
    assert [len(y) for _, y in batches] == [16, 16, 16, 2]
    xs, ys = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    assert sorted(ys) == list(range(50)) and not (ys == np.arange(50)).all()
    assert (xs[:, 0, 0, 0] == ys).all(), "images stay with their labels"
    again = np.concatenate(
        [np.asarray(y) for _, y in augment.training_dataset(split, batch_size=16, seed=0)]
    )
    np.testing.assert_array_equal(ys, again)


def test_training_dataset_reshuffles_every_epoch():
    dataset = augment.training_dataset(labelled_split(), 50, seed=0)
    first, second = (np.asarray(y) for _, y in list(dataset) + list(dataset))
    assert sorted(first) == sorted(second) and not np.array_equal(first, second)


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
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(50, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    dataset = augment.training_dataset(
        labelled_split(), 16, augmentation=augment.pipeline(seed=0), seed=0, prefetch=True
    )
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # the dataset shuffles
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda s: augment.training_dataset((s.x, s.y)),
            TypeError,
            r"training_dataset: split must be a course_lib\.data\.Split",
        ),
        (
            lambda s: augment.training_dataset(Split(s.x[..., 0], s.y, "flat")),
            ValueError,
            r"split must hold images of shape \(None, None, None\); "
            r"split 'flat' has images of shape \(28, 28\)\. Add the channel axis",
        ),
        (
            lambda s: augment.training_dataset(Split(s.x, s.y, "test")),
            ValueError,
            r"training_dataset: split must not be test data; split 'test' comes from the test set",
        ),
        (
            lambda s: augment.training_dataset(s, batch_size=0),
            ValueError,
            r"training_dataset: batch_size must be an integer >= 1; got 0",
        ),
        (
            lambda s: augment.training_dataset(s, batch_size=16.0),
            TypeError,
            r"batch_size must be an integer >= 1; got 16\.0 \(float\)",
        ),
        (
            lambda s: augment.training_dataset(s, augmentation="flip"),
            TypeError,
            r"training_dataset: augmentation must be a layer or a function; got str",
        ),
        (
            lambda s: augment.training_dataset(s, preprocess=3),
            TypeError,
            r"training_dataset: preprocess must be a layer or a function; got int",
        ),
        (
            lambda s: augment.training_dataset(s, seed=-1),
            ValueError,
            r"training_dataset: seed must be an integer in \[0, 4294967295\]",
        ),
        (
            lambda s: augment.training_dataset(s, shuffle=False),
            TypeError,
            r"unexpected keyword argument 'shuffle'",
        ),
    ],
)
def test_training_dataset_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call(labelled_split())


def test_pipeline_is_still_a_plain_sequential_in_summaries_and_saved_models(tmp_path):
    model = augment.with_augmentation(flat_model(), augment.pipeline(seed=0))
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    assert "augmentation (Sequential)" in "\n".join(lines)
    assert type(model.get_layer("augmentation")) is keras.Sequential
    path = tmp_path / "augmented.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = images(4)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_erasing_says_what_is_wrong():
    with pytest.raises(ValueError) as info:
        augment.RandomErasing(seed=0)(images(4)[..., 0])
    assert (
        "RandomErasing: images must be a batch (N, H, W, C), channels last; got shape "
        "(4, 28, 28). A batch of grayscale images needs its channel axis"
    ) in str(info.value)
