"""The bundled sample experiments, analysed from their parameter files as the notebooks do,
reach the decisions their planted truth calls for (``data/sample/truth.json``)."""

from __future__ import annotations

import json

import pytest

from prodops_lib import io, params
from prodops_lib.experiments import report
from prodops_lib.io import project_root

TRUTH = json.loads((project_root() / "data" / "sample" / "truth.json").read_text())["experiments"]


def analyse(name: str):
    settings = params.load(f"parameters/{name}.yaml", report.ExperimentReport)
    return report.run_experiment_report(settings, io.DropLog(), period="2026-10")


def primary_row(analysis, variant: str):
    table = analysis.results
    return table[(table["metric"] == analysis.spec.primary_metric.name) & (table["variant"] == variant)].iloc[0]


def test_checkout_is_a_clear_winner():
    analysis = analyse("ab_checkout_redesign")
    assert analysis.decision.verdict == "ship" and analysis.decision.variant == "treatment"
    row = primary_row(analysis, "treatment")
    assert row["rel_ci_low"] < TRUTH["checkout_redesign"]["true"]["converted"]["relative_lift"] < row["rel_ci_high"]
    assert row["rel_ci_low"] > 0


def test_search_ranking_keeps_running_with_the_days_it_still_needs():
    analysis = analyse("ab_search_ranking")
    assert analysis.decision.verdict == "keep running"
    assert analysis.power.required_n > analysis.power.n_per_variant and analysis.power.more_days > 0
    assert "no detectable effect on searchers who clicked a result yet" in analysis.decision.headline
    for variant, lift in TRUTH["search_ranking"]["true"]["clicked_relative_lift"].items():
        if variant != "control":
            row = primary_row(analysis, variant)
            assert row["rel_ci_low"] < lift < row["rel_ci_high"] and not row["significant"]


def test_onboarding_sample_ratio_mismatch_comes_first():
    analysis = analyse("ab_onboarding_checklist")
    assert analysis.decision.verdict == "investigate" and analysis.srm.mismatch
    assert analysis.decision.headline.startswith("The split between variants is off by more than chance explains: units per variant were ")


def test_dashboard_is_flat_and_says_what_it_could_have_detected():
    truth = TRUTH["dashboard_aggregates"]
    analysis = analyse("ab_dashboard_aggregates")
    assert analysis.decision.verdict == "don't ship"
    assert "no detectable effect on minutes in dashboard" in analysis.decision.headline
    # the MDE comes from the sample's sd; the closed form from the true gamma sd gives 4.575%
    assert analysis.power.mde_now == pytest.approx(truth["detectable_relative_lift"], abs=0.003)
    assert f"could detect was {analysis.power.mde_now:.1%}" in analysis.decision.headline
    row = primary_row(analysis, "treatment")
    assert row["rel_ci_low"] < truth["true"]["minutes_in_dashboard"]["relative_lift"] < row["rel_ci_high"]


def test_fake_door_clears_its_target():
    settings = params.load("parameters/fake_door_ai_summary.yaml", report.FakeDoorReport)
    analysis = report.run_fake_door_report(settings, io.DropLog())
    door = analysis.results[analysis.results["variant"] == "fake_door"].iloc[0]
    assert door["ci_low"] > settings.target_click_through
    assert door["ci_low"] < TRUTH["fake_door_ai_summary"]["true"]["click_through"]["fake_door"] < door["ci_high"]
