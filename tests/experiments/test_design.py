"""Experiment design: sample sizes against statsmodels, simulated power, measured variance reduction.

Proportions follow the kit's own convention (as :mod:`prodops_lib.experiments.power` and the A/B
analysis's power statement): the standardised effect is ``δ / sqrt(p(1-p))`` at the baseline
``p``, i.e. statsmodels' ``NormalIndPower`` with that effect size; statsmodels' arcsine effect size
(``proportion_effectsize``, Cohen's h) gives a different, slightly larger n, written below too.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri

from prodops_lib import params
from prodops_lib.experiments import ExperimentSpec, inference
from prodops_lib.experiments.design import (
    DesignSpec,
    design_experiment,
    fake_door_visits,
    plan_deviations,
    read_pre_period,
    sequential_inflation,
    traffic,
    variance_reduction,
)
from prodops_lib.experiments.moments import Moments
from prodops_lib.experiments.power import plan_experiment, required_sample_size
from prodops_lib.experiments.report import ExperimentReport, caveats, run_experiment_report
from prodops_lib.experiments.sequential import confidence_sequence_halfwidth, mixture_variance
from prodops_lib.io import DropLog, InputError

# --------------------------------------------------------------------------- references

# statsmodels 0.14: NormalIndPower().solve_power(effect_size=0.25, alpha=0.05, power=0.8, ratio=1)
NORMAL_N = 251.16353630180953
# TTestIndPower().solve_power(effect_size=0.25, alpha=0.05, power=0.8, ratio=1)
T_N = 252.12750122682712
# zt_ind_solve_power(effect_size=0.25, alpha=0.0125, power=0.9, ratio=1)
ZT_N = 457.04908046599405
# NormalIndPower().solve_power(effect_size=0.03 / sqrt(0.3 * 0.7), alpha=0.05, power=0.8): the kit's convention
PROPORTION_N = 3662.801571018891
# NormalIndPower().solve_power(effect_size=proportion_effectsize(0.33, 0.3), alpha=0.05, power=0.8): arcsine
ARCSINE_N = 3761.596974012117


def test_sample_sizes_equal_statsmodels():
    assert required_sample_size(0.5, 2.0) == pytest.approx(NORMAL_N, rel=1e-8)
    assert required_sample_size(0.5, 2.0, distribution="t") == pytest.approx(T_N, rel=1e-8)
    assert required_sample_size(0.5, 2.0, alpha=0.0125, power=0.9) == pytest.approx(ZT_N, rel=1e-8)
    assert required_sample_size(0.03, math.sqrt(0.3 * 0.7)) == pytest.approx(PROPORTION_N, rel=1e-8)
    # the arcsine convention asks for 2.7% more units at this baseline
    assert pytest.approx(1.027, abs=1e-3) == ARCSINE_N / PROPORTION_N


# --------------------------------------------------------------------------- synthetic pre-periods


def _spec(kind: str = "proportion", **extra) -> ExperimentSpec:
    metric = {"name": "clicked", "kind": kind, "role": "primary", **extra}
    return ExperimentSpec(name="synthetic", unit="user_id", metrics=[metric], correction="none")


def _one_visit_pre_period(rate: float = 0.3, per_day: int = 200, days: int = 28, seed: int = 11) -> pd.DataFrame:
    """Each unit seen on one day only: ``per_day`` new units a day, clicked with probability ``rate``."""
    rng = np.random.default_rng(seed)
    day = np.repeat(pd.date_range("2026-01-01", periods=days, freq="D"), per_day)
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(day.size)], "date": day, "day": day,
                         "clicked": (rng.random(day.size) < rate).astype(float)})


def test_design_sample_size_from_the_data_equals_statsmodels():
    rows = _one_visit_pre_period()
    plan = design_experiment(_spec(), DesignSpec(pre_source="in memory", mde=0.1), rows=rows).primary
    p = rows["clicked"].mean()
    sd = rows["clicked"].std(ddof=1)
    # reference: NormalIndPower with effect size 0.1·p/sd, solved independently here with the closed form
    closed = 2 * ((ndtri(0.975) + ndtri(0.8)) * sd / (0.1 * p)) ** 2
    assert plan.baseline == pytest.approx(p, rel=1e-12)
    assert plan.sd == pytest.approx(sd, rel=1e-12)
    assert plan.n_per_variant == math.ceil(closed)
    # and the kit's own planner, from the same baseline and spread
    assert plan.n_per_variant == plan_experiment(p, 0.1, baseline_sd=sd).n_per_variant
    # 200 new units a day, no one returns: days = units needed for both arms / 200
    assert plan.days == math.ceil(2 * plan.n_per_variant / 200)


def test_sized_experiment_reaches_its_nominal_power():
    """2,000 simulated tests of the size the design asks for, at the planned effect, analysed by
    the kit's own proportion test: 80% of them are significant (±3 points)."""
    rows = _one_visit_pre_period()
    design = design_experiment(_spec(), DesignSpec(pre_source="in memory", mde=0.1), rows=rows)
    plan = design.primary
    n, p0 = plan.n_per_variant, plan.baseline
    rng = np.random.default_rng(2026)
    tests = 2_000
    clicks_c = rng.binomial(n, p0, tests).astype(float)
    clicks_v = rng.binomial(n, p0 * 1.1, tests).astype(float)

    def arm(clicks):
        zeros = np.zeros(tests)
        return Moments(n=np.full(tests, float(n)), sum_y=clicks, sum_y2=clicks, sum_d=np.full(tests, float(n)),
                       sum_d2=np.full(tests, float(n)), sum_yd=clicks, sum_x=zeros, sum_x2=zeros, sum_yx=zeros,
                       sum_dx=zeros)

    effect = inference.compare(arm(clicks_c), arm(clicks_v), "proportion")
    reached = float(np.mean(effect.p_value < 0.05))
    # measured 77.6%: the kit sizes with the baseline's variance in both arms, and the variant's
    # rate (33% against 30%) has a slightly larger one, which the z-test does use
    assert reached == pytest.approx(0.80, abs=0.03)


