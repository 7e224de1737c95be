"""Source and target tasks, the cached pretrained backbone, the few-label experiment."""

import keras
import numpy as np
import pytest

from course_lib import data, transfer
from course_lib.data import Split, Splits


def toy_split(n: int = 60, classes: int = 10, seed: int = 0, name: str = "train") -> Split:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, 28, 28, 1)).astype("float32") + y[:, None, None, None].astype("float32")
    return Split(x, y, name)


def toy_splits() -> Splits:
    return Splits(
        toy_split(100, seed=0, name="train"),
        toy_split(40, seed=1, name="valid"),
        toy_split(40, seed=2, name="test"),
    )


# ---------------------------------------------------------------- source and target tasks


def test_split_task_cuts_source_and_target():
    task = transfer.split_task(toy_splits(), target_classes=(0, 6))
    assert task.source_classes == (1, 2, 3, 4, 5, 7, 8, 9)
    assert task.target_names == ("T-shirt/top", "Shirt")
    assert task.source_names[0] == "Trouser"
    assert set(task.source.train.y.tolist()) == set(range(8))
    assert set(task.target.test.y.tolist()) == {0, 1}
    assert len(task.source.train) + len(task.target.train) == 100
    assert task.target.valid.name == "target valid"
    assert task.target.test.name == "target test"
    assert (
        [s.role for s in task.source] == [s.role for s in task.target] == ["train", "valid", "test"]
    )


@pytest.mark.parametrize(
    "splits, classes, error, match",
    [
        (None, (0, 10), ValueError, r"classes must be in 0..9"),
        (None, tuple(range(9)), ValueError, "the source task needs at least 2 classes"),
        (None, (3,), ValueError, "at least 2 classes"),
        (None, (1, 1), ValueError, "distinct"),
        (None, "ab", TypeError, "class indices"),
        ("train only", (0, 1), TypeError, "split_task: splits must be the Splits"),
    ],
)
def test_split_task_checks_its_arguments(splits, classes, error, match):
    splits = toy_splits() if splits is None else toy_splits().train
    with pytest.raises(error, match=match):
        transfer.split_task(splits, classes)


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
    assert path.name.endswith("_v2.keras") and transfer.CACHE_FORMAT == "v2"
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

    def path(**kw):
        return transfer.backbone_cache_path(
            train, valid, cache_dir=tmp_path, **{"epochs": 1, "seed": 0, **kw}
        )

    assert path() != path(epochs=2) != path(seed=1)
    assert "_unseeded_" in path(seed=None).name
    # the format version: files saved before FreezableDropout are not reused
    assert path().name.endswith(f"_{transfer.CACHE_FORMAT}.keras")
    other = Split(train.x + 1, train.y, "train")
    assert (
        transfer.backbone_cache_path(other, valid, epochs=1, cache_dir=tmp_path, seed=0) != path()
    )


def test_corrupt_cache_file_is_reported_and_rebuilt(tmp_path, source):
    train, valid = source
    path = transfer.backbone_cache_path(train, valid, epochs=1, cache_dir=tmp_path, seed=0)
    path.write_bytes(b"not a keras file")
    with pytest.warns(UserWarning, match=f"the cached model {path} could not be used"):
        backbone = transfer.pretrained_backbone(train, valid, epochs=1, cache_dir=tmp_path, seed=0)
    assert backbone.output_shape == (None, 128)
    keras.models.load_model(path)  # rebuilt and readable


def test_pretrained_backbone_checks_its_input(tmp_path, source):
    train, valid = source
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        transfer.pretrained_backbone(train, epochs=0, cache_dir=tmp_path)
    with pytest.raises(TypeError, match="source_train must be a course_lib.data.Split"):
        transfer.pretrained_backbone(train.x, epochs=1, cache_dir=tmp_path)
    test = transfer.split_task(toy_splits(), target_classes=(0, 1)).source.test
    with pytest.raises(ValueError, match="source_train must not be test data; split 'source test'"):
        transfer.pretrained_backbone(test, epochs=1, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="source_valid must not be test data"):
        transfer.pretrained_backbone(train, test, epochs=1, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"classes 0..K-1.*\[1, 2\].*transfer.split_task"):
        transfer.pretrained_backbone(
            Split(train.x[:20], train.y[:20] % 2 + 1), epochs=1, cache_dir=tmp_path
        )
    assert list(tmp_path.iterdir()) == [], "nothing was trained"


