"""Input checks shared by the reference operations (private).

Each error says what was wrong and what was expected; the checks themselves are
those of ``course_lib._checks``. Used by the chapters "Convolution", "Pooling"
and "Depthwise separable convolution".
"""

from __future__ import annotations

import numpy as np

from course_lib import _checks

__all__ = [
    "Padding",
    "_check_sizes",
    "_check_padding",
    "_check_not_empty",
    "_check_window_fits",
]

Padding = str | int


def _check_sizes(fn: str, **sizes: object) -> list[int]:
    """Check that every size (pixels, channels, kernels) is an integer >= 1; return them."""
    return [_checks.check_int(value, fn, name, low=1) for name, value in sizes.items()]


def _check_padding(padding: object, fn: str, allow_int: bool = True) -> Padding:
    """Return ``padding`` if it is "valid", "same" or (when allowed) an int >= 0."""
    if isinstance(padding, str) or not allow_int:
        return _checks.check_choice(padding, fn, "padding", ("valid", "same"))
    hint = " It may also be 'valid' or 'same'."
    return _checks.check_int(padding, fn, "padding", low=0, hint=hint)


def _check_not_empty(array: np.ndarray, fn: str, name: str) -> None:
    if array.size == 0:
        raise ValueError(f"{fn}: {name} must not have an empty axis; got shape {array.shape}.")


def _check_window_fits(
    hw: tuple[int, ...], window: tuple[int, int], padding: Padding, fn: str, what: str
) -> None:
    """Raise if a (kh, kw) window is larger than the (padded) (H, W) input."""
    if window[0] > hw[0] or window[1] > hw[1]:
        raise ValueError(
            f"{fn}: {what} must fit in the padded input {tuple(hw)} (padding={padding!r}); "
            f"got {what} {tuple(window)}."
        )
