"""Adoption of the beta feature: who activated, how much they use it week by week since entry,
and how many of those who activated still use it week by week since their first use (the
retention curve: a unit that first used the feature in its third week is in its week 0 then)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from prodops_lib.io import InputError

from .inputs import BetaPanel

__all__ = ["MIN_OBSERVED", "Adoption", "measure_adoption"]

MIN_OBSERVED = 0.5  # a week is shown when at least this share of the units has reached it


@dataclass(frozen=True)
class Adoption:
    """``by_week`` has one row per week since entry: beta units observed, mean uses per unit and
    the share of them using the feature that week; ``retention`` one row per week since a
    unit's first use: activated units observed that many weeks after their first use, and the
    share of them using the feature that week. Weeks observed for fewer than half of the units
    (the latest entrants have not reached them yet) are left out: their shares rest on whoever
    entered first."""

    usage_column: str
    beta_units: int
    activated_units: int
    by_week: pd.DataFrame
    retention: pd.DataFrame

    @property
    def activation_share(self) -> float:
        return self.activated_units / self.beta_units if self.beta_units else float("nan")

    def retention_after(self, weeks: int) -> float:
        """The share of activated units still using the feature ``weeks`` weeks after first use."""
        row = self.retention[self.retention["weeks_since_first_use"] == weeks]
        return float(row["retained_share"].iloc[0]) if len(row) else float("nan")

    def to_frame(self) -> pd.DataFrame:
        return self.by_week


def measure_adoption(beta: BetaPanel, usage_column: str) -> Adoption:
    """A beta unit *activated* when ``usage_column`` is above 0 in any period from its entry on;
    daily panels are summed to weeks since entry first, each unit's weeks with all seven days
    only. Retention in week ``k`` is the share of
    activated units seen ``k`` weeks after their first use that used the feature that week
    (week 0 is 100% by definition; units not yet observed that long are not counted)."""
    if usage_column not in beta.metrics:
        raise InputError(f"usage column {usage_column!r} is not among the panel's metrics {list(beta.metrics)}; "
                         "add it under metrics")
    after = beta.panel[beta.panel["in_beta"] & (beta.panel["event_time"] >= 0)]
    days = 7 if beta.frequency == "day" else 1
    weekly = (after.assign(weeks_since_entry=(after["event_time"] // days).astype(int))
              .groupby(["unit", "weeks_since_entry"], as_index=False).agg(**{usage_column: (usage_column, "sum"),
                                                                             "days": (usage_column, "size")}))
    weekly = weekly[weekly["days"] == days].drop(columns="days")  # a unit's last, partial week would read as a drop
    weekly["using"] = weekly[usage_column] > 0
    activated = weekly.groupby("unit")["using"].any()
    first_use = weekly[weekly["using"]].groupby("unit")["weeks_since_entry"].min()
    by_week = weekly.groupby("weeks_since_entry").agg(
        beta_units=("unit", "size"), mean_uses=(usage_column, "mean"), using_share=("using", "mean")).reset_index()
    since = weekly[weekly["unit"].isin(first_use.index)]
    since = since.assign(weeks_since_first_use=since["weeks_since_entry"] - since["unit"].map(first_use))
    retention = (since[since["weeks_since_first_use"] >= 0].groupby("weeks_since_first_use")
                 .agg(units=("unit", "size"), retained_share=("using", "mean")).reset_index())
    return Adoption(usage_column, beta_units=int(activated.size), activated_units=int(activated.sum()),
                    by_week=by_week[by_week["beta_units"] >= MIN_OBSERVED * activated.size].reset_index(drop=True),
                    retention=retention[retention["units"] >= MIN_OBSERVED * len(first_use)]
                    .astype({"retained_share": float}).reset_index(drop=True))
