"""Fashion-MNIST: find it, check it, load it, split it and scale it.

``load_fashion_mnist()`` returns exactly what
``keras.datasets.fashion_mnist.load_data()`` returns, but finds the files
offline first and validates every byte of them:

1. the directory in ``COURSE_DATA_DIR``, if that variable is set (then it is the
   only place looked at);
2. ``/usr/share/datasets/fashion-mnist``, where the Debian/Ubuntu package
   ``dataset-fashion-mnist`` installs the original files;
3. the Keras cache, ``$KERAS_HOME/datasets/fashion-mnist`` (``~/.keras`` by
   default);
4. the download Keras itself uses (``keras.utils.get_file``, same URLs and
   file names, into the Keras cache).

Defined in chapter "Setup and data".
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""The ten Fashion-MNIST classes; label ``i`` is ``CLASS_NAMES[i]``."""

NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SHAPE = (28, 28)

DATA_DIR_ENV = "COURSE_DATA_DIR"
SYSTEM_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KERAS_SUBDIR = os.path.join("datasets", "fashion-mnist")
DOWNLOAD_TIMEOUT_S = 30.0

IMAGES_MAGIC = 2051  # IDX: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # IDX: unsigned bytes, 1 dimension


@dataclass(frozen=True)
class IdxFile:
    """What one of the four Fashion-MNIST files must contain."""

    filename: str
    magic: int
    count: int
    sha256: str  # of the decompressed file (header and payload)


