"""The experiment program: one row per experiment, pace, win rates, impact and false wins, each
checked against numbers worked out by hand or against the planted truth of the sample history."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from prodops_lib.experiments.ledger import COLUMNS, _typed, program_history
from prodops_lib.io import DropLog
from prodops_lib.params import ParameterError, build
from prodops_lib.program import ProgramParams, build_program, experiment_table
from prodops_lib.program.report import summary_sentences
from prodops_lib.review.report import program_block

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


def _row(experiment, period, metric="converted", variant="treatment", effect=0.02, se=0.01, decision="ship", **extra):
    base = {"experiment": experiment, "period": period, "metric": metric, "variant": variant, "effect": effect,
            "standard_error": se, "decision": decision, "kind": "A/B test", "scale": "relative",
            "direction": "increase", "source": "report", "schema_version": 2}
    return base | extra


def _rows(*rows) -> pd.DataFrame:
    return _typed(pd.DataFrame(list(rows)))


def test_each_experiment_is_read_once_at_its_latest_period_by_its_decided_primary_variant():
    rows = _rows(
        # a: running in September, shipped in October with variant B (not the clearer C)
        _row("a", "2026-09", decision="keep running", role="primary", start_date="2026-08-20", end_date="2026-09-30"),
        _row("a", "2026-10", variant="B", effect=0.03, role="primary", decided_variant="B",
             start_date="2026-09-01", end_date="2026-10-21"),
        _row("a", "2026-10", variant="C", effect=0.09, role="primary", decided_variant="B"),
        _row("a", "2026-10", metric="page_load_ms", variant="B", role="guardrail", decided_variant="B"),
        # b: one metric, no role: that metric is its primary; not reported since August
        _row("b", "2026-08", metric="activated", decision="keep running"),
        # c: two metrics and no primary mark: counted as dropped, with its reason
        _row("c", "2026-10", metric="x"), _row("c", "2026-10", metric="y"),
        # d: a result of a later month than the one reported
        _row("d", "2026-11"),
    )
    log = DropLog()
    table = experiment_table(rows, "2026-10", log).set_index("experiment")
    assert sorted(table.index) == ["a", "b"]
    a = table.loc["a"]
    assert (a["variant"], a["effect"], a["status"], a["win"]) == ("B", 0.03, "concluded", True)
    # started in the month of the first exposure of any period; 2026-08-20 → 2026-10-21 is 62 days
    assert (a["started"], a["concluded"], a["first_period"], a["days_to_decision"]) == ("2026-08", "2026-10", "2026-09", 62)
    b = table.loc["b"]
    assert (b["metric"], b["status"], b["started"]) == ("activated", "stalled", "2026-08")
    assert pd.isna(b["concluded"])
    dropped = log.to_frame()
    assert dropped.loc[dropped["rows_dropped"] > 0, "rows_dropped"].tolist() == [1]
    assert "none marked primary" in dropped.loc[dropped["rows_dropped"] > 0, "reason"].iloc[0]


def test_pace_outcomes_and_win_rates_match_a_hand_count():
    rows = _rows(
        _row("a", "2026-08", start_date="2026-07-10", theme="Search", team="Growth"),            # ship, Aug
        _row("b", "2026-09", decision="don't ship", start_date="2026-08-03", theme="Search", team="Growth"),
        _row("c", "2026-10", decision="keep running", start_date="2026-09-15", theme="Billing", team="Payments"),
        _row("d", "2026-10", decision="build", kind="fake door", metric="click_through", scale="absolute",
             start_date="2026-10-02", theme="Billing", team="Payments"),
    )
    program = build_program(rows, "2026-10", ProgramParams(months=3))
    velocity = program.velocity.set_index("month")
    # Aug: b starts, a concludes; Sep: c starts, b concludes, c runs; Oct: d starts and concludes, c runs
    assert velocity.to_dict("index") == {"2026-08": {"started": 1, "concluded": 1, "open": 1},
                                         "2026-09": {"started": 1, "concluded": 1, "open": 1},
                                         "2026-10": {"started": 1, "concluded": 1, "open": 1}}
    outcomes = program.outcomes.set_index("outcome")
    assert outcomes["experiments"].to_dict() == {"ship": 1, "don't ship": 1, "build": 1, "keep running": 1}
    rates = program.win_rates.set_index(["group", "name"])
    assert rates.loc[("all", "All experiments"), ["decided", "wins"]].tolist() == [3, 2]
    assert rates.loc[("theme", "Search"), "win_rate"] == 0.5 and rates.loc[("team", "Payments"), "win_rate"] == 1.0
    # the fake door is left out of impact and false discoveries, and counted as left out
    assert program.impact["n_shipped"].tolist() == [1] and program.false_wins["experiment"].tolist() == ["a"]


def test_impact_counts_the_windows_ships_and_learns_its_prior_from_every_concluded_test():
    rng = np.random.default_rng(7)
    effects = rng.normal(0.01, 0.02, 30) + rng.normal(0, 0.01, 30)
    periods = [f"2025-{m:02d}" for m in range(1, 13)] * 2 + ["2026-01"] * 6
    rows = _rows(*[_row(f"e{i}", periods[i], effect=float(effects[i]),
                        decision="ship" if effects[i] > 0.0196 else "don't ship") for i in range(30)])
    program = build_program(rows, "2026-01", ProgramParams(months=1))
    prior = program.priors.iloc[0]
    reference = combine_effects(effects, np.full(30, 0.01**2), method_re="pm")
    assert prior["n_experiments"] == 30
    assert prior["sd"] == pytest.approx(np.sqrt(reference.tau2), rel=1e-9)
    assert prior["mean"] == pytest.approx(reference.mean_effect_re, rel=1e-9)
    shipped_in_window = [i for i in range(24, 30) if effects[i] > 0.0196]
    impact = program.impact.iloc[0]
    assert impact["n_shipped"] == len(shipped_in_window)
    assert impact["naive"] == pytest.approx(effects[shipped_in_window].sum(), rel=1e-12)
    # the shrunk sum: each shipped estimate pulled towards the mean by B = s² / (s² + τ²)
    b = 0.01**2 / (0.01**2 + reference.tau2)
    expected = sum(reference.mean_effect_re + (1 - b) * (effects[i] - reference.mean_effect_re)
                   for i in shipped_in_window)
    assert impact["shrunk"] == pytest.approx(expected, rel=1e-9)


def test_the_sample_history_recovers_its_planted_truth():
    """On the sample's year of past experiments the corrected impact is nearer the true summed
    lift than the measured one on every metric, and the learned prior's spread is near the planted."""
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))["experiment_history"]
    rows = program_history(None, "2026-09", history=SAMPLE / "experiments" / "history.csv")
    program = build_program(rows, "2026-09", ProgramParams(months=12))
    history = pd.read_csv(SAMPLE / "experiments" / "history.csv")
    for _, impact in program.impact.iterrows():
        shipped = history[(history["metric"] == impact["metric"]) & (history["decision"] == "ship")]
        true_sum = shipped["experiment"].map(truth["true_effects"]).sum()
        assert abs(impact["shrunk"] - true_sum) < abs(impact["naive"] - true_sum), impact["metric"]
    # 12 to 24 experiments per metric: the spread is estimated within a factor of two of the planted
    for _, prior in program.priors.iterrows():
        planted = truth["planted"][prior["metric"]]["sd"]
        assert 0.5 * planted < prior["sd"] < 2 * planted, prior["metric"]
    assert program.overall["decided"] == 48 and program.overall["wins"] == (history["decision"] == "ship").sum()