def test_sequential_plan_reaches_its_nominal_power():
    """The same tests looked at daily against the kit's always-valid boundary, with the larger
    sample the sequential plan asks for (a fresh seed, binomial daily counts)."""
    rows = _one_visit_pre_period()
    design = design_experiment(_spec(), DesignSpec(pre_source="in memory", mde=0.1, weeks=4), rows=rows)
    plan = design.primary
    looks, n = 28, plan.n_per_variant_sequential
    per_look = np.diff(np.round(np.linspace(0, n, looks + 1))).astype(int)
    rng = np.random.default_rng(99)
    tests, p0 = 2_000, plan.baseline
    clicks_c = np.cumsum(rng.binomial(per_look, p0, (tests, looks)), axis=1)
    clicks_v = np.cumsum(rng.binomial(per_look, p0 * 1.1, (tests, looks)), axis=1)
    units = np.cumsum(per_look)
    rate_c, rate_v = clicks_c / units, clicks_v / units
    variance = rate_c * (1 - rate_c) / units + rate_v * (1 - rate_v) / units
    tau2 = mixture_variance(p0 * (1 - p0) * 2 / n)
    crossed = np.abs(rate_v - rate_c) >= confidence_sequence_halfwidth(variance, tau2)
    assert float(crossed.any(axis=1).mean()) == pytest.approx(0.80, abs=0.03)
    assert plan.n_per_variant_sequential == math.ceil(plan.n_per_variant * design.sequential_factor)


def test_sequential_inflation_with_one_look_has_a_closed_form():
    # one look: reject when |Z| ≥ h, the boundary at V = 1; power ≈ Φ(λ - h), so λ = h + z_0.8
    tau2 = mixture_variance(1.0, 0.05)
    h = float(confidence_sequence_halfwidth(np.array([1.0]), tau2, 0.05)[0])
    # sqrt(min_r (1+r)/r·(2 log 20 + log(1+r))) by a grid of 2 million r: 3.0351224; wider than
    # z_0.975 = 1.96, the price of being allowed to look at any time
    assert h == pytest.approx(3.0351224, abs=1e-6)
    closed = ((h + ndtri(0.8)) / (ndtri(0.975) + ndtri(0.8))) ** 2
    assert closed == pytest.approx(1.91481, abs=1e-4)
    # Monte Carlo with 20,000 paths: about ±1% on the factor
    assert sequential_inflation(0.05, 0.8, 1) == pytest.approx(closed, rel=0.025)
    # the final boundary is the same, and every earlier look is one more chance to cross it: daily
    # looks over four weeks need less than a single look
    assert sequential_inflation(0.05, 0.8, 28) < sequential_inflation(0.05, 0.8, 1)


# --------------------------------------------------------------------------- variance reduction


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.8])
def test_measured_cuped_reduction_matches_the_planted_correlation(rho):
    """Each unit's first-half value and second-half value are correlated ρ: CUPED removes ρ²."""
    rng = np.random.default_rng(int(rho * 100))
    n = 40_000
    common, first, second = rng.normal(size=(3, n))
    x = math.sqrt(rho) * common + math.sqrt(1 - rho) * first + 10
    y = math.sqrt(rho) * common + math.sqrt(1 - rho) * second + 10
    users = [f"u{i}" for i in range(n)]
    days = pd.to_datetime(["2026-01-01", "2026-01-02"]).repeat(n)
    rows = pd.DataFrame({"user_id": users * 2, "day": days, "clicked": np.concatenate([x, y])})
    spec = _spec("mean", covariate="clicked_before")
    measured = variance_reduction(rows, spec, spec.primary_metric)
    assert measured.cuped == pytest.approx(rho**2, abs=0.015)
    # one covariate and everyone seen before: regression's R² is the same ρ̂²
    assert measured.regression == pytest.approx(measured.cuped, abs=1e-9)
    assert measured.units == n


