"""The program page's blocks: the summary first, then each table with the sentence it supports.
Every piece of text goes through the display helpers, so experiment names are escaped."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from prodops_lib import display
from prodops_lib.labels import count_of, metric_words, p_value_text, readable_name
from prodops_lib.program import ExperimentProgram, impact_sentence

_PCT = "{:.0%}"
_LIFT = "{:+.1%}"


def _chance(value: object) -> str:
    """A probability as a PM reads it: "under 1%" rather than a 0% that claims certainty."""
    return "under 1%" if float(value) < 0.005 else f"{float(value):.0%}"


def _window_words(program: ExperimentProgram) -> str:
    return f"{program.months[0]} to {program.months[-1]}"


def headline_impact(program: ExperimentProgram) -> pd.Series | None:
    """The impact row the summary leads with: the metric with the most shipped experiments."""
    return None if program.impact.empty else program.impact.iloc[0]


def summary_sentences(program: ExperimentProgram) -> list[tuple[str, str]]:
    """``(tone, sentence)`` pairs: win rate, what the wins added up to, how many may be false,
    and this month's pace."""
    if program.problems:
        return [("warning", program.problems[0])]
    overall = program.overall
    sentences = []
    if overall["decided"]:
        sentences.append(("neutral", f"{int(overall['wins'])} of {count_of(int(overall['decided']), 'experiment')} "
                                     f"decided from {_window_words(program)} were wins ({overall['win_rate']:.0%}): an "
                                     "A/B test shipped, or a fake door above its target."))
    else:
        sentences.append(("neutral", f"No experiment was decided from {_window_words(program)}."))
    row = headline_impact(program)
    if row is not None:
        sentences.append(("good" if row["shrunk_low"] > 0 else "neutral", impact_sentence(row)))
    declared = len(program.false_wins)
    if declared:
        confirmed = int(program.stream.loc[program.stream["decision"] == "ship", "discovery"].sum())
        sentences.append(("warning" if program.expected_false / declared >= 0.2 else "neutral",
                          f"Of the {count_of(declared, 'A/B test')} shipped, about {program.expected_false:.1f} "
                          f"{'is' if round(program.expected_false, 1) == 1 else 'are'} expected to be no real "
                          f"improvement ({program.expected_false / declared:.0%}). A stricter check, which assumes nothing "
                          f"about typical lifts and keeps the false discovery rate at {program.params.fdr_alpha:.0%} "
                          f"across the whole stream of experiments, confirms {confirmed} of them; the others are "
                          "not confirmed, which does not make them false."))
    this_month = program.velocity.iloc[-1]
    sentences.append(("neutral", f"In {program.period}: {int(this_month['started'])} started, "
                                 f"{int(this_month['concluded'])} concluded, {_open_words(program)} at the month's end."))
    return sentences


def _open_words(program: ExperimentProgram) -> str:
    summary = program.summary()
    return f"{summary['running']} running and {summary['investigate']} to investigate"


def summary_block(program: ExperimentProgram) -> display.Html:
    """KPI cards, then the summary sentences."""
    overall = program.overall
    row = headline_impact(program)
    declared = len(program.false_wins)
    rate = "—" if pd.isna(overall["win_rate"]) else f"{overall['win_rate']:.0%}"
    cards = [
        display.Kpi("Win rate", rate, f"{int(overall['wins'])} of {int(overall['decided'])} decided, "
                                      f"{program.months[0]}–{program.months[-1]}"),
        display.Kpi(f"Added to {row['label']}" if row is not None else "Impact",
                    f"{row['shrunk']:+.1%}" if row is not None else "none",
                    f"{row['naive']:+.1%} as measured" if row is not None else "no A/B test shipped",
                    "good" if row is not None and row["shrunk_low"] > 0 else "neutral"),
        display.Kpi("Expected false wins", f"{program.expected_false:.1f}" if declared else "—",
                    f"of {count_of(declared, 'shipped A/B test')}"),
        display.Kpi("Open now", f"{int(program.velocity.iloc[-1]['open'])}", _open_words(program)),
    ]
    sentences = [display.callout(text, tone=tone) for tone, text in summary_sentences(program)]
    return display.Html(display.kpi_cards(cards) + "".join(sentences))


