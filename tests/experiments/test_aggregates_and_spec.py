"""Aggregates give the unit-level answer; specs load from parameter files."""

from __future__ import annotations

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
from prodops_lib.params import build

from .conftest import make_units


def test_aggregates_reproduce_the_unit_level_analysis():
    data = make_units(8000, seed=12)
    spec = ExperimentSpec(name="agg", metrics=[MetricSpec("revenue", role="primary")])
    unit_level = analyse_experiment(data, spec)
    grouped = data.groupby("variant")["revenue"]
    aggregates = pd.DataFrame({"n": grouped.size(), "sum": grouped.sum(), "sum_sq": grouped.apply(lambda v: (v**2).sum())})
    from_aggregates = analyse_aggregates(aggregates.reset_index(), spec)
    numeric = unit_level.to_frame().select_dtypes("number").columns
    np.testing.assert_allclose(from_aggregates.to_frame()[numeric].to_numpy(float),
                               unit_level.to_frame()[numeric].to_numpy(float), rtol=1e-9)
    assert from_aggregates.srm.p_value == pytest.approx(unit_level.srm.p_value, rel=1e-12)


def test_exposures_and_clicks_are_read_as_a_proportion():
    frame = pd.DataFrame({"variant": ["control", "door"], "exposures": [1000, 1000], "clicks": [120, 150]})
    spec = ExperimentSpec(name="door", metrics=[MetricSpec("ctr", kind="proportion", role="primary")])
    row = analyse_aggregates(frame, spec).to_frame().iloc[0]
    # statsmodels proportions_ztest([150, 120], [1000, 1000])
    assert row["p_value"] == pytest.approx(0.04964038686536878, rel=1e-9)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"variant": ["control", "B"], "n": [10, 10], "sum": [5.0, 6.0]}), "needs a column 'sum_y2'"),
        (pd.DataFrame({"arm": ["control", "B"], "n": [10, 10]}), "variant_column 'variant' is not a column"),
        (pd.DataFrame({"variant": ["control", "B"], "n": [10, 10], "sum": [5.0, "x"], "sum_sq": [9.0, 9.0]}), "non-numeric value 'x'"),
    ],
)
def test_bad_aggregates_fail_in_one_line(frame, message):
    with pytest.raises(InputError, match=message) as error:
        analyse_aggregates(frame, ExperimentSpec(name="agg", metrics=[MetricSpec("revenue", role="primary")]))
    assert "\n" not in str(error.value)


def _conversions(n, successes):
    return pd.DataFrame({"variant": ["control", "B"], "n": n, "successes": successes})


@pytest.mark.parametrize(
    ("frame", "kind", "message"),
    [
        # counts no set of units could produce: analysed anyway they gave "ship" at +1400%
        (_conversions([1000, 1000], [100, 1500]), "proportion", "variant 'B': 1500 successes out of 1000 units"),
        (_conversions([20, 20], [3, 25]), "proportion", "variant 'B': 25 successes out of 20 units"),
        (_conversions([1000, 1000], [100, -5]), "proportion", "variant 'B': -5 successes"),
        (_conversions([1000, 0], [100, 0]), "proportion", "variant 'B': n is 0, not a positive whole number"),
        (_conversions([1000, 100.5], [100, 10]), "proportion", "variant 'B': n is 100.5"),
        (pd.DataFrame({"variant": ["control", "B"], "n": [10, 10], "successes": [5, 6], "sum_sq": [5, 7]}),
         "proportion", "variant 'B': sum_y2 differs from the successes"),
        # Σy² < (Σy)²/n: a negative variance, which had given a zero-width interval and "ship"
        (pd.DataFrame({"variant": ["control", "B"], "n": [100, 100], "sum": [1000.0, 1100.0], "sum_sq": [11000.0, 12000.0]}),
         "mean", r"variant 'B': sum_y2 = 12000 is below sum_y²/n = 12100"),
    ],
)
def test_impossible_aggregates_are_refused(frame, kind, message):
    spec = ExperimentSpec(name="agg", metrics=[MetricSpec("m", kind=kind, role="primary")])
    with pytest.raises(InputError, match=message) as error:
        analyse_aggregates(frame, spec, source="dashboard.csv")
    assert str(error.value).startswith("dashboard.csv: metric 'm', ") and "\n" not in str(error.value)


