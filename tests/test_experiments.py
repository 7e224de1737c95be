"""Tests of course_lib.experiments: known answers from scipy.stats and t tables, every
branch of verdict, run() on toy conditions, and refused inputs."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from course_lib import experiments
from course_lib.experiments import Difference, paired_difference, run, summarize, verdict


def frame_of(values: dict[str, list[float]], seeds: list[int] | None = None) -> pd.DataFrame:
    """A tidy frame as run() returns it: one row per (condition, seed)."""
    rows = []
    for condition, column in values.items():
        for seed, value in zip(seeds or range(len(column)), column):
            rows.append({"condition": condition, "seed": seed, "accuracy": value})
    return pd.DataFrame(rows)


def difference(mean: float, low: float, high: float, confidence: float = 0.95) -> Difference:
    return Difference("accuracy", "a", "b", (0, 1, 2), mean, 0.01, low, high, confidence)


# --- summarize ---------------------------------------------------------------------------


def test_summarize_matches_a_t_table_and_scipy():
    summary = summarize(frame_of({"a": [1.0, 2.0, 3.0, 4.0, 5.0]}), "accuracy")
    row = summary.loc["a"]
    assert row["n"] == 5 and row["mean"] == pytest.approx(3.0)
    assert row["std"] == pytest.approx(math.sqrt(2.5))  # ddof=1: sum of squares 10 over 4
    # t(0.975, 4 degrees of freedom) = 2.776 in every t table.
    half = (row["ci_high"] - row["ci_low"]) / 2
    assert half / (math.sqrt(2.5) / math.sqrt(5)) == pytest.approx(2.776, abs=1e-3)
    low, high = stats.t.interval(0.95, 4, loc=3.0, scale=stats.sem([1, 2, 3, 4, 5]))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_summarize_interval_at_every_level_matches_scipy(confidence):
    values = np.random.default_rng(1).normal(0.9, 0.02, size=7)
    summary = summarize(frame_of({"a": list(values)}), "accuracy", confidence=confidence)
    expected = stats.t.interval(confidence, 6, loc=values.mean(), scale=stats.sem(values))
    assert tuple(summary.loc["a", ["ci_low", "ci_high"]]) == pytest.approx(expected)
    assert summary.loc["a", "std"] == pytest.approx(values.std(ddof=1))


def test_summarize_keeps_the_order_of_the_conditions_and_other_groupings():
    frame = frame_of({"zeta": [0.5, 0.7], "alpha": [0.1, 0.3, 0.2]})
    summary = summarize(frame, "accuracy")
    assert list(summary.index) == ["zeta", "alpha"] and summary.index.name == "condition"
    assert list(summary.columns) == ["n", "mean", "std", "ci_low", "ci_high"]
    assert list(summary["n"]) == [2, 3]
    by_seed = summarize(frame, "accuracy", by="seed")
    assert by_seed.index.name == "seed" and list(by_seed["n"]) == [2, 2, 1]


def test_summarize_of_a_single_run_has_no_interval():
    row = summarize(frame_of({"a": [0.9]}), "accuracy").loc["a"]
    assert row["n"] == 1 and row["mean"] == 0.9
    assert np.isnan(row["std"]) and np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


def test_summarize_refuses_bad_inputs():
    frame = frame_of({"a": [0.9, 0.8]})
    with pytest.raises(TypeError, match="summarize: frame must be a pandas DataFrame"):
        summarize(frame.to_dict(), "accuracy")
    with pytest.raises(ValueError, match="frame has no column 'loss'"):
        summarize(frame, "loss")
    with pytest.raises(ValueError, match="no column 'model'"):
        summarize(frame, "accuracy", by="model")
    with pytest.raises(TypeError, match="column names"):
        summarize(frame, "accuracy", by=["condition"])
    with pytest.raises(TypeError, match="metric 'condition' must be numeric"):
        summarize(frame, "condition")
    with pytest.raises(ValueError, match=r"confidence must be a number in \(0, 1\)"):
        summarize(frame, "accuracy", confidence=95)
    with pytest.raises(TypeError, match="confidence"):
        summarize(frame, "accuracy", confidence="95%")
    frame.loc[1, "accuracy"] = np.nan
    with pytest.raises(ValueError, match="NaN values, in rows \\[1\\]"):
        summarize(frame, "accuracy")


# --- paired_difference -------------------------------------------------------------------


def test_paired_difference_is_the_interval_of_scipys_paired_t_test():
    outcomes = set()
    for seed in range(8):  # p-values from 0.01 to 0.58: some intervals exclude 0, some not
        rng = np.random.default_rng(seed)
        base = rng.normal(0.9, 0.02, size=6)  # the seed's effect, shared by both conditions
        a, b = base + rng.normal(0, 0.005, 6), base + rng.normal(0.006, 0.005, 6)
        frame = frame_of({"a": list(a), "b": list(b)})
        test = stats.ttest_rel(b, a)
        for confidence in (0.9, 0.95):
            d = paired_difference(frame, "accuracy", "a", "b", confidence=confidence)
            expected = test.confidence_interval(confidence)
            assert (d.ci_low, d.ci_high) == pytest.approx((expected.low, expected.high))
            assert d.mean == pytest.approx(np.mean(b - a))
            assert d.std == pytest.approx(np.std(b - a, ddof=1))
            assert d.mean / (d.std / math.sqrt(d.n)) == pytest.approx(test.statistic)
            excludes_zero = d.ci_low > 0 or d.ci_high < 0
            assert excludes_zero == (test.pvalue < 1 - confidence)
            assert verdict(d).startswith("better" if excludes_zero else "no difference")
            outcomes.add(excludes_zero)
    assert outcomes == {True, False}


def test_paired_difference_is_b_minus_a_on_the_shared_seeds():
    frame = pd.concat(
        [
            frame_of({"base": [0.80, 0.90, 0.85, 0.70]}, seeds=[3, 1, 2, 9]),
            frame_of({"new": [0.93, 0.86, 0.82]}, seeds=[2, 3, 1]),
        ]
    )
    d = paired_difference(frame, "accuracy", "base", "new")
    assert d.seeds == (1, 2, 3) and d.n == 3  # seed 9 ran only with "base"
    assert (d.a, d.b, d.metric, d.confidence) == ("base", "new", "accuracy", 0.95)
    diffs = np.array([0.82 - 0.90, 0.93 - 0.85, 0.86 - 0.80])  # seeds 1, 2, 3
    assert d.mean == pytest.approx(diffs.mean())
    reverse = paired_difference(frame, "accuracy", "new", "base")
    assert reverse.mean == pytest.approx(-d.mean)
    assert (reverse.ci_low, reverse.ci_high) == pytest.approx((-d.ci_high, -d.ci_low))


def test_paired_difference_is_narrower_than_the_unpaired_intervals():
    # The seed moves both conditions by a lot; the difference is a steady +0.01.
    base = [0.80, 0.95, 0.70, 0.88]
    frame = frame_of({"a": base, "b": [v + 0.01 for v in base]})
    d = paired_difference(frame, "accuracy", "a", "b")
    assert d.mean == pytest.approx(0.01) and d.std == pytest.approx(0, abs=1e-12)
    summary = summarize(frame, "accuracy")
    assert summary.loc["b", "ci_low"] < summary.loc["a", "ci_high"]  # the two intervals overlap
    assert verdict(d) == "better by 1.0 points (95% CI 1.0 to 1.0)"


def test_paired_difference_refuses_bad_inputs():
    frame = frame_of({"a": [0.9, 0.8, 0.7], "b": [0.91, 0.82, 0.7]})
    with pytest.raises(TypeError, match="paired_difference: frame must be a pandas DataFrame"):
        paired_difference([1, 2], "accuracy", "a", "b")
    with pytest.raises(ValueError, match="frame has no condition 'c'; it has \\['a', 'b'\\]"):
        paired_difference(frame, "accuracy", "a", "c")
    with pytest.raises(ValueError, match="two different conditions"):
        paired_difference(frame, "accuracy", "a", "a")
    with pytest.raises(ValueError, match="no column 'seed'"):
        paired_difference(frame.drop(columns="seed"), "accuracy", "a", "b")
    with pytest.raises(ValueError, match="confidence"):
        paired_difference(frame, "accuracy", "a", "b", confidence=0)
    one_shared = frame_of({"a": [0.9, 0.8], "b": [0.9, 0.8]}, seeds=[0, 1])
    one_shared.loc[2:, "seed"] = [1, 5]
    with pytest.raises(ValueError, match="share 1 seed\\(s\\) \\(\\[1\\]\\); an interval needs"):
        paired_difference(one_shared, "accuracy", "a", "b")
    twice = pd.concat([frame, frame_of({"a": [0.5]})])
    with pytest.raises(ValueError, match="'a' has several rows for the seeds \\[0\\]"):
        paired_difference(twice, "accuracy", "a", "b")
    frame.loc[4, "accuracy"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        paired_difference(frame, "accuracy", "a", "b")


# --- verdict -----------------------------------------------------------------------------


def test_verdict_in_the_words_of_the_prose():
    assert verdict(difference(0.021, 0.012, 0.030)) == "better by 2.1 points (95% CI 1.2 to 3.0)"
    assert verdict(difference(-0.021, -0.030, -0.012)) == "worse by 2.1 points (95% CI 1.2 to 3.0)"
    assert (
        verdict(difference(0.0015, -0.008, 0.011))
        == "no difference this experiment can detect (95% CI -0.8 to +1.1)"
    )
    # An interval that reaches 0 contains it.
    assert verdict(difference(0.01, 0.0, 0.02)).startswith("no difference")
    assert verdict(difference(0.02, 0.01, 0.03, confidence=0.9)).endswith("(90% CI 1.0 to 3.0)")


def test_verdict_for_a_metric_that_should_go_down():
    faster = difference(-0.25, -0.4, -0.1)  # b takes 0.25 s less than a
    assert (
        verdict(faster, unit="s", scale=1, digits=2, higher_is_better=False)
        == "better by 0.25 s (95% CI 0.10 to 0.40)"
    )
    assert (
        verdict(difference(0.03, 0.01, 0.05), unit="", scale=1, digits=2, higher_is_better=False)
        == "worse by 0.03 (95% CI 0.01 to 0.05)"
    )
    assert verdict(difference(0.0, -0.1, 0.2), scale=1, higher_is_better=False) == (
        "no difference this experiment can detect (95% CI -0.1 to +0.2)"
    )


def test_verdict_refuses_bad_inputs():
    d = difference(0.02, 0.01, 0.03)
    with pytest.raises(TypeError, match="verdict: difference must be a Difference"):
        verdict(0.02)
    with pytest.raises(ValueError, match="scale must be a number > 0"):
        verdict(d, scale=0)
    with pytest.raises(ValueError, match="digits must be an integer >= 0"):
        verdict(d, digits=-1)
    with pytest.raises(TypeError, match="digits must be an integer"):
        verdict(d, digits=1.0)
    with pytest.raises(TypeError, match="unit must be a str"):
        verdict(d, unit=None)
    with pytest.raises(ValueError, match="higher_is_better must be one of"):
        verdict(d, higher_is_better="yes")
    with pytest.raises(ValueError, match="finite interval"):
        verdict(difference(0.02, math.nan, math.nan))
    with pytest.raises(TypeError):
        verdict(d, "points")  # everything after the difference is keyword-only


def test_difference_is_frozen():
    with pytest.raises(AttributeError):
        difference(0.02, 0.01, 0.03).mean = 0.5


# --- run ---------------------------------------------------------------------------------


def test_run_interleaves_the_conditions_seed_by_seed():
    calls = []

    def condition(name, offset):
        def one_run(seed):
            calls.append((name, seed))
            return {"accuracy": 0.9 + offset + 0.001 * seed, "loss": np.float32(0.5)}

        return one_run

    frame = run({"base": condition("base", 0.0), "new": condition("new", 0.02)}, seeds=[7, 3, 5])
    assert calls == [("base", 7), ("new", 7), ("base", 3), ("new", 3), ("base", 5), ("new", 5)]
    assert list(frame.columns) == ["condition", "seed", "accuracy", "loss", "wall_time_s"]
    assert list(frame["condition"]) == [name for name, _ in calls]
    assert list(frame["seed"]) == [7, 7, 3, 3, 5, 5] and frame["seed"].dtype == np.int64
    assert frame["loss"].dtype == np.float64 and (frame["wall_time_s"] >= 0).all()
    d = paired_difference(frame, "accuracy", "base", "new")
    assert d.mean == pytest.approx(0.02) and verdict(d).startswith("better by 2.0 points")


def test_run_records_the_wall_time_of_each_call():
    def slow(seed):
        time.sleep(0.05)
        return {"accuracy": 0.5}

    frame = run({"slow": slow, "fast": lambda seed: {"accuracy": 0.5}}, seeds=range(2))
    times = frame.set_index("condition")["wall_time_s"]
    assert (times["slow"] >= 0.05).all() and times["fast"].max() < times["slow"].min()


def test_run_accepts_numpy_seeds_and_numbers():
    frame = run({"a": lambda seed: {"m": np.array(seed * 1.5)}}, seeds=np.arange(3))
    assert list(frame["seed"]) == [0, 1, 2] and list(frame["m"]) == [0.0, 1.5, 3.0]
    assert isinstance(frame["seed"][0], np.integer)


def test_run_refuses_bad_conditions_and_seeds():
    ok = {"a": lambda seed: {"accuracy": 0.5}}
    with pytest.raises(TypeError, match="run: conditions must be \\{name: function of a seed\\}"):
        run([lambda seed: {}], seeds=range(2))
    with pytest.raises(TypeError, match="conditions must be"):
        run({"a": 0.5}, seeds=range(2))
    with pytest.raises(ValueError, match="at least one condition"):
        run({}, seeds=range(2))
    with pytest.raises(ValueError, match="run: seeds must be distinct"):
        run(ok, seeds=[0, 1, 0])
    with pytest.raises(ValueError, match="at least one"):
        run(ok, seeds=[])
    with pytest.raises(ValueError, match="every seed must be an integer in \\[0, 4294967295\\]"):
        run(ok, seeds=[-1])
    with pytest.raises(TypeError, match="every seed must be an integer"):
        run(ok, seeds=[0, 1.0])
    with pytest.raises(TypeError, match="seeds must be a sequence of integers"):
        run(ok, seeds=5)
    with pytest.raises(TypeError, match="seeds must be a sequence"):
        run(ok, seeds="012")


def test_run_refuses_runs_that_do_not_return_metrics():
    seeds = range(2)
    with pytest.raises(TypeError, match="condition 'a' with seed 0 must return \\{metric: number"):
        run({"a": lambda seed: 0.5}, seeds)
    with pytest.raises(TypeError, match="returned accuracy='high'; a metric is one number"):
        run({"a": lambda seed: {"accuracy": "high"}}, seeds)
    with pytest.raises(TypeError, match="a metric is one number"):
        run({"a": lambda seed: {"accuracy": [0.5, 0.6]}}, seeds)
    with pytest.raises(TypeError, match="a metric is one number"):
        run({"a": lambda seed: {"accuracy": True}}, seeds)
    with pytest.raises(ValueError, match="returned a metric named 'seed'"):
        run({"a": lambda seed: {"seed": seed}}, seeds)
    changing = {"a": lambda seed: {"accuracy": 0.5} if seed == 0 else {"acc": 0.5}}
    with pytest.raises(ValueError, match="condition 'a' with seed 1 returned \\['acc'\\]"):
        run(changing, seeds)


def test_the_public_names():
    assert set(experiments.__all__) == {
        "run",
        "summarize",
        "Difference",
        "paired_difference",
        "verdict",
        "gap_reading",
    }


def test_gap_reading_follows_the_verdict_on_validation_accuracy():
    def diff(low: float, high: float) -> Difference:
        return Difference(
            "accuracy", "without", "with", (0, 1), (low + high) / 2, 0.01, low, high, 0.95
        )

    assert experiments.gap_reading(diff(0.01, 0.03), 0.16, 0.07).startswith("less overfitting")
    assert experiments.gap_reading(diff(-0.03, -0.01), 0.16, 0.07).startswith("underfitting")
    assert experiments.gap_reading(diff(-0.01, 0.01), 0.16, 0.07) == (
        "a smaller gap, with no detectable change of validation accuracy"
    )
    assert experiments.gap_reading(diff(0.01, 0.03), 0.05, 0.07) == "no smaller gap"
    with pytest.raises(TypeError, match="difference must be a Difference"):
        experiments.gap_reading(0.02, 0.16, 0.07)
