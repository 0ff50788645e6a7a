"""The effect by days since exposure and its novelty/primacy trend (prodops_lib.experiments.novelty)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from prodops_lib.experiments import ExperimentSpec, MetricSpec, analyse_experiment
from prodops_lib.experiments.aggregate_frame import collect_frame
from prodops_lib.experiments.novelty import (
    effect_by_exposure_day,
    novelty_trends,
    trends_frame,
    weighted_slope,
)
from prodops_lib.labels import COLUMN_LABELS

from .test_paths import MESSY_SPEC, assert_same_frames, messy_units

START = pd.Timestamp("2026-09-01")
SPEC = ExperimentSpec(name="novelty", unit="user_id", timestamp_column="exposed_at",
                      metrics=[MetricSpec("converted", kind="proportion", role="primary")])


def cohort_units(seed: int, lift_at_start: float, slope: float, n: int = 80_000, days: int = 14) -> pd.DataFrame:
    """Units first exposed over ``days`` days; among the units exposed ``a`` days before the last
    day, B's conversion over the control's 20% is ``(1 + lift_at_start) * exp(slope * a)``: a
    negative slope is a novelty effect (the lift fades the longer units have had the change)."""
    rng = np.random.default_rng(seed)
    day = rng.integers(0, days, n)
    variant = rng.choice(["control", "B"], n)
    ratio = (1 + lift_at_start) * np.exp(slope * (days - 1 - day))
    rate = 0.20 * np.where(variant == "B", ratio, 1.0)
    return pd.DataFrame({"user_id": np.arange(n), "variant": variant, "converted": (rng.random(n) < rate).astype(int),
                         "exposed_at": START + pd.to_timedelta(day * 86400 + rng.uniform(0, 86399, n), unit="s")})


def trend_of(data: pd.DataFrame, spec: ExperimentSpec = SPEC):
    [trend] = novelty_trends(effect_by_exposure_day(collect_frame(data, spec), spec), spec)
    return trend


def test_the_weighted_slope_equals_statsmodels_wls():
    x = np.arange(7.0)
    y = np.array([0.052, 0.047, 0.061, 0.038, 0.030, 0.041, 0.022])
    se = np.array([0.010, 0.011, 0.009, 0.012, 0.010, 0.013, 0.011])
    fit = weighted_slope(x, y, se)
    # statsmodels 0.15: WLS(y, add_constant(x), weights=1/se**2).fit()
    assert fit["slope"] == pytest.approx(-0.005118294178794475, abs=1e-12)
    assert fit["se"] == pytest.approx(0.0018578769157272432, abs=1e-12)
    assert [fit["ci_low"], fit["ci_high"]] == pytest.approx([-0.009894118831210946, -0.00034246952637800344], abs=1e-12)
    assert fit["p_value"] == pytest.approx(0.04007567819792465, abs=1e-12)
    live = sm.WLS(y, sm.add_constant(x), weights=1 / se**2).fit()
    assert abs(fit["slope"] - live.params[1]) < 1e-9 and abs(fit["se"] - live.bse[1]) < 1e-9
    assert abs(fit["p_value"] - live.pvalues[1]) < 1e-9


def test_the_trend_of_an_analysis_equals_statsmodels_wls_on_its_own_cohort_effects():
    analysis = analyse_experiment(cohort_units(1, 0.2, -0.01), SPEC)
    cohorts = analysis.by_exposure_day
    [trend] = analysis.novelty
    # the trend is fitted to each cohort's log(variant / control), weighted by its delta-method variance
    np.testing.assert_allclose(cohorts["fitted_value"], np.log1p(cohorts["effect"]), rtol=1e-12)
    live = sm.WLS(cohorts["fitted_value"], sm.add_constant(cohorts["days_exposed"]),
                  weights=cohorts["fitted_se"] ** -2).fit()
    assert abs(trend.slope_per_day - live.params.iloc[1]) < 1e-9
    assert abs(trend.slope_se - live.bse.iloc[1]) < 1e-9
    assert [trend.slope_ci_low, trend.slope_ci_high] == pytest.approx(live.conf_int().iloc[1].tolist(), abs=1e-9)
    fitted = live.params.iloc[0] + live.params.iloc[1] * cohorts["days_exposed"]
    np.testing.assert_allclose(cohorts["trend_line"], np.expm1(fitted), atol=1e-9)
    assert trend.change_per_day == pytest.approx(np.expm1(live.params.iloc[1]), abs=1e-12)


def test_each_cohort_effect_is_the_lift_among_the_units_exposed_that_day():
    data = cohort_units(3, 0.1, 0.0, n=20_000, days=5)
    cohorts = effect_by_exposure_day(collect_frame(data, SPEC), SPEC)
    day = data["exposed_at"].dt.normalize()
    for _, row in cohorts.iterrows():
        units = data[day == row["day"]]
        rates = units.groupby("variant")["converted"].mean()
        counts = units.groupby("variant")["converted"].agg(["mean", "size"])
        assert row["effect"] == pytest.approx(rates["B"] / rates["control"] - 1, abs=1e-12)
        assert row["days_exposed"] == (day.max() - row["day"]).days
        # delta method for the log of a ratio of two independent proportions
        var = {v: counts.loc[v, "mean"] * (1 - counts.loc[v, "mean"]) / counts.loc[v, "size"] for v in rates.index}
        expected_se = np.sqrt(var["B"] / rates["B"] ** 2 + var["control"] / rates["control"] ** 2)
        assert row["fitted_se"] == pytest.approx(expected_se, rel=2e-3)
        assert row["fitted_value"] == pytest.approx(np.log(rates["B"] / rates["control"]), abs=1e-12)
    assert sorted(cohorts["days_exposed"]) == [0, 1, 2, 3, 4]


def test_a_planted_fading_effect_is_detected_and_a_constant_one_is_not_beyond_the_nominal_rate():
    fading = [trend_of(cohort_units(seed, 0.20, -0.015)) for seed in range(30)]
    assert sum(trend.verdict == "novelty" for trend in fading) >= 27  # measured: 30 of 30
    # the planted slope (the ratio falls by 1.5% a day) sits inside the 95% interval about 95% of the time
    assert sum(trend.slope_ci_low < -0.015 < trend.slope_ci_high for trend in fading) >= 26  # measured: 28 of 30
    constant = [trend_of(cohort_units(seed, 0.10, 0.0)) for seed in range(100, 200)]
    false_alarms = sum(trend.verdict != "none" for trend in constant)
    # 5% expected; P(Binomial(100, 0.05) > 10) = 1.1%; measured: 6 here, 55 of 1,000 (5.5%) over seeds 2000-2999
    assert false_alarms <= 10


def test_the_page_says_novelty_for_a_fading_lift_primacy_for_a_growing_one_and_nothing_for_a_constant_one():
    from prodops_lib.experiments.report import novelty_block

    fading = analyse_experiment(cohort_units(1, 0.20, -0.015), SPEC)
    page = str(novelty_block(fading))
    assert "The lift of B on converted shrinks by about 1." in page and "points per extra day of exposure (95% CI −" in page
    assert "a novelty effect is likely" in page and "<img" in page
    growing = analyse_experiment(cohort_units(1, 0.0, 0.015), SPEC)
    assert "a primacy (learning) effect is likely" in str(novelty_block(growing))
    # the same fading numbers on a metric where lower is better: an effect that grows less bad is primacy
    lower_is_better = dataclasses.replace(SPEC, metrics=[dataclasses.replace(SPEC.metrics[0], direction="decrease")])
    assert analyse_experiment(cohort_units(1, 0.20, -0.015), lower_is_better).novelty[0].verdict == "primacy"
    constant = analyse_experiment(cohort_units(101, 0.10, 0.0), SPEC)
    assert "shows no clear sign of a novelty or primacy effect: across 14 daily cohorts" in str(novelty_block(constant))


def test_too_few_exposure_days_is_said_and_no_timestamp_shows_nothing():
    from prodops_lib.experiments.report import novelty_block

    two_days = analyse_experiment(cohort_units(0, 0.1, 0.0, n=5000, days=2), SPEC)
    assert two_days.novelty == []
    assert "cannot be tested: it needs units in both arms on at least 3 different exposure days" in str(novelty_block(two_days))
    untimed = analyse_experiment(cohort_units(0, 0.1, 0.0, n=5000), dataclasses.replace(SPEC, timestamp_column=None))
    assert untimed.by_exposure_day is None and str(novelty_block(untimed)) == ""


def test_the_tables_are_saved_with_pm_labels_and_the_paths_agree(tmp_path):
    data = messy_units()
    from_frame = analyse_experiment(data, MESSY_SPEC, random_state=3)
    path = tmp_path / "messy.parquet"
    data.to_parquet(path, index=False)
    from_parquet = analyse_experiment(path, MESSY_SPEC, random_state=3)
    keys = ["metric", "variant", "day"]
    assert_same_frames(from_frame.by_exposure_day, from_parquet.by_exposure_day, keys)
    assert_same_frames(trends_frame(from_frame.novelty), trends_frame(from_parquet.novelty), ["metric", "variant"])
    tables = from_frame.tables()
    assert {"metric", "variant", "days_exposed", "effect", "trend_line"} <= set(tables["effect_by_exposure_day"].columns)
    assert set(tables["novelty_trend"]["metric"]) == {"converted", "revenue", "spend", "orders_per_session"}
    for name in ("effect_by_exposure_day", "novelty_trend"):
        unlabelled = [column for column in tables[name].columns if column not in COLUMN_LABELS]
        assert unlabelled == [], name


def test_the_primary_metrics_trends_are_adjusted_over_its_variants_with_the_experiments_correction():
    from prodops_lib.experiments.corrections import adjust_p_values

    data = cohort_units(1, 0.20, -0.015)
    third = cohort_units(2, 0.0, 0.0).assign(variant=lambda frame: frame["variant"].replace({"B": "C"}),
                                             user_id=lambda frame: frame["user_id"] + len(data))
    both = pd.concat([data, third[third["variant"] == "C"]], ignore_index=True)
    spec = dataclasses.replace(SPEC, metrics=[*SPEC.metrics, MetricSpec("spare", column="converted")])
    trends = analyse_experiment(both, spec).novelty
    primary = [trend for trend in trends if trend.metric == "converted"]
    assert [trend.variant for trend in primary] == ["B", "C"]
    holm = adjust_p_values([trend.slope_p_value for trend in primary], "holm")
    assert [trend.slope_p_value_adjusted for trend in primary] == pytest.approx(holm.tolist(), abs=1e-15)
    assert all(trend.family_size == 2 and trend.correction == "holm" for trend in primary)
    # other metrics keep their own p-value; they are in novelty_trend.csv, not on the page
    assert all(t.slope_p_value_adjusted == t.slope_p_value and t.family_size == 1 for t in trends if t.metric == "spare")
