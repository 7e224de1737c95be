"""Figures the chapters share, one module per subject.

- ``course_lib.plots.images``: image grids, kernels, feature maps, the
  sliding window of a convolution and the windows of pooling;
- ``course_lib.plots.training``: learning curves, comparisons of runs, the
  confusion matrix, misclassified images, trade-offs and searches;
- ``course_lib.plots.augmentation``: random draws of an augmentation pipeline;
- ``course_lib.plots.segmentation``: canvases with their true and predicted masks.

Every function returns its matplotlib figure and is importable from
``course_lib.plots``. The numbers behind a figure (e.g. the confusion matrix)
come from ``course_lib.metrics``.

Defined in chapter "Setup and data" (image grids); each function names its chapter.
"""

from course_lib.plots.augmentation import show_augmentations, show_augmented_classes
from course_lib.plots.images import (
    plot_pooling,
    plot_sliding_window,
    show_classes,
    show_feature_maps,
    show_images,
    show_kernels,
)
from course_lib.plots.segmentation import SEG_CMAP, SEG_COLORS, show_segmentation
from course_lib.plots.training import (
    compare_learning_curves,
    plot_accuracy_against_time,
    plot_accuracy_vs_labels,
    plot_confusion_matrix,
    plot_hyperparameter_effects,
    plot_learning_curves,
    plot_paired_seeds,
    plot_pareto,
    plot_search_progress,
    plot_seed_spread,
    plot_tradeoffs,
    plot_train_val_gap,
    show_misclassified,
)

__all__ = [
    # images
    "show_images",
    "show_classes",
    "plot_sliding_window",
    "show_kernels",
    "show_feature_maps",
    "plot_pooling",
    # training
    "plot_learning_curves",
    "compare_learning_curves",
    "plot_confusion_matrix",
    "show_misclassified",
    "plot_seed_spread",
    "plot_accuracy_against_time",
    "plot_train_val_gap",
    "plot_tradeoffs",
    "plot_accuracy_vs_labels",
    "plot_paired_seeds",
    "plot_search_progress",
    "plot_pareto",
    "plot_hyperparameter_effects",
    # augmentation
    "show_augmentations",
    "show_augmented_classes",
    # segmentation
    "SEG_COLORS",
    "SEG_CMAP",
    "show_segmentation",
]