def test_sample_design_for_search_ranking():
    settings = params.load("parameters/ab_search_ranking.yaml", ExperimentReport)
    design = design_experiment(settings.experiment, settings.design)
    plan = design.primary
    assert (design.variants, design.alpha_per_comparison, design.mde) == (3, 0.0125, 0.05)
    assert design.traffic.per_day == pytest.approx(460, rel=0.02)  # truth.json: 460 new searchers a day
    assert 0 < plan.cuped_reduction < plan.regression_reduction < 0.5
    # the pre-period reads like the test itself: truth.json's control rates, 0.30 and 0.137 clicks per search
    assert plan.baseline == pytest.approx(0.30, abs=0.01)
    assert design.metrics[1].baseline == pytest.approx(0.137, abs=0.01)
    assert plan.n_per_variant < plan.n_per_variant_unadjusted < plan.n_per_variant_sequential
    # CUPED is measured with what the analysis adjusts by: pre_searches, counted from searches.
    # Reference: ρ² of each user's clicked (second half) and searches (first half, 0 if unseen) by numpy
    rows = read_pre_period(settings.design, settings.experiment)
    middle = np.sort(rows["day"].unique())[rows["day"].nunique() // 2]
    outcome = rows[rows["day"] >= middle].groupby("user_id")["clicked"].max()
    searches = rows[rows["day"] < middle].groupby("user_id")["searches"].sum().reindex(outcome.index).fillna(0)
    assert plan.cuped_covariate == "searches"
    assert plan.cuped_reduction == pytest.approx(np.corrcoef(outcome, searches)[0, 1] ** 2, rel=1e-9)
    assert plan.cuped_reduction == pytest.approx(0.00653, abs=5e-5)  # against 0.066 for clicked's own earlier value
    own = design_experiment(settings.experiment, dataclasses.replace(settings.design, covariates={})).primary
    assert own.cuped_covariate == "" and own.cuped_reduction == pytest.approx(0.06645, abs=5e-5)
    # the test ran four weeks with 4,000 users per arm: the plan says it detects about 10%, not 5%
    assert plan.mde_in_weeks == pytest.approx(design.detectable_effect(4), rel=1e-12)
    assert 0.08 < plan.mde_in_weeks < 0.12
    assert design.fake_door.visits == fake_door_visits(0.03, 0.04).visits


# --------------------------------------------------------------------------- fake doors


def test_fake_door_visits_closed_form_and_simulated_verdict():
    plan = fake_door_visits(0.03, 0.04, daily_visits=600)
    # ((1.959964·sqrt(0.03·0.97) + 0.841621·sqrt(0.04·0.96)) / 0.01)² = 2,492.3
    assert plan.visits == 2_493
    assert plan.days == 5
    # the fake-door verdict ("above target": the whole Wilson interval above it) at that many visits
    rng = np.random.default_rng(5)
    clicks = rng.binomial(plan.visits, 0.04, 4_000)
    low, _ = inference.wilson_interval(clicks, np.full(clicks.size, plan.visits), 0.05)
    assert float(np.mean(low > 0.03)) == pytest.approx(0.80, abs=0.03)


# --------------------------------------------------------------------------- traffic and the plan check


def test_traffic_counts_returning_units_once_and_extends_past_the_window():
    rows = pd.DataFrame({"user_id": ["a", "b", "a", "c", "d", "a", "e"],
                         "day": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02",
                                                "2026-01-03", "2026-01-03", "2026-01-03"])})
    reach = traffic(rows, "user_id")
    assert reach.reached == (2, 3, 5)
    assert reach.days_for(3) == 2
    assert reach.days_for(9) == 6  # 5 by day 3, then 5/3 new a day (the mean of a window under 7 days): 3 more
    assert reach.units_in(4) == pytest.approx(5 + 5 / 3)


def test_plan_deviations_in_plain_words():
    spec = _spec()
    design = DesignSpec(pre_source="x", mde=0.05, weeks=4, primary_metric="clicks_per_search")
    found = plan_deviations(design, spec, 12, "ship")
    assert found == ["the primary metric is clicked, but the plan was signed for clicks per search",
                     "decided after 12 days of the 28 planned"]
    assert plan_deviations(design, spec, 12, "keep running") == found[:1]
    assert plan_deviations(DesignSpec(pre_source="x", weeks=4), spec, 28, "ship") == []