def test_the_summary_and_the_reviews_headline_say_the_same_numbers():
    rows = program_history(None, "2026-09", history=SAMPLE / "experiments" / "history.csv")
    program = build_program(rows, "2026-09", ProgramParams(months=12))
    saved = program.summary()
    first = summary_sentences(program)[0][1]
    assert first.startswith(f"{saved['wins']} of {saved['decided']} experiments decided from 2025-10 to 2026-09 were wins")

    class Review:
        program = json.loads(json.dumps(saved))
    text = str(program_block(Review()))
    top = saved["impact"][0]
    assert f"{saved['wins']} of {saved['decided']} experiments decided were wins ({saved['win_rate']:.0%})" in text
    # the review repeats the program page's own impact sentence, word for word
    sentence = next(words for _, words in summary_sentences(program) if "winner's curse" in words)
    assert saved["impact_sentence"] == sentence and sentence in html.unescape(text)
    assert f"added about {top['shrunk']:+.1%}" in sentence and f"not the {top['naive']:+.1%}" in sentence


def test_bad_program_parameters_are_one_line():
    with pytest.raises(ParameterError, match="months 0 must be at least 1"):
        build(ProgramParams, {"months": 0}, "parameters/experiment_program.yaml")
    with pytest.raises(ParameterError, match="fdr_alpha"):
        build(ProgramParams, {"fdr_alpha": 5}, "parameters/experiment_program.yaml")


def test_no_results_yet_says_what_to_set():
    program = build_program(_typed(pd.DataFrame(columns=list(COLUMNS))), "2026-10", ProgramParams())
    assert summary_sentences(program) == [("warning", "no experiment results up to 2026-10: run the A/B and fake-door "
                                                      "reports, or set history: to a CSV of past results")]


def test_a_decided_test_reported_again_concluded_once_in_its_first_deciding_month():
    """A shipped test that stays in the bundle is reported again next month; it concluded once."""
    rows = _rows(_row("a", "2026-09", start_date="2026-08-10"), _row("a", "2026-10", start_date="2026-08-10"),
                 _row("b", "2026-10", decision="investigate", start_date="2026-10-01"))
    assert build_program(rows, "2026-09", ProgramParams(months=2)).velocity["concluded"].tolist() == [0, 1]
    program = build_program(rows, "2026-10", ProgramParams(months=2))
    assert program.velocity.set_index("month")["concluded"].to_dict() == {"2026-09": 1, "2026-10": 0}
    # b is open (to investigate), not running: the summary names both counts
    assert (program.summary()["open"], program.summary()["running"], program.summary()["investigate"]) == (1, 0, 1)


def test_past_lifts_that_vary_no_more_than_their_noise_give_the_flat_prior():
    """τ² = 0 (Paule–Mandel on 12 equal estimates): shrinking onto the mean would overrule every
    result, so the program keeps the result as measured, as the A/B reports do."""
    rows = _rows(*[_row(f"e{i}", "2026-01", effect=0.004, decision="don't ship") for i in range(11)],
                 _row("win", "2026-01", effect=0.025))
    program = build_program(rows, "2026-01", ProgramParams(months=1))
    assert combine_effects(np.r_[np.full(11, 0.004), 0.025], np.full(12, 1e-4), method_re="pm").tau2 == 0
    prior = program.priors.iloc[0]
    assert (bool(prior["fell_back"]), prior["n_experiments"]) == (True, 12)
    impact = program.impact.iloc[0]
    assert (impact["shrunk"], impact["naive"], impact["prior"]) == (0.025, 0.025, "default (flat)")
