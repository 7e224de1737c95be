"""Root pytest configuration, shared by the library tests and nbval.

Notebooks run in the fast profile under pytest unless COURSE_PROFILE is set
explicitly. The kernel nbval starts inherits this process's environment.
"""

import os

os.environ.setdefault("COURSE_PROFILE", "fast")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Outputs never compared: TensorFlow's log lines on stderr, pictures (their
# bytes differ across platforms and profiles; the browser test checks they
# exist) and HTML renderings (their text/plain twin is compared).
SKIP_COMPARE = ("stderr", "image/png", "image/svg+xml", "text/html")


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += SKIP_COMPARE
