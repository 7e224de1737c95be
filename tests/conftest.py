"""Shared test settings."""

from hypothesis import settings

settings.register_profile("course", deadline=None, max_examples=40, print_blob=True)
settings.load_profile("course")
