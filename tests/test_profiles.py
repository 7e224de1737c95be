"""Tests of the run profiles and of seeding."""

import numpy as np
import pytest

import course_lib
from course_lib import PROFILES, profile, seed_everything


def test_default_is_full(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert profile().name == "full"


@pytest.mark.parametrize("value", ["fast", "FAST", " fast "])
def test_environment_selects(monkeypatch, value):
    monkeypatch.setenv("COURSE_PROFILE", value)
    assert profile().name == "fast"


def test_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    assert profile("full").name == "full"


def test_unknown_profile_lists_valid_ones(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    with pytest.raises(ValueError, match="Unknown run profile 'quick'.*'full', 'fast'"):
        profile()


def test_fast_is_smaller_than_full():
    fast, full = PROFILES["fast"], PROFILES["full"]
    for field in ("train_size", "test_size", "epochs", "num_seeds", "max_trials", "compare_train_size", "compare_epochs", "segmentation_size", "segmentation_epochs", "timing_repeats", "transfer_seeds", "pretrain_size", "pretrain_epochs", "transfer_epochs", "transfer_short_epochs", "tuning_train_size", "tuning_epochs", "tuning_finalists", "tuning_round_epochs", "tuning_retrain_epochs"):
        assert getattr(fast, field) <= getattr(full, field), field
    assert full.train_size <= 55_000 and full.test_size <= 10_000
    assert max(fast.small_train_sizes) <= max(full.small_train_sizes)
    assert sum(n * e for n, e in fast.augment_runs) <= sum(n * e for n, e in full.augment_runs)
    assert max(fast.transfer_label_counts) <= max(full.transfer_label_counts)
    assert full.transfer_seeds >= 5 and full.num_seeds >= 3


def test_profiles_are_frozen():
    with pytest.raises(AttributeError):
        PROFILES["full"].epochs = 1  # type: ignore[misc]
    assert PROFILES["fast"].as_dict()["name"] == "fast"


def test_importing_course_lib_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, course_lib, course_lib.data, course_lib.ops; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_seed_everything_repeats_numpy_and_keras():
    import keras

    seed_everything(7)
    first = (np.random.rand(3), np.asarray(keras.random.uniform((3,))))
    seed_everything(7)
    second = (np.random.rand(3), np.asarray(keras.random.uniform((3,))))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(bad)


def test_version():
    assert course_lib.__version__.count(".") == 2
