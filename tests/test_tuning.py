"""Tests of course_lib.tuning: the search space, the tuners, their results, the final round."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from course_lib import augment, data, models, train, tuning
from course_lib.data import Split

from toy import toy_split

REPO = Path(__file__).resolve().parents[1]

# The lecture notes' network as a point of the search space.
SEED_VALUES = dict(
    blocks=3,
    filters_1=32,
    filters_2=64,
    filters_3=128,
    conv="mixed",
    kernel_size=3,
    batch_norm=False,
    dropout=0.0,
    head="flatten",
    dense_units=128,
    optimizer="adam",
    adam_learning_rate=1e-3,
)


def hyperparameters(**values) -> keras_tuner.HyperParameters:
    hp = keras_tuner.HyperParameters()
    hp.values.update(values)
    return hp


def random_configurations(count: int, seed: int = 0) -> list[keras_tuner.HyperParameters]:
    """Random points of the space: every value of ``hp.values`` drawn as RandomSearch draws it."""
    space = keras_tuner.HyperParameters()
    tuning.spec_from_hp(space)
    configurations = []
    for i in range(count):
        hp = keras_tuner.HyperParameters()
        for j, p in enumerate(space.space):
            hp.values[p.name] = p.random_sample(seed + 100 * i + j)
        configurations.append(hp)
    return configurations


def toy_test_split(n: int = 200) -> Split:
    """Toy images in the role of test data."""
    return toy_split(n, seed=9, name="test")


# The test set under names other than "test": the guard goes by role, not by name.
DISGUISED_TEST_SPLITS = {
    "sampled": lambda: data.sample_per_class(toy_test_split(), 50, seed=0),
    "renamed": lambda: Split(toy_test_split(64).x, toy_test_split(64).y, "holdout", role="test"),
}


@pytest.fixture(params=sorted(DISGUISED_TEST_SPLITS))
def disguised_test(request) -> Split:
    split = DISGUISED_TEST_SPLITS[request.param]()
    assert split.role == "test" and split.name != "test"
    return split


# --------------------------------------------------------------------------
# The search space
# --------------------------------------------------------------------------


def test_the_lecture_notes_network_is_in_the_space():
    hypermodel = tuning.CNNHyperModel()
    notes = hyperparameters(**SEED_VALUES)
    assert tuning.spec_from_hp(notes) == models.NOTES_SPEC.replace(
        initializer="he_normal", depthwise_initializer=models.DEPTHWISE_HE_NORMAL
    )
    assert tuning.NOTES_CNN_PARAMS == models.NOTES_CNN_PARAMS == models.NOTES_SPEC.count_params()
    assert hypermodel.count_params(notes) == tuning.NOTES_CNN_PARAMS
    assert hypermodel.architecture(notes).count_params() == tuning.NOTES_CNN_PARAMS


def test_count_params_matches_the_built_models_over_random_configurations():
    hypermodel = tuning.CNNHyperModel()
    configurations = random_configurations(20) + [keras_tuner.HyperParameters()]
    seen = set()
    for hp in configurations:
        expected = hypermodel.architecture(hp.copy()).count_params()
        assert hypermodel.count_params(hp.copy()) == expected, hp.values
        spec = tuning.spec_from_hp(hp.copy())
        seen.add((spec.conv, spec.head, spec.batch_norm, len(spec.filters)))
    # The draws cover the space's main branches.
    assert {conv for conv, *_ in seen} == set(models.CONV_KINDS)
    assert {head for _, head, *_ in seen} == set(models.HEADS)
    assert {blocks for *_, blocks in seen} == {2, 3}


def test_spec_from_hp_reads_every_choice():
    hp = hyperparameters(**{**SEED_VALUES, "blocks": 2, "conv": "separable", "kernel_size": 5,
                            "batch_norm": True, "dropout": 0.3, "head": "gap"})  # fmt: skip
    spec = tuning.spec_from_hp(hp)
    assert spec.filters == (32, 64)  # filters_3 is set but inactive with two blocks
    assert (spec.conv, spec.kernel_size, spec.batch_norm) == ("separable", 5, True)
    assert spec.head == "gap"
    assert spec.block_dropout == spec.dropout == 0.3 and spec.initializer == "he_normal"
    # separable layers start at the right size (the depthwise fan-in is k*k)
    assert spec.depthwise_initializer == models.DEPTHWISE_HE_NORMAL


def test_the_same_seed_builds_the_same_weights():
    hp = hyperparameters(**{**SEED_VALUES, "dropout": 0.2})
    first = tuning.CNNHyperModel(seed=4).architecture(hp.copy())
    second = tuning.CNNHyperModel(seed=4).architecture(hp.copy())
    other = tuning.CNNHyperModel(seed=5).architecture(hp.copy())
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first.get_weights(), other.get_weights()))
    with pytest.raises(ValueError, match="seed must be an integer"):
        tuning.CNNHyperModel(seed=-1)


def test_the_space_declares_every_hyperparameter_with_conditions():
    hp = keras_tuner.HyperParameters()
    tuning.CNNHyperModel().count_params(hp)
    names = {p.name for p in hp.space}
    assert names == {
        "blocks", "filters_1", "filters_2", "filters_3", "conv", "kernel_size", "batch_norm",
        "dropout", "head", "dense_units", "optimizer", "adam_learning_rate", "sgd_learning_rate",
    }  # fmt: skip
    by_name = {p.name: p for p in hp.space}
    # One rate range per optimizer, each declared only when its optimizer is chosen.
    for optimizer, low, high in tuning.LEARNING_RATE_RANGES:
        rate = by_name[f"{optimizer}_learning_rate"]
        assert rate.sampling == "log" and (rate.min_value, rate.max_value) == (low, high)
        assert [(c.name, c.values) for c in rate.conditions] == [("optimizer", [optimizer])]
    assert by_name["sgd_learning_rate"].min_value == 10 * by_name["adam_learning_rate"].min_value
    assert [c.name for c in by_name["filters_3"].conditions] == ["blocks"]
    assert [c.name for c in by_name["dense_units"].conditions] == ["head"]
    # Defaults: two blocks, so filters_3 is inactive and absent from the values.
    assert "filters_3" not in hp.values and hp.values["blocks"] == 2


@pytest.mark.parametrize(
    "values, layer_type, absent",
    [
        (dict(conv="separable", head="gap", optimizer="sgd"), keras.layers.SeparableConv2D,
         keras.layers.Flatten),
        (dict(conv="standard", head="flatten", batch_norm=True), keras.layers.BatchNormalization,
         keras.layers.GlobalAveragePooling2D),
    ],
)  # fmt: skip
def test_build_returns_a_compiled_ten_class_model(values, layer_type, absent):
    rate = {f"{values.get('optimizer', 'adam')}_learning_rate": 3e-3}
    model = tuning.CNNHyperModel(seed=0).build(hyperparameters(**rate, **values))
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    assert any(isinstance(layer, layer_type) for layer in model.layers)
    assert not any(isinstance(layer, absent) for layer in model.layers)
    if values["conv"] == "separable":
        assert not any(type(layer) is keras.layers.Conv2D for layer in model.layers)
    expected = keras.optimizers.SGD if values.get("optimizer") == "sgd" else keras.optimizers.Adam
    assert isinstance(model.optimizer, expected)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)
    assert model.loss == "sparse_categorical_crossentropy"


def test_build_rejects_configurations_above_the_budget():
    hypermodel = tuning.CNNHyperModel(max_params=tuning.NOTES_CNN_PARAMS)
    assert (
        hypermodel.build(hyperparameters(**SEED_VALUES)).count_params() == tuning.NOTES_CNN_PARAMS
    )
    bigger = hyperparameters(**{**SEED_VALUES, "dense_units": 256})
    with pytest.raises(
        keras_tuner.errors.FailedTrialError, match=r"above the budget max_params=265,290"
    ):
        hypermodel.build(bigger)


def test_a_budget_below_the_smallest_model_is_refused():
    with pytest.raises(ValueError, match="below the smallest model in the search space"):
        tuning.CNNHyperModel(max_params=1_000)
    with pytest.raises(TypeError, match="max_params must be an integer"):
        tuning.CNNHyperModel(max_params=2.5e5)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_compile_for_uses_the_chosen_optimizer_and_rate(optimizer):
    hp = hyperparameters(optimizer=optimizer, **{f"{optimizer}_learning_rate": 3e-3})
    model = tuning.CNNHyperModel().architecture(hp)
    assert tuning.compile_for(model, hp) is model
    expected = keras.optimizers.Adam if optimizer == "adam" else keras.optimizers.SGD
    assert isinstance(model.optimizer, expected)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)
    # The other optimizer's rate, set under the wrong name, is not silently used.
    other = "sgd" if optimizer == "adam" else "adam"
    wrong = hyperparameters(optimizer=other, **{f"{optimizer}_learning_rate": 3e-3})
    with pytest.raises(ValueError, match="have no '(adam|sgd)_learning_rate'"):
        tuning.compile_for(model, wrong)
    with pytest.raises(ValueError, match="decay_steps must be an integer >= 1"):
        tuning.compile_for(model, hp, decay_steps=0)


# --------------------------------------------------------------------------
# Tuners
# --------------------------------------------------------------------------


def test_tuning_dir_is_one_folder_per_profile(tmp_path):
    assert tuning.tuning_dir(tmp_path, "fast") == tmp_path / "fast" / "tuning"
    assert tuning.tuning_dir(profile="full") == Path("_runs") / "full" / "tuning"
    with pytest.raises(ValueError, match="'medium'"):
        tuning.tuning_dir(profile="medium")


def test_make_tuner_kinds(tmp_path):
    random = tuning.make_tuner("random", max_trials=5, epochs=2, directory=tmp_path)
    assert isinstance(random, keras_tuner.RandomSearch) and random.oracle.max_trials == 5
    assert Path(random.project_dir) == tmp_path / "random"
    bayesian = tuning.make_tuner("bayesian", max_trials=12, epochs=2, directory=tmp_path)
    assert isinstance(bayesian, keras_tuner.BayesianOptimization)
    assert bayesian.oracle.num_initial_points == 3 and bayesian.oracle.max_trials == 12
    hyperband = tuning.make_tuner("hyperband", max_trials=25, epochs=4, directory=tmp_path)
    assert isinstance(hyperband, keras_tuner.Hyperband)
    assert hyperband.oracle.max_trials == 25 and hyperband.oracle.max_epochs == 4
    assert hyperband.oracle.hyperband_iterations == 3  # 10 trials per iteration
    for tuner in (random, bayesian, hyperband):
        assert (
            tuner.oracle.objective.name == "val_accuracy"
            and tuner.oracle.objective.direction == "max"
        )
        assert tuner.hypermodel.max_params == tuning.NOTES_CNN_PARAMS
        assert tuner.hypermodel.seed is None  # no seed: not reproducible
    seeded = tuning.make_tuner(
        "random", max_trials=1, epochs=1, directory=tmp_path, project_name="s", seed=3
    )
    assert seeded.hypermodel.seed == 3 and seeded.oracle.seed == tuning.oracle_seed(3)
    with pytest.raises(ValueError, match="kind must be one of"):
        tuning.make_tuner("grid", max_trials=2, epochs=1, directory=tmp_path)
    with pytest.raises(ValueError, match="max_trials must be an integer >= 1"):
        tuning.make_tuner("random", max_trials=0, epochs=1, directory=tmp_path)
    with pytest.raises(TypeError, match="seed must be an integer"):
        tuning.make_tuner("random", max_trials=1, epochs=1, directory=tmp_path, seed=1.5)


def test_hyperband_trials_matches_keras_tuners_oracle(tmp_path):
    """Drive a HyperbandOracle with made-up scores and count its trials and epochs."""
    for max_epochs in (2, 4, 9):
        oracle = keras_tuner.oracles.HyperbandOracle(
            keras_tuner.Objective("val_accuracy", "max"), max_epochs=max_epochs, seed=1
        )
        oracle._set_project_dir(str(tmp_path), f"hb{max_epochs}")
        hp = keras_tuner.HyperParameters()
        hp.Int("x", 0, 1000)
        oracle.update_space(hp)
        trials = epochs = 0
        for step in range(200):
            trial = oracle.create_trial("tuner0")
            if trial.status == "STOPPED":
                break
            values = trial.hyperparameters.values
            trials += 1
            epochs += values["tuner/epochs"] - values["tuner/initial_epoch"]
            oracle.update_trial(trial.trial_id, {"val_accuracy": values["x"] / 1000}, step=0)
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
        assert tuning.hyperband_trials(max_epochs) == (trials, epochs), max_epochs
    assert tuning.hyperband_trials(4) == (10, 26)


def test_hyperband_trials_wants_an_integer_factor_of_at_least_two():
    with pytest.raises(TypeError, match="factor must be an integer >= 2; got 2.5"):
        tuning.hyperband_trials(4, factor=2.5)
    with pytest.raises(ValueError, match="factor must be an integer >= 2; got 1"):
        tuning.hyperband_trials(4, factor=1)
    with pytest.raises(ValueError, match="max_epochs must be an integer >= 1"):
        tuning.hyperband_trials(0)


def test_search_refuses_the_test_set_and_wrong_shapes(tmp_path):
    tuner = tuning.make_tuner("random", max_trials=1, epochs=1, directory=tmp_path)
    with pytest.raises(ValueError, match="valid must not be test data"):
        tuning.search(tuner, toy_split(32), toy_test_split(32), epochs=1)
    flat = Split(np.zeros((8, 28, 28), np.float32), np.zeros(8, int), "train")
    with pytest.raises(ValueError, match=r"Add the channel axis"):
        tuning.search(tuner, flat, toy_split(8, name="valid"), epochs=1)
    with pytest.raises(TypeError, match="must be a course_lib.data.Split"):
        tuning.search(tuner, (flat.x, flat.y), toy_split(8, name="valid"), epochs=1)
    with pytest.raises(TypeError, match="tuner must be a keras_tuner Tuner"):
        tuning.search("random", toy_split(8), toy_split(8, name="valid"), epochs=1)
    assert len(tuner.oracle.trials) == 0


def test_search_refuses_test_data_under_any_name(tmp_path, disguised_test):
    tuner = tuning.make_tuner("random", max_trials=1, epochs=1, directory=tmp_path)
    valid = toy_split(32, seed=1, name="valid")
    named = re.escape(repr(disguised_test.name))
    with pytest.raises(ValueError, match=f"valid must not be test data; split {named}"):
        tuning.search(tuner, toy_split(32), disguised_test, epochs=1)
    with pytest.raises(ValueError, match=r"train must not be test data.*data.combine"):
        tuning.search(tuner, disguised_test, valid, epochs=1)
    assert len(tuner.oracle.trials) == 0  # refused before any trial ran


@pytest.fixture(scope="module")
def small_search(tmp_path_factory):
    """Two trials of a random search on the toy task, one epoch each."""
    directory = tmp_path_factory.mktemp("tuning")
    tuner = tuning.make_tuner("random", max_trials=2, epochs=1, directory=directory, seed=3)
    started = time.perf_counter()
    tuning.search(
        tuner, toy_split(64), toy_split(32, seed=1, name="valid"), epochs=1, batch_size=32
    )
    return tuner, time.perf_counter() - started


def test_results_frame_has_one_row_per_trial(small_search):
    tuner, seconds = small_search
    frame = tuning.results_frame(tuner)
    assert list(frame["trial_id"]) == ["0", "1"]
    assert list(frame.columns[:6]) == [
        "trial_id",
        "status",
        "val_accuracy",
        "params",
        "wall_time_s",
        "epochs",
    ]
    assert {"blocks", "conv", "kernel_size", "head", "optimizer", "learning_rate"} <= set(
        frame.columns
    )
    completed = frame[frame["status"] == "COMPLETED"]
    assert len(completed) >= 1
    assert completed["val_accuracy"].between(0, 1).all() and (completed["epochs"] == 1).all()
    assert (completed["wall_time_s"] > 0).all() and completed["wall_time_s"].sum() <= seconds
    for _, row in frame.iterrows():
        hp = tuner.oracle.trials[row["trial_id"]].hyperparameters.copy()
        assert row["params"] == tuner.hypermodel.count_params(hp), hp.values
        # One learning-rate column: the rate of the optimizer the trial chose.
        assert row["learning_rate"] == tuning.chosen_learning_rate(hp)
        assert (row["params"] <= tuning.NOTES_CNN_PARAMS) == (row["status"] == "COMPLETED")
    assert not {"adam_learning_rate", "sgd_learning_rate"} & set(frame.columns)
    best = tuning.best_trial(tuner)
    assert best.status == "COMPLETED" and completed["val_accuracy"].max() == pytest.approx(
        best.score
    )


def test_results_frame_leaves_out_keras_tuners_bookkeeping(tmp_path):
    tuner = tuning.make_tuner(
        "hyperband", max_trials=2, epochs=2, directory=tmp_path, max_params=None, seed=0
    )
    tuning.search(
        tuner, toy_split(64), toy_split(32, seed=1, name="valid"), epochs=2, batch_size=32
    )
    assert any(
        k.startswith("tuner/")
        for t in tuner.oracle.trials.values()
        for k in t.hyperparameters.values
    )
    frame = tuning.results_frame(tuner)
    assert len(frame) == 2 and not [c for c in frame.columns if c.startswith("tuner/")]


# --------------------------------------------------------------------------
# build_trial and the final round
# --------------------------------------------------------------------------


def test_build_trial_builds_the_winner_afresh_for_train_fit(small_search, tmp_path):
    tuner, _ = small_search
    best = tuning.best_trial(tuner)
    hp = best.hyperparameters.copy()
    model = tuning.build_trial(tuner, seed=0)
    assert model.count_params() == tuner.hypermodel.count_params(hp.copy())
    assert model.count_params() == tuning.spec_from_hp(hp.copy()).count_params()
    assert float(model.optimizer.learning_rate) == pytest.approx(tuning.chosen_learning_rate(hp))
    # Built afresh: the same seed gives the same initial weights, untouched by the search.
    again = tuning.build_trial(tuner, best, seed=0)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    history = train.fit(model, toy_split(128), toy_split(64, seed=1, name="valid"), epochs=2,
                        run_dir=tmp_path / "retrain", verbose=0)  # fmt: skip
    assert len(history.history["loss"]) == 2 and (tmp_path / "retrain" / "best.keras").is_file()
    result = train.evaluate(model, toy_test_split(64))
    assert 0 <= result["accuracy"] <= 1


def test_build_trial_can_decay_the_learning_rate_to_zero(small_search):
    tuner, _ = small_search
    chosen = tuning.chosen_learning_rate(tuning.best_trial(tuner).hyperparameters)
    model = tuning.build_trial(tuner, seed=0, decay_steps=2 * 4)
    schedule = model.optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert schedule.decay_steps == 8 and float(schedule(0)) == pytest.approx(chosen)
    train.fit(model, toy_split(128), epochs=2, batch_size=32, verbose=0)
    assert int(model.optimizer.iterations) == 8
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)


def test_build_trial_can_put_augmentation_in_front(small_search):
    tuner, _ = small_search
    best = tuning.best_trial(tuner)
    flip = augment.pipeline(flip="horizontal", translation=0, rotation=0, zoom=0, seed=0)
    model = tuning.build_trial(tuner, seed=0, augmentation=flip)
    assert model.layers[0] is flip and model.optimizer is not None
    # No parameters added: the winner stays within the budget it was chosen under.
    assert model.count_params() == tuner.hypermodel.count_params(best.hyperparameters.copy())
    history = train.fit(model, toy_split(64), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    with pytest.raises(TypeError, match="augmentation must be a Keras layer"):
        tuning.build_trial(tuner, augmentation="flip")


def test_build_configuration_builds_any_point_like_build_trial(small_search):
    tuner, _ = small_search
    best = tuning.best_trial(tuner)
    # A trial's configuration: the same network, the same initial weights as build_trial.
    from_trial = tuning.build_trial(tuner, best, seed=3, decay_steps=10)
    from_values = tuning.build_configuration(best.hyperparameters, seed=3, decay_steps=10)
    for a, b in zip(from_trial.get_weights(), from_values.get_weights()):
        np.testing.assert_array_equal(a, b)
    # A point set by hand, never a trial: the lecture notes' network.
    notes = hyperparameters(**SEED_VALUES)
    model = tuning.build_configuration(notes, seed=0)
    assert model.count_params() == tuning.NOTES_CNN_PARAMS
    assert float(model.optimizer.learning_rate) == pytest.approx(tuning.chosen_learning_rate(notes))
    assert notes.values == hyperparameters(**SEED_VALUES).values  # not modified
    with pytest.raises(TypeError, match="build_configuration: hp must be"):
        tuning.build_configuration(dict(SEED_VALUES))


def test_train_fit_refuses_test_data_for_a_built_trial(small_search, disguised_test):
    tuner, _ = small_search
    model = tuning.build_trial(tuner, seed=0)
    with pytest.raises(ValueError, match=r"fit: train must not be test data"):
        train.fit(model, disguised_test, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"fit: valid must not be test data"):
        train.fit(model, toy_split(64), disguised_test, epochs=1, verbose=0)


def test_top_trials_ranks_distinct_configurations_and_build_trial_takes_one(small_search):
    tuner, _ = small_search
    ranked = tuning.top_trials({"random": tuner}, 5)
    frame = tuning.results_frame(tuner)
    completed = frame[frame["status"] == "COMPLETED"]
    assert [name for name, _ in ranked] == ["random"] * len(completed)
    scores = [trial.score for _, trial in ranked]
    assert (
        scores == sorted(scores, reverse=True)
        and ranked[0][1].trial_id == tuning.best_trial(tuner).trial_id
    )
    assert len(tuning.top_trials({"random": tuner}, 1)) == 1
    # The same configuration found by two tuners counts once.
    assert len(tuning.top_trials({"a": tuner, "b": tuner}, 5)) == len(completed)
    last = ranked[-1][1]
    model = tuning.build_trial(tuner, last)
    assert model.count_params() == tuner.hypermodel.count_params(last.hyperparameters.copy())
    with pytest.raises(ValueError, match="count must be an integer >= 1"):
        tuning.top_trials({"random": tuner}, 0)
    with pytest.raises(TypeError, match="non-empty dict"):
        tuning.top_trials([tuner], 1)
    stranger = keras_tuner.engine.trial.Trial(last.hyperparameters.copy(), trial_id="not-a-trial")
    with pytest.raises(ValueError, match="is not a trial of the tuner"):
        tuning.build_trial(tuner, stranger)


def test_final_round_ranks_the_finalists_by_their_new_validation_score(small_search):
    tuner, _ = small_search
    frame = tuning.final_round(
        {"random": tuner},
        toy_split(64),
        toy_split(32, seed=1, name="valid"),
        count=2,
        epochs=1,
        batch_size=32,
    )
    finalists = tuning.top_trials({"random": tuner}, 2)
    assert list(frame.columns) == [
        "tuner",
        "trial_id",
        "search_val_accuracy",
        "val_accuracy",
        "params",
        "wall_time_s",
    ]
    assert sorted(frame["trial_id"]) == sorted(trial.trial_id for _, trial in finalists)
    assert (
        frame["val_accuracy"].is_monotonic_decreasing and frame["val_accuracy"].between(0, 1).all()
    )
    for _, row in frame.iterrows():
        trial = tuner.oracle.trials[row["trial_id"]]
        assert row["search_val_accuracy"] == trial.score
        assert row["params"] == tuner.hypermodel.count_params(trial.hyperparameters.copy())
        assert row["wall_time_s"] > 0


def test_final_round_seeds_every_finalist_and_checks_the_seed(small_search, monkeypatch):
    from course_lib.tuning import retrain

    tuner, _ = small_search
    seen, build = [], retrain.build_trial

    def recording(*args, **kwargs):
        seen.append(kwargs["seed"])
        return build(*args, **kwargs)

    monkeypatch.setattr(retrain, "build_trial", recording)
    data = dict(count=2, epochs=1, batch_size=32)
    valid = toy_split(32, seed=1, name="valid")
    tuning.final_round({"random": tuner}, toy_split(64), valid, seed=7, **data)
    tuning.final_round({"random": tuner}, toy_split(64), valid, **data)
    assert seen == [7, 7, None, None]
    with pytest.raises(ValueError, match="final_round: seed must be an integer"):
        tuning.final_round({"random": tuner}, toy_split(64), valid, seed=-1, **data)


def test_final_round_refuses_test_data_under_any_name(small_search, disguised_test):
    tuner, _ = small_search
    tuners, valid = {"random": tuner}, toy_split(32, seed=1, name="valid")
    with pytest.raises(ValueError, match=r"final_round: valid must not be test data"):
        tuning.final_round(tuners, toy_split(64), disguised_test, count=1, epochs=1)
    with pytest.raises(ValueError, match=r"final_round: train must not be test data"):
        tuning.final_round(tuners, disguised_test, valid, count=1, epochs=1)
    with pytest.raises(ValueError, match=r"final_round: valid must not be test data"):
        tuning.final_round(tuners, toy_split(64), toy_test_split(32), count=1, epochs=1)


def test_the_final_training_can_use_all_the_labelled_images(small_search):
    tuner, _ = small_search
    everything = data.combine(toy_split(64), toy_split(32, seed=1, name="valid"))
    assert len(everything) == 96 and everything.role == "train"
    model = tuning.build_trial(tuner, decay_steps=2 * 3)
    history = train.fit(model, everything, epochs=2, batch_size=32, verbose=0)
    assert len(history.history["accuracy"]) == 2 and "val_accuracy" not in history.history


# --------------------------------------------------------------------------
# Over-budget trials, seeds, crashes, workers
# --------------------------------------------------------------------------


def test_over_budget_trials_score_zero_without_training(tmp_path, capfd):
    # 33,000 parameters: barely above the smallest model, so most configurations are over budget.
    tuner = tuning.make_tuner(
        "random", max_trials=4, epochs=1, directory=tmp_path, max_params=33_000, seed=0
    )
    tuning.search(tuner, toy_split(64), toy_split(32, seed=1, name="valid"), epochs=1)
    assert "Traceback" not in capfd.readouterr().err
    trials = list(tuner.oracle.trials.values())
    assert all(t.status == "COMPLETED" for t in trials)
    frame = tuning.results_frame(tuner)
    assert len(frame) == 4
    over = frame[frame["status"] == "OVER_BUDGET"]
    assert len(over) >= 3 and (over["params"] > 33_000).all()
    # The oracle saw a score of 0; the frame does not pass it off as a measured accuracy.
    assert (
        over["val_accuracy"].isna().all()
        and (over["wall_time_s"] == 0).all()
        and (over["epochs"] == 0).all()
    )
    scores = {t.trial_id: t.score for t in trials}
    assert all(scores[i] == pytest.approx(tuning.OVER_BUDGET_SCORE) for i in over["trial_id"])
    assert (frame.loc[frame["status"] == "COMPLETED", "params"] <= 33_000).all()
    if len(over) == 4:
        with pytest.raises(ValueError, match="no completed trial within the parameter budget"):
            tuning.best_trial(tuner)
        with pytest.raises(ValueError, match="no completed trial within the parameter budget"):
            tuning.build_trial(tuner)
    else:
        assert tuning.build_trial(tuner).count_params() <= 33_000
    over_trial = tuner.oracle.trials[over["trial_id"].iloc[0]]
    with pytest.raises(ValueError, match="did not complete within the parameter budget"):
        tuning.build_trial(tuner, over_trial)


def test_neighbouring_seeds_propose_different_configurations(tmp_path):
    # Keras Tuner draws value n with seed + n; unspaced, seeds 1 and 2 shared most proposals.
    proposals = {}
    for seed in (1, 2):
        tuner = tuning.make_tuner(
            "random", max_trials=3, epochs=1, directory=tmp_path, project_name=f"s{seed}", seed=seed
        )
        oracle = tuner.oracle
        proposals[seed] = [oracle.populate_space(f"t{i}")["values"] for i in range(3)]
    firsts = {
        seed: [v[f"{v['optimizer']}_learning_rate"] for v in values]
        for seed, values in proposals.items()
    }
    assert not set(firsts[1]) & set(firsts[2])
    assert (
        tuning.oracle_seed(0) == 1
        and tuning.oracle_seed(2) - tuning.oracle_seed(1) == tuning.SEED_SPACING
    )


def test_bayesian_oracle_learns_from_over_budget_trials(tmp_path):
    # A budget most of the space exceeds: with a score for every trial, the oracle
    # never proposes an over-budget configuration twice.
    tuner = tuning.make_tuner(
        "bayesian", max_trials=6, epochs=1, directory=tmp_path, max_params=33_000, seed=0
    )
    tuning.search(tuner, toy_split(64), toy_split(32, seed=1, name="valid"), epochs=1)
    frame = tuning.results_frame(tuner)
    assert len(frame) == 6 and frame["status"].isin(["COMPLETED", "OVER_BUDGET"]).all()
    over = [tuple(sorted(t.hyperparameters.values.items())) for t in tuner.oracle.trials.values()
            if t.score == pytest.approx(tuning.OVER_BUDGET_SCORE)]  # fmt: skip
    assert len(over) == len(set(over))


def test_a_crashed_trial_is_reported_with_a_warning(tmp_path, capfd):
    tuner = tuning.make_tuner(
        "random", max_trials=1, epochs=1, directory=tmp_path, max_params=None, seed=0
    )

    def crash(hp, model, *args, **kwargs):
        raise RuntimeError("simulated crash in training")  # a bug, not a rejected configuration

    tuner.hypermodel.fit = crash
    with pytest.warns(RuntimeWarning, match="1 trial\\(s\\) crashed.*simulated crash in training"):
        tuning.search(tuner, toy_split(64), toy_split(32, seed=1, name="valid"), epochs=1)
    assert "Traceback" not in capfd.readouterr().err
    assert tuning.results_frame(tuner)["status"].tolist() == ["FAILED"]


def test_results_frame_refuses_a_worker(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(free_port()))
    worker = tuning.make_tuner("random", max_trials=2, epochs=1, directory=tmp_path)
    with pytest.raises(ValueError, match="worker of a distributed search"):
        tuning.results_frame(worker)


def test_make_tuner_runs_trials_under_a_strategy(tmp_path):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    tuner = tuning.make_tuner(
        "random", max_trials=1, epochs=1, directory=tmp_path, strategy=strategy, max_params=None
    )
    assert tuner.distribution_strategy is strategy
    tuning.search(tuner, toy_split(32), toy_split(16, seed=1, name="valid"), epochs=1)
    assert list(tuning.results_frame(tuner)["status"]) == ["COMPLETED"]


# --------------------------------------------------------------------------
# Resuming an interrupted search
# --------------------------------------------------------------------------


def interrupt_second_training(tuner: keras_tuner.Tuner) -> None:
    """Press Ctrl+C at the start of the tuner's second training."""
    fit, calls = tuner.hypermodel.fit, []

    def fit_or_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fit(*args, **kwargs)

    tuner.hypermodel.fit = fit_or_interrupt