FILES: dict[str, IdxFile] = {
    "train_images": IdxFile(
        "train-images-idx3-ubyte.gz",
        IMAGES_MAGIC,
        60_000,
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train_labels": IdxFile(
        "train-labels-idx1-ubyte.gz",
        LABELS_MAGIC,
        60_000,
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test_images": IdxFile(
        "t10k-images-idx3-ubyte.gz",
        IMAGES_MAGIC,
        10_000,
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "test_labels": IdxFile(
        "t10k-labels-idx1-ubyte.gz",
        LABELS_MAGIC,
        10_000,
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}


class DataError(ValueError):
    """A Fashion-MNIST file exists but is not what it must be."""


class DataNotFoundError(FileNotFoundError):
    """Fashion-MNIST is nowhere to be found and could not be downloaded."""


# --------------------------------------------------------------------------
# Finding the files
# --------------------------------------------------------------------------


def keras_cache_dir() -> Path:
    """Return the folder where Keras caches Fashion-MNIST."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / KERAS_SUBDIR


def candidate_dirs() -> list[tuple[str, Path]]:
    """Return the ``(source, folder)`` pairs searched, in order."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return [(f"${DATA_DIR_ENV}", Path(override).expanduser())]
    return [
        (f"Debian package {DEBIAN_PACKAGE}", SYSTEM_DATA_DIR),
        ("Keras cache", keras_cache_dir()),
    ]


def _has_all_files(folder: Path) -> bool:
    return all((folder / spec.filename).is_file() for spec in FILES.values())


def _remedies() -> str:
    return (
        "Get the data in one of three ways:\n"
        f"  1. install the package: sudo apt-get install {DEBIAN_PACKAGE}\n"
        f"  2. point {DATA_DIR_ENV} at a folder holding the four files "
        f"({', '.join(spec.filename for spec in FILES.values())})\n"
        f"  3. allow the Keras download (network access to {KERAS_ORIGIN})"
    )


def _download(dest: Path) -> None:
    """Fetch the four files the way Keras does, into the Keras cache."""
    from keras.utils import get_file

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        for spec in FILES.values():
            get_file(spec.filename, origin=KERAS_ORIGIN + spec.filename, cache_subdir=KERAS_SUBDIR)
    except Exception as exc:  # no network, proxy, HTTP error, disk full...
        raise DataNotFoundError(
            f"Fashion-MNIST was not found locally and the download into {dest} failed "
            f"({type(exc).__name__}: {exc}).\n{_remedies()}"
        ) from None
    finally:
        socket.setdefaulttimeout(previous)


def locate_fashion_mnist(download: bool = True) -> tuple[Path, str]:
    """Find the folder holding the four Fashion-MNIST files.

    Parameters
    ----------
    download : bool, default True
        When no folder has the files, download them the way Keras does.
        Ignored when ``COURSE_DATA_DIR`` is set.

    Returns
    -------
    folder : Path
    source : str
        Where it was found, e.g. ``"Debian package dataset-fashion-mnist"``.

    Raises
    ------
    DataNotFoundError
        With the three ways to get the data.
    """
    searched = candidate_dirs()
    for source, folder in searched:
        if _has_all_files(folder):
            return folder, source
    looked = "\n".join(f"  - {folder} ({source})" for source, folder in searched)
    if os.environ.get(DATA_DIR_ENV):
        raise DataNotFoundError(
            f"{DATA_DIR_ENV} is set, but the folder does not hold all four Fashion-MNIST "
            f"files:\n{looked}\n{_remedies()}"
        )
    if not download:
        raise DataNotFoundError(f"Fashion-MNIST was not found in:\n{looked}\n{_remedies()}")
    dest = keras_cache_dir()
    _download(dest)
    return dest, "Keras download"


# --------------------------------------------------------------------------
# Reading and validating the IDX files
# --------------------------------------------------------------------------


def read_idx(path: str | os.PathLike, spec: IdxFile) -> np.ndarray:
    """Read one gzip-compressed IDX file and check it against ``spec``.

    Checks, in order: gzip readable, magic number, dimensions, item count,
    SHA-256 of the content and, for labels, values in ``0..9``.

    Raises
    ------
    DataError
        Naming the file and what is wrong with it.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: not a readable gzip file ({exc}). Delete it and get it again.") from None

    is_images = spec.magic == IMAGES_MAGIC
    header_len = 16 if is_images else 8
    if len(raw) < header_len:
        raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header; the file is truncated.")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != spec.magic:
        kind = "images (2051)" if is_images else "labels (2049)"
        raise DataError(f"{path}: magic number {magic}, expected {kind}; this is not the right IDX file.")
    count = struct.unpack(">I", raw[4:8])[0]
    if count != spec.count:
        raise DataError(f"{path}: header says {count} items, expected {spec.count}.")
    shape: tuple[int, ...] = (count,)
    if is_images:
        rows, cols = struct.unpack(">II", raw[8:16])
        if (rows, cols) != IMAGE_SHAPE:
            raise DataError(f"{path}: images are {rows}x{cols}, expected 28x28.")
        shape = (count, rows, cols)
    expected_len = header_len + int(np.prod(shape))
    if len(raw) != expected_len:
        raise DataError(
            f"{path}: {len(raw)} bytes after decompression, expected {expected_len}; "
            "the file is truncated or has extra data."
        )
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise DataError(
            f"{path}: content checksum is {digest[:12]}..., expected {spec.sha256[:12]}...; "
            "the file was altered or damaged. Delete it and get it again."
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)
    if not is_images and array.max() >= NUM_CLASSES:
        raise DataError(f"{path}: label {array.max()} found, labels must be in 0..9.")
    return array


def load_fashion_mnist(
    download: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST exactly as ``keras.datasets.fashion_mnist.load_data()``.

    Parameters
    ----------
    download : bool, default True
        Download the files the way Keras does when they are nowhere on disk.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``uint8`` arrays of shapes (60000, 28, 28), (60000,), (10000, 28, 28)
        and (10000,).

    Raises
    ------
    DataNotFoundError
        If the files are nowhere and cannot be downloaded.
    DataError
        If a file is damaged, truncated or altered.
    """
    folder, _ = locate_fashion_mnist(download=download)
    arrays = {key: read_idx(folder / spec.filename, spec) for key, spec in FILES.items()}
    return (arrays["train_images"], arrays["train_labels"]), (
        arrays["test_images"],
        arrays["test_labels"],
    )


def check_fashion_mnist(download: bool = False) -> str:
    """Locate and fully validate the data; return a short human-readable report."""
    folder, source = locate_fashion_mnist(download=download)
    lines = [f"Fashion-MNIST found in {folder} ({source})."]
    for spec in FILES.values():
        array = read_idx(folder / spec.filename, spec)
        lines.append(f"  {spec.filename:<28} {str(array.shape):<17} sha256 OK")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Splits: images and labels travel together
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Split:
    """Images and their labels, which always travel together.

    Functions that train or evaluate take a ``Split``, never loose ``x`` and
    ``y``: pairing one split's images with another split's labels is then hard
    to write by mistake.

    Parameters
    ----------
    x : np.ndarray
        Images, first axis indexes the examples.
    y : np.ndarray
        Labels, one entry per image: class indices of shape ``(len(x),)``
        for classification, or one mask per image for segmentation.
    name : str, optional
        ``"train"``, ``"valid"``, ``"test"``... used in messages.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` differ in length.
    """

    x: np.ndarray
    y: np.ndarray
    name: str = "split"

    def __post_init__(self) -> None:
        x, y = np.asarray(self.x), np.asarray(self.y)
        if y.ndim < 1:
            raise ValueError(f"Split {self.name!r}: labels must be an array with one entry per image; got a scalar.")
        if x.ndim < 1 or len(x) != len(y):
            raise ValueError(
                f"Split {self.name!r}: {len(x) if x.ndim else 0} images but {len(y)} labels. "
                "Images and labels must come from the same split and have the same length."
            )
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"Split(name={self.name!r}, x={self.x.shape} {self.x.dtype}, y={self.y.shape} {self.y.dtype})"

    def take(self, n: int | None, seed: int | None = None) -> Split:
        """Return ``n`` examples: the first ``n``, or a random sample if ``seed`` is given.

        ``n=None`` or ``n >= len(self)`` returns the whole split.
        """
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise ValueError(f"Split.take: n must be at least 1; got {n}.")
        if seed is None:
            index = np.arange(n)
        else:
            index = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        return Split(self.x[index], self.y[index], self.name)

    def class_counts(self) -> np.ndarray:
        """Return how many examples each of the ten classes has (class-index labels only)."""
        if self.y.ndim != 1:
            raise ValueError(f"Split {self.name!r}: class_counts needs one class index per image; labels have shape {self.y.shape}.")
        return np.bincount(self.y, minlength=NUM_CLASSES)


class Splits(NamedTuple):
    """The seed's three splits."""

    train: Split
    valid: Split
    test: Split


def load_splits(valid_size: int = 5_000, download: bool = True) -> Splits:
    """Return the seed's split: validation = first ``valid_size`` training images.

    With the default, train has 55,000 images, valid 5,000 and test 10,000,
    all ``uint8`` of shape (N, 28, 28).
    """
    (x_train_all, y_train_all), (x_test, y_test) = load_fashion_mnist(download=download)
    if not 0 < valid_size < len(y_train_all):
        raise ValueError(f"valid_size must be between 1 and {len(y_train_all) - 1}; got {valid_size}.")
    return Splits(
        train=Split(x_train_all[valid_size:], y_train_all[valid_size:], "train"),
        valid=Split(x_train_all[:valid_size], y_train_all[:valid_size], "valid"),
        test=Split(x_test, y_test, "test"),
    )


def combine(*splits: Split, name: str = "train") -> Split:
    """Return one split holding the examples of ``splits``, in order.

    Once a model and its number of epochs are chosen on the validation split,
    its final training can use the validation images too:
    ``combine(splits.train, splits.valid)``.

    Raises
    ------
    ValueError
        If no split is given, one of them is the test set, or their images
        (or labels) differ in shape.
    """
    if not splits:
        raise ValueError("combine: pass at least one Split.")
    for split in splits:
        if not isinstance(split, Split):
            raise TypeError(f"combine: expected Split objects; got {type(split).__name__}.")
        if split.name.strip().lower() == "test":
            raise ValueError(
                "combine: one of the splits is the test set. The test set must stay out of training; "
                "combine the training and validation splits only."
            )
    shapes = {(s.x.shape[1:], s.y.shape[1:]) for s in splits}
    if len(shapes) > 1:
        raise ValueError(f"combine: the splits' images or labels differ in shape ({sorted(map(str, shapes))}).")
    return Split(np.concatenate([s.x for s in splits]), np.concatenate([s.y for s in splits]), name)


def fit_scaler(train: Split):
    """Fit scikit-learn's ``StandardScaler`` on all training pixels, as the seed does.

    The seed treats every pixel as one sample of a single feature, so the
    scaler learns one mean and one standard deviation.
    """
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit(train.x.astype(np.float32).reshape(-1, 1))


def standardize(splits: Splits, scaler=None) -> Splits:
    """Standardize every split with a scaler fitted on the training split only.

    Returns new splits with ``float32`` images of shape (N, 28, 28, 1)
    (channels last, as Keras expects). The labels are unchanged.
    """
    scaler = scaler if scaler is not None else fit_scaler(splits.train)

    def scale(split: Split) -> Split:
        x = scaler.transform(split.x.astype(np.float32).reshape(-1, 1))
        return Split(x.astype(np.float32).reshape(*split.x.shape[:3], 1), split.y, split.name)

    return Splits(*(scale(split) for split in splits))
