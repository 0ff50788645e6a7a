"""``prior: learned``: each metric's Bayesian view starts from a prior learned from the past
experiments of the months before the report's (:mod:`prodops_lib.experiments.priors`)."""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr
from statsmodels.stats.meta_analysis import combine_effects

from prodops_lib import io, params
from prodops_lib.experiments import ExperimentSpec, MetricSpec, analyse_aggregates
from prodops_lib.experiments.ledger import LEDGER_SCHEMA_VERSION, build_ledger_rows, update_ledger
from prodops_lib.experiments.priors import report_priors
from prodops_lib.experiments.program import LearnedPrior
from prodops_lib.experiments.report import (
    ExperimentReport,
    FakeDoorReport,
    fake_door_summary,
    method_block,
    results_block,
    review_summary,
    run_experiment_report,
    run_fake_door_report,
)

# twelve past experiments on converted (relative lifts and their standard errors)
EFFECTS = [0.031, -0.012, 0.024, 0.008, -0.020, 0.045, 0.002, 0.017, -0.006, 0.038, 0.011, -0.027]
ERRORS = [0.012, 0.015, 0.010, 0.018, 0.014, 0.020, 0.011, 0.013, 0.016, 0.019, 0.012, 0.017]
# statsmodels 0.14 combine_effects(EFFECTS, ERRORS**2, method_re="pm"): mean_effect_re, sqrt(tau2)
PM_MEAN, PM_TAU = 0.008974538654634802, 0.016096725041253514


def _history(tmp_path, effects=EFFECTS, errors=ERRORS, metric="converted"):
    lines = ["experiment,period,metric,variant,scale,effect,standard_error"]
    lines += [f"past_{i},2026-{1 + i % 9:02d},{metric},treatment,relative,{e},{s}"
              for i, (e, s) in enumerate(zip(effects, errors, strict=True))]
    path = tmp_path / "history.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _spec(**overrides):
    settings = {"name": "checkout", "prior": "learned",
                "metrics": [MetricSpec("converted", kind="proportion", role="primary")]}
    return ExperimentSpec(**(settings | overrides))


# control 1000/10000, variant 1100/10000: a +10% lift
CONVERSIONS = pd.DataFrame({"variant": ["control", "treatment"], "n": [10_000, 10_000], "successes": [1000, 1100]})


def test_the_prior_is_paule_mandel_and_the_posterior_the_normal_normal_update(tmp_path):
    reference = combine_effects(np.array(EFFECTS), np.array(ERRORS) ** 2, method_re="pm")
    assert (reference.mean_effect_re, math.sqrt(reference.tau2)) == pytest.approx((PM_MEAN, PM_TAU), rel=1e-9)
    spec = _spec(history=str(_history(tmp_path)))
    priors = report_priors(spec, io.DropLog(), period="2026-10", results_dir=None)
    prior = priors["converted"]
    assert (prior.mean, prior.sd, prior.n_experiments, prior.fell_back) == (
        pytest.approx(PM_MEAN, rel=1e-9), pytest.approx(PM_TAU, rel=1e-9), 12, False)

    row = analyse_aggregates(CONVERSIONS, spec, priors=priors).results.iloc[0]
    # the lift and its delta-method standard error: sqrt(var_v/p_c² + p_v² var_c/p_c⁴), var = p(1-p)/n
    lift, se = 0.1, math.sqrt(0.11 * 0.89 / 10_000 / 0.1**2 + 0.11**2 * 0.1 * 0.9 / 10_000 / 0.1**4)
    assert (row["rel_effect"], row["rel_se"]) == (pytest.approx(lift, rel=1e-12), pytest.approx(se, rel=1e-9))
    precision = 1 / se**2 + 1 / PM_TAU**2
    mean = (lift / se**2 + PM_MEAN / PM_TAU**2) / precision
    assert row["posterior_mean"] == pytest.approx(mean, rel=1e-9)
    assert row["posterior_sd"] == pytest.approx(math.sqrt(1 / precision), rel=1e-9)
    assert row["chance_to_beat_control"] == pytest.approx(ndtr(mean * math.sqrt(precision)), rel=1e-9)
    # the same data under the flat default: the posterior is the estimate
    flat = analyse_aggregates(CONVERSIONS, _spec(prior="fixed")).results.iloc[0]
    assert flat["posterior_mean"] == pytest.approx(lift, rel=1e-12) and flat["posterior_mean"] > mean


def _ledger_rows(period, experiments):
    return pd.DataFrame([{"schema_version": LEDGER_SCHEMA_VERSION, "period": period, "experiment": name,
                          "kind": "A/B test", "metric": "converted", "variant": variant, "scale": scale,
                          "effect": effect, "standard_error": se, "source": "report"}
                         for name, variant, scale, effect, se in experiments])


