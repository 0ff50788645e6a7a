"""The experiment program: what every A/B test and fake door so far adds up to.

Its rows are the experiment ledger's (:mod:`prodops_lib.experiments.ledger`): one per
experiment, period, metric and variant, from this kit's reports and from imported history.
Each experiment is read at its latest period up to the one reported, as one row: its primary
metric (the row marked primary; an experiment that measured one metric only needs no mark) for
the variant its decision is about (the decided variant; else the clearest one, largest
``|effect| / standard error``). Over a window of ``months`` months ending with the period:

* **velocity** — per month, experiments started (month of the first exposure, or of the first
  period that reported the experiment when its start is unknown), concluded (the first period
  whose report decided it) and open at the month's end (started, not concluded, and still
  reported: running or to investigate);
* **outcomes and win rates** — experiments concluded in the window by verdict; a win is an A/B
  test to ship or a fake door above its target (build), as in the monthly review;
* **time to decision** — days from the first exposure to the last exposure of the deciding report;
* **how often each metric moves** ("batting average") — among concluded experiments that measured
  a metric, the share whose change is clear (two-sided normal test of effect / standard error at
  ``alpha``), split into improved and worsened by the metric's direction;
* **cumulative impact** of shipped A/B tests on each primary metric measured as a relative lift,
  summed as measured and after shrinkage (:func:`..experiments.program.cumulative_impact`), with
  the prior learned from every concluded experiment on that metric so far, not only the window's;
* **expected false wins** among declared wins (local false discovery rate under that prior);
* **online FDR** — LORD++ over the stream of concluded A/B tests in the order they concluded.

Fake doors count in velocity, outcomes and win rates; they are judged against a target, not by a
lift that ships, so they are left out of impact and false discoveries (and counted as left out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import ndtr

from prodops_lib.experiments.decision import DECIDED, WINS
from prodops_lib.experiments.ledger import (
    build_ledger_rows,
    ledger_files,
    ledger_root_for,
    program_history,
)
from prodops_lib.experiments.program import (
    CumulativeImpact,
    LearnedPrior,
    cumulative_impact,
    expected_false_wins,
    fit_prior,
    online_fdr,
)
from prodops_lib.io import DropLog, existing_file
from prodops_lib.labels import count_of, metric_words
from prodops_lib.params import recent_months, resolve_path

__all__ = ["ExperimentProgram", "ProgramParams", "build_program", "experiment_table", "impact_sentence", "load_program_rows"]

SOURCE = "experiment results"
NO_THEME, NO_TEAM = "(no theme)", "(no team)"


@dataclass(frozen=True)
class ProgramParams:
    """``history``: a CSV of past results in the ledger's import format, read beside the ledger
    for the experiments and periods it lacks (so a team's history counts before it is imported);
    ``ledger``: the output folder whose ledger is read (default: the bundle run's own);
    ``results_root``: this period's results (default: the folder the program's results go into).
    ``months``: the window for velocity, outcomes, win rates and impact. A metric's prior is
    learned from at least ``min_experiments`` concluded experiments (fewer: flat, no shrinkage)
    by ``prior_method`` (``pm`` Paule–Mandel, ``dl`` DerSimonian–Laird). ``alpha``: the level at
    which a metric "moved", and of the corrected sums' intervals (1 − alpha); ``fdr_alpha``: the
    false discovery rate LORD++ keeps."""

    history: str | None = None
    ledger: str | None = None
    results_root: str | None = None
    months: int = 12
    min_experiments: int = 10
    prior_method: Literal["pm", "dl"] = "pm"
    alpha: float = 0.05
    fdr_alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.months < 1:
            raise ValueError(f"months {self.months} must be at least 1")
        if self.min_experiments < 2:
            raise ValueError(f"min_experiments {self.min_experiments} must be at least 2")
        for name in ("alpha", "fdr_alpha"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} {getattr(self, name)} must be between 0 and 1, e.g. 0.05")


@dataclass(frozen=True)
class ExperimentProgram:
    """Everything the program page shows. Frames, one row per: ``experiments`` experiment (all
    known at the period); ``velocity`` month of the window; ``outcomes`` verdict; ``win_rates``
    group (overall, theme, team); ``time_to_decision`` theme; ``batting`` metric; ``impact`` and
    ``priors`` primary metric; ``false_wins`` declared win of the window; ``stream`` concluded A/B
    test (LORD++)."""

    period: str
    months: list[str]
    experiments: pd.DataFrame
    velocity: pd.DataFrame
    outcomes: pd.DataFrame
    win_rates: pd.DataFrame
    time_to_decision: pd.DataFrame
    batting: pd.DataFrame
    impact: pd.DataFrame
    priors: pd.DataFrame
    false_wins: pd.DataFrame
    stream: pd.DataFrame
    params: ProgramParams
    problems: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.experiments.copy()

    @property
    def window(self) -> pd.DataFrame:
        """The experiments concluded in the window."""
        table = self.experiments
        return table[table["concluded"].isin(self.months)]

    @property
    def overall(self) -> pd.Series:
        return self.win_rates.iloc[0]

    @property
    def expected_false(self) -> float:
        return float(self.false_wins["local_fdr"].sum()) if len(self.false_wins) else 0.0

    def saved_tables(self) -> dict[str, pd.DataFrame]:
        return {"experiments": self.experiments, "velocity": self.velocity, "outcomes": self.outcomes,
                "win_rates": self.win_rates, "time_to_decision": self.time_to_decision,
                "batting_average": self.batting, "impact": self.impact, "priors": self.priors,
                "false_wins": self.false_wins, "online_fdr": self.stream}

    def summary(self) -> dict:
        """What the monthly review reads (``summary.json``): the headline numbers."""
        overall = self.overall
        this_month = self.velocity.iloc[-1]
        return {
            "period": self.period, "months": len(self.months), "first_month": self.months[0],
            "decided": int(overall["decided"]), "wins": int(overall["wins"]),
            "win_rate": None if pd.isna(overall["win_rate"]) else float(overall["win_rate"]),
            "started_this_month": int(this_month["started"]), "concluded_this_month": int(this_month["concluded"]),
            "open": int(this_month["open"]),
            "running": int((self.experiments["status"] == "running").sum()),
            "investigate": int((self.experiments["status"] == "investigate").sum()),
            "declared_wins": len(self.false_wins), "expected_false_wins": self.expected_false,
            "impact": [{key: (None if isinstance(value, float) and np.isnan(value) else value)
                        for key, value in row.items()} for row in self.impact.to_dict("records")],
            "impact_sentence": impact_sentence(self.impact.iloc[0]) if len(self.impact) else None,
        }


def impact_sentence(row: pd.Series | dict) -> str:
    """What the shipped A/B tests on one metric added, corrected for the winner's curse when a
    prior could be learned: the program report's sentence, which the review repeats."""
    one = int(row["n_shipped"]) == 1
    tests = count_of(int(row["n_shipped"]), "shipped A/B test")
    if row["prior"] != "learned":
        return (f"The {tests} on {row['label']} {'adds' if one else 'add'} up to {row['naive']:+.1%} as measured; "
                "past tests on it do not show how large true lifts usually are, so the winner's curse cannot be "
                "corrected and the sum is likely too high.")
    return (f"The {tests} on {row['label']} added about {row['shrunk']:+.1%} ({row['shrunk_low']:+.1%} to "
            f"{row['shrunk_high']:+.1%}) once corrected for the winner's curse, not the {row['naive']:+.1%} "
            f"{'its own result adds' if one else 'their own results add'} up to.")


def load_program_rows(results_dir: str | Path, period: str, params: ProgramParams, log: DropLog) -> pd.DataFrame:
    """Every experiment result known at ``period``: this run's A/B and fake-door results (the
    folders beside ``results_dir``, or ``params.results_root``), the ledger's earlier rows (the
    run's output folder, or ``params.ledger``) and ``params.history``. Each file read is
    recorded in ``log``, so the manifest holds its hash."""
    results_root = resolve_path(params.results_root) if params.results_root else resolve_path(results_dir).parent
    this_period = build_ledger_rows(results_root, period)
    this_period = this_period[this_period["experiment"] != Path(results_dir).name]
    for experiment in sorted(set(this_period["experiment"])):
        log.record_input(f"{experiment} (this period)", results_root / experiment / "results.csv",
                         int((this_period["experiment"] == experiment).sum()))
    out_root = resolve_path(params.ledger) if params.ledger else ledger_root_for(results_dir)
    for label, file, count in ledger_files(out_root, through=period) if out_root is not None else []:
        log.record_input(label, file, count)
    history = existing_file(params.history, f"history ({params.history})") if params.history else None
    rows = program_history(out_root, period, history=history, this_period=this_period)
    if history is not None:
        log.record_input("past results (history)", history, int((rows["source"] == "import").sum()))
    return rows


# --- one row per experiment ---------------------------------------------------------------

def experiment_table(rows: pd.DataFrame, period: str, log: DropLog | None = None) -> pd.DataFrame:
    """One row per experiment known at ``period``: its primary result at its latest period,
    when it started and concluded, and its status (concluded, running, investigate, or
    stalled: undecided and not reported since an earlier period)."""
    rows = rows[rows["period"] <= period]
    if rows.empty:
        return pd.DataFrame(columns=_EXPERIMENT_COLUMNS)
    first_period = rows.groupby("experiment")["period"].min()
    start_date = rows.groupby("experiment")["start_date"].min()
    # concluded in the first month a report decided it: a decided test that stays in the bundle
    # is reported again, but it concluded once
    first_decided = rows[rows["decision"].isin(DECIDED)].groupby("experiment")["period"].min()
    latest = rows[rows["period"] == rows.groupby("experiment")["period"].transform("max")]
    primary = _primary_rows(latest, log)
    chosen = _one_variant(primary)
    table = chosen.set_index("experiment")
    table["first_period"] = first_period
    table["start_date"] = start_date
    table["first_decided"] = first_decided
    table = table.reset_index().rename(columns={"period": "last_period"})
    table["started"] = [str(date)[:7] if isinstance(date, str) and date else first
                        for date, first in zip(table["start_date"], table["first_period"], strict=True)]
    decided = table["decision"].isin(DECIDED)
    table["concluded"] = table["first_decided"].where(decided)
    table["status"] = np.select(
        [decided, table["last_period"] < period, table["decision"] == "investigate"],
        ["concluded", "stalled", "investigate"], "running")
    table["win"] = table["decision"].isin(WINS)
    table["days_to_decision"] = _days_between(table["start_date"], table["end_date"]).where(decided)
    table["name"] = table["name"].fillna(table["experiment"])
    table["theme"] = table["theme"].fillna(NO_THEME)
    table["team"] = table["team"].fillna(NO_TEAM)
    return table[_EXPERIMENT_COLUMNS].sort_values(["started", "experiment"], ignore_index=True)


_EXPERIMENT_COLUMNS = ["experiment", "name", "kind", "theme", "team", "metric", "direction", "scale", "variant", "effect",
                       "standard_error", "p_value", "decision", "status", "win", "started", "concluded", "first_period",
                       "last_period", "start_date", "end_date", "days_to_decision"]


def _primary_rows(latest: pd.DataFrame, log: DropLog | None) -> pd.DataFrame:
    marked = latest["role"] == "primary"
    has_mark = marked.groupby(latest["experiment"]).transform("any")
    single = latest.groupby("experiment")["metric"].transform("nunique") == 1
    keep = marked | (~has_mark & single)
    unclear = latest.loc[~has_mark & ~single, "experiment"].nunique()
    if log is not None and unclear:
        log.drop(SOURCE, "experiment with several metrics and none marked primary (add role: primary)", int(unclear))
    return latest[keep]


def _one_variant(primary: pd.DataFrame) -> pd.DataFrame:
    """The decided variant's row, else the clearest variant's (largest |effect| / SE)."""
    frame = primary.assign(_decided=primary["variant"] == primary["decided_variant"],
                           _clarity=(primary["effect"] / primary["standard_error"]).abs().fillna(-1.0))
    frame = frame.sort_values(["experiment", "_decided", "_clarity", "variant"], ascending=[True, False, False, True])
    return frame.drop_duplicates("experiment").drop(columns=["_decided", "_clarity"])


def _days_between(start: pd.Series, end: pd.Series) -> pd.Series:
    first = pd.to_datetime(start, errors="coerce", format="ISO8601")
    last = pd.to_datetime(end, errors="coerce", format="ISO8601")
    return (last - first).dt.days.astype("float64")


# --- the program ----------------------------------------------------------------------------

def build_program(rows: pd.DataFrame, period: str, params: ProgramParams, log: DropLog | None = None) -> ExperimentProgram:
    """The program at ``period`` from every ledger row known then (see the module docstring)."""
    log = log if log is not None else DropLog()
    months = recent_months(period, params.months)
    experiments = experiment_table(rows, period, log)
    window = experiments[experiments["concluded"].isin(months)]
    history = _measured_ab(experiments, log)
    impact, priors = _impact(history, months, params)
    false_wins = _false_wins(history, months, params)
    stream = _stream(history, months, params)
    problems = [] if len(experiments) else [f"no experiment results up to {period}: run the A/B and fake-door "
                                            "reports, or set history: to a CSV of past results"]
    return ExperimentProgram(period, months, experiments, _velocity(experiments, months), _outcomes(experiments, months),
                             _win_rates(window), _time_to_decision(window), _batting(rows, window, params),
                             impact, priors, false_wins, stream, params, problems)


def _velocity(experiments: pd.DataFrame, months: list[str]) -> pd.DataFrame:
    rows = []
    for month in months:
        started = experiments["started"] <= month
        open_after = experiments["concluded"].isna() | (experiments["concluded"] > month)
        still_reported = experiments["concluded"].notna() | (experiments["last_period"] >= month)
        rows.append({"month": month, "started": int((experiments["started"] == month).sum()),
                     "concluded": int((experiments["concluded"] == month).sum()),
                     "open": int((started & open_after & still_reported).sum())})
    return pd.DataFrame(rows, columns=["month", "started", "concluded", "open"])


_OUTCOME_ORDER = ["ship", "don't ship", "build", "don't build", "keep running", "investigate", "stalled"]


def _outcomes(experiments: pd.DataFrame, months: list[str]) -> pd.DataFrame:
    """Experiments concluded in the window by verdict, and those still open now."""
    concluded = experiments[experiments["concluded"].isin(months)]
    open_now = experiments[experiments["status"].isin(["running", "investigate", "stalled"])]
    outcome = pd.concat([concluded["decision"], open_now["decision"].where(open_now["status"] != "stalled", "stalled")])
    kind = pd.concat([concluded["kind"], open_now["kind"]])
    counts = pd.crosstab(outcome, kind).reindex(columns=["A/B test", "fake door"], fill_value=0)
    counts = counts.reindex([o for o in _OUTCOME_ORDER if o in counts.index])
    table = counts.rename(columns={"A/B test": "ab_tests", "fake door": "fake_doors"}).rename_axis(None, axis=1)
    table["experiments"] = table["ab_tests"] + table["fake_doors"]
    return table.rename_axis("outcome").reset_index()


def _win_rates(window: pd.DataFrame) -> pd.DataFrame:
    """Overall, then by theme and by team: decided experiments, wins and the win rate."""
    def rate(group: pd.DataFrame, by: str, name: str) -> dict:
        wins, decided = int(group["win"].sum()), len(group)
        return {"group": by, "name": name, "decided": decided, "wins": wins,
                "win_rate": wins / decided if decided else np.nan}

    rows = [rate(window, "all", "All experiments")]
    for by in ("theme", "team"):
        rows += [rate(group, by, str(name)) for name, group in window.groupby(by, sort=True)]
    return pd.DataFrame(rows, columns=["group", "name", "decided", "wins", "win_rate"])


def _time_to_decision(window: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, group in [("All experiments", window), *window.groupby("theme", sort=True)]:
        days = group["days_to_decision"].dropna()
        rows.append({"name": str(name), "concluded": len(group), "with_dates": len(days),
                     "median_days": float(days.median()) if len(days) else np.nan,
                     "longest_days": float(days.max()) if len(days) else np.nan})
    return pd.DataFrame(rows, columns=["name", "concluded", "with_dates", "median_days", "longest_days"])


def _batting(rows: pd.DataFrame, window: pd.DataFrame, params: ProgramParams) -> pd.DataFrame:
    """Per metric, over the window's concluded A/B tests: how often its change was clear."""
    final = rows.merge(window.loc[window["kind"] == "A/B test", ["experiment", "last_period", "variant"]],
                       left_on=["experiment", "period", "variant"], right_on=["experiment", "last_period", "variant"])
    final = final[final["standard_error"] > 0]
    z = final["effect"] / final["standard_error"]
    clear = 2 * ndtr(-z.abs()) < params.alpha
    better = np.where(final["direction"] == "decrease", z < 0, z > 0)
    frame = final.assign(improved=clear & better, worsened=clear & ~better)
    table = frame.groupby("metric", sort=True).agg(experiments=("experiment", "nunique"), improved=("improved", "sum"),
                                                    worsened=("worsened", "sum"))
    table["moved_share"] = (table["improved"] + table["worsened"]) / table["experiments"]
    table = table.reset_index().sort_values(["experiments", "metric"], ascending=[False, True], ignore_index=True)
    table.insert(1, "label", table["metric"].map(metric_words))
    return table.astype({"improved": int, "worsened": int})


def _measured_ab(experiments: pd.DataFrame, log: DropLog) -> pd.DataFrame:
    """Concluded A/B tests whose primary result is a relative lift with a standard error: what
    priors, shrinkage and false discoveries are computed on."""
    concluded = experiments[experiments["status"] == "concluded"]
    doors = int((concluded["kind"] == "fake door").sum())
    tests = concluded[concluded["kind"] == "A/B test"]
    no_se = ~(tests["standard_error"] > 0)
    absolute = ~no_se & (tests["scale"] != "relative")
    log.drop(SOURCE, "fake door: judged against its target, left out of impact and false discoveries", doors)
    log.drop(SOURCE, "A/B test without a standard error: left out of impact and false discoveries", int(no_se.sum()))
    log.drop(SOURCE, "A/B test saved as an absolute difference only: left out of impact and false discoveries "
             "(imported lifts need the column scale = relative)", int(absolute.sum()))
    return tests[~no_se & ~absolute].assign(shipped=lambda t: t["decision"] == "ship")


def _impact(history: pd.DataFrame, months: list[str], params: ProgramParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    impacts: list[CumulativeImpact] = []
    priors: list[LearnedPrior] = []
    for metric, group in history.groupby("metric", sort=True):
        priors.append(fit_prior(group["effect"], group["standard_error"], metric=str(metric),
                                method=params.prior_method, min_experiments=params.min_experiments))
        shipped_here = group.assign(shipped=group["shipped"] & group["concluded"].isin(months))
        if shipped_here["shipped"].any():
            impacts.append(cumulative_impact(shipped_here, str(metric), method=params.prior_method,
                                             min_experiments=params.min_experiments, alpha=params.alpha))
    prior_frame = pd.concat([p.to_frame() for p in priors], ignore_index=True) if priors else pd.DataFrame(
        columns=["metric", "mean", "sd", "mean_standard_error", "n_experiments", "method", "fell_back", "min_experiments"])
    impact = pd.concat([i.to_frame() for i in impacts], ignore_index=True) if impacts else pd.DataFrame(
        columns=["metric", "n_shipped", "naive", "naive_low", "naive_high", "shrunk", "shrunk_low", "shrunk_high"])
    impact.insert(1, "label", impact["metric"].map(metric_words))
    fell_back = dict(zip(prior_frame["metric"], prior_frame["fell_back"], strict=True))
    impact["prior"] = impact["metric"].map(lambda m: "default (flat)" if fell_back.get(m) else "learned")
    # the metric most tests shipped on leads (the summary's headline), then the most measured one
    measured = dict(zip(prior_frame["metric"], prior_frame["n_experiments"], strict=True))
    order = impact.assign(_n=-impact["n_shipped"], _k=-impact["metric"].map(measured)).sort_values(["_n", "_k", "metric"]).index
    return impact.loc[order].reset_index(drop=True), prior_frame


def _false_wins(history: pd.DataFrame, months: list[str], params: ProgramParams) -> pd.DataFrame:
    frames = []
    counted = history.assign(in_window=history["concluded"].isin(months))
    for metric, group in counted.groupby("metric", sort=True):
        direction = group["direction"].dropna().iloc[0] if group["direction"].notna().any() else "increase"
        won = expected_false_wins(group, str(metric), direction=direction, method=params.prior_method,
                                  min_experiments=params.min_experiments, counted="in_window")
        frames.append(won)
    columns = ["experiment", "name", "metric", "theme", "concluded", "effect", "standard_error", "local_fdr"]
    if not frames:
        return pd.DataFrame(columns=columns)
    table = pd.concat(frames, ignore_index=True)[columns]
    return table.sort_values(["concluded", "experiment"], ignore_index=True)


def _stream(history: pd.DataFrame, months: list[str], params: ProgramParams) -> pd.DataFrame:
    """LORD++ over every concluded A/B test known, in the order they concluded; the window's rows."""
    columns = ["experiment", "name", "metric", "concluded", "decision", "effect", "standard_error", "p_value",
               "test_level", "discovery"]
    if history.empty:
        return pd.DataFrame(columns=columns)
    ordered = history.assign(_end=history["end_date"].fillna(history["concluded"] + "-28"))
    ordered = ordered.sort_values(["concluded", "_end", "experiment"], ignore_index=True)
    ordered["order"] = np.arange(len(ordered))
    stream = online_fdr(ordered, order_by="order", alpha=params.fdr_alpha)
    return stream[stream["concluded"].isin(months)][columns].reset_index(drop=True)

