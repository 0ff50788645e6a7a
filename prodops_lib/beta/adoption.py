"""Adoption of the beta feature: who activated, how much they use it week by week since entry,
and how many of those who activated still use it (the retention curve)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.io import InputError

from .inputs import BetaPanel

__all__ = ["Adoption", "measure_adoption"]


@dataclass(frozen=True)
class Adoption:
    """``by_week`` has one row per week since entry: beta units observed, mean uses per unit,
    the share of them using the feature, and the retention among units that activated."""

    usage_column: str
    beta_units: int
    activated_units: int
    by_week: pd.DataFrame

    @property
    def activation_share(self) -> float:
        return self.activated_units / self.beta_units if self.beta_units else float("nan")

    def retention_after(self, weeks: int) -> float:
        """The share of activated units still using the feature ``weeks`` weeks after entry."""
        row = self.by_week[self.by_week["weeks_since_entry"] == weeks]
        return float(row["retained_share"].iloc[0]) if len(row) else float("nan")

    def to_frame(self) -> pd.DataFrame:
        return self.by_week


def measure_adoption(beta: BetaPanel, usage_column: str) -> Adoption:
    """A beta unit *activated* when ``usage_column`` is above 0 in any period from its entry on;
    daily panels are summed to weeks since entry first. Retention in week ``k`` is the share of
    activated units seen in week ``k`` that used the feature in it."""
    if usage_column not in beta.metrics:
        raise InputError(f"usage column {usage_column!r} is not among the panel's metrics {list(beta.metrics)}; "
                         "add it under metrics")
    after = beta.panel[beta.panel["in_beta"] & (beta.panel["event_time"] >= 0)]
    days = 7 if beta.frequency == "day" else 1
    weekly = (after.assign(weeks_since_entry=(after["event_time"] // days).astype(int))
              .groupby(["unit", "weeks_since_entry"], as_index=False)[usage_column].sum())
    weekly["using"] = weekly[usage_column] > 0
    activated = weekly.groupby("unit")["using"].any()
    weekly["activated"] = weekly["unit"].map(activated)
    by_week = weekly.groupby("weeks_since_entry").agg(
        beta_units=("unit", "size"), mean_uses=(usage_column, "mean"), using_share=("using", "mean"),
        activated_units=("activated", "sum")).reset_index()
    retained = weekly[weekly["activated"]].groupby("weeks_since_entry")["using"].mean()
    by_week["retained_share"] = by_week["weeks_since_entry"].map(retained).astype(float)
    by_week.loc[by_week["activated_units"] == 0, "retained_share"] = np.nan
    return Adoption(usage_column, beta_units=int(activated.size), activated_units=int(activated.sum()), by_week=by_week)