def test_only_earlier_months_other_experiments_and_relative_lifts_enter_each_experiment_once(tmp_path):
    out = tmp_path / "reports"
    past = [(f"ab_{i}", "treatment", "relative", e, s) for i, (e, s) in enumerate(zip(EFFECTS, ERRORS, strict=True))]
    update_ledger(out, "2026-08", _ledger_rows("2026-08", [  # an earlier month of two of them: the later one counts
        ("ab_0", "treatment", "relative", 0.5, 0.01), ("ab_1", "treatment", "relative", 0.5, 0.01)]))
    update_ledger(out, "2026-09", _ledger_rows("2026-09", [
        *past,
        ("ab_checkout", "treatment", "relative", 0.4, 0.01),      # the report's own experiment
        ("ab_2", "variant_b", "relative", 0.6, 0.05),             # a less precise second variant
        ("ab_abs", "treatment", "absolute", 0.3, 0.01)]))         # an absolute difference
    update_ledger(out, "2026-10", _ledger_rows("2026-10", [("ab_now", "treatment", "relative", 0.3, 0.01)]))
    update_ledger(out, "2026-11", _ledger_rows("2026-11", [("ab_later", "treatment", "relative", 0.3, 0.01)]))
    log = io.DropLog()
    results_dir = out / ".2026-10.staging" / "results" / "ab_checkout"
    prior = report_priors(_spec(), log, period="2026-10", results_dir=results_dir, report_name="ab_checkout")["converted"]
    assert (prior.mean, prior.sd, prior.n_experiments) == (
        pytest.approx(PM_MEAN, rel=1e-9), pytest.approx(PM_TAU, rel=1e-9), 12)
    # the ledger files of the months before are inputs (for the appendix and the manifest); the others are not
    assert [(entry["source"], entry["rows"]) for entry in log.inputs] == [("ledger period=2026-08", 2),
                                                                       ("ledger period=2026-09", 15)]
    assert all(len(entry["sha256"]) == 64 for entry in log.inputs)
    # a rerun of 2026-11 would see 2026-10's row, never its own month's
    later = report_priors(_spec(), io.DropLog(), period="2026-11", results_dir=results_dir, report_name="ab_checkout")
    assert later["converted"].n_experiments == 13


def test_too_few_past_experiments_give_the_flat_prior_and_the_page_says_why(tmp_path):
    spec = _spec(history=str(_history(tmp_path, EFFECTS[:4], ERRORS[:4])),
                 metrics=[MetricSpec("converted", kind="proportion", role="primary", label="conversion")])
    log = io.DropLog()
    priors = report_priors(spec, log, period="2026-10", results_dir=None)
    assert priors["converted"] == LearnedPrior("converted", 0.0, None, None, 4, "pm", True)
    assert log.inputs[0]["rows"] == 4 and log.inputs[0]["path"].endswith("history.csv")
    analysis = analyse_aggregates(CONVERSIONS, spec, priors=priors)
    row = analysis.results.iloc[0]
    assert row["posterior_mean"] == pytest.approx(0.1, rel=1e-12)  # flat: the estimate stands
    sentence = "a flat prior: only 4 past experiments measured conversion (10 needed)"
    assert f"<li>{sentence[0].upper() + sentence[1:]}.</li>" in html.unescape(str(results_block(analysis)))
    assert sentence in html.unescape(str(method_block(analysis)))
    assert analysis.tables()["priors"].to_dict("records") == [
        {"metric": "converted", "mean": 0.0, "sd": None, "n_experiments": 4, "method": "pm", "fell_back": True}]
    assert LearnedPrior("clicked", 0.0, None, None, 0, "pm", True).text("clicked") == (
        "a flat prior: no past experiment measured clicked (10 needed)")
    assert LearnedPrior("converted", 0.012, 0.02, 0.004, 24, "pm", False).text("conversion") == (
        "a normal prior on the relative lift learned from 24 past experiments on conversion "
        "(mean +1.2%, sd 2.0%, Paule–Mandel)")


def test_past_lifts_that_vary_no_more_than_their_noise_keep_the_flat_prior(tmp_path):
    # twelve estimates within their noise of 1%: Paule–Mandel's spread is 0, which would overrule any data
    effects = [0.010, 0.011, 0.009, 0.010, 0.012, 0.008, 0.010, 0.011, 0.009, 0.010, 0.010, 0.010]
    assert combine_effects(np.array(effects), np.full(12, 0.02**2), method_re="pm").tau2 == 0
    spec = _spec(history=str(_history(tmp_path, effects, [0.02] * 12)))
    prior = report_priors(spec, io.DropLog(), period="2026-10", results_dir=None)["converted"]
    assert (prior.sd, prior.fell_back, prior.n_experiments) == (None, True, 12)
    assert prior.text("converted").startswith("a flat prior: the 12 past experiments on converted differ "
                                                         "no more than their own noise explains")