# ---------------------------------------------------------------- the experiment


@pytest.fixture(scope="module")
def target() -> Splits:
    return transfer.split_task(toy_splits(), target_classes=(0, 1)).target


def test_few_label_runs_table_without_touching_the_global_seed(cached, target, monkeypatch):
    import course_lib.seeding

    def global_seed(*args, **kwargs):
        raise AssertionError("library code must not set the global seed")

    monkeypatch.setattr(course_lib.seeding, "seed_everything", global_seed)
    monkeypatch.setattr(keras.utils, "set_random_seed", global_seed)
    _, backbone = cached
    runs = transfer.few_label_runs(
        backbone, target, label_counts=(4,), seeds=1, epochs=1, test_size=6
    )
    assert list(runs.columns) == ["labels", "seed", "method", "accuracy"]
    assert runs["method"].tolist() == list(transfer.METHODS)
    assert runs["accuracy"].between(0, 1).all()


def test_few_label_runs_on_validation_and_test_with_several_unfreezings(cached, target):
    _, backbone = cached
    runs = transfer.few_label_runs(
        backbone,
        target,
        label_counts=(4,),
        seeds=[3],
        epochs=1,
        test_size=6,
        evaluate_on=("valid", "test"),
        unfreeze=(1, 4),
    )
    assert list(runs.columns) == ["labels", "seed", "method", "accuracy", "test_accuracy"]
    assert runs["method"].tolist() == ["scratch", "frozen", "top 1", "top 4"]
    assert runs[["accuracy", "test_accuracy"]].stack().between(0, 1).all()
    table = transfer.summarize_runs(runs, metric="test_accuracy")
    assert [m for m, _ in table.columns[::2]] == ["scratch", "frozen", "top 1", "top 4"]


def test_frozen_head_trains_on_fixed_features_and_leaves_the_backbone_alone(cached, target):
    _, backbone = cached
    before = [w.copy() for w in backbone.get_weights()]
    labelled = data.sample_per_class(target.train, 4, seed=0)
    result = transfer.train_three_ways(
        backbone, labelled, target.valid, epochs=1, seed=0, unfreeze=1
    )
    assert list(result) == list(transfer.METHODS)
    for a, b in zip(before, backbone.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "unfreeze, error, match",
    [
        (0, ValueError, r"unfreeze must be an integer in \[1, 4\]"),
        (5, ValueError, r"unfreeze must be an integer in \[1, 4\]"),
        ((1, 1), ValueError, "unfreeze must hold distinct block counts"),
        ((), ValueError, "unfreeze must hold distinct block counts"),
        ((2, 7), ValueError, "every block count of unfreeze must be an integer in"),
        (1.5, TypeError, "unfreeze must be an integer"),
    ],
)
def test_train_three_ways_checks_unfreeze(cached, target, unfreeze, error, match):
    _, backbone = cached
    with pytest.raises(error, match=match):
        transfer.train_three_ways(backbone, target.train, target.valid, epochs=1, unfreeze=unfreeze)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"evaluate_on": ("train",)}, ValueError, "every split of evaluate_on must be one of"),
        ({"evaluate_on": ("valid", "valid")}, ValueError, "evaluate_on must name distinct"),
        ({"label_counts": ()}, ValueError, "at least one label count and one seed"),
        ({"seeds": 0}, ValueError, "seeds must be an integer >= 1"),
        ({"seeds": [0, -1]}, ValueError, "seed must be an integer in"),
        ({"label_counts": (4.5,)}, TypeError, "every label count must be an integer"),
    ],
)
def test_few_label_runs_checks_its_arguments(cached, target, kwargs, error, match):
    _, backbone = cached
    with pytest.raises(error, match=match):
        transfer.few_label_runs(
            backbone, target, **{"label_counts": (4,), "seeds": 1, "epochs": 1, **kwargs}
        )
    with pytest.raises(TypeError, match="target must be the Splits of a task"):
        transfer.few_label_runs(backbone, target.train, (4,), 1, epochs=1)


def test_train_three_ways_refuses_test_data_whatever_its_name(cached, target):
    _, backbone = cached
    assert target.test.name == "target test" and target.test.role == "test"
    with pytest.raises(ValueError, match="train must not be test data; split 'target test'"):
        transfer.train_three_ways(backbone, target.test, target.test, epochs=1)
    with pytest.raises(ValueError, match="train must not be test data; split 'target test\\[4\\]'"):
        transfer.train_three_ways(
            backbone, data.sample_per_class(target.test, 4, seed=0), target.test, epochs=1
        )


