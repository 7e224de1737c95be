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

The files are handled in ``course_lib.data.files``; splits (images and labels
together, each with its role: train, valid or test) in
``course_lib.data.splits``; the handwritten digits of chapter "Transfer
learning" in ``course_lib.data.digits``. Everything is importable from
``course_lib.data``.

Defined in chapter "Setup and data".
"""

from course_lib.data.digits import load_digits_splits
from course_lib.data.files import (
    CLASS_NAMES,
    DATA_DIR_ENV,
    DEBIAN_PACKAGE,
    FILES,
    IMAGE_SHAPE,
    NUM_CLASSES,
    SYSTEM_DATA_DIR,
    DataError,
    DataNotFoundError,
    IdxFile,
    candidate_dirs,
    check_fashion_mnist,
    keras_cache_dir,
    load_fashion_mnist,
    locate_fashion_mnist,
    read_idx,
)
from course_lib.data.splits import (
    ROLES,
    Split,
    Splits,
    class_subset,
    combine,
    fit_scaler,
    load_splits,
    repeat_to,
    sample_per_class,
    standardize,
)

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
    "ROLES",
    "Split",
    "Splits",
    "load_splits",
    "combine",
    "fit_scaler",
    "standardize",
    "class_subset",
    "sample_per_class",
    "repeat_to",
    "load_digits_splits",
]
