"""Tests of course_lib.profiles: the run profiles and their checks."""

import dataclasses
import math

import pytest

import course_lib
from course_lib import PROFILES, Profile, profile


def test_default_is_full(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert profile().name == "full"


@pytest.mark.parametrize("value", ["fast", "FAST", " fast "])
def test_environment_selects(monkeypatch, value):
    monkeypatch.setenv("COURSE_PROFILE", value)
    assert profile().name == "fast"


def test_empty_environment_variable_means_full(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "  ")
    assert profile().name == "full"


def test_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    assert profile("full").name == "full"
    assert profile(" Fast ") is PROFILES["fast"]


def test_unknown_profile_in_environment_names_the_variable_and_valid_ones(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    message = (
        r"profile: the environment variable COURSE_PROFILE must be one of \('full', 'fast'\); "
        r"got 'quick'\. For example: COURSE_PROFILE=fast"
    )
    with pytest.raises(ValueError, match=message):
        profile()


def test_unknown_profile_argument_lists_valid_ones():
    with pytest.raises(
        ValueError, match=r"profile: name must be one of \('full', 'fast'\); got 'quick'"
    ):
        profile("quick")


@pytest.mark.parametrize("bad", [3, 1.0, True, ["fast"]])
def test_profile_name_of_the_wrong_type_is_a_type_error_naming_the_valid_ones(bad):
    with pytest.raises(
        TypeError, match=r"profile: name must be one of \('full', 'fast'\), or None"
    ):
        profile(bad)


def test_fast_is_smaller_than_full():
    fast, full = PROFILES["fast"], PROFILES["full"]
    for field in dataclasses.fields(Profile):
        if field.type == "int" and field.name != "batch_size":
            assert getattr(fast, field.name) <= getattr(full, field.name), field.name
    assert full.train_size <= 55_000 and full.test_size <= 10_000
    assert max(fast.small_train_sizes) <= max(full.small_train_sizes)
    assert max(fast.augment_sizes) <= max(full.augment_sizes)
    assert sum(fast.augment_steps) <= sum(full.augment_steps)
    assert max(fast.transfer_label_counts) <= max(full.transfer_label_counts)
    assert full.transfer_seeds >= 5


def test_comparisons_have_enough_seeds_for_an_interval():
    # verdicts need a paired interval (>= 2 seeds); the book's comparisons use >= 5
    assert PROFILES["full"].compare_seeds >= 5
    assert PROFILES["fast"].compare_seeds >= 2


def test_the_search_chapters_comparisons_have_enough_seeds():
    # the search's verdict (winner vs the notes' network) and the final round are paired
    # over seeds: >= 3 in the full profile (a run costs minutes), >= 2 in the fast one
    full, fast = PROFILES["full"], PROFILES["fast"]
    assert full.tuning_final_seeds >= 3 and fast.tuning_final_seeds >= 2
    assert full.tuning_round_seeds >= 3 and fast.tuning_round_seeds >= 2
    assert full.tuning_finalists >= 2 and fast.tuning_finalists >= 2
    for p in (full, fast):
        assert p.tuning_round_size <= p.train_size and p.tuning_final_size <= p.train_size


def test_the_search_chapter_fits_its_budget():
    # Image-epochs of training (a search's trials are bounded by trials x epochs x images),
    # at the rates chapter 8's full run measured on 2 CPU cores: about 1,000 images/s in the
    # searches (small and over-budget configurations included) and 800 in the final
    # comparison (the notes' network and a batch-normalized winner). The chapter must stay
    # well inside its 60 minutes from scratch.
    full = PROFILES["full"]
    search = len(("random", "hyperband", "bayesian")) * full.max_trials * full.tuning_epochs
    round_ = full.tuning_finalists * full.tuning_round_seeds * full.tuning_round_epochs
    final = 2 * full.tuning_final_seeds * full.tuning_final_epochs
    seconds = (
        search * full.tuning_train_size / 1_000
        + round_ * full.tuning_round_size / 800
        + final * (full.tuning_final_size + 5_000) / 800
    )
    assert seconds / 60 <= 45


def test_separable_comparison_fits_the_chapter_budget():
    # three networks x compare_seeds runs; at the ~385 training images/s (averaged over the
    # three networks) of the chapter's recorded run on 2 CPU cores, 400,000 image-epochs are
    # about 17 minutes, which keeps the chapter within ~20 minutes
    full, fast = PROFILES["full"], PROFILES["fast"]
    assert 3 * full.compare_seeds * full.separable_train_size * full.separable_epochs <= 400_000
    assert fast.separable_train_size * fast.separable_epochs <= 1_000


def _augmentation_plan(p: Profile) -> tuple[int, int]:
    """Runs and optimizer steps of the augmentation experiment, as the chapter plans them."""
    runs = steps = 0
    for size in p.augment_sizes:
        per_epoch = math.ceil(size / p.batch_size)
        for budget in p.augment_steps:
            runs += 2 * p.compare_seeds  # with and without augmentation
            steps += 2 * p.compare_seeds * max(1, round(budget / per_epoch)) * per_epoch
    return runs, steps


def test_augmentation_experiment_fits_the_chapter_budget():
    # The two-block CNN (models.small_cnn) trained at 30-45 steps/s of batch 64,
    # augmentation included, on the 2 CPU cores while other jobs kept the load at ~6; alone
    # it gets >= 70 steps/s. Each run adds ~3 s (building, tracing, two evaluations).
    # 40,000 steps and 40 runs are then about 11.5 minutes, which keeps the chapter within
    # ~14 with its other cells (its budget is 20).
    full, fast = PROFILES["full"], PROFILES["fast"]
    runs, steps = _augmentation_plan(full)
    assert steps / 70 + 3 * runs <= 12 * 60
    runs, steps = _augmentation_plan(fast)
    assert runs <= 16 and steps <= 1_000
    # the chapter compares the shortest with the longest budget, for the smallest and
    # largest set (two of each), with a paired interval
    for p in (full, fast):
        assert len(p.augment_sizes) == 2 and len(p.augment_steps) == 2
        assert min(p.augment_steps) < max(p.augment_steps)
        assert min(p.augment_sizes) < max(p.augment_sizes) <= p.train_size


def test_fcn_chapter_fits_its_budget():
    # three designs x compare_seeds comparison runs plus the final training. Measured on 2
    # shared CPU cores: 120,000 comparison canvas-epochs took 8.2 minutes and 96,000 of the
    # final training 6.1, about 4.1 ms per canvas and epoch (validation included). 330,000
    # canvas-epochs are then about 22.5 minutes, which keeps the chapter within 25 with the
    # rest of its cells (about a quarter of a minute).
    full, fast = PROFILES["full"], PROFILES["fast"]
    comparisons = 3 * full.compare_seeds * full.fcn_compare_size * full.fcn_compare_epochs
    assert comparisons + full.fcn_train_size * full.fcn_epochs <= 330_000
    assert 3 * fast.compare_seeds * fast.fcn_compare_size * fast.fcn_compare_epochs <= 2_000
    assert fast.fcn_train_size * fast.fcn_epochs <= 2_000
    assert full.fcn_epochs > full.fcn_compare_epochs, "the final training runs longest"
    # the chapter reports the gain over the last quarter of the final training's epochs
    assert full.fcn_epochs >= 8 and full.fcn_epochs % 4 == 0


def test_classifier_chapter_fits_its_budget():
    # At the costs measured on 2 CPU cores (milliseconds per training image and epoch, the
    # validation pass included): the notes' SGD run at batch 32 ~0.65, the final recipe
    # (batch norm, batch 64) ~1.3, the MLP ~0.07; each stall-experiment run ~0.9 (its seven
    # set-ups averaged) plus ~3 s to build, trace and validate. About 23 minutes in all,
    # which keeps the chapter within 27 with the rest of its cells.
    full, fast = PROFILES["full"], PROFILES["fast"]
    stall_runs = 7 * full.compare_seeds
    ms = (
        0.65 * full.train_size * full.epochs
        + 0.9 * stall_runs * full.stall_train_size * full.stall_epochs
        + 3_000 * stall_runs
        + 1.3 * full.train_size * full.final_epochs
        + 0.07 * full.compare_seeds * full.train_size * full.final_epochs
    )
    assert ms / 60_000 <= 24
    assert 7 * fast.compare_seeds * fast.stall_train_size * fast.stall_epochs <= 25_000
    assert fast.train_size * (fast.epochs + fast.final_epochs) <= 5_000


def test_recipe_chapter_fits_its_budget():
    # At the costs measured on 2 CPU cores for the final recipe (batch norm, batch 64):
    # ~1.15 ms per training image and epoch, ~0.35 ms per validation image (5,000 of them
    # each epoch), ~3 s to build and trace. Four recipes times the seeds: about 22 minutes,
    # which keeps the chapter within 30 with its other cells (test-time flips, figures).
    full, fast = PROFILES["full"], PROFILES["fast"]
    runs = 4 * full.compare_seeds
    ms = runs * (full.recipe_epochs * (1.15 * full.recipe_train_size + 0.35 * 5_000) + 3_000)
    assert ms / 60_000 <= 24
    assert full.recipe_train_size <= full.train_size and full.recipe_epochs >= 2
    assert 4 * fast.compare_seeds * fast.recipe_train_size * fast.recipe_epochs <= 10_000


def test_transfer_chapter_fits_its_budget():
    # Costs on 2 unloaded CPU cores, from the chapter's recorded run (a few-label run of
    # scratch, frozen and fine-tuned at 10 epochs of 1,000 images took 71 s) split by timings
    # of each stage: 10 epochs of 1,000 images cost about 27 s from scratch, 3 s for the head
    # on cached frozen features, 9.5 / 12.5 / 24.5 s fine-tuning the top 1 / 2 / 4 blocks, and
    # each score on the validation images about 1 s. With pretraining (3.5 min) and the rest of
    # the chapter (0.5 min): about 23.6 minutes, digits on every seed included (20 s a seed).
    # That must stay within 23.75 minutes (27 with 13.7% headroom; the estimate charges every
    # run with the dearest fine-tuning, all four blocks).
    full, fast = PROFILES["full"], PROFILES["fast"]
    fine_tune = {1: 9.5, 2: 12.5, 3: 20.0, 4: 24.5}
    epoch_s = {k: v / 10 for k, v in fine_tune.items()}  # per epoch of 1,000 images
    one = 2.7 + 0.3 + max(epoch_s.values())  # scratch, head, the dearest fine-tuning
    study = full.transfer_seeds * (
        full.transfer_epochs * (3.0 + sum(epoch_s[n] for n in full.transfer_unfreeze_blocks))
        + 1.5 * (2 + len(full.transfer_unfreeze_blocks))
    )
    others = (len(full.transfer_label_counts) - 1) * full.transfer_seeds
    main = others * (full.transfer_epochs * one + 4.5)
    short = full.transfer_seeds * (full.transfer_short_epochs * one + 3)
    digits = full.transfer_seeds * (full.digits_epochs * one + 3)
    minutes = (210 + 30 + study + main + short + digits) / 60
    assert minutes <= 23.75, minutes
    for p in (full, fast):
        assert p.transfer_unfreeze_labels in p.transfer_label_counts, p.name
        assert all(1 <= n <= 4 for n in p.transfer_unfreeze_blocks), p.name
        assert len(set(p.transfer_unfreeze_blocks)) == len(p.transfer_unfreeze_blocks)
    assert 4 in full.transfer_unfreeze_blocks, "the study includes fine-tuning everything"
    assert fast.transfer_seeds >= 2, "verdicts need a paired interval"
    assert full.transfer_epochs > full.transfer_short_epochs


def test_stall_runs_are_long_enough_for_the_chance_level_watch():
    from course_lib.callbacks import WarnOnChanceLoss

    for profile_ in PROFILES.values():
        assert profile_.stall_epochs >= WarnOnChanceLoss().patience, profile_.name


def test_profiles_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["full"].epochs = 1  # type: ignore[misc]
    assert PROFILES["fast"].as_dict()["name"] == "fast"


def test_a_valid_change_makes_a_new_profile():
    quick = dataclasses.replace(
        PROFILES["fast"], name="quick", epochs=2, small_train_sizes=(100, 200)
    )
    assert quick.epochs == 2 and quick.small_train_sizes == (100, 200)


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"epochs": 0}, ValueError, r"Profile: epochs must be an integer >= 1; got 0"),
        ({"batch_size": -64}, ValueError, r"Profile: batch_size must be an integer >= 1; got -64"),
        (
            {"compare_seeds": 1.5},
            TypeError,
            r"Profile: compare_seeds must be an integer >= 1; got 1.5 \(float\)",
        ),
        ({"max_trials": True}, TypeError, r"Profile: max_trials must be an integer >= 1; got True"),
        (
            {"train_size": 60_000},
            ValueError,
            r"Profile: train_size must be an integer in \[1, 55000\]",
        ),
        (
            {"test_size": 20_000},
            ValueError,
            r"Profile: test_size must be an integer in \[1, 10000\]",
        ),
        (
            {"tuning_final_epochs": None},
            TypeError,
            r"Profile: tuning_final_epochs must be an integer",
        ),
        (
            {"small_train_sizes": ()},
            ValueError,
            r"Profile: small_train_sizes must be a non-empty tuple",
        ),
        (
            {"small_train_sizes": [500]},
            TypeError,
            r"small_train_sizes must be a non-empty tuple; got \[500\] \(list\)",
        ),
        (
            {"small_train_sizes": (500, 0)},
            ValueError,
            r"Profile: small_train_sizes\[1\] must be an integer >= 1",
        ),
        (
            {"transfer_label_counts": ("20",)},
            TypeError,
            r"transfer_label_counts\[0\] must be an integer",
        ),
        (
            {"augment_steps": (400, 0)},
            ValueError,
            r"Profile: augment_steps\[1\] must be an integer >= 1",
        ),
        (
            {"augment_sizes": 1_000},
            TypeError,
            r"Profile: augment_sizes must be a non-empty tuple; got 1000 \(int\)",
        ),
        ({"name": ""}, ValueError, r"Profile: name must not be empty"),
        ({"name": None}, TypeError, r"Profile: name must be a string; got None"),
    ],
)
def test_every_field_is_checked(changes, error, match):
    with pytest.raises(error, match=match):
        dataclasses.replace(PROFILES["fast"], **changes)


def test_importing_course_lib_does_not_import_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys, course_lib, course_lib.data, course_lib.ops; "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_version():
    assert course_lib.__version__.count(".") == 2
