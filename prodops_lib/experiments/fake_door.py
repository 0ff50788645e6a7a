"""Fake-door tests: did enough people click a feature that does not exist yet?

The click-through rate ``p̂ = clicks / exposures`` gets a Wilson score interval (Wilson 1927),
which behaves well for the small counts and low rates typical of fake doors, unlike the Wald
interval. Against the ``target_rate`` that justifies building the feature: "above target"
when the whole interval is above it, "below target" when it is entirely below, otherwise
"inconclusive"; and a one-sided exact binomial p-value ``P(X ≥ clicks | n, target)`` for
"the true rate exceeds the target". With a control arm (e.g. a door to an existing feature),
the difference is tested as a proportion metric (:func:`.inference.compare`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..io import InputError
from .inference import compare, wilson_interval
from .moments import Moments

__all__ = ["FakeDoorAnalysis", "analyse_fake_door", "fake_door_test"]


def _proportion_moments(clicks: int, exposures: int) -> Moments:
    return Moments(n=float(exposures), sum_y=float(clicks), sum_y2=float(clicks), sum_d=float(exposures),
                   sum_d2=float(exposures), sum_yd=float(clicks), sum_x=0.0, sum_x2=0.0, sum_yx=0.0, sum_dx=0.0)


def _check_counts(clicks: object, exposures: object, where: str) -> tuple[int, int]:
    try:
        clicks_value, exposures_value = float(clicks), float(exposures)
    except (TypeError, ValueError):
        raise InputError(f"{where}: clicks and exposures must be numbers, got {clicks!r} and {exposures!r}") from None
    if not (math.isfinite(clicks_value) and math.isfinite(exposures_value)) or clicks_value % 1 or exposures_value % 1:
        raise InputError(f"{where}: clicks and exposures must be whole numbers, got {clicks!r} and {exposures!r}")
    if exposures_value < 1:
        raise InputError(f"{where}: exposures must be at least 1, got {exposures!r}")
    if not 0 <= clicks_value <= exposures_value:
        raise InputError(f"{where}: clicks must be between 0 and exposures ({exposures!r}), got {clicks!r}")
    return int(clicks_value), int(exposures_value)


def fake_door_test(
    clicks: int,
    exposures: int,
    target_rate: float,
    *,
    alpha: float = 0.05,
    control_clicks: int | None = None,
    control_exposures: int | None = None,
    variant: str = "variant",
) -> dict:
    """One arm against the target (and against a control arm when its counts are given)."""
    if not 0 < target_rate < 1:
        raise ValueError(f"fake_door_test: target_rate must be between 0 and 1, got {target_rate!r}")
    clicks, exposures = _check_counts(clicks, exposures, f"fake door {variant!r}")
    low, high = (float(bound[0]) for bound in wilson_interval(np.array([clicks]), np.array([exposures]), alpha))
    verdict = "above target" if low > target_rate else "below target" if high < target_rate else "inconclusive"
    row = {
        "variant": variant, "exposures": exposures, "clicks": clicks, "click_through": clicks / exposures,
        "ci_low": low, "ci_high": high, "target_rate": target_rate,
        "p_value_above_target": float(stats.binom.sf(clicks - 1, exposures, target_rate)), "verdict": verdict,
    }
    if (control_clicks is None) != (control_exposures is None):
        raise ValueError("fake_door_test: give both control_clicks and control_exposures, or neither")
    if control_clicks is not None:
        control_clicks, control_exposures = _check_counts(control_clicks, control_exposures, "fake door control")
        effect = compare(_proportion_moments(control_clicks, control_exposures), _proportion_moments(clicks, exposures),
                         "proportion", alpha=alpha)
        row.update({
            "control_click_through": control_clicks / control_exposures, "abs_effect": float(effect.abs_effect[0]),
            "abs_ci_low": float(effect.abs_ci_low[0]), "abs_ci_high": float(effect.abs_ci_high[0]),
            "p_value_vs_control": float(effect.p_value[0]), "method_vs_control": str(effect.method[0]),
        })
    return row


@dataclass(frozen=True)
class FakeDoorAnalysis:
    """One row per tested arm, and the headline."""

    results: pd.DataFrame
    target_rate: float
    alpha: float
    headline: str

    def to_frame(self) -> pd.DataFrame:
        return self.results.copy()

    @property
    def summary(self) -> dict:
        return {"headline": self.headline, "target_rate": self.target_rate, "alpha": self.alpha,
                "results": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                            for row in self.results.to_dict("records")]}


def analyse_fake_door(
    frame: pd.DataFrame,
    target_rate: float,
    *,
    control: str | None = None,
    variant_column: str = "variant",
    exposures_column: str = "exposures",
    clicks_column: str = "clicks",
    alpha: float = 0.05,
) -> FakeDoorAnalysis:
    """Fake-door counts, one row per arm (columns variant, exposures, clicks): every arm other
    than ``control`` is tested against ``target_rate`` and, with a control, against it."""
    for column in (variant_column, exposures_column, clicks_column):
        if column not in frame.columns:
            raise InputError(f"fake door: column {column!r} not found (columns: {', '.join(map(str, frame.columns))})")
    counts = frame.assign(**{variant_column: frame[variant_column].astype(str)})
    if counts[variant_column].duplicated().any():
        raise InputError(f"fake door: variant {counts[variant_column][counts[variant_column].duplicated()].iloc[0]!r} has two rows")
    control_counts = {}
    if control is not None:
        match = counts[counts[variant_column] == control]
        if match.empty:
            raise InputError(f"fake door: control {control!r} not found in column {variant_column!r} "
                             f"(found: {', '.join(counts[variant_column])})")
        control_counts = {"control_clicks": match[clicks_column].iloc[0], "control_exposures": match[exposures_column].iloc[0]}
    arms = counts[counts[variant_column] != control]
    if arms.empty:
        raise InputError("fake door: no arm to test besides the control")
    rows = [fake_door_test(arm[clicks_column], arm[exposures_column], target_rate, alpha=alpha, variant=arm[variant_column],
                           **control_counts) for _, arm in arms.iterrows()]
    results = pd.DataFrame(rows)
    best = results.loc[results["click_through"].idxmax()]
    level = f"{1 - alpha:.0%}"
    verdict = {"above target": "above", "below target": "below",
               "inconclusive": "not yet distinguishable from"}[best["verdict"]]
    arm = f"In arm {best['variant']}, " if len(results) > 1 else ""  # the arm's name only when there is a choice
    headline = (f"{arm}{best['click_through']:.2%} of the people shown the fake door clicked it ({level} CI "
                f"{best['ci_low']:.2%} to {best['ci_high']:.2%}): {verdict} the {target_rate:.2%} target.")
    return FakeDoorAnalysis(results=results, target_rate=target_rate, alpha=alpha, headline=headline)