def velocity_table(program: ExperimentProgram) -> display.Html:
    return display.table(program.velocity, caption="Experiments started and concluded in each month, and open at its end "
                                                   "(running or to investigate)")


def outcomes_table(program: ExperimentProgram) -> display.Html:
    return display.table(program.outcomes,
                         caption=f"Outcomes of the experiments concluded from {_window_words(program)}, and of "
                                 "those still open")


def win_rate_tables(program: ExperimentProgram) -> display.Html:
    rates = program.win_rates
    parts = []
    for by, title in (("theme", "by product theme"), ("team", "by team")):
        rows = rates[rates["group"].isin(["all", by])].drop(columns="group").rename(columns={"name": by})
        parts.append(display.table(rows, formats={"win_rate": _PCT},
                                   caption=f"Win rate {title} (a win: an A/B test shipped, or a fake door above "
                                           "its target; small groups vary a lot)"))
    return display.Html("".join(parts))


def time_to_decision_table(program: ExperimentProgram) -> display.Html:
    frame = program.time_to_decision.rename(columns={"name": "theme"})
    return display.table(frame, formats={"median_days": "{:.0f}", "longest_days": "{:.0f}"},
                         caption="Days from the first exposure to the last exposure of the report that decided "
                                 "(experiments with both dates)")


def batting_table(program: ExperimentProgram) -> display.Html:
    frame = program.batting.drop(columns="metric").rename(columns={"label": "metric"})
    return display.table(frame, formats={"moved_share": _PCT},
                         caption=f"How often each metric moved clearly (A/B tests concluded from "
                                 f"{_window_words(program)}, at the {program.params.alpha:.0%} level)")


def impact_block(program: ExperimentProgram) -> display.Html:
    if program.impact.empty:
        return display.paragraph(f"No A/B test was shipped from {_window_words(program)}, so there is no impact to add up.")
    sentences = display.bullets(impact_sentence(row) for _, row in program.impact.iterrows())
    frame = program.impact[["label", "n_shipped", "shrunk", "shrunk_low", "shrunk_high", "naive", "prior"]]
    frame = frame.rename(columns={"label": "metric", "shrunk": "corrected", "shrunk_low": "corrected_low",
                                  "shrunk_high": "corrected_high", "naive": "as_measured"})
    level = 1 - program.params.alpha
    table = display.table(frame, formats={c: _LIFT for c in ("corrected", "corrected_low", "corrected_high", "as_measured")},
                          level=level, caption=f"Summed relative lift of the shipped A/B tests, corrected for the winner's curse "
                                  f"({level:.0%} interval) and as measured")
    return display.Html(sentences + table + priors_table(program))


def priors_table(program: ExperimentProgram) -> display.Html:
    noise = program.priors["fell_back"] & (program.priors["n_experiments"] >= program.priors["min_experiments"])
    prior = np.select([noise, program.priors["fell_back"]], ["default (flat): lifts vary no more than noise",
                                                             "default (flat): too few experiments"], "learned")
    frame = program.priors.assign(metric=program.priors["metric"].map(metric_words), prior=prior)
    frame = frame[["metric", "prior", "n_experiments", "mean", "sd"]].rename(
        columns={"mean": "typical_true_lift", "sd": "spread_of_true_lifts"})
    return display.table(frame, formats={"typical_true_lift": _LIFT, "spread_of_true_lifts": "{:.1%}"},
                         caption="How large true lifts usually are, learned from every concluded A/B test on the "
                                 "metric (what the correction pulls each result towards)")


