"""Tests of course_lib.seeding: seed_everything repeats runs and checks its seed first."""

import os
import random

import keras
import numpy as np
import pytest

from course_lib import seed_everything


def test_seed_everything_repeats_python_numpy_and_keras():
    seed_everything(7)
    first = (random.random(), np.random.rand(3), np.asarray(keras.random.uniform((3,))))
    seed_everything(7)
    second = (random.random(), np.random.rand(3), np.asarray(keras.random.uniform((3,))))
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[2], second[2])
    assert os.environ["PYTHONHASHSEED"] == "7"


@pytest.mark.parametrize("seed", [0, 2**32 - 1, np.int64(3)])
def test_seed_everything_accepts_the_whole_range(seed):
    seed_everything(seed)
    assert os.environ["PYTHONHASHSEED"] == str(int(seed))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (
            -1,
            ValueError,
            r"seed_everything: seed must be an integer in \[0, 4294967295\]; got -1\.$",
        ),
        (
            2**40,
            ValueError,
            r"seed_everything: seed must be an integer in \[0, 4294967295\]; got 1099511627776",
        ),
        (1.5, TypeError, r"seed_everything: seed must be an integer .*; got 1.5 \(float\)"),
        ("3", TypeError, r"got '3' \(str\)"),
        (True, TypeError, r"got True \(bool\)"),
        (None, TypeError, r"got None \(NoneType\)\. None is not allowed: seeding is the point"),
    ],
)
def test_seed_everything_refuses_bad_seeds(bad, error, match):
    with pytest.raises(error, match=match):
        seed_everything(bad)


def test_a_refused_seed_changes_no_global_state(monkeypatch):
    monkeypatch.setenv("PYTHONHASHSEED", "11")
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with pytest.raises(ValueError):
        seed_everything(2**40)  # used to fail in NumPy, after Python had been seeded
    assert random.getstate() == python_state
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state[1])
    assert os.environ["PYTHONHASHSEED"] == "11"
