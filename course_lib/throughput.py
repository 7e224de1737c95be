"""How many images per second a model handles on this machine, measured, not computed.

Defined in chapter "Depthwise separable convolution".

Counting multiply-adds (``models.count_macs``) says how much arithmetic a
model needs; ``measure_throughput`` says how fast the machine actually does
it, which also depends on memory traffic, kernel launch overhead and how
well each operation is implemented. Timings vary from run to run, so it
repeats the measurement and reports the median.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import keras
import numpy as np

from course_lib import _checks

__all__ = ["Throughput", "measure_throughput", "images_per_second"]


@dataclass(frozen=True)
class Throughput:
    """Images per second of repeated timings of one model.

    Defined in chapter "Depthwise separable convolution".

    Attributes
    ----------
    images_per_second : tuple of float
        One value per timed repeat, in the order measured.
    mode : str
        ``"inference"`` or ``"training"``.
    batch_size : int
        Images per step.
    images : int
        Images processed in each repeat (whole batches only).
    """

    images_per_second: tuple[float, ...]
    mode: str
    batch_size: int
    images: int

    @property
    def median(self) -> float:
        """Median images per second over the repeats: robust to a slow outlier."""
        return float(statistics.median(self.images_per_second))

    @property
    def ms_per_image(self) -> float:
        """Milliseconds per image at the median throughput."""
        return 1000.0 / self.median

    def summary(self) -> str:
        """One line: median, range and set-up of the measurement."""
        low, high = min(self.images_per_second), max(self.images_per_second)
        repeats = len(self.images_per_second)
        return (
            f"{self.mode}: median {self.median:,.0f} images/s over {repeats} repeats "
            f"(range {low:,.0f}-{high:,.0f}), {self.images} images in batches of {self.batch_size}"
        )


def _check_inputs(
    model: object, x: np.ndarray, y: object, batch_size: object, repeats: object, training: bool
) -> None:
    fn = "measure_throughput"
    if not isinstance(model, keras.Model):
        raise TypeError(f"{fn}: expected a keras.Model; got {type(model).__name__}.")
    batch_size = _checks.check_int(batch_size, fn, "batch_size", low=1)
    _checks.check_int(repeats, fn, "repeats", low=1)
    expected = tuple(model.input_shape[1:])
    got = tuple(x.shape[1:])
    if len(expected) != len(got) or any(e is not None and e != g for e, g in zip(expected, got)):
        raise ValueError(f"{fn}: the model expects images of shape {expected}; x has {got}.")
    if len(x) < batch_size:
        raise ValueError(
            f"{fn}: x has {len(x)} images, fewer than one batch of {batch_size}; "
            f"expected at least {batch_size}."
        )
    if training:
        if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
            raise ValueError(
                f"{fn}: training=True needs a compiled model (an optimizer and a loss); "
                "call train.compile_classifier(model) first."
            )
        if y is None:
            raise ValueError(f"{fn}: training=True needs labels y, one per image of x.")
        if len(y) != len(x):
            raise ValueError(
                f"{fn}: x has {len(x)} images but y has {len(y)} labels; "
                "expected one label per image."
            )
        expected = _checks.model_labels(model)
        if expected is not None:
            classes, label_shape = expected
            _checks.check_labels(
                y,
                fn,
                "y",
                classes,
                label_shape=label_shape,
                source="the units of the model's output",
            )


def measure_throughput(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    batch_size: int,
    repeats: int,
    training: bool = False,
) -> Throughput:
    """Time ``repeats`` passes over ``x`` and return the images per second of each.

    Defined in chapter "Depthwise separable convolution".

    Inference calls ``model.predict_on_batch`` on each batch (Keras' compiled
    predict function, without ``predict``'s per-call data pipeline); training
    calls ``model.train_on_batch``, a forward pass, a backward pass and an
    optimizer step per batch. Both return NumPy values, so every step has
    finished when the clock is read. One untimed pass first compiles the
    function and warms the caches. Only whole batches are used.

    Training changes the weights; this function saves the model's weights
    and its optimizer's state first and restores them afterwards, so
    measuring does not alter a trained model.

    Parameters
    ----------
    model : keras.Model
        Built; compiled if ``training``.
    x : np.ndarray
        Images, ``(N, ...)`` as the model expects, ``N >= batch_size``.
    y : np.ndarray, optional
        Labels of ``x``; required if ``training``.
    batch_size : int
        Images per step.
    repeats : int
        Timed passes; the median is the usual summary.
    training : bool, default False
        Time training steps instead of inference.

    Returns
    -------
    Throughput
        Per-repeat images per second, ``.median`` and ``.summary()``.

    Raises
    ------
    TypeError, ValueError
        For images of the wrong shape, fewer images than one batch, or, when
        ``training``, an uncompiled model or labels that are not class indices
        of the model's output (for sparse cross-entropy).
    """
    x = np.asarray(x)
    _check_inputs(model, x, y, batch_size, repeats, training)
    steps = len(x) // batch_size
    starts = range(0, steps * batch_size, batch_size)
    batches_x = [x[i : i + batch_size] for i in starts]
    if training:
        y = np.asarray(y)
        batches_y = [y[i : i + batch_size] for i in starts]
        optimizer = model.optimizer
        if not optimizer.built:
            optimizer.build(model.trainable_variables)  # so its initial state can be saved
        saved_weights = model.get_weights()
        saved_optimizer = [variable.numpy() for variable in optimizer.variables]

        def one_pass() -> None:
            for xb, yb in zip(batches_x, batches_y):
                model.train_on_batch(xb, yb)
    else:

        def one_pass() -> None:
            for xb in batches_x:
                model.predict_on_batch(xb)

    try:
        one_pass()  # warm-up: tracing and compiling, not timed
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            one_pass()
            rates.append(steps * batch_size / (time.perf_counter() - start))
    finally:
        if training:
            model.set_weights(saved_weights)
            for variable, value in zip(optimizer.variables, saved_optimizer):
                variable.assign(value)
    return Throughput(
        tuple(rates), "training" if training else "inference", int(batch_size), steps * batch_size
    )


def images_per_second(dataset, repeats: int = 3) -> float:
    """Median images per second of full passes over a dataset of ``(images, labels)`` batches.

    Defined in chapter "Data augmentation" (the speed of input pipelines).

    Each pass iterates the whole dataset and touches every batch, as
    ``model.fit`` would, but trains nothing: it measures how fast the input
    pipeline alone can deliver images. One untimed pass comes first (tracing,
    filling a cache).

    Parameters
    ----------
    dataset : tf.data.Dataset
        Finite, yielding ``(images, labels)`` batches.
    repeats : int, default 3
        Timed passes; the median is returned.

    Raises
    ------
    TypeError, ValueError
        If ``repeats`` is not an integer >= 1, or the dataset yields no images.
    """
    repeats = _checks.check_int(repeats, "images_per_second", "repeats", low=1)

    def one_pass() -> int:
        count = 0
        for images, _ in dataset:
            count += int(np.shape(images)[0])
        return count

    if one_pass() == 0:
        raise ValueError("images_per_second: dataset must yield images; got none.")
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = one_pass()
        rates.append(count / (time.perf_counter() - start))
    return float(statistics.median(rates))
