"""A second domain: scikit-learn's handwritten digits, shaped like Fashion-MNIST.

Defined in chapter "Transfer learning".
"""

from __future__ import annotations

import numpy as np

from course_lib import _checks
from course_lib.data.splits import Split, Splits

__all__ = ["load_digits_splits"]


def load_digits_splits(test_size: int = 797, image_size: int = 28, seed: int | None = 0) -> Splits:
    """scikit-learn's 1,797 handwritten digits, upsampled and standardized like Fashion-MNIST.

    Defined in chapter "Transfer learning".

    The 8 by 8 images (values 0 to 16) are resized to ``image_size`` by
    ``image_size`` (bilinear), then standardized with one mean and one
    standard deviation fitted on the training images, as
    ``data.standardize`` does. ``test`` holds ``test_size`` images, ``valid``
    100 and ``train`` the rest (900 by default).

    Returns
    -------
    Splits
        ``float32`` images of shape (N, image_size, image_size, 1), labels
        0..9; a stratified split, repeatable for an integer ``seed``. The
        splits are named "digits train", "digits valid" and "digits test",
        with the roles train, valid and test.
    """
    import keras
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    test_size = _checks.check_int(test_size, "load_digits_splits", "test_size", low=100, high=1_497)
    image_size = _checks.check_int(image_size, "load_digits_splits", "image_size", low=8)
    seed = _checks.check_seed(seed, "load_digits_splits")
    digits = load_digits()
    x = digits.images.astype(np.float32)[..., None]
    x = np.asarray(
        keras.ops.image.resize(x, (image_size, image_size), interpolation="bilinear"),
        dtype=np.float32,
    )
    y = digits.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=seed
    )
    x_train, x_valid, y_train, y_valid = train_test_split(
        x_rest, y_rest, test_size=100, stratify=y_rest, random_state=seed
    )
    mean, std = float(x_train.mean()), float(x_train.std())

    def scale(a: np.ndarray) -> np.ndarray:
        return ((a - mean) / std).astype(np.float32)

    return Splits(
        Split(scale(x_train), y_train, "digits train", role="train"),
        Split(scale(x_valid), y_valid, "digits valid", role="valid"),
        Split(scale(x_test), y_test, "digits test", role="test"),
    )