def test_an_interrupted_search_resumes_without_rerunning_finished_trials(tmp_path):
    fit_data = (toy_split(64), toy_split(32, seed=1, name="valid"))
    # No parameter budget, so every trial trains.
    options = dict(
        max_trials=3, epochs=1, directory=tmp_path, project_name="resume", max_params=None, seed=5
    )
    tuner = tuning.make_tuner("random", **options)
    interrupt_second_training(tuner)
    with pytest.raises(KeyboardInterrupt):
        tuning.search(tuner, *fit_data, epochs=1)
    first = tuning.results_frame(tuning.make_tuner("random", **options)).set_index("trial_id")
    assert list(first["status"]) == ["COMPLETED", "RUNNING"]

    resumed = tuning.make_tuner("random", **options)
    ran = []
    original = resumed.on_trial_begin
    resumed.on_trial_begin = lambda trial: (ran.append(trial.trial_id), original(trial))
    tuning.search(resumed, *fit_data, epochs=1)
    assert sorted(ran) == ["1", "2"]  # the interrupted trial again, then a new one; not trial 0
    frame = tuning.results_frame(resumed).set_index("trial_id")
    assert list(frame.index) == ["0", "1", "2"] and (frame["status"] == "COMPLETED").all()
    # Trial 0 kept its recorded results, hyperparameters and timing.
    for column in ("val_accuracy", "wall_time_s", "blocks", "conv", "learning_rate"):
        assert frame.loc["0", column] == first.loc["0", column]
    assert frame.loc["1", "conv"] == first.loc["1", "conv"]  # the same configuration, rerun
    # A finished search reloaded runs nothing more.
    again = tuning.make_tuner("random", **options)
    assert again.remaining_trials == 0
    tuning.search(again, *fit_data, epochs=1)
    assert len(tuning.results_frame(again)) == 3


