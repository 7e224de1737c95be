"""Image-processing helpers: classic hand-designed kernels and translation.

Both are defined in chapter "Convolution"; chapter "Pooling" uses ``translate``
again.
"""

from __future__ import annotations

import numpy as np

from course_lib import _checks

__all__ = [
    "classic_kernels",
    "translate",
]


def classic_kernels() -> dict[str, np.ndarray]:
    """Hand-designed 3x3 kernels from image processing, by name.

    Defined in chapter "Convolution".

    Blurs average a neighbourhood, ``sharpen`` adds the difference between a
    pixel and its neighbours back to it, the Sobel kernels respond to
    horizontal and vertical intensity changes, and ``outline`` (a Laplacian)
    responds to any change. Kernels sum to 1 when they keep brightness and
    to 0 when they only detect change.
    """
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    return {
        "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
        "box blur": np.full((3, 3), 1 / 9),
        "Gaussian blur": np.outer([1, 2, 1], [1, 2, 1]) / 16,
        "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
        "Sobel x (vertical edges)": sobel_x,
        "Sobel y (horizontal edges)": sobel_x.T.copy(),
        "outline": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float64),
    }


def translate(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift images ``dy`` pixels down and ``dx`` right, filling with zeros.

    Defined in chapter "Convolution".

    ``images`` has shape ``(H, W)``, ``(N, H, W)`` or ``(N, H, W, C)``; the
    two spatial axes are the first two of ``(H, W)`` and axes 1 and 2
    otherwise. Negative shifts move up or left. Pixels shifted out are lost
    (no wrap-around), as when an object moves in a camera's view.
    """
    images = np.asarray(images)
    if images.ndim not in (2, 3, 4):
        raise ValueError(
            "translate: images must have shape (H, W), (N, H, W) or (N, H, W, C); "
            f"got shape {images.shape}."
        )
    dy = _checks.check_int(dy, "translate", "dy")
    dx = _checks.check_int(dx, "translate", "dx")
    rows, cols = (0, 1) if images.ndim == 2 else (1, 2)
    h, w = images.shape[rows], images.shape[cols]
    out = np.zeros_like(images)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src = [slice(None)] * images.ndim
    dst = [slice(None)] * images.ndim
    src[rows], dst[rows] = slice(max(-dy, 0), h - max(dy, 0)), slice(max(dy, 0), h - max(-dy, 0))
    src[cols], dst[cols] = slice(max(-dx, 0), w - max(dx, 0)), slice(max(dx, 0), w - max(-dx, 0))
    out[tuple(dst)] = images[tuple(src)]
    return out
