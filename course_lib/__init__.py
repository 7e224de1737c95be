"""Companion library of the CNN Course.

Importing ``course_lib`` is cheap: TensorFlow and Keras are imported only by
the modules and functions that need them.
"""

from course_lib.profiles import PROFILES, Profile, profile
from course_lib.seeding import seed_everything

__version__ = "0.1.0"

__all__ = ["PROFILES", "Profile", "profile", "seed_everything", "__version__"]
