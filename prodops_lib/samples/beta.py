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

from ._common import rounded, write_csv

BETA_SEED = 20261018
BETA_START = pd.Timestamp("2026-06-01")  # a Monday: weekly periods start on Mondays
FEEDBACK_THEMES = (  # theme, beta units raising it, blocking
    ("Exports time out on large reports", 9, False),
    ("Scheduled report emails arrive late", 14, False),
    ("Sharing links need admin approval", 6, False),
)


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


def write_beta(out_dir: Path) -> tuple[list[Path], dict]:
    """Write ``out_dir/beta/{units,panel,feedback}.csv`` and return them with their truth."""
    beta = simulate_beta(np.random.default_rng(BETA_SEED), units=1200, weeks=20, entry_weeks=(8, 9, 10, 11),
                         effect=0.6, ramp_weeks=2, selection=1.2, beta_share=0.2, post_periods=6)
    feedback = pd.DataFrame(FEEDBACK_THEMES, columns=["theme", "beta_units", "blocking"])
    folder = Path(out_dir) / "beta"
    files = [write_csv(beta.units, folder / "units.csv"), write_csv(beta.panel, folder / "panel.csv"),
             write_csv(feedback, folder / "feedback.csv")]
    # no blocking theme, a clear effect and 70% activation: the right call is general availability
    truth = {"metric": "sessions", "unit_of_metric": "sessions per week", "true_effect_on_reports_created": 0.0,
             "verdict": "go to general availability", **beta.truth}
    return files, truth