# --------------------------------------------------------------------------
# Distributed search: a chief oracle and two workers on this machine
# --------------------------------------------------------------------------

PROCESS_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from course_lib import tuning
    from toy import toy_split

    tuner = tuning.make_tuner("random", max_trials=int(sys.argv[2]), epochs=1,
                              directory=sys.argv[1], project_name="distributed",
                              max_params=None, seed=7)
    ran = []
    original = tuner.on_trial_begin
    tuner.on_trial_begin = lambda trial: (ran.append(trial.trial_id), original(trial))
    train, valid = toy_split(64, 0, "train"), toy_split(32, 1, "valid")
    tuning.search(tuner, train, valid, epochs=1, batch_size=32)
    report = {"tuner_id": os.environ["KERASTUNER_TUNER_ID"], "ran": ran}
    if os.environ["KERASTUNER_TUNER_ID"] == "chief":
        frame = tuning.results_frame(tuner)
        report["trials"] = dict(zip(frame["trial_id"], frame["status"]))
    print("REPORT " + json.dumps(report), flush=True)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def test_a_chief_and_two_workers_run_every_trial_exactly_once(tmp_path):
    max_trials, timeout = 3, 240
    script = tmp_path / "search.py"
    script.write_text(PROCESS_SCRIPT)
    directory = tmp_path / "tuning"
    port = free_port()
    processes: dict[str, tuple[subprocess.Popen, Path]] = {}
    try:
        for tuner_id in ("chief", "tuner0", "tuner1"):
            env = {
                **os.environ,
                "KERASTUNER_TUNER_ID": tuner_id,
                "KERASTUNER_ORACLE_IP": "127.0.0.1",
                "KERASTUNER_ORACLE_PORT": str(port),
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO), str(REPO / "tests")]
                ),  # course_lib and toy.py
                "CUDA_VISIBLE_DEVICES": "",
            }
            log = tmp_path / f"{tuner_id}.log"
            with open(log, "w") as out:
                process = subprocess.Popen(
                    [sys.executable, str(script), str(directory), str(max_trials)],
                    cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            processes[tuner_id] = (process, log)
        deadline = time.monotonic() + timeout
        for tuner_id, (process, log) in processes.items():
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(
                    f"the distributed search did not finish within {timeout} s; "
                    f"{tuner_id}'s log:\n{tail(log)}"
                )
            assert process.returncode == 0, (
                f"{tuner_id} exited with {process.returncode}:\n{tail(log)}"
            )
    finally:
        for process, _ in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    reports = {}
    for tuner_id, (_, log) in processes.items():
        lines = [line for line in log.read_text().splitlines() if line.startswith("REPORT ")]
        assert lines, f"{tuner_id} printed no report:\n{tail(log)}"
        reports[tuner_id] = json.loads(lines[-1].removeprefix("REPORT "))
    expected = [str(i) for i in range(max_trials)]
    # The chief only serves trials; the workers ran each of them exactly once between them.
    assert reports["chief"]["ran"] == []
    ran = reports["tuner0"]["ran"] + reports["tuner1"]["ran"]
    assert sorted(ran) == expected, reports
    # The chief's oracle saw every trial finish.
    assert reports["chief"]["trials"] == {trial_id: "COMPLETED" for trial_id in expected}
    # And the results are in the shared folder, readable by a tuner made afterwards.
    frame = tuning.results_frame(
        tuning.make_tuner("random", max_trials=max_trials, epochs=1, directory=directory,
                          project_name="distributed", max_params=None, seed=7)
    )  # fmt: skip
    assert list(frame["trial_id"]) == expected and (frame["status"] == "COMPLETED").all()
    assert (frame["wall_time_s"] > 0).all()


# --------------------------------------------------------------------------
# Reading the results
# --------------------------------------------------------------------------


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial_id": ["0", "1", "2", "3", "4"],
            "status": ["COMPLETED", "FAILED", "COMPLETED", "COMPLETED", "COMPLETED"],
            "val_accuracy": [0.80, float("nan"), 0.85, 0.83, 0.90],
            "params": [50_000, 400_000, 20_000, 10_000, 200_000],
            "wall_time_s": [10.0, 0.5, 12.0, 8.0, 20.0],
        }
    )


