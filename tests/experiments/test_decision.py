"""The decision and its reasons, for each kind of outcome."""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pytest

from prodops_lib.experiments import (
    ExperimentSpec,
    MetricSpec,
    analyse_aggregates,
    required_sample_size,
)

CONVERSION = MetricSpec("converted", kind="proportion", role="primary")


def counts(**arms: tuple[int, int]) -> pd.DataFrame:
    """Aggregates: variant -> (units, conversions)."""
    return pd.DataFrame([{"variant": name, "n": n, "conversions": k} for name, (n, k) in arms.items()])


def spec(**overrides) -> ExperimentSpec:
    return ExperimentSpec(**{"name": "checkout", "metrics": [CONVERSION], **overrides})


def test_clear_winner_ships():
    analysis = analyse_aggregates(counts(control=(20_000, 2000), B=(20_000, 2300)), spec())
    assert analysis.decision.verdict == "ship" and analysis.decision.variant == "B"
    assert analysis.summary["headline"].startswith("Ship B: converted +15.0% (95% CI")
    assert any("100% chance to beat control" in reason for reason in analysis.decision.reasons)
    json.dumps(analysis.summary)  # JSON-able as it is
    assert "guardrail" not in analysis.decision.headline  # none was set: nothing to say about one


def test_a_ship_headline_says_the_guardrails_held_only_when_there_are_some(units, spec):
    from prodops_lib.experiments import analyse_experiment

    analysis = analyse_experiment(units, spec)  # conversion +2 points in B; orders per session unchanged
    assert analysis.decision.verdict == "ship" and analysis.decision.variant == "B"
    assert analysis.decision.headline.endswith(", and no guardrail got worse.")


def test_flat_result_with_enough_units_does_not_ship_and_states_the_mde():
    analysis = analyse_aggregates(counts(control=(50_000, 5000), B=(50_000, 5020)), spec(mde=0.10))
    assert analysis.decision.verdict == "don't ship"
    assert "no detectable effect on converted" in analysis.decision.headline
    assert f"The smallest effect this sample could detect was {analysis.power.mde_now:.1%}." in analysis.decision.headline
    assert analysis.power.required_n < 50_000


def test_underpowered_flat_result_keeps_running_with_days_left():
    settings = {"mde": 0.05, "start_date": dt.date(2026, 9, 1), "end_date": dt.date(2026, 9, 7)}
    analysis = analyse_aggregates(counts(control=(7000, 700), B=(7000, 710)), spec(**settings))
    power = analysis.power
    required = math.ceil(required_sample_size(0.05 * 0.1, math.sqrt(0.1 * 0.9 * 7000 / 6999)))
    assert power.required_n == required
    assert power.more_days == math.ceil((required - 7000) / (7000 / 7))  # 7 days observed, 1000 units a day
    assert analysis.decision.verdict == "keep running"
    assert f"about {power.more_days} more days at the current traffic" in analysis.decision.headline


def test_sample_ratio_mismatch_comes_first():
    analysis = analyse_aggregates(counts(control=(21_000, 2100), B=(19_000, 2500)), spec())
    assert analysis.srm.mismatch
    assert analysis.decision.verdict == "investigate"
    assert analysis.summary["headline"].startswith("The split between variants is off by more than chance explains: units per variant were ")
    assert analysis.decision.reasons[0].startswith("The split between variants is off")


def test_guardrail_breach_is_investigated():
    frame = pd.concat([
        counts(control=(20_000, 2000), B=(20_000, 2300)).assign(metric="converted"),
        counts(control=(20_000, 1000), B=(20_000, 1300)).assign(metric="errors"),
    ])
    guarded = spec(metrics=[CONVERSION, MetricSpec("errors", kind="proportion", role="guardrail", direction="decrease")])
    analysis = analyse_aggregates(frame, guarded)
    errors = analysis.to_frame().query("metric == 'errors'").iloc[0]
    assert errors["guardrail_status"] == "breached"
    assert analysis.decision.verdict == "investigate"
    assert analysis.decision.headline.startswith("Investigate before shipping: guardrail errors got worse in B")


def test_winner_with_an_unproven_guardrail_keeps_running():
    frame = pd.concat([
        counts(control=(20_000, 2000), B=(20_000, 2300)).assign(metric="converted"),
        counts(control=(20_000, 100), B=(20_000, 104)).assign(metric="refunds"),
    ])
    guarded = spec(metrics=[CONVERSION, MetricSpec("refunds", kind="proportion", role="guardrail", direction="decrease",
                                                   non_inferiority_margin=0.05)])
    analysis = analyse_aggregates(frame, guarded)
    assert analysis.to_frame().query("metric == 'refunds'")["guardrail_status"].iloc[0] == "inconclusive"
    assert analysis.decision.verdict == "keep running" and analysis.decision.variant == "B"
    assert "guardrail refunds is not yet shown to stay within its margin" in analysis.decision.headline


def test_every_variant_worse_does_not_ship():
    analysis = analyse_aggregates(counts(control=(20_000, 2300), B=(20_000, 2000), C=(20_000, 1950)), spec())
    assert analysis.decision.verdict == "don't ship"
    assert analysis.decision.headline.startswith("Don't ship: converted got worse")


def test_best_of_two_winners_ships():
    analysis = analyse_aggregates(counts(control=(20_000, 2000), B=(20_000, 2300), C=(20_000, 2450)), spec())
    assert analysis.decision.verdict == "ship" and analysis.decision.variant == "C"


def test_a_metric_label_names_the_metric_on_the_page_and_results_keep_its_name():
    from prodops_lib.experiments import report

    labelled = MetricSpec("converted", kind="proportion", role="primary", label="Checkout conversion")
    analysis = analyse_aggregates(counts(control=(20_000, 2000), B=(20_000, 2300)), spec(metrics=[labelled]))
    assert analysis.decision.headline.startswith("Ship B: Checkout conversion +15.0% (95% CI")
    assert analysis.results["metric"].tolist() == ["converted"]  # results.csv keeps the machine name
    assert ">Checkout conversion<" in str(report.results_block(analysis))
    assert report.review_summary(analysis)["primary_metric_label"] == "Checkout conversion"
    # without a label, the name reads with spaces
    unlabelled = MetricSpec("orders_per_session", kind="proportion", role="primary")
    assert unlabelled.display_name == "orders per session"


def test_a_chance_to_beat_control_pulled_by_a_prior_says_how_far():
    """A prior N(0, 1%) on the lift pulls a +15% lift measured with a standard error of about 3.3%
    to the normal-normal posterior mean, m = (x / se²) / (1 / sd² + 1 / se²); the reason says so,
    since the chance to beat control then reads lower than a clear p-value suggests."""
    analysis = analyse_aggregates(counts(control=(20_000, 2000), B=(20_000, 2300)), spec(prior_sd=0.01))
    row = analysis.results.iloc[0]
    x, se = row["rel_effect"], row["rel_se"]
    expected = (x / se**2) / (1 / 0.01**2 + 1 / se**2)
    assert row["posterior_mean"] == pytest.approx(expected, rel=1e-9)
    reason = next(r for r in analysis.decision.reasons if r.startswith("Primary metric"))
    assert reason.endswith(f"chance to beat control, once the prior set in the parameters pulls the {x:+.1%} "
                           f"towards about {expected:+.1%}.")
    flat = analyse_aggregates(counts(control=(20_000, 2000), B=(20_000, 2300)), spec())
    assert next(r for r in flat.decision.reasons if r.startswith("Primary")).endswith("100% chance to beat control.")