def false_wins_block(program: ExperimentProgram) -> display.Html:
    wins = program.false_wins
    if wins.empty:
        return display.paragraph(f"No A/B test was shipped from {_window_words(program)}.")
    shown = wins.merge(program.stream[["experiment", "discovery"]], on="experiment", how="left")
    shown = shown.assign(experiment=shown["name"].map(readable_name), metric=shown["metric"].map(metric_words),
                         discovery=shown["discovery"].map({True: "yes", False: "no"}))
    shown = shown[["experiment", "metric", "concluded", "effect", "local_fdr", "discovery", "theme"]].rename(
        columns={"effect": "measured_lift", "local_fdr": "chance_not_real", "discovery": "holds_up_across_stream"})
    return display.table(shown, formats={"measured_lift": _LIFT, "chance_not_real": _chance},
                         caption="Each shipped A/B test: the chance it is no real improvement (learned from every "
                                 "concluded test, this one included, so it can differ from the chance on the test's "
                                 "own page, which learns only from the tests before it), and whether it holds up when "
                                 f"the false discovery rate is kept at {program.params.fdr_alpha:.0%} across all "
                                 "experiments")


def stream_table(program: ExperimentProgram) -> display.Html:
    stream = program.stream
    if stream.empty:
        return display.paragraph("No A/B test concluded in the window.")
    shown = stream.assign(experiment=stream["name"].map(readable_name), metric=stream["metric"].map(metric_words),
                          discovery=stream["discovery"].map({True: "yes", False: "no"}))
    shown = shown[["experiment", "metric", "concluded", "decision", "p_value", "test_level", "discovery"]].rename(
        columns={"p_value": "primary_p_value", "test_level": "level_allowed", "discovery": "clear_across_stream"})
    # the levels LORD++ allows are around 1e-4: p-values are written down to 1e-6 to be compared with them
    tiny = partial(p_value_text, floor=1e-6)
    return display.table(shown, formats={"primary_p_value": tiny, "level_allowed": tiny},
                         caption="Each concluded A/B test in the order it concluded: its p-value against the level "
                                 "the stream allowed it (LORD++)")


def save_results(program: ExperimentProgram, results_dir: str | Path) -> None:
    """The headline for the index, ``summary.json`` for the review, and every table."""
    sentences = summary_sentences(program)
    display.save_headline(" ".join(text for _, text in sentences[:2]), results_dir, status=sentences[0][0])
    display.save_result(program.summary(), "summary", results_dir)
    for name, table in program.saved_tables().items():
        display.save_result(table, name, results_dir)


def method_block(program: ExperimentProgram) -> display.Html:
    """How each number is computed, with this report's own settings."""
    settings = program.params
    method = {"pm": "Paule–Mandel", "dl": "DerSimonian–Laird"}[settings.prior_method]
    sentences = [
        "Each experiment is read once, at the latest month its report (or its imported past result) gives, by its "
        "primary metric for the variant its decision is about. Results come from the experiment ledger kept beside "
        "the monthly reports, this month's reports, and past results imported from a file.",
        "An experiment starts in the month of its first exposure and concludes in the first month whose report "
        "decided it; it is open at a month's end when it started by then, had not concluded and was still reported "
        "(running, or to investigate).",
        "Time to decision counts the days from the first exposure to the last exposure of the deciding report.",
        f"A metric moved clearly when its change divided by its standard error is beyond the two-sided normal "
        f"cut-off at {settings.alpha:.0%}; the corrected sums' intervals are {1 - settings.alpha:.0%} intervals.",
        f"True lifts on each metric are modelled as normal; their mean and spread are estimated from every "
        f"concluded A/B test on the metric ({method} random-effects estimate, statsmodels), when at least "
        f"{settings.min_experiments} measured it. Each shipped result is then replaced by its posterior mean "
        "(empirical Bayes shrinkage), and the corrected sum's interval adds the posterior variances and the "
        "uncertainty of the estimated mean. With fewer experiments the prior is flat and the sum is left as measured.",
        "The chance that a shipped test is no real improvement is its posterior probability of no lift or a lift "
        "in the wrong direction (local false discovery rate); the expected number of false wins is their sum.",
        f"The stream check applies LORD++ (the online-fdr package) to the two-sided p-value of every concluded "
        f"A/B test's primary metric (its report's own test, before the report's correction for several metrics; for imported results, the normal test of the lift over its standard "
        f"error) in the order they concluded, holding the false discovery rate at {settings.fdr_alpha:.0%}.",
        "Fake doors count in the pace, outcomes and win rates; they are judged against a target rather than by a "
        "lift, so they are left out of impact and false discoveries.",
    ]
    return display.paragraph(" ".join(sentences))
