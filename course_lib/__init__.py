"""Companion library of the CNN Course.

Importing ``course_lib`` is cheap: TensorFlow and Keras are imported only by
the modules and functions that need them.

Importing it also keeps TensorFlow's own log lines out of a chapter's output
(``course_lib._quiet``): import ``course_lib`` before ``keras`` or
``tensorflow``, as every chapter does, since TensorFlow reads its C++ log level
only once, when it is first imported.
"""

from course_lib._quiet import quiet_tensorflow as _quiet_tensorflow

_quiet_tensorflow()  # first, before anything of the course could import TensorFlow

from course_lib.profiles import PROFILES, Profile, profile  # noqa: E402
from course_lib.seeding import seed_everything  # noqa: E402

__version__ = "0.1.0"

__all__ = ["PROFILES", "Profile", "profile", "seed_everything", "__version__"]
