"""The analysis recovers effects planted in synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from prodops_lib.experiments import RESULT_COLUMNS, analyse_experiment
from prodops_lib.experiments.inference import compare
from prodops_lib.experiments.moments import Moments

from .conftest import TRUTH, make_spec, make_units


@pytest.fixture(scope="module")
def analysis(units, spec):
    return analyse_experiment(units, spec)


def row(analysis, metric, variant):
    table = analysis.to_frame()
    return table[(table["metric"] == metric) & (table["variant"] == variant)].iloc[0]


def test_tidy_table_has_the_documented_columns_first(analysis):
    table = analysis.to_frame()
    assert list(table.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS
    assert len(table) == 3 * 2  # metrics x non-control variants
    assert set(table["control"]) == {"control"}


def test_intervals_cover_the_planted_effects(analysis):
    conversion_lift = TRUTH["conversion"]["B"] - TRUTH["conversion"]["control"]
    b = row(analysis, "converted", "B")
    assert b["abs_ci_low"] < conversion_lift < b["abs_ci_high"]
    assert b["significant"] and b["chance_to_beat_control"] > 0.99
    revenue_lift = TRUTH["revenue_mean"]["C"] - TRUTH["revenue_mean"]["control"]
    c = row(analysis, "revenue", "C")
    assert c["abs_ci_low"] < revenue_lift < c["abs_ci_high"]
    assert c["rel_ci_low"] < revenue_lift / TRUTH["revenue_mean"]["control"] < c["rel_ci_high"]
    assert c["significant"]
    flat = row(analysis, "converted", "C")
    assert flat["abs_ci_low"] < 0 < flat["abs_ci_high"]


def test_cuped_removes_about_rho_squared_of_the_variance(analysis):
    reduction = row(analysis, "revenue", "C")["cuped_variance_reduction"]
    assert reduction == pytest.approx(TRUTH["revenue_rho"] ** 2, abs=0.03)
    assert row(analysis, "revenue", "C")["method"] == "Welch t-test, CUPED"


def test_the_method_says_how_much_cuped_removed(analysis):
    from prodops_lib.experiments.report import method_block

    # ρ = 0.7 planted: about ρ² = 49% of the variance, an interval 1 - √(1 - ρ²) ≈ 29% narrower
    removed = analysis.to_frame().query("metric == 'revenue'")["cuped_variance_reduction"].mean()
    assert removed == pytest.approx(0.49, abs=0.03)
    assert (f"For revenue it removed {removed:.0%} of the noise (the variance): an interval "
            f"{1 - np.sqrt(1 - removed):.0%} narrower.") in str(method_block(analysis))


@pytest.mark.parametrize(("rho", "seed"), [(0.0, 1), (0.07, 0), (0.09, 0), (0.09, 31), (0.3, 2)])
def test_the_decision_and_the_method_agree_on_whether_cuped_reduced_the_noise(rho, seed):
    """Near the threshold (ρ² ≈ 0.5%) and below it (a pooled slope can even add noise), the
    decision's reason and the method's sentence say the same thing."""
    import pandas as pd

    from prodops_lib.experiments import ExperimentSpec, MetricSpec
    from prodops_lib.experiments.report import method_block

    rng = np.random.default_rng(seed)
    n = 2000
    pre = rng.normal(size=n)
    units = pd.DataFrame({"user_id": np.arange(n), "variant": np.where(np.arange(n) % 2, "B", "control"),
                          "pre": pre, "revenue": 10 + rho * pre + np.sqrt(1 - rho**2) * rng.normal(size=n)})
    spec = ExperimentSpec(name="t", unit="user_id", metrics=[
        MetricSpec("revenue", covariate="pre", role="primary", cuped_slope="pooled")])
    found = analyse_experiment(units, spec)
    removed = float(found.results["cuped_variance_reduction"].mean())
    reason = next(text for text in found.decision.reasons if text.startswith("Taking each unit's pre-experiment"))
    method = str(method_block(found))
    if removed < 0.005:
        assert "did not reduce the noise" in reason and "did not reduce the noise (the variance)" in method
    else:
        assert f"removed {removed:.0%} of the noise" in reason and f"removed {removed:.0%} of the noise" in method


def test_guardrail_without_effect_is_non_inferior(analysis):
    guardrail = row(analysis, "orders_per_session", "B")
    assert guardrail["guardrail_status"] == "non-inferior"
    assert guardrail["non_inferiority_p_value"] < 0.05
    assert guardrail["adjustment"] == "none (guardrail)"


def test_holm_adjustment_over_primary_and_secondary_rows(analysis):
    table = analysis.to_frame()
    family = table[table["role"] != "guardrail"]
    assert (family["p_value_adjusted"] >= family["p_value"]).all()
    assert set(family["adjustment"]) == {"holm"}


def test_interval_coverage_is_close_to_nominal():
    """Over 400 simulated A/A comparisons of a skewed metric, the 95% Welch interval covers
    the true difference (0) in about 95% of experiments (binomial sd ≈ 1.1 points)."""
    rng = np.random.default_rng(99)
    sums = {"control": [], "variant": []}
    for arm in sums:
        for _ in range(400):
            sums[arm].append(Moments.of_units(rng.lognormal(0, 1, 500)))
    stacked = {arm: Moments(**{name: np.array([getattr(m, name) for m in items]) for name in Moments.__dataclass_fields__})
               for arm, items in sums.items()}
    effect = compare(stacked["control"], stacked["variant"], "mean")
    coverage = np.mean((effect.abs_ci_low < 0) & (effect.abs_ci_high > 0))
    assert 0.92 <= coverage <= 0.98


def test_sequential_boundary_is_wider_than_the_naive_interval():
    data = make_units(12_000, seed=11, days=10)
    analysis = analyse_experiment(data, make_spec(timestamp_column="exposed_at"))
    series = analysis.cumulative[(analysis.cumulative["metric"] == "converted") & (analysis.cumulative["variant"] == "B")]
    assert len(series) == 10
    assert (series["cs_high"] - series["cs_low"] > series["abs_ci_high"] - series["abs_ci_low"]).all()
    assert series["n_control"].is_monotonic_increasing
    assert series["always_valid_p_value"].is_monotonic_decreasing
    last = series.iloc[-1]
    overall = analysis.to_frame().query("metric == 'converted' and variant == 'B'").iloc[0]
    assert last["abs_effect"] == pytest.approx(overall["abs_effect"], rel=1e-12)


def test_segments_are_largest_first_with_other_and_flagged_exploratory():
    data = make_units(20_000, seed=5)
    analysis = analyse_experiment(data, make_spec(segments=["country"], max_segment_values=3))
    table = analysis.segments
    converted_b = table[(table["metric"] == "converted") & (table["variant"] == "B")]
    assert list(converted_b["segment"]) == ["US", "DE", "FR", "other"]  # BR and JP grouped
    assert table["exploratory"].all()
    assert analysis.summary["segments_warning"].startswith("Segment results are exploratory")
    assert converted_b["n_control"].sum() == analysis.units["control"]
    assert (table["p_value_adjusted"] >= table["p_value"]).all()


def test_every_result_column_is_described():
    from prodops_lib.experiments import RESULT_COLUMN_DESCRIPTIONS

    assert list(RESULT_COLUMN_DESCRIPTIONS) == RESULT_COLUMNS


def test_quantile_metrics_are_reproducible_with_the_same_seed():
    data = make_units(4000, seed=3)
    spec = make_spec(metrics=[{"name": "converted", "kind": "proportion", "role": "primary"},
                              {"name": "p75", "kind": "quantile", "column": "revenue", "quantile": 0.75}])
    first, second = (analyse_experiment(data, spec, random_state=17).to_frame() for _ in range(2))
    other = analyse_experiment(data, spec, random_state=18).to_frame()
    assert first.equals(second)
    assert not first["abs_ci_low"].equals(other["abs_ci_low"])


def test_tables_for_the_results_folder(analysis):
    tables = analysis.tables()
    assert {"results", "srm", "drops", "power_curve"} <= set(tables)
    assert tables["srm"]["units"].sum() == sum(analysis.units.values())