def test_best_so_far_is_the_running_maximum_with_cumulative_time():
    progress = tuning.best_so_far(_frame())
    assert progress["trial"].tolist() == [1, 2, 3, 4, 5]
    assert progress["best_val_accuracy"].tolist() == [0.80, 0.80, 0.85, 0.85, 0.90]
    assert progress["seconds"].tolist() == [10.0, 10.5, 22.5, 30.5, 50.5]


def test_pareto_front_keeps_the_best_model_of_each_size():
    front = tuning.pareto_front(_frame())
    # 10k (0.83) -> 20k (0.85) -> 200k (0.90); 50k (0.80) is beaten by the smaller 20k model
    assert front["params"].tolist() == [10_000, 20_000, 200_000]
    assert front["val_accuracy"].tolist() == [0.83, 0.85, 0.90]


def test_result_readers_refuse_other_input():
    with pytest.raises(TypeError, match="results_frame"):
        tuning.best_so_far([0.1, 0.2])
    with pytest.raises(ValueError, match="lacks columns"):
        tuning.pareto_front(pd.DataFrame({"val_accuracy": [0.5]}))


def test_search_plots_draw_every_tuner():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib import plots

    frame = _frame().assign(tuner=["random", "random", "bayesian", "bayesian", "bayesian"])
    progress = {"random": tuning.best_so_far(frame[:2]), "bayesian": tuning.best_so_far(frame[2:])}
    fig = plots.plot_search_progress(progress)
    assert len(fig.axes) == 2 and len(fig.axes[0].get_legend().get_texts()) == 2
    fig = plots.plot_pareto(frame, tuning.pareto_front(frame), budget=265_290)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "Pareto front" in labels and "budget (265,290)" in labels


