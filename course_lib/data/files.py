"""Fashion-MNIST's files: find them, check every byte, load them.

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
import shlex
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "CLASS_NAMES",
    "NUM_CLASSES",
    "IMAGE_SHAPE",
    "DATA_DIR_ENV",
    "SYSTEM_DATA_DIR",
    "DEBIAN_PACKAGE",
    "FILES",
    "IdxFile",
    "DataError",
    "DataNotFoundError",
    "keras_cache_dir",
    "candidate_dirs",
    "locate_fashion_mnist",
    "read_idx",
    "load_fashion_mnist",
    "check_fashion_mnist",
]

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


def _permission_fix(path: Path, *, folder: bool) -> str:
    """The command that makes ``path`` (a folder and its files, or a file) readable."""
    command = f"chmod {'-R a+rX' if folder else 'a+r'} {shlex.quote(str(path))}"
    above = "; a folder above it may need `chmod a+x` too" if folder else ""
    return f"make it readable with `{command}` (prefix sudo if you do not own it{above})"


def _folder_problem(folder: Path) -> str | None:
    """Say why ``folder`` does not hold the four files; None when it does."""
    try:
        if not folder.exists():
            return "does not exist"
        if not folder.is_dir():
            return "is not a folder"
        missing = [s.filename for s in FILES.values() if not (folder / s.filename).is_file()]
    except PermissionError:  # Path.is_file() raises it for a folder without x permission
        fix = _permission_fix(folder, folder=True)
        return f"cannot be read by this user (permission denied); {fix}"
    except OSError as exc:
        return f"cannot be read ({exc})"
    if not missing:
        return None
    if len(missing) == len(FILES):
        return "holds none of the four Fashion-MNIST files"
    names = ", ".join(missing[:-1]) + " and " + missing[-1] if len(missing) > 1 else missing[0]
    present = len(FILES) - len(missing)
    there = "the other file is there" if present == 1 else f"the other {present} files are there"
    return f"lacks {names} ({there})"


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
        Saying what each folder searched lacks (it does not exist, which
        files are missing, or it cannot be read), with the ways to get the data.
    """
    problems = []
    for source, folder in candidate_dirs():
        problem = _folder_problem(folder)
        if problem is None:
            return folder, source
        problems.append((source, folder, problem))
    if os.environ.get(DATA_DIR_ENV):  # then it is the only folder searched
        _, folder, problem = problems[0]
        raise DataNotFoundError(f"{DATA_DIR_ENV} is set, but {folder} {problem}.\n{_remedies()}")
    if not download:
        looked = "\n".join(
            f"  - {folder} ({source}): {problem}" for source, folder, problem in problems
        )
        raise DataNotFoundError(f"Fashion-MNIST was not found in:\n{looked}\n{_remedies()}")
    dest = keras_cache_dir()
    _download(dest)
    return dest, "Keras download"


# --------------------------------------------------------------------------
# Reading and validating the IDX files
# --------------------------------------------------------------------------


def _twin(spec: IdxFile, count: int) -> IdxFile | None:
    """The other file of the same kind that holds ``count`` items, if any."""
    for other in FILES.values():
        if other.magic == spec.magic and other.count == count and other != spec:
            return other
    return None


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
    except PermissionError:
        raise DataError(
            f"{path}: cannot be read by this user (permission denied); "
            f"{_permission_fix(path, folder=False)}."
        ) from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(
            f"{path}: not a readable gzip file ({exc}). Delete it and get it again."
        ) from None

    is_images = spec.magic == IMAGES_MAGIC
    header_len = 16 if is_images else 8
    if len(raw) < header_len:
        raise DataError(
            f"{path}: only {len(raw)} bytes, too short for an IDX header; the file is truncated."
        )
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != spec.magic:
        kind = "images (2051)" if is_images else "labels (2049)"
        raise DataError(
            f"{path}: magic number {magic}, expected {kind}; this is not the right IDX file."
        )
    count = struct.unpack(">I", raw[4:8])[0]
    if count != spec.count:
        message = f"{path}: header says {count:,} items, expected {spec.count:,}."
        twin = _twin(spec, count)
        if twin is not None:
            message += (
                f" {count:,} is the count of {twin.filename}: the train and test files look "
                "swapped. Give each file its right name, or get them again."
            )
        raise DataError(message)
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
