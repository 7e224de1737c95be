"""Source and target tasks, the cached pretrained backbone, freezing and fine-tuning, applications backbones."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from course_lib import transfer  # noqa: E402
from course_lib.data import Split, Splits  # noqa: E402


def toy_split(n: int = 60, classes: int = 10, seed: int = 0, name: str = "train") -> Split:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, 28, 28, 1)).astype("float32") + y[:, None, None, None].astype("float32")
    return Split(x, y, name)


def toy_splits() -> Splits:
    return Splits(toy_split(100, seed=0, name="train"), toy_split(40, seed=1, name="valid"), toy_split(40, seed=2, name="test"))


# ---------------------------------------------------------------- class splits


def test_class_subset_relabels_in_the_order_given():
    split = toy_split(30)
    sub = transfer.class_subset(split, (6, 0), name="pair")
    assert len(sub) == 6 and sub.name == "pair"
    assert sorted(set(sub.y.tolist())) == [0, 1]
    # label 0 is the old class 6: its images carry the offset 6
    np.testing.assert_allclose(sub.x[sub.y == 0].mean(), 6, atol=0.5)
    np.testing.assert_allclose(sub.x[sub.y == 1].mean(), 0, atol=0.5)


@pytest.mark.parametrize(
    "classes, match",
    [((3,), "at least 2 classes"), ((1, 1), "distinct"), ((1, 12), r"no image of class \[12\]"), ("ab", "class indices")],
)
def test_class_subset_rejects_bad_classes(classes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        transfer.class_subset(toy_split(30), classes)


def test_class_subset_needs_a_split():
    with pytest.raises(TypeError, match="class_subset: split must be a course_lib.data.Split"):
        transfer.class_subset((np.zeros((2, 28, 28, 1)), np.zeros(2)), (0, 1))


def test_sample_per_class_is_balanced_seeded_and_shuffled():
    split = toy_split(100, classes=4)
    a = transfer.sample_per_class(split, 10, seed=3)
    b = transfer.sample_per_class(split, 10, seed=3)
    c = transfer.sample_per_class(split, 10, seed=4)
    counts = np.bincount(a.y, minlength=4)
    assert counts.sum() == 10 and counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    assert not np.all(np.diff(a.y) >= 0), "examples should be shuffled, not sorted by class"
    even = transfer.sample_per_class(split, 12, seed=0)
    assert np.bincount(even.y).tolist() == [3, 3, 3, 3]


def test_sample_per_class_errors():
    split = toy_split(20, classes=4)
    with pytest.raises(ValueError, match="at least one example per class \\(4\\)"):
        transfer.sample_per_class(split, 3)
    with pytest.raises(ValueError, match="class 0 of 'train' has 5 images, 6 were asked for"):
        transfer.sample_per_class(split, 24)


def test_repeat_to_fills_an_epoch_with_shuffled_copies():
    split = toy_split(10)
    big = transfer.repeat_to(split, 25, seed=0)
    assert len(big) == 30
    assert np.bincount(big.y).tolist() == [3] * 10
    assert not np.array_equal(big.y[:10], big.y[10:20]), "each copy in its own order"
    assert transfer.repeat_to(split, 5) is split


def test_split_task_cuts_source_and_target():
    task = transfer.split_task(toy_splits(), target_classes=(0, 6))
    assert task.source_classes == (1, 2, 3, 4, 5, 7, 8, 9)
    assert task.target_names == ("T-shirt/top", "Shirt")
    assert task.source_names[0] == "Trouser"
    assert set(task.source.train.y.tolist()) == set(range(8))
    assert set(task.target.test.y.tolist()) == {0, 1}
    assert len(task.source.train) + len(task.target.train) == 100
    assert task.target.valid.name == "target valid"
    with pytest.raises(ValueError, match=r"classes must be in 0..9"):
        transfer.split_task(toy_splits(), (0, 10))
    with pytest.raises(ValueError, match="the source task needs at least 2 classes"):
        transfer.split_task(toy_splits(), tuple(range(9)))


# ---------------------------------------------------------------- models


def test_seed_classifier_is_the_notes_network_with_a_new_head():
    model = transfer.seed_classifier(4)
    backbone = transfer.backbone_of(model)
    assert backbone.name == "backbone" and backbone.output_shape == (None, 128)
    assert model.output_shape == (None, 4)
    # seed_cnn with batch normalization (7 layers trade their biases for 4 weights
    # per channel), minus its Dense(10), plus a Dense(4)
    channels = 2 * (32 + 64 + 128) + 128
    with_bn = 265_290 - channels + 4 * channels
    assert model.count_params() == with_bn - 1290 + 129 * 4
    with pytest.raises(ValueError, match="seed_classifier: num_classes must be an integer of at least 2"):
        transfer.seed_classifier(1)


def test_backbone_blocks_of_the_notes_network():
    backbone = transfer.backbone_of(transfer.seed_classifier(3))
    blocks = transfer.backbone_blocks(backbone)
    assert len(blocks) == 4
    for block in blocks[:3]:
        names = [layer.__class__.__name__ for layer in block]
        assert names[-2:] == ["MaxPooling2D", "Dropout"]
        assert names.count("BatchNormalization") == 2
    assert [layer.__class__.__name__ for layer in blocks[3]] == ["Flatten", "Dense", "BatchNormalization", "Activation"]


def test_with_new_head_copies_and_calls_the_backbone_in_inference_mode():
    source = transfer.seed_classifier(3)
    backbone = transfer.backbone_of(source)
    model = transfer.with_new_head(backbone, 5)
    inner = transfer.backbone_of(model)
    assert inner is not backbone
    for a, b in zip(inner.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.output_shape == (None, 5)
    x = np.random.default_rng(0).normal(size=(8, 28, 28, 1)).astype("float32")
    # changing the copy leaves the original intact
    before = [w.copy() for w in backbone.get_weights()]
    for w in inner.trainable_weights:
        w.assign(np.zeros(w.shape, dtype=w.dtype))
    for w, w0 in zip(backbone.get_weights(), before):
        np.testing.assert_array_equal(w, w0)
    assert model(x).shape == (8, 5)


def test_with_new_head_pools_feature_maps_and_checks_arguments():
    maps = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(4, 3)], name="maps")
    model = transfer.with_new_head(maps, 3, dropout=0)
    assert model.output_shape == (None, 3)
    assert any(isinstance(layer, layers.GlobalAveragePooling2D) for layer in model.layers)
    with pytest.raises(ValueError, match="num_classes must be an integer of at least 2"):
        transfer.with_new_head(maps, 1)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        transfer.with_new_head(maps, 3, dropout=1.0)
    with pytest.raises(TypeError, match="backbone must be a keras.Model"):
        transfer.with_new_head(layers.Dense(3), 3)


def test_freeze_and_unfreeze_top():
    model = transfer.with_new_head(transfer.backbone_of(transfer.seed_classifier(3)), 2)
    inner = transfer.backbone_of(model)
    transfer.freeze(inner)
    assert inner.trainable_weights == []
    head_only = len(model.trainable_weights)
    assert head_only == 2  # the new Dense kernel and bias

    names = transfer.unfreeze_top(inner, 1)
    assert [inner.get_layer(n).__class__.__name__ for n in names] == ["Dense"]
    assert len(model.trainable_weights) == head_only + 1  # Dense(128) has no bias with batch norm

    names = transfer.unfreeze_top(inner, 4)
    kinds = {inner.get_layer(n).__class__.__name__ for n in names}
    assert kinds == {"Conv2D", "SeparableConv2D", "Dense"}, "batch normalization stays frozen"
    # Frozen batch normalization runs in inference mode even in a training call
    # (what fit makes), so its output does not depend on the batch.
    bn = next(layer for layer in inner.layers if isinstance(layer, layers.BatchNormalization))
    z = np.random.default_rng(0).normal(3, 2, size=(8, 28, 28, 32)).astype("float32")
    np.testing.assert_allclose(np.asarray(bn(z, training=True)), np.asarray(bn(z, training=False)), rtol=1e-5, atol=1e-5)
    assert transfer.unfreeze_top(inner, 0) == []
    with pytest.raises(ValueError, match=r"n_blocks must be an integer in 0..4 \(the backbone has 4 blocks\)"):
        transfer.unfreeze_top(inner, 5)


def test_backbone_of_needs_exactly_one_nested_model():
    flat = keras.Sequential([keras.Input((4,)), layers.Dense(2)], name="flat")
    with pytest.raises(ValueError, match="expected one nested backbone model in 'flat'; found 0"):
        transfer.backbone_of(flat)


# ---------------------------------------------------------------- the cached backbone


@pytest.fixture(scope="module")
def source() -> tuple[Split, Split]:
    task = transfer.split_task(toy_splits(), target_classes=(0, 1))
    return task.source.train, task.source.valid


@pytest.fixture(scope="module")
def cached(tmp_path_factory, source):
    """One pretraining shared by the tests: (cache folder, backbone)."""
    folder = tmp_path_factory.mktemp("cache")
    train, valid = source
    return folder, transfer.pretrained_backbone(train, valid, epochs=1, cache_dir=folder, seed=0)


def test_pretrained_backbone_trains_once_then_reloads(cached, source, monkeypatch):
    folder, backbone = cached
    train, valid = source
    path = transfer.backbone_cache_path(train, valid, epochs=1, cache_dir=folder, seed=0)
    assert path.is_file() and path.name.startswith("backbone_8cls_n80_e1_seed0_")
    assert [p.name for p in folder.iterdir()] == [path.name], "no partial file left behind"
    assert backbone.output_shape == (None, 128)

    import course_lib.train

    def no_training(*args, **kwargs):
        raise AssertionError("pretrained_backbone retrained although the file is cached")

    monkeypatch.setattr(course_lib.train, "fit", no_training)
    again = transfer.pretrained_backbone(train, valid, epochs=1, cache_dir=folder, seed=0)
    for a, b in zip(again.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_cache_name_depends_on_the_settings(tmp_path, source):
    train, valid = source
    path = lambda **kw: transfer.backbone_cache_path(train, valid, cache_dir=tmp_path, **{"epochs": 1, "seed": 0, **kw})  # noqa: E731
    assert path() != path(epochs=2) != path(seed=1)
    other = Split(train.x + 1, train.y, "train")
    assert transfer.backbone_cache_path(other, valid, epochs=1, cache_dir=tmp_path) != path()


def test_corrupt_cache_file_is_reported_and_rebuilt(tmp_path, source):
    train, valid = source
    path = transfer.backbone_cache_path(train, valid, epochs=1, cache_dir=tmp_path, seed=0)
    path.write_bytes(b"not a keras file")
    with pytest.warns(UserWarning, match=f"the cached model {path} could not be used"):
        backbone = transfer.pretrained_backbone(train, valid, epochs=1, cache_dir=tmp_path, seed=0)
    assert backbone.output_shape == (None, 128)
    keras.models.load_model(path)  # rebuilt and readable


def test_pretrained_backbone_checks_its_input(tmp_path, source):
    train, _ = source
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        transfer.pretrained_backbone(train, epochs=0, cache_dir=tmp_path)
    with pytest.raises(TypeError, match="source_train must be a course_lib.data.Split"):
        transfer.pretrained_backbone(train.x, epochs=1, cache_dir=tmp_path)


# ---------------------------------------------------------------- the experiment


def test_few_label_runs_table(cached):
    _, backbone = cached
    target = transfer.split_task(toy_splits(), target_classes=(0, 1)).target
    runs = transfer.few_label_runs(
        backbone, target, label_counts=(4,), seeds=1, epochs=1, test_size=6, batch_size=4, min_epoch_size=8
    )
    assert list(runs.columns) == ["labels", "seed", "method", "accuracy"]
    assert runs["method"].tolist() == list(transfer.METHODS)
    assert runs["accuracy"].between(0, 1).all()
    with pytest.raises(ValueError, match="at least one label count and one seed"):
        transfer.few_label_runs(backbone, target, label_counts=(), seeds=1, epochs=1)


def test_summarize_runs_mean_and_std_over_seeds():
    import pandas as pd

    runs = pd.DataFrame(
        [(n, s, m, 0.5 + 0.1 * s + (0.2 if m == "fine-tuned" else 0)) for n in (50, 100) for s in (0, 1) for m in transfer.METHODS],
        columns=["labels", "seed", "method", "accuracy"],
    )
    table = transfer.summarize_runs(runs)
    assert list(table.index) == [50, 100]
    assert list(table.columns) == [(m, s) for m in transfer.METHODS for s in ("mean", "std")]
    assert table.loc[100, ("fine-tuned", "mean")] == pytest.approx(0.75)
    assert table.loc[100, ("scratch", "std")] == pytest.approx(np.std([0.5, 0.6], ddof=1))
    with pytest.raises(ValueError, match="lacks the columns"):
        transfer.summarize_runs(runs.drop(columns="method"))


# ---------------------------------------------------------------- keras.applications


def test_applications_backbone_adapts_small_grayscale_images():
    model = transfer.applications_backbone("MobileNetV2", input_shape=(28, 28, 1), size=32, weights=None)
    assert model.output_shape == (None, 1280)
    names = [layer.name for layer in model.layers]
    assert "resize" in names and "gray_to_rgb" in names
    out = model(np.zeros((2, 28, 28, 1), dtype="float32"))
    assert tuple(out.shape) == (2, 1280)
    head = transfer.with_new_head(model, 3, copy=False)
    assert head.output_shape == (None, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "AlexNet"}, "unknown application 'AlexNet'"),
        ({"input_shape": (28, 28, 2)}, r"input_shape must be \(height, width, 1 or 3 channels\)"),
        ({"size": 16}, "size must be an integer of at least 32"),
        ({"weights": "cifar"}, "weights must be None or 'imagenet'"),
    ],
)
def test_applications_backbone_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        transfer.applications_backbone(**kwargs)


def test_imagenet_weights_unavailable_gives_a_clear_error(monkeypatch, tmp_path):
    from keras.src.utils import file_utils

    def offline(fname=None, origin=None, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "get_file", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(transfer.WeightsUnavailableError) as info:
        transfer.applications_backbone("MobileNetV2", size=96, weights="imagenet")
    message = str(info.value)
    assert "could not be downloaded" in message
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5" in message
    assert str(tmp_path / "models") in message
    assert "weights=None" in message


# ---------------------------------------------------------------- digits


def test_load_digits_splits_look_like_fashion_mnist():
    digits = transfer.load_digits_splits()
    assert [len(s) for s in digits] == [900, 100, 797]
    assert digits.train.x.shape[1:] == (28, 28, 1) and digits.train.x.dtype == np.float32
    assert abs(float(digits.train.x.mean())) < 1e-3 and abs(float(digits.train.x.std()) - 1) < 1e-3
    assert set(digits.test.y.tolist()) == set(range(10))
    with pytest.raises(ValueError, match="test_size must be between 100 and 1497"):
        transfer.load_digits_splits(test_size=10)


# ---------------------------------------------------------------- plot


def test_plot_accuracy_vs_labels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from course_lib import plots

    runs = pd.DataFrame(
        [(n, s, m, 0.6 + n / 1000 + 0.01 * s) for n in (50, 100, 200) for s in (0, 1) for m in transfer.METHODS],
        columns=["labels", "seed", "method", "accuracy"],
    )
    fig = plots.plot_accuracy_vs_labels(transfer.summarize_runs(runs), title="t", chance=0.25)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == sorted([*transfer.METHODS, "chance"])
    assert ax.get_xscale() == "log" and ax.get_title() == "t"
    with pytest.raises(ValueError, match="expected the table of transfer.summarize_runs"):
        plots.plot_accuracy_vs_labels(runs)
    plt.close("all")