def test_ab_analysis_flags_a_test_decided_before_its_plan():
    settings = params.load("parameters/ab_checkout_redesign.yaml", ExperimentReport,
                           overrides={"design": {"pre_source": "unused", "weeks": 8, "primary_metric": "revenue"}})
    analysis = run_experiment_report(settings, DropLog(), period="2026-10")
    found = caveats(analysis)
    planned = settings.experiment.primary_metric.display_name
    assert f"the primary metric is {planned}, but the plan was signed for revenue" in found
    assert any(text.startswith("decided after") and text.endswith("of the 56 planned") for text in found)


# --------------------------------------------------------------------------- bad input


def test_bad_design_input_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="mde is a positive relative effect"):
        DesignSpec(pre_source="x", mde=-0.1)
    with pytest.raises(ValueError, match="weeks is the planned duration"):
        DesignSpec(pre_source="x", weeks=0)
    with pytest.raises(ValueError, match="fake_door_target and fake_door_expected go together"):
        DesignSpec(pre_source="x", fake_door_target=0.03)
    with pytest.raises(ValueError, match="no sample can tell them apart"):
        fake_door_visits(0.03, 0.03)
    with pytest.raises(ValueError, match=r"set design\.mde or experiment\.mde"):
        design_experiment(_spec(), DesignSpec(pre_source="x"), rows=_one_visit_pre_period())
    missing = tmp_path / "pre.csv"
    missing.write_text("user_id,date,searches\nu1,2026-01-01,3\n")
    with pytest.raises(InputError, match="clicked") as error:
        design_experiment(_spec(), DesignSpec(pre_source=str(missing), mde=0.1))
    assert "\n" not in str(error.value)
    one_day = tmp_path / "one_day.csv"
    one_day.write_text("user_id,date,clicked\nu1,2026-01-01,1\nu2,2026-01-01,0\n")
    with pytest.raises(InputError, match="fewer than 2 days"):
        design_experiment(_spec(), DesignSpec(pre_source=str(one_day), mde=0.1))
    with_covariate = _spec("mean", covariate="pre_searches")
    two_days = tmp_path / "two_days.csv"
    two_days.write_text("user_id,date,clicked\nu1,2026-01-01,1\nu2,2026-01-02,0\n")
    with pytest.raises(InputError, match="searches") as error:  # mapped, so it must be there
        design_experiment(with_covariate, DesignSpec(pre_source=str(two_days), mde=0.1,
                                                     covariates={"pre_searches": "searches"}))
    assert "\n" not in str(error.value)
    with pytest.raises(InputError, match=r"^design\.covariates: 'pre_serches' is not the covariate of any metric "
                                         r"\(pre_searches\)"):  # a typo would silently plan without the covariate
        design_experiment(with_covariate, DesignSpec(pre_source=str(two_days), mde=0.1,
                                                     covariates={"pre_serches": "searches"}))
    no_unit = ExperimentSpec(name="x", metrics=[{"name": "clicked", "kind": "proportion", "role": "primary"}])
    with pytest.raises(InputError, match=r"needs experiment\.unit"):
        design_experiment(no_unit, DesignSpec(pre_source=str(one_day), mde=0.1))


def test_design_notebook_runs_with_papermill(tmp_path, monkeypatch):
    import json
    from pathlib import Path

    import papermill

    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PRODOPS_ROOT", str(root))
    papermill.execute_notebook(
        str(root / "notebooks" / "experiment_design.ipynb"), str(tmp_path / "out.ipynb"),
        parameters={"parameters_file": "parameters/ab_search_ranking.yaml", "results_dir": str(tmp_path / "results")},
        cwd=str(tmp_path), progress_bar=False, kernel_name="python3")
    plan = pd.read_csv(tmp_path / "results" / "plan.csv")
    assert plan.loc[plan["metric"] == "clicked", "n_per_variant"].item() > 4_000  # more than the test had
    headline = json.loads((tmp_path / "results" / "headline.json").read_text())
    assert "clicked" in json.dumps(headline)


def test_prodops_check_reads_the_design_pre_period():
    from prodops_lib.experiments.check import check_design

    settings = params.load("parameters/ab_search_ranking.yaml", ExperimentReport)
    check = check_design(settings)
    rows = pd.read_parquet("data/sample/experiments/search_ranking_pre.parquet")
    assert check.lines[:3] == [f"data/sample/experiments/search_ranking_pre.parquet: {len(rows):,} rows read, none dropped",
                               f"{rows['user_id'].nunique():,} units over 28 days, 2026-09-08 to 2026-10-05",
                               "clicked: CUPED measured with 'searches'"]
    assert check.warnings == []