def test_a_covariance_beyond_cauchy_schwarz_is_refused():
    # units y = (1, 2, 3), x = (1, 2, 3): Σyx = 14 is the largest possible; 15 implies |r| > 1
    frame = pd.DataFrame({"variant": ["control", "B"], "n": [3, 3], "sum_y": [6.0, 6.0], "sum_y2": [14.0, 14.0],
                          "sum_x": [6.0, 6.0], "sum_x2": [14.0, 14.0], "sum_yx": [14.0, 15.0]})
    spec = ExperimentSpec(name="agg", metrics=[MetricSpec("m", covariate="x", role="primary")])
    with pytest.raises(InputError, match="variant 'B': sum_yx = 15 implies a correlation beyond ±1"):
        analyse_aggregates(frame, spec)
    frame.loc[1, "sum_yx"] = 14.0  # perfectly correlated is still possible
    assert analyse_aggregates(frame, spec).results["n_variant"].iloc[0] == 3


def test_spec_builds_from_a_parameter_mapping():
    data = {
        "name": "checkout", "hypothesis": "A shorter form converts more", "unit": "user_id", "control": "control",
        "expected_split": {"control": 0.5, "B": 0.5}, "correction": "fdr_bh", "start_date": "2026-09-01",
        "metrics": [
            {"name": "converted", "kind": "proportion", "role": "primary"},
            {"name": "aov", "kind": "ratio", "numerator": "revenue", "denominator": "orders", "covariate": "pre_aov"},
            {"name": "latency", "direction": "decrease", "role": "guardrail", "non_inferiority_margin": 0.05},
        ],
    }
    spec = build(ExperimentSpec, data, source="parameters/checkout.yaml")
    assert spec.metric("aov").columns == ["revenue", "orders", "pre_aov"]
    assert spec.primary_metric.name == "converted"
    assert str(spec.start_date) == "2026-09-01"


def test_spec_errors_from_a_parameter_file_name_the_metric():
    data = {"name": "checkout", "metrics": [{"name": "converted", "kind": "proportion", "role": "primary"},
                                            {"name": "aov", "kind": "ratio", "numerator": "revenue"}]}
    with pytest.raises(ValueError, match="metric 'aov': kind 'ratio' needs 'numerator' and 'denominator'") as error:
        build(ExperimentSpec, data, source="parameters/checkout.yaml")
    assert "parameters/checkout.yaml" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ({"name": "p90", "kind": "quantile"}, "kind 'quantile' needs 'quantile'"),
        ({"name": "m", "winsorize_upper": 99}, "winsorize_upper must be between 0 and 1"),
        ({"name": "m", "kind": "proportion", "winsorize_upper": 0.99}, "winsorization applies to kinds 'mean' and 'ratio'"),
        ({"name": "m", "non_inferiority_margin": 0.05}, "non_inferiority_margin applies to role 'guardrail' only"),
        ({"name": "m", "kind": "median"}, "kind 'median' is not one of"),
        ({"name": "m", "colour": "red"}, "unknown key 'colour'"),
    ],
)
def test_metric_errors_name_the_field(metric, message):
    with pytest.raises(ValueError, match=message) as error:
        ExperimentSpec(name="x", metrics=[{"name": "main", "role": "primary"}, metric])
    assert "\n" not in str(error.value)


def test_html_view_escapes_names_from_the_data():
    frame = pd.DataFrame({"variant": ["control", "<script>alert(1)</script>"], "n": [1000, 1000], "clicks": [100, 130]})
    spec = ExperimentSpec(name="xss", metrics=[MetricSpec("ctr", kind="proportion", role="primary")])
    html = analyse_aggregates(frame, spec)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_sums_rounded_to_cents_are_not_refused():
    # 1,000 units of 1.005 minutes: Σy = 1005.00, Σy² = 1010.025, which a dashboard shows as 1010.02,
    # below (Σy)²/n = 1010.025 only by its rounding; the variant's units vary a little
    frame = pd.DataFrame({"variant": ["control", "B"], "n": [1000, 1000], "sum": [1005.00, 1010.00],
                          "sum_sq": [1010.02, 1020.31]})
    spec = ExperimentSpec(name="agg", metrics=[MetricSpec("m", role="primary")])
    assert analyse_aggregates(frame, spec).results["n_variant"].iloc[0] == 1000
