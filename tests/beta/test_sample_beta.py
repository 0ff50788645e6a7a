"""The bundled sample beta recovers its planted effect, and the naive comparison does not."""

from __future__ import annotations

import pytest

from prodops_lib import params
from prodops_lib.beta import (
    decide_readiness,
    estimate_impact,
    load_beta,
    measure_adoption,
    report,
)
from prodops_lib.io import DropLog

from ..conftest import ROOT
from .conftest import SAMPLE


@pytest.fixture(scope="module")
def beta():
    return load_beta(SAMPLE / "beta" / "units.csv", SAMPLE / "beta" / "panel.csv",
                     ["sessions", "reports_created", "feature_uses"], log=DropLog())


def test_sample_beta_interval_covers_the_planted_effect_and_naive_does_not(beta, truth: dict) -> None:
    impact = estimate_impact(beta, "sessions", pre_periods=4, post_periods=truth["post_periods"])
    planted = truth["average_effect_over_window"]
    assert planted == pytest.approx((0.3 + 5 * 0.6) / 6)  # a two-week ramp to +0.6, averaged over six weeks
    assert impact.adjusted.ci_low <= planted <= impact.adjusted.ci_high
    assert impact.adjusted.effect == pytest.approx(0.4836, abs=1e-4)  # measured on the committed sample
    assert impact.naive.ci_low > planted  # beta-vs-rest credits the feature with prior engagement
    assert impact.naive.difference == pytest.approx(truth["naive_difference_expected"], abs=0.15)
    assert impact.naive.gap_before_beta == pytest.approx(truth["pre_entry_engagement_gap"], abs=0.15)
    assert not impact.parallel_trends_doubtful


def test_sample_beta_has_no_effect_on_the_untouched_metric(beta, truth: dict) -> None:
    impact = estimate_impact(beta, "reports_created", pre_periods=4, post_periods=truth["post_periods"])
    assert impact.adjusted.ci_low <= truth["true_effect_on_reports_created"] <= impact.adjusted.ci_high


def test_sample_beta_adoption_and_verdict(beta, truth: dict) -> None:
    adoption = measure_adoption(beta, "feature_uses")
    assert adoption.beta_units == truth["beta_units"]
    assert adoption.activation_share == pytest.approx(truth["activation"], abs=0.06)
    # an activated unit uses the feature in week k with probability 0.4 + 0.6 × 0.75^k
    assert adoption.retention_after(0) == 1.0
    assert adoption.retention_after(4) == pytest.approx(0.4 + 0.6 * 0.75 ** 4, abs=0.08)
    impact = estimate_impact(beta, "sessions", label="sessions per week", pre_periods=4, post_periods=6)
    readiness = decide_readiness(impact, adoption)
    assert readiness.verdict == truth["verdict"]
    assert readiness.headline.startswith("Go to general availability: sessions per week +0.48 (+4.2% of the level "
                                         "without the beta; "
                                         "95% CI +0.38 to +0.59)")


def test_the_parameter_file_runs_the_report_to_its_planted_verdict(truth: dict) -> None:
    settings = params.load(ROOT / "parameters" / "beta_release.yaml", report.BetaReport)
    analysis = report.run_beta_report(settings, DropLog())
    assert analysis.readiness.verdict == truth["verdict"]
    assert [impact.metric for impact in analysis.impacts] == ["sessions", "reports_created"]
    assert set(analysis.tables()) == {"impact", "event_study", "cohorts", "adoption", "retention", "readiness",
                                      "feedback_issues",
                                      "feedback_quotes"}
    assert analysis.feedback.texts == 102 and not len(analysis.feedback.blocking)