def test_train_three_ways_refuses_labels_that_do_not_fit(cached, target):
    _, backbone = cached
    unmapped_test = toy_splits().test  # the ten original classes, not relabelled like target.train
    with pytest.raises(
        ValueError, match=r"labels of test must be in 0..1.*\[2, 3, 4, 5, 6, 7, 8, 9\].*split_task"
    ):
        transfer.train_three_ways(backbone, target.train, unmapped_test, epochs=1)
    unmapped_train = Split(target.train.x, target.train.y + 4, "train")  # classes 4 and 5
    with pytest.raises(ValueError, match=r"labels of train must be the classes 0..K-1.*\[4, 5\]"):
        transfer.train_three_ways(backbone, unmapped_train, target.test, epochs=1)
    with pytest.raises(ValueError, match="fine_tune_learning_rate must be a number > 0"):
        transfer.train_three_ways(
            backbone, target.train, target.test, epochs=1, fine_tune_learning_rate=0
        )


def test_few_label_runs_names_the_split_whose_labels_do_not_fit(cached, target, monkeypatch):
    _, backbone = cached
    unmapped = target._replace(valid=toy_split(40, seed=1, name="valid"))  # ten classes
    with pytest.raises(ValueError, match=r"labels of target.valid must be in 0..1.*split_task"):
        transfer.few_label_runs(backbone, unmapped, (4,), 1, epochs=1, evaluate_on=("valid",))
    # few_label_runs fine-tunes at FINE_TUNE_LEARNING_RATE
    from course_lib.transfer import experiment

    rates = []

    def recorded(*args, **kwargs):
        rates.append(kwargs["fine_tune_learning_rate"])
        raise RuntimeError("stop")

    monkeypatch.setattr(experiment, "_train_ways", recorded)
    with pytest.raises(RuntimeError, match="stop"):
        transfer.few_label_runs(backbone, target, (4,), 1, epochs=1)
    assert rates == [transfer.FINE_TUNE_LEARNING_RATE] == [1e-4]


def test_summarize_runs_mean_and_std_over_seeds():
    import pandas as pd

    runs = pd.DataFrame(
        [
            (n, s, m, 0.5 + 0.1 * s + (0.2 if m == "fine-tuned" else 0))
            for n in (50, 100)
            for s in (0, 1)
            for m in transfer.METHODS
        ],
        columns=["labels", "seed", "method", "accuracy"],
    )
    table = transfer.summarize_runs(runs)
    assert list(table.index) == [50, 100]
    assert list(table.columns) == [(m, s) for m in transfer.METHODS for s in ("mean", "std")]
    assert table.loc[100, ("fine-tuned", "mean")] == pytest.approx(0.75)
    assert table.loc[100, ("scratch", "std")] == pytest.approx(np.std([0.5, 0.6], ddof=1))
    with pytest.raises(ValueError, match="lacks the columns"):
        transfer.summarize_runs(runs.drop(columns="method"))


# ---------------------------------------------------------------- plot


def test_plot_accuracy_vs_labels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from course_lib import plots

    runs = pd.DataFrame(
        [
            (n, s, m, 0.6 + n / 1000 + 0.01 * s)
            for n in (50, 100, 200)
            for s in (0, 1)
            for m in transfer.METHODS
        ],
        columns=["labels", "seed", "method", "accuracy"],
    )
    fig = plots.plot_accuracy_vs_labels(transfer.summarize_runs(runs), title="t", chance=0.25)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == sorted(
        [*transfer.METHODS, "chance"]
    )
    assert ax.get_xscale() == "log" and ax.get_title() == "t"
    with pytest.raises(ValueError, match="expected the table of transfer.summarize_runs"):
        plots.plot_accuracy_vs_labels(runs)
    table = transfer.summarize_runs(runs)
    fig = plots.plot_accuracy_vs_labels(table, ylabel="validation accuracy")
    assert fig.axes[0].get_ylabel() == "validation accuracy"
    with pytest.raises(TypeError, match="ylabel must be a str"):
        plots.plot_accuracy_vs_labels(table, ylabel=None)
    plt.close("all")
