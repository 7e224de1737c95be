"""Smoke and error tests of course_lib.plots (figures are looked at in the book)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from course_lib import metrics, plots  # noqa: E402
from course_lib.data import Split  # noqa: E402
from course_lib.ops import conv2d, pool2d  # noqa: E402
from course_lib.plots import augmentation, images, segmentation, training  # noqa: E402
from course_lib.segmentation import SEG_CLASS_NAMES  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_every_public_name_is_exported_once():
    modules = (images, training, augmentation, segmentation)
    names = [name for module in modules for name in module.__all__]
    assert sorted(names) == sorted(plots.__all__) and len(set(names)) == len(names)
    assert all(getattr(plots, name) is getattr(m, name) for m in modules for name in m.__all__)


def test_importing_plots_does_not_import_keras():
    import subprocess
    import sys

    code = "import sys, course_lib.plots; print('keras' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------


def test_show_images_layout_and_errors():
    fig = plots.show_images(np.zeros((5, 28, 28, 1)), titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 6 and fig.axes[4].get_title() == "e"
    with pytest.raises(ValueError, match=r"images must have shape"):
        plots.show_images(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="5 images but 2 titles"):
        plots.show_images(np.zeros((5, 8, 8)), titles=["a", "b"])
    with pytest.raises(ValueError, match="show_images: ncols must be an integer >= 1; got 0"):
        plots.show_images(np.zeros((5, 8, 8)), ncols=0)


def test_show_classes_one_row_per_class():
    y = np.repeat(np.arange(10), 3)
    fig = plots.show_classes(Split(np.zeros((30, 28, 28)), y, "s"), per_class=3)
    assert len(fig.axes) == 30
    with pytest.raises(ValueError, match="class 0 has only 3 images"):
        plots.show_classes(Split(np.zeros((30, 28, 28)), y, "s"), per_class=4)
    with pytest.raises(TypeError, match="show_classes: split must be a course_lib.data.Split"):
        plots.show_classes(np.zeros((30, 28, 28)))


def test_plot_sliding_window_titles_show_the_outputs():
    x = np.arange(1, 26).reshape(5, 5)
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    fig = plots.plot_sliding_window(x, kernel, conv2d(x, kernel), [(0, 0), (2, 2)])
    titles = [ax.get_title() for ax in fig.axes]
    assert "output[0, 0] = 35" in titles and "output[2, 2] = 95" in titles
    with pytest.raises(ValueError, match=r"positions must lie inside the output of shape \(3, 3\)"):
        plots.plot_sliding_window(x, kernel, conv2d(x, kernel), [(3, 0)])


def test_kernel_and_feature_map_grids():
    assert len(plots.show_kernels(np.random.rand(5, 5, 1, 16)).axes) == 16
    with pytest.raises(ValueError, match=r"\(kh, kw, 1, n\)"):
        plots.show_kernels(np.zeros((3, 3, 2, 4)))
    assert len(plots.show_feature_maps(np.random.rand(14, 14, 8)).axes) == 8
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        plots.show_feature_maps(np.zeros((1, 14, 14, 8)))


def test_plot_pooling_panels():
    x = np.arange(1, 26).reshape(5, 5)
    fig = plots.plot_pooling(x, {"max": pool2d(x, 2), "average": pool2d(x, 2, mode="avg")})
    assert [ax.get_title() for ax in fig.axes][1:] == ["max", "average"]


def test_plot_pooling_rejects_no_outputs_and_wrong_shapes():
    x = np.arange(1, 17).reshape(4, 4)
    with pytest.raises(ValueError, match="plot_pooling: outputs must map at least one title"):
        plots.plot_pooling(x, {})  # used to be a bare StopIteration
    with pytest.raises(TypeError, match="plot_pooling: outputs must map a title"):
        plots.plot_pooling(x, [pool2d(x, 2)])
    with pytest.raises(ValueError, match=r"output 'max' must have the shape \(2, 2\)"):
        plots.plot_pooling(x, {"max": pool2d(x, 4)})


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------


def test_learning_curves_from_history_dict():
    fig = plots.plot_learning_curves({"loss": [2.3, 1.0], "val_loss": [2.2, 1.1]})
    assert fig.axes[0].get_ylim() == (0, 3)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["loss", "val_loss"]
    with pytest.raises(ValueError, match="no epochs"):
        plots.plot_learning_curves({})


def test_compare_learning_curves():
    runs = {"a": {"val_accuracy": [0.1, 0.5]}, "b": {"val_accuracy": [0.2]}}
    fig = plots.compare_learning_curves(runs)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["a", "b"]
    with pytest.raises(ValueError, match="run 'a' has no metric 'loss'"):
        plots.compare_learning_curves({"a": {"val_accuracy": [0.1]}}, metric="loss")


def test_plot_confusion_matrix_rows_sum_to_one():
    y_true = np.repeat(np.arange(10), 2)
    y_pred = np.where(np.arange(20) % 2 == 0, y_true, 0)  # half of every class predicted as 0
    fig = plots.plot_confusion_matrix(y_true, y_pred)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    matrix = ax.images[0].get_array()
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    assert matrix[0, 0] == 1.0 and matrix[3, 3] == matrix[3, 0] == 0.5


def test_plot_confusion_matrix_refuses_labels_outside_the_classes():
    with pytest.raises(ValueError, match=r"confusion_matrix: y_true must hold labels in 0\.\.9"):
        plots.plot_confusion_matrix(np.array([-1, 0, 1]), np.array([0, 0, 1]))


def test_show_misclassified():
    split = Split(np.zeros((6, 28, 28)), np.array([0, 1, 2, 3, 4, 5]), "s")
    fig = plots.show_misclassified(split, np.array([0, 2, 2, 3, 5, 5]), n=5)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["Trouser\n/ Pullover", "Coat\n/ Sandal"]
    with pytest.raises(ValueError, match="no misclassified"):
        plots.show_misclassified(split, split.y)
    with pytest.raises(ValueError, match="y_pred has 5 predictions but split 's' has 6 images"):
        plots.show_misclassified(split, split.y[:5])


def test_show_misclassified_given_probabilities_says_argmax():
    split = Split(np.zeros((6, 28, 28)), np.arange(6), "s")
    probabilities = np.full((6, 10), 0.1)
    message = r"y_pred has shape \(6, 10\); expected one predicted class per image "
    message += r"\(use argmax\(axis=1\)\)"
    with pytest.raises(ValueError, match=f"show_misclassified: {message}"):
        plots.show_misclassified(split, probabilities)


def test_accuracy_against_time_means_over_seeds_and_marks_single_runs():
    minutes = np.array([[1.0, 2.0, 3.0], [1.2, 2.2, 3.2]])
    accuracy = np.array([[0.5, 0.7, 0.80], [0.6, 0.8, 0.90]])
    fig = plots.plot_accuracy_against_time(
        {"recipe": (minutes, accuracy), "notes": ([2.0, 4.0], [0.1, 0.2])}, title="t"
    )
    whole, zoom = fig.axes
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "recipe (mean of 2 seeds ± std)",
        "notes (one run)",
    ]
    mean_line = whole.get_lines()[0]
    np.testing.assert_allclose(mean_line.get_xdata(), [1.1, 2.1, 3.1])
    np.testing.assert_allclose(mean_line.get_ydata(), [0.55, 0.75, 0.85])
    assert whole.get_ylim() == (0, 1)
    np.testing.assert_allclose(zoom.get_ylim(), (0.15, 0.87))
    with pytest.raises(ValueError, match=r"curves\['bad'\] has minutes of shape \(2,\)"):
        plots.plot_accuracy_against_time({"bad": ([1, 2], [0.1, 0.2, 0.3])})
    with pytest.raises(TypeError, match="curves must be a non-empty mapping"):
        plots.plot_accuracy_against_time({})
    with pytest.raises(TypeError, match=r"curves\['x'\] must be a pair"):
        plots.plot_accuracy_against_time({"x": [1.0]})


def test_plot_seed_spread_dots_and_mean_per_group_and_panel():
    runs = pd.DataFrame(
        {
            "images": [100] * 8,
            "steps": [10, 10, 40, 40] * 2,
            "aug": ["no"] * 4 + ["yes"] * 4,
            "accuracy": [0.6, 0.62, 0.7, 0.74, 0.55, 0.57, 0.72, 0.78],
        }
    )
    runs = pd.concat([runs, runs.assign(images=1000)], ignore_index=True)
    fig = plots.plot_seed_spread(runs, x="steps", y="accuracy", group="aug", panel="images")
    assert len(fig.axes) == 2 and [ax.get_title() for ax in fig.axes] == [
        "images: 100",
        "images: 1,000",
    ]
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "no (mean ± std)",
        "yes (mean ± std)",
    ]
    # one dot per run of the panel; the mean line goes through the group means
    assert sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")) >= 8
    means = [line.get_ydata() for line in ax.get_lines() if len(line.get_ydata()) == 2]
    assert any(np.allclose(m, [0.61, 0.72]) for m in means)
    single = plots.plot_seed_spread(runs, x="steps", y="accuracy", group="aug")
    assert len(single.axes) == 1
    with pytest.raises(ValueError, match=r"plot_seed_spread: runs has no column\(s\) \['seed'\]"):
        plots.plot_seed_spread(runs, x="seed", y="accuracy", group="aug")
    with pytest.raises(ValueError, match="plot_seed_spread: runs is empty"):
        plots.plot_seed_spread(runs.iloc[:0], x="steps", y="accuracy", group="aug")


def test_plot_train_val_gap_two_lines_per_run():
    histories = {
        "a": {"accuracy": [0.5, 0.9], "val_accuracy": [0.5, 0.7]},
        "b": {"accuracy": [0.4, 0.6], "val_accuracy": [0.45, 0.65]},
    }
    fig = plots.plot_train_val_gap(histories, ylim=(0, 1))
    assert len(fig.axes[0].lines) == 4 and fig.axes[0].get_ylim() == (0, 1)
    with pytest.raises(ValueError, match="run 'c' has no 'val_accuracy'"):
        plots.plot_train_val_gap({"c": {"accuracy": [0.5]}})
    with pytest.raises(ValueError, match="no runs given"):
        plots.plot_train_val_gap({})


def test_search_and_pareto_plots_check_their_columns():
    with pytest.raises(ValueError, match="plot_search_progress: progress must map at least one"):
        plots.plot_search_progress({})
    frame = pd.DataFrame({"params": [10, 20], "val_accuracy": [0.5, 0.6]})
    with pytest.raises(
        ValueError, match=r"plot_pareto: front has no column\(s\) \['val_accuracy'\]"
    ):
        plots.plot_pareto(frame, frame[["params"]])
    with pytest.raises(TypeError, match="plot_pareto: frame must be a pandas DataFrame"):
        plots.plot_pareto({"params": [10]}, frame)


# --------------------------------------------------------------------------
# augmentation
# --------------------------------------------------------------------------


def flip_rows(batch, training=False):
    """A stand-in augmentation: every draw flips the image upside down."""
    return np.asarray(batch)[:, ::-1]


def test_show_augmentations_original_then_draws():
    image = np.arange(28 * 28, dtype=np.float32).reshape(28, 28, 1)
    fig = plots.show_augmentations(image, flip_rows, n=7)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 8 and titles[0] == "original" and titles[-1] == "draw 7"
    assert len(plots.show_augmentations(image[..., 0], flip_rows, n=3).axes) == 4
    with pytest.raises(ValueError, match=r"show_augmentations: expected one image"):
        plots.show_augmentations(np.zeros((2, 28, 28, 1)), flip_rows)
    with pytest.raises(TypeError, match="augmentation must be callable"):
        plots.show_augmentations(image, "flip")
    with pytest.raises(ValueError, match="show_augmentations: n must be an integer >= 1"):
        plots.show_augmentations(image, flip_rows, n=0)


def test_show_augmented_classes_one_row_per_class():
    split = Split(np.zeros((20, 28, 28, 1), np.float32), np.repeat(np.arange(10), 2), "s")
    fig = plots.show_augmented_classes(split, flip_rows, draws=3)
    assert len(fig.axes) == 40 and fig.axes[0].get_title() == "original"
    nine = Split(np.zeros((9, 28, 28, 1)), np.arange(9), "s")
    with pytest.raises(ValueError, match="class 9 has no image"):
        plots.show_augmented_classes(nine, flip_rows, draws=2)


# --------------------------------------------------------------------------
# segmentation
# --------------------------------------------------------------------------


def canvases(n: int = 5, side: int = 8) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).random((n, side, side, 1)).astype(np.float32)
    masks = np.zeros((n, side, side), np.int32)
    masks[:, 2:5, 2:5] = np.arange(1, n + 1)[:, None, None]
    return x, masks


def test_segmentation_colours_one_per_class():
    assert len(plots.SEG_COLORS) == len(SEG_CLASS_NAMES) == plots.SEG_CMAP.N == 11


def test_show_segmentation_layout():
    x, masks = canvases()
    fig = plots.show_segmentation(x, masks, masks, n=3)
    assert len(fig.axes) == 9
    assert fig.axes[2].get_title() == "predicted (mean IoU 1.00)"
    half_wrong = masks.copy()
    half_wrong[0] = np.where(masks[0] > 0, 0, masks[0])  # every item pixel called background
    title = plots.show_segmentation(x, masks, half_wrong, n=1).axes[2].get_title()
    expected = metrics.mean_iou(masks[0], half_wrong[0], len(SEG_CLASS_NAMES))
    assert title == f"predicted (mean IoU {expected:.2f})" and expected < 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(SEG_CLASS_NAMES)
    assert len(plots.show_segmentation(x[..., 0], masks, n=10).axes) == 10  # 5 rows, 2 columns


def test_show_segmentation_rejects_bad_input():
    x, masks = np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8), int)
    with pytest.raises(ValueError, match=r"true_masks must have shape \(2, 8, 8\)"):
        plots.show_segmentation(x, masks[:, :4])
    with pytest.raises(ValueError, match=r"pred_masks must have shape \(2, 8, 8\)"):
        plots.show_segmentation(x, masks, masks[:1])
    with pytest.raises(ValueError, match="show_segmentation: n must be an integer >= 1; got 0"):
        plots.show_segmentation(x, masks, n=0)
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W\)"):
        plots.show_segmentation(np.zeros((8, 8)), masks)


def test_plot_tradeoffs_one_panel_per_cost_with_interval_bars():
    results = pd.DataFrame(
        {
            "accuracy": [0.85, 0.86],
            "ci_low": [0.84, 0.85],
            "ci_high": [0.86, 0.88],
            "parameters": [1_000, 2_000],
            "ms": [0.3, 0.5],
        },
        index=["separable", "standard"],
    )
    fig = plots.plot_tradeoffs(results, "accuracy", ["parameters", "ms"])
    assert len(fig.axes) == 2 and not fig.axes[0].collections[1:]
    fig = plots.plot_tradeoffs(
        results, "accuracy", ["parameters", "ms"], interval=("ci_low", "ci_high")
    )
    bars = fig.axes[1].collections[0].get_segments()  # the error bars, drawn first
    assert [tuple(seg[:, 1]) for seg in bars] == [(0.84, 0.86), (0.85, 0.88)]
    assert [seg[0, 0] for seg in bars] == [0.3, 0.5]


def test_plot_tradeoffs_draws_horizontal_bars_for_x_intervals():
    results = pd.DataFrame(
        {"accuracy": [0.85, 0.86], "ms": [0.3, 0.5], "lo": [0.25, 0.45], "hi": [0.4, 0.6]},
        index=["separable", "standard"],
    )
    fig = plots.plot_tradeoffs(results, "accuracy", ["ms"], x_intervals={"ms": ("lo", "hi")})
    bars = fig.axes[0].collections[0].get_segments()
    assert [tuple(seg[:, 0]) for seg in bars] == [(0.25, 0.4), (0.45, 0.6)]
    assert [seg[0, 1] for seg in bars] == [0.85, 0.86]


def test_plot_tradeoffs_refuses_bad_x_intervals():
    results = pd.DataFrame({"accuracy": [0.9], "ms": [0.3], "lo": [0.2]}, index=["a"])
    with pytest.raises(TypeError, match="plot_tradeoffs: x_intervals must map a cost"):
        plots.plot_tradeoffs(results, "accuracy", ["ms"], x_intervals={"ms": "lo"})
    with pytest.raises(ValueError, match=r"plot_tradeoffs: x_intervals names costs not in xs"):
        plots.plot_tradeoffs(results, "accuracy", ["ms"], x_intervals={"s": ("lo", "lo")})
    with pytest.raises(ValueError, match=r"plot_tradeoffs: results has no column\(s\) \['hi'"):
        plots.plot_tradeoffs(results, "accuracy", ["ms"], x_intervals={"ms": ("lo", "hi")})


def test_plot_tradeoffs_refuses_a_bad_interval():
    results = pd.DataFrame({"accuracy": [0.9], "ms": [0.3]}, index=["a"])
    with pytest.raises(TypeError, match=r"plot_tradeoffs: interval must be a pair of column"):
        plots.plot_tradeoffs(results, "accuracy", ["ms"], interval="ci_low")
    with pytest.raises(ValueError, match=r"plot_tradeoffs: results has no column\(s\) \['lo'"):
        plots.plot_tradeoffs(results, "accuracy", ["ms"], interval=("lo", "hi"))
    with pytest.raises(ValueError, match="plot_tradeoffs: results has no rows"):
        plots.plot_tradeoffs(results.iloc[:0], "accuracy", ["ms"])


def test_plot_paired_seeds_one_line_per_seed_and_the_mean():
    runs = pd.DataFrame(
        {
            "method": ["frozen", "top 1", "top 4", "scratch"] * 3,
            "seed": [0] * 4 + [1] * 4 + [2] * 4,
            "accuracy": [0.70, 0.75, 0.72, 0.5, 0.72, 0.78, 0.70, 0.5, 0.71, 0.76, 0.74, 0.5],
        }
    )
    fig = plots.plot_paired_seeds(
        runs, "method", "accuracy", ["frozen", "top 1", "top 4"],
        labels=["0 (frozen)", "1", "4"], scale=100,
    )  # fmt: skip
    ax = fig.axes[0]
    seed_lines = [line for line in ax.get_lines() if line.get_color() == "gray"]
    assert len(seed_lines) == 3  # scratch is not shown
    np.testing.assert_allclose(seed_lines[1].get_ydata(), [72, 78, 70])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0 (frozen)", "1", "4"]
    with pytest.raises(ValueError, match=r"plot_paired_seeds: order must name conditions"):
        plots.plot_paired_seeds(runs, "method", "accuracy", ["top 2"])
    with pytest.raises(ValueError, match="labels has 1 names for 2 conditions"):
        plots.plot_paired_seeds(runs, "method", "accuracy", ["frozen", "top 1"], labels=["a"])
    with pytest.raises(ValueError, match=r"runs has no column\(s\) \['seed'\]"):
        plots.plot_paired_seeds(runs.drop(columns="seed"), "method", "accuracy", ["frozen"])


def _trials() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tuner": ["random", "random", "bayesian", "hyperband"],
            "val_accuracy": [0.80, 0.85, np.nan, 0.70],
            "blocks": [2, 3, 3, 2],
            "conv": ["mixed", "standard", "mixed", "separable"],
            "batch_norm": [True, False, True, False],
            "learning_rate": [1e-4, 1e-2, 1e-3, 5e-2],
            "dense_units": [64.0, np.nan, 128.0, np.nan],
        }
    )


def test_hyperparameter_effects_draws_one_panel_per_column():
    frame = _trials()
    columns = ["blocks", "conv", "batch_norm", "learning_rate", "dense_units"]
    fig = plots.plot_hyperparameter_effects(frame, columns=columns, ncols=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in visible] == columns
    # Three rows with a score, from two tuners (bayesian's trial has none): NaNs left out.
    points = [sum(len(c.get_offsets()) for c in ax.collections) for ax in visible]
    assert points == [3, 3, 3, 3, 1]
    conv = visible[1]
    assert [t.get_text() for t in conv.get_xticklabels()] == ["mixed", "separable", "standard"]
    assert visible[3].get_xscale() == "log" and visible[0].get_xscale() == "linear"
    assert [t.get_text() for t in visible[0].get_legend().get_texts()] == ["hyperband", "random"]
    # Integer columns get integer ticks only (blocks is 2 or 3; dense_units holds NaNs).
    for ax in (visible[0], visible[4]):
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert visible[0].get_ylabel() == "validation accuracy"
    # Every column but the metric and the group, by default; one colour without a group.
    fig = plots.plot_hyperparameter_effects(frame.drop(columns="tuner"), group=None)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 5
    fig = plots.plot_hyperparameter_effects(frame, columns=["blocks"], ylabel="score")
    assert fig.axes[0].get_ylabel() == "score"
    fig = plots.plot_hyperparameter_effects(frame.assign(loss=1.0), "loss", columns=["blocks"])
    assert fig.axes[0].get_ylabel() == "loss"


def test_hyperparameter_effects_checks_its_input():
    frame = _trials()
    with pytest.raises(TypeError, match="plot_hyperparameter_effects: frame must be a pandas"):
        plots.plot_hyperparameter_effects({"val_accuracy": [0.5]})
    with pytest.raises(ValueError, match=r"plot_hyperparameter_effects: frame has no column"):
        plots.plot_hyperparameter_effects(frame, columns=["kernel_size"])
    with pytest.raises(ValueError, match="columns must name at least one hyperparameter"):
        plots.plot_hyperparameter_effects(frame, columns=[])
    with pytest.raises(TypeError, match="columns must be a sequence of column names"):
        plots.plot_hyperparameter_effects(frame, columns="blocks")
    with pytest.raises(TypeError, match="plot_hyperparameter_effects: ylabel must be a str"):
        plots.plot_hyperparameter_effects(frame, columns=["blocks"], ylabel=1)
    with pytest.raises(ValueError, match="no row with a value of 'val_accuracy'"):
        plots.plot_hyperparameter_effects(frame.assign(val_accuracy=np.nan), columns=["blocks"])


def test_learning_curves_in_two_panels_with_readable_names():
    history = {
        "loss": [2.3, 1.0],
        "val_loss": [2.2, 1.1],
        "accuracy": [0.1, 0.6],
        "val_accuracy": [0.1, 0.7],
    }
    fig = plots.plot_learning_curves(history, title="t", panels=True, chance=2.3026)
    left, right = fig.axes
    assert [line.get_label() for line in left.get_lines()][:2] == [
        "training loss",
        "validation loss",
    ]
    assert left.get_lines()[-1].get_label() == "chance (2.303)"
    assert [line.get_label() for line in right.get_lines()] == [
        "training accuracy",
        "validation accuracy",
    ]
    assert right.get_ylim() == (0, 1)
    with pytest.raises(ValueError, match="panels must be one of"):
        plots.plot_learning_curves(history, panels="yes")