# --------------------------------------------------------------------------
# A search killed while Keras Tuner writes one of its JSON files
# --------------------------------------------------------------------------

CUT_SHORT_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras_tuner.src.utils as kt_utils
    from course_lib import tuning
    from toy import toy_split

    directory, target = sys.argv[1], sys.argv[2]
    save_json = kt_utils.save_json


    def dies_writing(path, obj):
        # Killed halfway through the write that records the end of the second trial (the
        # first one's end writes tuner0.json, without which Keras Tuner reloads nothing).
        trial_1_ended = obj.get("trial_id") == "1" and obj.get("status") == "COMPLETED"
        if path.endswith(target) and (trial_1_ended or len(obj.get("end_order", [])) == 2):
            text = json.dumps(obj)
            with open(path, "w") as f:
                f.write(text[: len(text) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return save_json(path, obj)


    kt_utils.save_json = dies_writing
    tuner = tuning.make_tuner("random", max_trials=3, epochs=1, directory=directory,
                              project_name="killed", max_params=None, seed=5)
    tuning.search(tuner, toy_split(64), toy_split(32, seed=1, name="valid"), epochs=1,
                  batch_size=32)
    sys.exit(3)  # not killed
    """
)


@pytest.mark.parametrize("target", ["oracle.json", "trial.json"])
def test_a_search_killed_while_writing_its_state_names_the_file_and_the_remedy(tmp_path, target):
    script = tmp_path / "killed.py"
    script.write_text(CUT_SHORT_SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
        "CUDA_VISIBLE_DEVICES": "",
    }
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "tuning"), target],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == -9, result.stderr[-3000:]
    project = tmp_path / "tuning" / "killed"
    damaged = project / "oracle.json" if target == "oracle.json" else project / "trial_1" / target
    options = dict(max_trials=3, epochs=1, directory=tmp_path / "tuning", project_name="killed")
    with pytest.raises(ValueError, match="cannot reload the search") as caught:
        tuning.make_tuner("random", **options)
    message = str(caught.value)
    assert str(damaged) in message and "cut short" in message
    assert f"delete the folder {project}" in message and "overwrite=True" in message
    # The remedy works.
    assert len(tuning.make_tuner("random", overwrite=True, **options).oracle.trials) == 0


def test_search_refuses_labels_the_space_cannot_learn(tmp_path):
    tuner = tuning.make_tuner("random", max_trials=1, epochs=1, directory=tmp_path, seed=0)
    train, valid = toy_split(32), toy_split(16, seed=1, name="valid")
    bad = Split(train.x, train.y + 10, "train")  # labels 10..13: not one of the ten classes
    with pytest.raises(ValueError, match="search: .*train"):
        tuning.search(tuner, bad, valid, epochs=1)
    assert len(tuner.oracle.trials) == 0, "no trial should run on labels outside the classes"


def test_search_hides_only_the_warnings_it_raises_by_design():
    from course_lib.tuning.tuners import HARMLESS_WARNINGS, _harmless_warnings_silenced

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _harmless_warnings_silenced():
            for start in HARMLESS_WARNINGS:
                warnings.warn(f"{start} 0 of parameter ...", UserWarning, stacklevel=1)
            warnings.warn("a warning that matters", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["a warning that matters"]
