"""Run profiles: every size, epoch count and trial count a chapter uses.

A notebook never hard-codes these numbers. It asks ``profile()`` and reads
them from the returned :class:`Profile`. ``COURSE_PROFILE=full`` (the default)
is what the published book shows; ``COURSE_PROFILE=fast`` is what ``make test``
and CI run (every chapter in under two minutes on two CPU cores).

Defined in chapter "Setup and data".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from course_lib import _checks

__all__ = ["Profile", "PROFILES", "profile"]

ENV_VAR = "COURSE_PROFILE"
DEFAULT_PROFILE = "full"
# Images in the training split (after the validation split) and in the test split.
_MAX_SIZE = {"train_size": 55_000, "test_size": 10_000}


@dataclass(frozen=True)
class Profile:
    """Sizes and budgets of one run profile.

    Defined in chapter "Setup and data".

    Every count is an integer >= 1 (checked when the profile is made; a
    ``TypeError`` or ``ValueError`` names the field otherwise).

    Attributes
    ----------
    name : str
        ``"full"`` or ``"fast"``.
    train_size : int
        Number of training images a chapter trains on (at most 55,000).
    test_size : int
        Number of test images a chapter evaluates on (at most 10,000).
    epochs : int
        Epochs of the lecture notes' training run (chapter "A CNN classifier";
        the notes trained for 10).
    batch_size : int
        Mini-batch size for training.
    demo_epochs : int
        Epochs of small illustrative trainings (e.g. a first layer to look at).
    max_trials : int
        Trial budget of an architecture search.
    small_train_sizes : tuple of int
        Training-set sizes of small-data experiments.
    compare_train_size : int
        Training images of each run in a side-by-side comparison of trainings.
    compare_seeds : int
        Seeds each condition of a comparison of trainings repeats over (at
        least 5 in the full profile; at least 2, the fewest a paired interval
        needs, in the fast one).
    separable_train_size : int
        Training images of each run of the separable-convolution chapter's
        comparison (three networks times ``compare_seeds`` seeds).
    separable_epochs : int
        Epochs of each of those runs.
    stall_train_size : int
        Training images of each run of the classifier chapter's stall
        experiment (seven set-ups times ``compare_seeds`` seeds, batch 32).
    stall_epochs : int
        Epochs of each of those runs: at least 3, the epochs the chance-level
        watch (``callbacks.WarnOnChanceLoss``) waits for, so that it can fire.
    final_epochs : int
        Epochs of the classifier chapter's final training and of its dense
        baseline (the learning rate decays to zero over them).
    recipe_train_size : int
        Training images of each run of the training-recipe chapter's
        comparison (four recipes times ``compare_seeds`` seeds), a proxy for
        the classifier chapter's final training on all of them.
    recipe_epochs : int
        Epochs of each of those runs (the learning rate decays to zero over
        them, where the recipe decays it).
    fcn_compare_size : int
        Training canvases of each run of the fully convolutional networks
        chapter's design comparisons (three designs times ``compare_seeds``).
    fcn_compare_epochs : int
        Epochs of each of those runs.
    fcn_train_size : int
        Training canvases of that chapter's final training.
    fcn_epochs : int
        Epochs of the final training (its learning rate decays to zero over them).
    fcn_eval_size : int
        Validation canvases and test canvases (each) of that chapter.
    timing_repeats : int
        Repeated timings a throughput measurement takes the median of.
    augment_sizes : tuple of int
        Training-set sizes of the augmentation experiment.
    augment_steps : tuple of int
        Training budgets of the augmentation experiment, in optimizer steps
        (batches): each run trains for the whole number of epochs over its
        training set closest to the budget (at least one). Every size and
        budget runs with and without augmentation, ``compare_seeds`` seeds each.
    transfer_label_counts : tuple of int
        Labelled target-task examples of the transfer-learning experiment.
    transfer_seeds : int
        Seeds of the transfer-learning experiment (at least 5 in the full profile).
    pretrain_size : int
        Source-task images the transfer chapter pretrains its backbone on.
    pretrain_epochs : int
        Epochs of that pretraining.
    transfer_epochs : int
        Epochs of each few-label training in the transfer experiment (an epoch
        repeats the labelled examples to at least 1,000 images, so every label
        count up to 1,000 gets the same number of steps).
    transfer_short_epochs : int
        Epochs of the same trainings at a short budget, where training from
        scratch is still limited by its steps.
    transfer_unfreeze_labels : int
        Label count at which the transfer chapter measures how many top blocks
        to fine-tune (one of ``transfer_label_counts``).
    transfer_unfreeze_blocks : tuple of int
        Top blocks unfrozen by each fine-tuning of that study (1 to 4; 0,
        frozen features, is always measured).
    digits_epochs : int
        Epochs of each few-label training on handwritten digits in the transfer
        chapter.
    tuning_train_size : int
        Training images of each trial of an architecture search.
    tuning_epochs : int
        Epochs of each trial (Hyperband's maximum).
    tuning_finalists : int
        Best configurations of the searches that go to the final round.
    tuning_round_size : int
        Training images of each finalist's run in that round.
    tuning_round_epochs : int
        Epochs of each of those runs (the final recipe: cosine decay, flips).
    tuning_round_seeds : int
        Seeds each finalist repeats over in that round (at least 2, the fewest
        a paired interval needs).
    tuning_final_size : int
        Training-split images of each run of the search chapter's final
        comparison (the search's winner and the lecture notes' network, each
        trained with the final recipe, then tested once); the validation images
        are added to them, since nothing is validated any more.
    tuning_final_epochs : int
        Epochs of each run of that comparison.
    tuning_final_seeds : int
        Seeds of that comparison (at least 3 in the full profile, 2 in the
        fast one; the two networks are paired by seed).
    """

    name: str
    train_size: int
    test_size: int
    epochs: int
    batch_size: int
    demo_epochs: int
    max_trials: int
    small_train_sizes: tuple[int, ...]
    compare_train_size: int
    compare_seeds: int
    separable_train_size: int
    separable_epochs: int
    stall_train_size: int
    stall_epochs: int
    final_epochs: int
    recipe_train_size: int
    recipe_epochs: int
    fcn_compare_size: int
    fcn_compare_epochs: int
    fcn_train_size: int
    fcn_epochs: int
    fcn_eval_size: int
    timing_repeats: int
    augment_sizes: tuple[int, ...]
    augment_steps: tuple[int, ...]
    transfer_label_counts: tuple[int, ...]
    transfer_seeds: int
    pretrain_size: int
    pretrain_epochs: int
    transfer_epochs: int
    transfer_short_epochs: int
    transfer_unfreeze_labels: int
    transfer_unfreeze_blocks: tuple[int, ...]
    digits_epochs: int
    tuning_train_size: int
    tuning_epochs: int
    tuning_finalists: int
    tuning_round_size: int
    tuning_round_epochs: int
    tuning_round_seeds: int
    tuning_final_size: int
    tuning_final_epochs: int
    tuning_final_seeds: int

    def __post_init__(self) -> None:
        fn = "Profile"
        if not isinstance(self.name, str):
            kind = type(self.name).__name__
            raise TypeError(f"{fn}: name must be a string; got {self.name!r} ({kind}).")
        if not self.name.strip():
            raise ValueError(f"{fn}: name must not be empty; got {self.name!r}.")
        for field in fields(self)[1:]:  # every field after the name, by its annotation
            value = getattr(self, field.name)
            if field.type == "int":
                _checks.check_int(value, fn, field.name, low=1, high=_MAX_SIZE.get(field.name))
            elif field.type == "tuple[int, ...]":
                for index, count in enumerate(_check_tuple(value, fn, field.name)):
                    _checks.check_int(count, fn, f"{field.name}[{index}]", low=1)
            else:  # a new kind of field needs its check here
                raise NotImplementedError(f"{fn}: no check for {field.name}: {field.type}")

    def as_dict(self) -> dict[str, object]:
        """Return the profile's fields as a plain dictionary."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _check_tuple(value: object, fn: str, name: str) -> tuple:
    """Return ``value`` if it is a non-empty tuple."""
    what = "a non-empty tuple"
    if not isinstance(value, tuple):
        raise TypeError(f"{fn}: {name} must be {what}; got {value!r} ({type(value).__name__}).")
    if not value:
        raise ValueError(f"{fn}: {name} must be {what}; got {value!r}.")
    return value


PROFILES: dict[str, Profile] = {
    "full": Profile(
        name="full",
        train_size=55_000,
        test_size=10_000,
        epochs=10,
        batch_size=64,
        demo_epochs=2,
        max_trials=8,
        small_train_sizes=(1_000, 5_000),
        compare_train_size=10_000,
        compare_seeds=5,
        separable_train_size=5_000,
        separable_epochs=5,
        stall_train_size=2_000,
        stall_epochs=3,
        final_epochs=6,
        recipe_train_size=8_000,
        recipe_epochs=6,
        fcn_compare_size=2_000,
        fcn_compare_epochs=4,
        fcn_train_size=8_000,
        fcn_epochs=24,
        fcn_eval_size=1_000,
        timing_repeats=7,
        augment_sizes=(1_000, 5_000),
        augment_steps=(400, 1_600),
        transfer_label_counts=(20, 100, 1_000),
        transfer_seeds=5,
        pretrain_size=20_000,
        pretrain_epochs=3,
        transfer_epochs=10,
        transfer_short_epochs=2,
        transfer_unfreeze_labels=100,
        transfer_unfreeze_blocks=(1, 2, 4),
        digits_epochs=3,
        tuning_train_size=8_000,
        tuning_epochs=3,
        tuning_finalists=2,
        tuning_round_size=8_000,
        tuning_round_epochs=2,
        tuning_round_seeds=5,
        tuning_final_size=55_000,
        tuning_final_epochs=3,
        tuning_final_seeds=3,
    ),
    "fast": Profile(
        name="fast",
        train_size=2_000,
        test_size=1_000,
        epochs=1,
        batch_size=64,
        demo_epochs=1,
        max_trials=2,
        small_train_sizes=(500,),
        compare_train_size=1_000,
        compare_seeds=2,
        separable_train_size=1_000,
        separable_epochs=1,
        stall_train_size=500,
        stall_epochs=3,
        final_epochs=1,
        recipe_train_size=500,
        recipe_epochs=2,
        fcn_compare_size=200,
        fcn_compare_epochs=1,
        fcn_train_size=1_000,
        fcn_epochs=2,
        fcn_eval_size=200,
        timing_repeats=2,
        augment_sizes=(250, 500),
        augment_steps=(8, 16),
        transfer_label_counts=(20, 100),
        transfer_seeds=2,
        pretrain_size=1_000,
        pretrain_epochs=1,
        transfer_epochs=1,
        transfer_short_epochs=1,
        transfer_unfreeze_labels=100,
        transfer_unfreeze_blocks=(1, 4),
        digits_epochs=1,
        tuning_train_size=500,
        tuning_epochs=1,
        tuning_finalists=2,
        tuning_round_size=500,
        tuning_round_epochs=1,
        tuning_round_seeds=2,
        tuning_final_size=1_000,
        tuning_final_epochs=1,
        tuning_final_seeds=2,
    ),
}


def profile(name: str | None = None) -> Profile:
    """Return the run profile named ``name``, or the one ``COURSE_PROFILE`` selects.

    Defined in chapter "Setup and data".

    Parameters
    ----------
    name : str, optional
        ``"full"`` or ``"fast"`` (case and surrounding spaces ignored). When
        omitted, the environment variable ``COURSE_PROFILE`` decides, and
        ``"full"`` when it is unset or empty.

    Raises
    ------
    TypeError
        If ``name`` is neither a string nor None.
    ValueError
        If the name (or the environment variable) is not a known profile.

    Examples
    --------
    >>> profile("fast").epochs
    1
    """
    valid = tuple(PROFILES)
    label = "name"
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip() or DEFAULT_PROFILE
        label = f"the environment variable {ENV_VAR}"
    elif not isinstance(name, str):
        raise TypeError(
            f"profile: name must be one of {valid}, or None to let {ENV_VAR} decide; "
            f"got {name!r} ({type(name).__name__})."
        )
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"profile: {label} must be one of {valid}; got {name!r}. "
            f"For example: {ENV_VAR}=fast for the quick run the tests use."
        )
    return PROFILES[key]
