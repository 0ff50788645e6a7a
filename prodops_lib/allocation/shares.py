"""Effort and share by theme × team × month, and for the whole organisation.

``share = effort(theme, team, month) / Σ_themes effort(team, month)``: every theme (the
Unclassified one included) is a share of all effort of that team in that month, so shares of
a team-month add up to 1. The organisation appears as team ``ALL``. Themes with no effort
appear with zero, so charts and the monthly review see every theme in every month.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .effort import Effort

__all__ = ["EffortShare", "effort_share"]

ORGANISATION = "ALL"
Granularity = Literal["month", "quarter", "year"]


@dataclass(frozen=True, eq=False)
class EffortShare:
    """Tidy shares: ``<granularity>, theme, team, effort, share`` (team ``ALL`` = organisation)."""

    frame: pd.DataFrame
    unit: str
    granularity: str
    themes: tuple[str, ...]
    unclassified: str

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    @property
    def periods(self) -> list[str]:
        return list(dict.fromkeys(self.frame[self.granularity].astype(str)))

    @property
    def teams(self) -> list[str]:
        """Teams with effort, largest first (``ALL`` left out)."""
        teams = self.frame[self.frame["team"] != ORGANISATION]
        return list(teams.groupby("team", observed=True)["effort"].sum().sort_values(ascending=False).index)

    def matrix(self, team: str = ORGANISATION, value: str = "share") -> pd.DataFrame:
        """Periods × themes (columns in theme order) for one team."""
        rows = self.frame[self.frame["team"] == team]
        table = rows.pivot_table(index=self.granularity, columns="theme", values=value,
                                 aggfunc="sum", observed=False, sort=False)
        return table.reindex(columns=list(self.themes)).fillna(0.0)

    def unclassified_share(self, team: str = ORGANISATION) -> pd.Series:
        """The Unclassified share per period: the headline data-quality figure."""
        return self.matrix(team)[self.unclassified].rename("unclassified_share")


def _bucket(months: pd.Categorical, granularity: str) -> pd.Categorical:
    labels = np.asarray(months.categories, dtype=str)
    if granularity == "month":
        return months
    period = pd.PeriodIndex(labels, freq="M")
    mapped = period.year.astype(str) if granularity == "year" else period.asfreq("Q").astype(str)
    order = list(dict.fromkeys(mapped))
    codes = pd.Index(order).get_indexer(np.asarray(mapped)[months.codes])
    return pd.Categorical.from_codes(codes, categories=order, ordered=True)


def effort_share(effort: Effort, *, granularity: Granularity = "month",
                 value: str = "effort") -> EffortShare:
    """Effort and share per theme, team and period (``granularity``) from ``effort.records``;
    ``value`` names the column of the records that is summed."""
    if granularity not in ("month", "quarter", "year"):
        raise ValueError(f"granularity: {granularity!r} is not one of 'month', 'quarter', 'year'")
    return _shares(effort.records, value, granularity, effort.unit, effort.themes, effort.unclassified)


def _shares(records: pd.DataFrame, value: str, granularity: str, unit: str,
            themes: tuple[str, ...], unclassified: str) -> EffortShare:
    period = _bucket(records["month"].array, granularity)
    grouped = pd.DataFrame({granularity: period, "team": records["team"].to_numpy(),
                            "theme": records["theme"].to_numpy(), "effort": records[value].to_numpy()})
    grouped["team"] = grouped["team"].astype("category")
    by_team = grouped.groupby([granularity, "team", "theme"], observed=False, sort=True)["effort"].sum().reset_index()
    org = grouped.groupby([granularity, "theme"], observed=False, sort=True)["effort"].sum().reset_index()
    org.insert(1, "team", ORGANISATION)
    frame = pd.concat([org, by_team.astype({"team": str})], ignore_index=True)
    total = frame.groupby([granularity, "team"], observed=True, sort=False)["effort"].transform("sum")
    frame = frame[total > 0].copy()
    frame["share"] = frame["effort"] / total[total > 0]
    frame[granularity] = frame[granularity].astype(str)
    frame["theme"] = pd.Categorical(frame["theme"].astype(str), categories=list(themes))
    frame["team"] = frame["team"].astype(str)
    frame["_is_team"] = frame["team"] != ORGANISATION
    frame = frame.sort_values([granularity, "_is_team", "team", "theme"], kind="stable", ignore_index=True)
    frame["theme"] = frame["theme"].astype(str)
    return EffortShare(frame[[granularity, "theme", "team", "effort", "share"]], unit, granularity,
                       themes, unclassified)
