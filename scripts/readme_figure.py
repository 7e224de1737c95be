"""Render the README's picture: book/images/fashion_mnist_classes.png.

Usage: ``python scripts/readme_figure.py`` (needs Fashion-MNIST; see README).
The picture is the one chapter "Setup and data" opens with:
``course_lib.plots.show_classes`` on the first training images of each class.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from course_lib import data, plots  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "images" / "fashion_mnist_classes.png"


def main() -> int:
    splits = data.load_splits()
    fig = plots.show_classes(splits.train, per_class=10)
    fig.savefig(OUT, dpi=80, bbox_inches="tight", metadata={"Software": None})
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
