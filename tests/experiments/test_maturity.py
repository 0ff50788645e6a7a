"""Retention-style metrics count only mature units: exposed at least ``maturity_days`` before the end."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from prodops_lib.experiments import (
    ExperimentSpec,
    MetricSpec,
    analyse_aggregates,
    analyse_experiment,
)
from prodops_lib.io import InputError

from .test_paths import MESSY_SPEC, assert_same_frames, messy_units

START = pd.Timestamp("2026-09-01")
TRUE_RETENTION = {"control": 0.30, "B": 0.33}


def retention_units(n: int = 40_000, days: int = 28, seed: int = 5) -> pd.DataFrame:
    """Units exposed uniformly over ``days`` days; each comes back on its 7th day with the
    variant's true rate. As an export records it, a unit whose 7th day is after the last
    exposure day has ``retained_7`` = 0: it has not come back *yet*."""
    rng = np.random.default_rng(seed)
    variant = rng.choice(["control", "B"], n)
    exposed_at = START + pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s")
    will_return = rng.random(n) < np.where(variant == "B", TRUE_RETENTION["B"], TRUE_RETENTION["control"])
    last_day = exposed_at.normalize().max()
    observed = exposed_at.normalize() + pd.Timedelta(days=7) <= last_day
    return pd.DataFrame({"user_id": np.arange(n), "variant": variant, "exposed_at": exposed_at,
                         "retained_7": (will_return & observed).astype(int)})


def retention_spec(maturity_days: int | None, **overrides) -> ExperimentSpec:
    return ExperimentSpec(name="retention", unit="user_id", timestamp_column="exposed_at", metrics=[
        MetricSpec("retained_7", kind="proportion", role="primary", maturity_days=maturity_days)], **overrides)


def test_the_mature_cohort_recovers_the_planted_retention_and_the_naive_rate_is_biased_down():
    data = retention_units()
    naive = analyse_experiment(data, retention_spec(None)).results.iloc[0]
    mature = analyse_experiment(data, retention_spec(7)).results.iloc[0]
    # exposure days 0..27, the end day is day 27: units of days 0..20 are mature, 21/28 of them
    mature_share = (data["exposed_at"].dt.normalize() <= START + pd.Timedelta(days=20)).mean()
    assert mature_share == pytest.approx(21 / 28, abs=0.01)
    # naive: every immature unit counts as "not retained", so the rate is the truth x the mature share
    assert naive["mean_control"] == pytest.approx(TRUE_RETENTION["control"] * mature_share, abs=0.01)
    assert naive["mean_control"] < 0.24 and naive["abs_effect"] < 0.03 * 0.8
    # mature cohort: the planted rates and the planted +3 points, inside the intervals
    assert mature["mean_control"] == pytest.approx(TRUE_RETENTION["control"], abs=0.01)
    assert mature["mean_variant"] == pytest.approx(TRUE_RETENTION["B"], abs=0.01)
    assert mature["abs_ci_low"] < 0.03 < mature["abs_ci_high"]
    assert mature["n_control"] + mature["n_variant"] == pytest.approx(len(data) * mature_share, abs=1)


def test_immature_units_are_counted_in_the_drops_with_their_reason_and_the_end_date_moves_the_cutoff():
    data = retention_units(n=5000)
    days = data["exposed_at"].dt.normalize()
    result = analyse_experiment(data, retention_spec(7))
    expected = int((days > START + pd.Timedelta(days=20)).sum())
    assert result.drops[["reason", "rows"]].to_dict("records") == [
        {"reason": "metric 'retained_7': not yet mature for a day-7 metric (exposed after 2026-09-21)", "rows": expected}]
    # an end_date: the cutoff is end_date - 7 days, and units after it (even after the end) are left out
    result = analyse_experiment(data, retention_spec(7, end_date=dt.date(2026, 9, 20)))
    [row] = result.drops.to_dict("records")
    assert row["reason"] == "metric 'retained_7': not yet mature for a day-7 metric (exposed after 2026-09-13)"
    assert row["rows"] == int((days > pd.Timestamp("2026-09-13")).sum())


def test_immature_units_may_have_no_value_yet_and_units_without_a_readable_time_are_not_mature():
    data = retention_units(n=3000).astype({"retained_7": float, "exposed_at": object})
    young = pd.to_datetime(data["exposed_at"]).dt.normalize() > START + pd.Timedelta(days=20)
    data.loc[young, "retained_7"] = np.nan  # not happened yet: missing, not 0 (missing: error is the default)
    data.loc[data.index[~young][:4], "exposed_at"] = "not a time"
    result = analyse_experiment(data, retention_spec(7))
    [row] = result.drops.to_dict("records")
    assert row["rows"] == int(young.sum()) + 4
    assert int(result.results["n_control"].iloc[0] + result.results["n_variant"].iloc[0]) == len(data) - row["rows"]


def test_maturity_gives_the_same_numbers_and_drops_from_parquet_csv_and_pandas(tmp_path):
    data = messy_units()
    rng = np.random.default_rng(0)
    data["retained_7"] = (rng.random(len(data)) < 0.3).astype(float)
    young = data["exposed_at"] >= pd.Timestamp("2026-09-05")  # 7 exposure days; the last is 09-07
    data.loc[young & (rng.random(len(data)) < 0.5), "retained_7"] = np.nan
    spec = dataclasses.replace(MESSY_SPEC, metrics=[*MESSY_SPEC.metrics,
        MetricSpec("retained_7", kind="proportion", maturity_days=3),
        MetricSpec("revenue_mature", column="revenue", maturity_days=2, missing="drop", winsorize_upper=0.99),
        MetricSpec("orders_mature", kind="ratio", numerator="orders", denominator="sessions", maturity_days=2,
                   missing="zero"),
        MetricSpec("p90_mature", kind="quantile", column="revenue", quantile=0.9, missing="drop", maturity_days=3),
        # maturity masks the regression adjustment's cross-products too
        MetricSpec("revenue_adjusted_mature", column="revenue", maturity_days=2, missing="drop",
                   covariates=["pre_revenue"], categorical_covariates=["country"])])
    from_frame = analyse_experiment(data, spec, random_state=3)
    reasons = dict(zip(from_frame.drops["reason"], from_frame.drops["rows"], strict=True))
    kept = data[data["variant"].notna() & data["user_id"].notna() & ~data["user_id"].duplicated(keep=False)]
    assert reasons["metric 'retained_7': not yet mature for a day-3 metric (exposed after 2026-09-04)"] == int(
        (kept["exposed_at"] >= pd.Timestamp("2026-09-05")).sum())
    parquet, csv = tmp_path / "units.parquet", tmp_path / "units.csv"
    data.to_parquet(parquet, index=False)
    data.assign(exposed_at=data["exposed_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_csv(csv, index=False)
    for path in (parquet, csv):
        other = analyse_experiment(path, spec, random_state=3)
        assert from_frame.drops[["reason", "rows"]].equals(other.drops[["reason", "rows"]])
        assert_same_frames(from_frame.to_frame(), other.to_frame(), ["metric", "variant"])
        assert_same_frames(from_frame.cumulative, other.cumulative, ["metric", "variant", "day"])


def test_maturity_days_without_a_timestamp_column_or_below_one_day_is_one_clear_line():
    retained = MetricSpec("retained_7", kind="proportion", role="primary", maturity_days=7)
    with pytest.raises(ValueError, match=r"^experiment 'r': metric 'retained_7' has maturity_days, which needs "
                                         r"timestamp_column \(each unit's exposure time\)"):
        ExperimentSpec(name="r", metrics=[retained])
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=r"^metric 'retained_7': maturity_days must be a whole number of days"):
            MetricSpec("retained_7", kind="proportion", maturity_days=bad)
    aggregates = pd.DataFrame({"variant": ["control", "B"], "n": [100, 100], "sum": [30, 33]})
    with pytest.raises(InputError, match="needs unit-level data with exposure times"):
        analyse_aggregates(aggregates, ExperimentSpec(name="r", timestamp_column="t", metrics=[retained]))


def test_maturity_days_is_read_from_a_parameter_file(tmp_path):
    from prodops_lib import params
    from prodops_lib.experiments.report import ExperimentReport

    path = tmp_path / "ab_retention.yaml"
    path.write_text("source: units.parquet\nexperiment:\n  name: retention\n  timestamp_column: exposed_at\n"
                    "  metrics:\n    - {name: retained_7, kind: proportion, role: primary, maturity_days: 7}\n",
                    encoding="utf-8")
    assert params.load(path, ExperimentReport).experiment.primary_metric.maturity_days == 7