@pytest.mark.parametrize(("settings", "message"), [
    ({"prior": "learned", "prior_sd": 0.02}, "prior: learned takes each metric's mean and sd from past experiments, "
                                              "and prior_sd sets them by hand; remove prior_sd or set prior: fixed"),
    ({"history": "data/sample/experiments/history.csv"}, "history is read only to learn priors; set prior: learned"),
    ({"prior": "learned", "prior_min_experiments": 1}, "prior_min_experiments must be a whole number of at least 2"),
    ({"prior": "learnt"}, "'learnt' is not allowed; expected one of 'fixed', 'learned' (did you mean 'learned'?)"),
])
def test_a_bad_prior_parameter_is_one_line_naming_it(settings, message):
    experiment = {"name": "x", "metrics": [{"name": "converted", "kind": "proportion", "role": "primary"}]} | settings
    with pytest.raises(params.ParameterError, match=r"^ab_x\.yaml: experiment") as error:
        params.build(ExperimentReport, {"source": "x.csv", "experiment": experiment}, source="ab_x.yaml")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_learned_priors_need_the_month_reported():
    with pytest.raises(params.ParameterError, match="prior: learned needs the month reported"):
        report_priors(_spec(), io.DropLog(), period=None, results_dir=None)


def test_the_sample_checkouts_chance_to_beat_control_is_the_closed_form_under_its_learned_prior():
    settings = params.load("parameters/ab_checkout_redesign.yaml", ExperimentReport)
    log = io.DropLog()
    analysis = run_experiment_report(settings, log, period="2026-10", report_name="ab_checkout_redesign")
    # statsmodels on the 24 relative lifts of converted in data/sample/experiments/history.csv
    history = pd.read_csv(params.resolve_path("data/sample/experiments/history.csv"))
    rows = history[(history["metric"] == "converted") & (history["scale"] == "relative")]
    reference = combine_effects(rows["effect"].to_numpy(), rows["standard_error"].to_numpy() ** 2, method_re="pm")
    mu, tau = 0.003228630095763448, 0.016308402537975362
    assert (len(rows), reference.mean_effect_re, math.sqrt(reference.tau2)) == (
        24, pytest.approx(mu, rel=1e-9), pytest.approx(tau, rel=1e-9))
    prior = analysis.priors["converted"]
    assert (prior.mean, prior.sd, prior.n_experiments) == (pytest.approx(mu, rel=1e-9), pytest.approx(tau, rel=1e-9), 24)
    row = analysis.results.set_index("metric").loc["converted"]
    lift, se = row["rel_effect"], row["rel_se"]
    assert (lift, se) == (pytest.approx(0.09887022415368518, rel=1e-9), pytest.approx(0.04161720723110473, rel=1e-9))
    precision = 1 / se**2 + 1 / tau**2
    mean = (lift / se**2 + mu / tau**2) / precision
    assert row["chance_to_beat_control"] == pytest.approx(ndtr(mean * math.sqrt(precision)), rel=1e-12)
    assert row["chance_to_beat_control"] == pytest.approx(0.8533960663125115, rel=1e-9)
    # revenue learns from its 12; the metrics no past experiment measured keep the flat prior
    assert {name: p.n_experiments for name, p in analysis.priors.items() if not p.fell_back} == {"converted": 24,
                                                                                               "revenue": 12}
    assert "a flat prior: no past experiment measured orders per session (10 needed)" in str(method_block(analysis))
    assert "data/sample/experiments/history.csv" in [entry["path"] for entry in log.inputs]


def test_the_team_goes_to_the_summary_and_the_ledger(tmp_path):
    settings = params.load("parameters/fake_door_ai_summary.yaml", FakeDoorReport)
    assert fake_door_summary(settings, run_fake_door_report(settings, io.DropLog()))["team"] == "Insights"
    ab = params.load("parameters/ab_dashboard_aggregates.yaml", ExperimentReport)
    analysis = run_experiment_report(ab, io.DropLog())
    folder = tmp_path / "2026-10" / "results" / "ab_dashboard_layout"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(review_summary(analysis)))
    analysis.results.to_csv(folder / "results.csv", index=False)
    rows = build_ledger_rows(folder.parent, "2026-10")
    assert rows["team"].tolist() == ["Insights"]
