"""Smoke and error tests of course_lib.plots (figures are looked at in the book)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_lib import plots  # noqa: E402
from course_lib.data import Split  # noqa: E402
from course_lib.ops import conv2d  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_show_images_layout_and_errors():
    fig = plots.show_images(np.zeros((5, 28, 28, 1)), titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 6 and fig.axes[4].get_title() == "e"
    with pytest.raises(ValueError, match=r"expected images of shape"):
        plots.show_images(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="5 images but 2 titles"):
        plots.show_images(np.zeros((5, 8, 8)), titles=["a", "b"])


def test_show_classes_one_row_per_class():
    y = np.repeat(np.arange(10), 3)
    fig = plots.show_classes(Split(np.zeros((30, 28, 28)), y, "s"), per_class=3)
    assert len(fig.axes) == 30
    with pytest.raises(ValueError, match="class 0 has only 3 images"):
        plots.show_classes(Split(np.zeros((30, 28, 28)), y, "s"), per_class=4)


def test_plot_sliding_window_titles_show_the_outputs():
    x = np.arange(1, 26).reshape(5, 5)
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    fig = plots.plot_sliding_window(x, kernel, conv2d(x, kernel), [(0, 0), (2, 2)])
    titles = [ax.get_title() for ax in fig.axes]
    assert "output[0, 0] = 35" in titles and "output[2, 2] = 95" in titles


def test_kernel_and_feature_map_grids():
    assert len(plots.show_kernels(np.random.rand(5, 5, 1, 16)).axes) == 16
    with pytest.raises(ValueError, match=r"\(kh, kw, 1, n\)"):
        plots.show_kernels(np.zeros((3, 3, 2, 4)))
    assert len(plots.show_feature_maps(np.random.rand(14, 14, 8), ncols=4).axes) == 8
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        plots.show_feature_maps(np.zeros((1, 14, 14, 8)))


def test_plot_pooling_panels():
    from course_lib.ops import pool2d

    x = np.arange(1, 26).reshape(5, 5)
    fig = plots.plot_pooling(x, {"max": pool2d(x, 2), "average": pool2d(x, 2, mode="avg")})
    assert [ax.get_title() for ax in fig.axes][1:] == ["max", "average"]


def test_learning_curves_from_history_dict():
    fig = plots.plot_learning_curves({"loss": [2.3, 1.0], "val_loss": [2.2, 1.1]})
    assert fig.axes[0].get_ylim() == (0, 3)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["loss", "val_loss"]
    with pytest.raises(ValueError, match="no epochs"):
        plots.plot_learning_curves({})


def test_compare_learning_curves():
    fig = plots.compare_learning_curves({"a": {"val_accuracy": [0.1, 0.5]}, "b": {"val_accuracy": [0.2]}})
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["a", "b"]
    with pytest.raises(ValueError, match="run 'a' has no metric 'loss'"):
        plots.compare_learning_curves({"a": {"val_accuracy": [0.1]}}, metric="loss")


def test_confusion_matrix_counts():
    m = plots.confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), num_classes=3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    with pytest.raises(ValueError, match="equal length"):
        plots.confusion_matrix(np.zeros(3, int), np.zeros(4, int))
    fig = plots.plot_confusion_matrix(np.arange(10), np.arange(10))
    assert fig.axes[0].get_xlabel() == "predicted"


def test_show_misclassified():
    split = Split(np.zeros((6, 28, 28)), np.array([0, 1, 2, 3, 4, 5]), "s")
    fig = plots.show_misclassified(split, np.array([0, 2, 2, 3, 5, 5]), n=5)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["Trouser\n/ Pullover", "Coat\n/ Sandal"]
    with pytest.raises(ValueError, match="no misclassified"):
        plots.show_misclassified(split, split.y)
