"""How much does ``course_lib.train.fit`` cost on top of a bare ``model.fit``?

Trains the same ``small_cnn`` on the same images with three variants:

- ``model.fit``: Keras alone;
- ``train.fit``: the course wrapper (input checks + ``WarnOnChanceLoss``);
- ``train.fit + run_dir``: plus history.csv, best.keras (ModelCheckpoint),
  BackupAndRestore and, if installed, TensorBoard logs, in a fresh temporary
  folder each time.

Every variant is run once first (tracing, file-writer start-up), then the
variants are timed ``--repeats`` times, interleaved in rotating order so that
a slow moment of the machine hits them all alike. Prints the median training
throughput (training images per second of wall time, validation included) and
its ratio to ``model.fit``; and the same per second of CPU time, which
other programs running on the machine disturb less.

Last, times the files a run folder writes at the end of an epoch on their
own, a figure that noise from other programs does not swamp.

Usage::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/fit_overhead.py --repeats 5 --images 4000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from course_lib import callbacks, data, models, seed_everything, train  # noqa: E402
from course_lib.data import Split  # noqa: E402


def load_data(n_train: int, n_valid: int) -> tuple[Split, Split, str]:
    """Standardized Fashion-MNIST if it is on disk, else synthetic images."""
    try:
        splits = data.standardize(data.load_splits(download=False))
        return (
            splits.train.sample(n_train, seed=0),
            splits.valid.sample(n_valid, seed=0),
            "Fashion-MNIST",
        )
    except (data.DataNotFoundError, data.DataError):
        rng = np.random.default_rng(0)

        def synthetic(n: int, name: str) -> Split:
            return Split(
                rng.normal(size=(n, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, n), name
            )

        return synthetic(n_train, "train"), synthetic(n_valid, "valid"), "synthetic"


def variants(
    model: keras.Model, train_split: Split, valid: Split, epochs: int, batch_size: int
) -> dict[str, Callable]:
    """The three ways of training, each a function of no argument."""

    def bare() -> None:
        model.fit(
            train_split.x,
            train_split.y,
            validation_data=(valid.x, valid.y),
            epochs=epochs,
            batch_size=batch_size,
            verbose=0,
        )

    def course() -> None:
        train.fit(model, train_split, valid, epochs=epochs, batch_size=batch_size, verbose=0)

    def course_run_dir() -> None:
        with tempfile.TemporaryDirectory() as run_dir:
            train.fit(
                model,
                train_split,
                valid,
                epochs=epochs,
                batch_size=batch_size,
                verbose=0,
                run_dir=run_dir,
            )

    return {"model.fit": bare, "train.fit": course, "train.fit + run_dir": course_run_dir}


def measure(
    runs: dict[str, Callable], repeats: int, images: int
) -> dict[str, dict[str, list[float]]]:
    """Images per second of wall time and of CPU time, ``repeats`` times per variant, interleaved.

    CPU time (all threads of this process) is less disturbed than wall time
    when other programs compete for the cores.
    """
    for run in runs.values():  # warm-up: tracing and first-call costs
        run()
    names = list(runs)
    speeds: dict[str, dict[str, list[float]]] = {
        "wall": {n: [] for n in names},
        "cpu": {n: [] for n in names},
    }
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            wall, cpu = time.perf_counter(), time.process_time()
            runs[name]()
            speeds["wall"][name].append(images / (time.perf_counter() - wall))
            speeds["cpu"][name].append(images / (time.process_time() - cpu))
    return speeds


def measure_writes(model: keras.Model, repeats: int) -> dict[str, float]:
    """Median seconds of the files a run_dir writes at the end of an epoch."""
    times: dict[str, list[float]] = {
        "best.keras (ModelCheckpoint)": [],
        "backup (BackupAndRestore)": [],
    }
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeats):
            start = time.perf_counter()
            model.save(os.path.join(folder, "best.keras"))
            times["best.keras (ModelCheckpoint)"].append(time.perf_counter() - start)
            start = time.perf_counter()
            model.save_weights(os.path.join(folder, "latest.weights.h5"))
            times["backup (BackupAndRestore)"].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def report(speeds: dict[str, list[float]], unit: str) -> str:
    """A small table: median, range, ratio to model.fit, overhead."""
    reference = statistics.median(speeds["model.fit"])
    lines = [
        f"{'variant':<22}{'median ' + unit:>16}{'min-max':>14}{'ratio':>8}{'overhead':>10}",
        "-" * 70,
    ]
    for name, values in speeds.items():
        median = statistics.median(values)
        span = f"{min(values):.0f}-{max(values):.0f}"
        lines.append(
            f"{name:<22}{median:>16.0f}{span:>14}"
            f"{median / reference:>8.3f}{reference / median - 1:>+10.1%}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed runs of each variant (default 5)"
    )
    parser.add_argument("--images", type=int, default=4000, help="training images (default 4000)")
    parser.add_argument(
        "--valid-images", type=int, default=1000, help="validation images (default 1000)"
    )
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    args = parser.parse_args()

    seed_everything(0)
    train_split, valid, source = load_data(args.images, args.valid_images)
    model = models.small_cnn()
    runs = variants(model, train_split, valid, args.epochs, args.batch_size)
    load_before = os.getloadavg()[0]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TensorBoard is not installed")
        speeds = measure(runs, args.repeats, args.epochs * len(train_split))
    load_after = os.getloadavg()[0]

    print(
        f"{source}: {len(train_split)} training and {len(valid)} validation images, "
        f"{args.epochs} epochs, "
        f"batch {args.batch_size}, {args.repeats} timed runs per variant after one warm-up"
    )
    print(
        f"Keras {keras.__version__}, {os.cpu_count()} CPU cores, "
        "TensorBoard "
        + ("installed" if callbacks._tensorboard_installed() else "NOT installed (no logs written)")
        + ", "
        f"load average {load_before:.1f} before, {load_after:.1f} after"
    )
    print("overhead = extra time per image relative to model.fit\n")
    print(report(speeds["wall"], "img/s"))
    print()
    print(report(speeds["cpu"], "img/CPU-s"))
    epoch_s = len(train_split) / statistics.median(speeds["wall"]["model.fit"])
    print(
        f"\nFiles written per epoch by run_dir (median of {args.repeats}; "
        f"one epoch of model.fit: {epoch_s:.2f} s)"
    )
    for name, seconds in measure_writes(model, args.repeats).items():
        print(f"  {name:<30}{seconds * 1000:>8.1f} ms  = {seconds / epoch_s:.1%} of an epoch")


if __name__ == "__main__":
    main()
