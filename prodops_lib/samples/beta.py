"""A sample beta release with planted selection bias and a known true effect.

Units have a persistent engagement ``a_i ~ Normal(0, 1)``; they opt in to the beta with
probability ``logistic(c + selection · a_i)``, so beta units were more engaged before they
entered. They enter in one of ``entry_weeks`` (staggered), on a random day of that week. The
metric is ``baseline + level_sd · a_i + season_t + τ_k + e_it`` with ``e_it ~ Normal(0, noise)``
and ``τ_k`` the effect ``k`` weeks after entry, ramping up to ``effect`` over ``ramp_weeks``.
Outside the beta, and before entry, ``τ = 0``: trends are parallel by construction, so a
difference-in-differences recovers the truth, while beta-vs-rest also credits the feature
with the beta units' prior engagement. The truth (the average effect over the analysis window,
the naive difference in expectation) is returned for ``truth.json``.

Feature usage (``feature_uses``): a share ``activation`` of beta units ever use the feature;
an activated unit uses it in week ``k`` after entry with probability
``floor + (1 − floor) · decay^k``, then ``Poisson(3) + 1`` times. A separate seed keeps the
other sample files unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._beta_feedback_text import ISSUES, SLOTS
from ._common import fill, inject_hostile, rounded, write_csv

BETA_SEED = 20261018
BETA_START = pd.Timestamp("2026-06-01")  # a Monday: weekly periods start on Mondays
FEEDBACK_SEED = BETA_SEED + 1  # its own stream: the units and panel stay as they were
# beta units writing about each planted issue (of 242): all under the 10% that blocks, except
# the praise, which a 4–5 star rating keeps from blocking
FEEDBACK_UNITS = {"Scheduled emails arrive late": 20, "Exports time out on large reports": 13,
                  "Send scheduled reports to chat channels": 11, "Schedules use the wrong time zone": 8,
                  "Praise for scheduled reports": 30}
SECOND_COMMENT = 0.25  # chance that a unit writes twice about the same issue
OUTSIDE_BETA, BEFORE_ENTRY, EMPTY = 5, 3, 2  # rows the report must drop, with their reasons


@dataclass(frozen=True)
class SimulatedBeta:
    """The units and panel frames of one simulated beta, and its truth."""

    units: pd.DataFrame
    panel: pd.DataFrame
    truth: dict


def _effect_path(effect: float, ramp_weeks: int, weeks_since_entry: np.ndarray) -> np.ndarray:
    return effect * np.clip((weeks_since_entry + 1) / max(ramp_weeks, 1), 0, 1) * (weeks_since_entry >= 0)


def simulate_beta(rng: np.random.Generator, *, units: int = 400, weeks: int = 16, entry_weeks: tuple[int, ...] = (8, 9, 10),
                  effect: float = 0.5, ramp_weeks: int = 1, selection: float = 1.5, beta_share: float = 0.25,
                  level_sd: float = 2.0, noise: float = 1.0, baseline: float = 10.0, post_periods: int = 4,
                  activation: float = 0.7, retention_floor: float = 0.4, retention_decay: float = 0.75) -> SimulatedBeta:
    """One beta, vectorised (see the module docstring); weekly periods from :data:`BETA_START`."""
    engagement = rng.normal(size=units)
    # the intercept that gives about beta_share of units in the beta at this selection strength
    intercept = np.log(beta_share / (1 - beta_share)) * np.sqrt(1 + np.pi * selection ** 2 / 8)
    in_beta = rng.random(units) < 1 / (1 + np.exp(-(intercept + selection * engagement)))
    entry_week = np.where(in_beta, rng.choice(np.asarray(entry_weeks), size=units), -1)
    week = np.arange(weeks)
    season = 0.5 * np.sin(week / 3.0)
    since_entry = np.where(in_beta[:, None], week[None, :] - entry_week[:, None], -1)
    tau = _effect_path(effect, ramp_weeks, since_entry)
    sessions = (baseline + level_sd * engagement[:, None] + season[None, :] + tau
                + rng.normal(scale=noise, size=(units, weeks)))
    reports = 3 + 0.5 * engagement[:, None] + rng.normal(scale=1.0, size=(units, weeks))
    activated = in_beta & (rng.random(units) < activation)
    using = (activated[:, None] & (since_entry >= 0)
             & (rng.random((units, weeks)) < retention_floor + (1 - retention_floor) * retention_decay ** np.maximum(since_entry, 0)))
    uses = np.where(using, rng.poisson(3, size=(units, weeks)) + 1, 0)
    unit_ids = np.array([f"u{index:05d}" for index in range(units)])
    entry_day = rng.integers(0, 7, size=units)
    entry_date = pd.Series(BETA_START + pd.to_timedelta(entry_week * 7 + entry_day, unit="D")).where(in_beta)
    unit_frame = pd.DataFrame({"unit": unit_ids, "in_beta": in_beta, "entry_date": entry_date})
    panel = pd.DataFrame({
        "unit": np.repeat(unit_ids, weeks),
        "period": np.tile((BETA_START + pd.to_timedelta(week * 7, unit="D")).to_numpy(), units),
        "sessions": sessions.ravel().round(2), "reports_created": reports.ravel().round(2),
        "feature_uses": uses.ravel()})
    window_effect = float(_effect_path(effect, ramp_weeks, np.arange(post_periods)).mean())
    gap = level_sd * (engagement[in_beta].mean() - engagement[~in_beta].mean())
    truth = {"effect_per_week_since_entry": [rounded(x) for x in _effect_path(effect, ramp_weeks, np.arange(post_periods))],
             "average_effect_over_window": rounded(window_effect), "post_periods": post_periods,
             "pre_entry_engagement_gap": rounded(gap), "naive_difference_expected": rounded(gap + window_effect),
             "beta_units": int(in_beta.sum()), "units": units, "activation": activation}
    return SimulatedBeta(unit_frame, panel, truth)


def beta_feedback(units: pd.DataFrame, rng: np.random.Generator, *, last_day: pd.Timestamp
                  ) -> tuple[pd.DataFrame, dict]:
    """The beta feedback form's rows (feedback_id, unit, submitted_at, rating, comment): each
    planted issue written by :data:`FEEDBACK_UNITS` beta units after their entry, plus rows the
    report must drop (outside the beta, before entry, empty) and hostile or personal text."""
    beta = units[units["in_beta"]].reset_index(drop=True)
    others = units.loc[~units["in_beta"], "unit"].to_numpy()
    span = (last_day - beta["entry_date"]).dt.days.to_numpy()
    rows, planted = [], {}
    for issue, count in FEEDBACK_UNITS.items():
        (low, high), phrasings = ISSUES[issue]
        chosen = np.sort(rng.choice(len(beta), size=count, replace=False))
        planted[issue] = sorted(beta.loc[chosen, "unit"].tolist())
        for index in chosen:
            writes = 2 if rng.random() < SECOND_COMMENT else 1
            for template in rng.choice(len(phrasings), size=writes, replace=False):
                day = beta.loc[index, "entry_date"] + pd.Timedelta(days=int(rng.integers(1, span[index] + 1)))
                rows.append((beta.loc[index, "unit"], day, int(rng.integers(low, high + 1)),
                             fill(phrasings[template], SLOTS, rng), issue))
    _, praise = ISSUES["Praise for scheduled reports"]
    first_entry = beta["entry_date"].min()
    for unit in rng.choice(others, size=OUTSIDE_BETA, replace=False):
        day = first_entry + pd.Timedelta(days=int(rng.integers(0, (last_day - first_entry).days)))
        rows.append((unit, day, 5, fill(praise[int(rng.integers(len(praise)))], SLOTS, rng), "outside the beta"))
    for index in rng.choice(len(beta), size=BEFORE_ENTRY, replace=False):
        day = beta.loc[index, "entry_date"] - pd.Timedelta(days=int(rng.integers(3, 20)))
        rows.append((beta.loc[index, "unit"], day, 3, "Looking forward to trying scheduled reports.", "before entry"))
    for index in rng.choice(len(beta), size=EMPTY, replace=False):
        rows.append((beta.loc[index, "unit"], last_day - pd.Timedelta(days=2), 4, "", "empty"))
    frame = pd.DataFrame(rows, columns=["unit", "submitted_at", "rating", "comment", "planted"])
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    eligible = np.flatnonzero(frame["comment"].ne("").to_numpy())
    texts, hostile = inject_hostile(frame["comment"].tolist(), rng, eligible)
    frame = frame.assign(comment=texts, feedback_id=[f"bf{index:04d}" for index in range(1, len(frame) + 1)],
                         submitted_at=frame["submitted_at"].dt.strftime("%Y-%m-%d"))
    beta_units = len(beta)
    truth = {"beta_units": beta_units, "items": len(frame),
             "units_by_issue": {issue: len(units) for issue, units in planted.items()},
             "share_by_issue": {issue: rounded(len(units) / beta_units) for issue, units in planted.items()},
             "items_by_issue": {issue: int((frame["planted"] == issue).sum()) for issue in planted},
             "dropped": {"not from a beta unit": OUTSIDE_BETA, "before the unit entered the beta": BEFORE_ENTRY,
                         "empty text": EMPTY},
             "blocking": [], "hostile_text": {"beta/feedback.csv": hostile}}
    return frame[["feedback_id", "unit", "submitted_at", "rating", "comment"]], truth | {"planted_rows": frame["planted"].tolist()}


def write_beta(out_dir: Path) -> tuple[list[Path], dict]:
    """Write ``out_dir/beta/{units,panel,feedback}.csv`` and return them with their truth."""
    beta = simulate_beta(np.random.default_rng(BETA_SEED), units=1200, weeks=20, entry_weeks=(8, 9, 10, 11),
                         effect=0.6, ramp_weeks=2, selection=1.2, beta_share=0.2, post_periods=6)
    last_day = beta.panel["period"].max() + pd.Timedelta(days=6)
    feedback, feedback_truth = beta_feedback(beta.units, np.random.default_rng(FEEDBACK_SEED), last_day=last_day)
    planted_rows = feedback_truth.pop("planted_rows")
    folder = Path(out_dir) / "beta"
    files = [write_csv(beta.units, folder / "units.csv"), write_csv(beta.panel, folder / "panel.csv"),
             write_csv(feedback, folder / "feedback.csv"),
             write_csv(pd.DataFrame({"feedback_id": feedback["feedback_id"], "planted": planted_rows}),
                       Path(out_dir) / "truth" / "beta_feedback_labels.csv")]
    # no blocking issue, a clear effect and 70% activation: the right call is general availability
    truth = {"metric": "sessions", "unit_of_metric": "sessions per week", "true_effect_on_reports_created": 0.0,
             "verdict": "go to general availability", **beta.truth, "feedback": feedback_truth}
    return files, truth
