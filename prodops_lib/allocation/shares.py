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


def _buckets(months: list[str], granularity: str) -> tuple[list[str], np.ndarray]:
    """Labels of the periods and, per month, the index of its period."""
    if granularity == "month":
        return list(months), np.arange(len(months))
    period = pd.PeriodIndex(months, freq="M")
    mapped = np.asarray(period.year.astype(str) if granularity == "year" else period.asfreq("Q").astype(str))
    labels = list(dict.fromkeys(mapped))
    return labels, pd.Index(labels).get_indexer(mapped)


def group_sum(codes: list[tuple[np.ndarray, int]], weights: np.ndarray) -> np.ndarray:
    """Sum ``weights`` over every combination of integer codes (each with its number of
    values): a dense array shaped by the sizes, computed with one ``bincount``. Missing
    (NaN) weights count as zero."""
    if np.isnan(weights).any():  # a copy only when needed: these arrays have millions of rows
        weights = np.nan_to_num(weights)
    flat = np.zeros(len(weights), dtype=np.int64)
    shape = []
    for values, size in codes:  # in place: these arrays have millions of rows
        flat *= size
        flat += values
        shape.append(size)
    return np.bincount(flat, weights=weights, minlength=int(np.prod(shape))).reshape(shape)


def effort_share(effort: Effort, *, granularity: Granularity = "month",
                 value: str = "effort") -> EffortShare:
    """Effort and share per theme, team and period (``granularity``) from ``effort.records``;
    ``value`` names the column of the records that is summed."""
    if granularity not in ("month", "quarter", "year"):
        raise ValueError(f"granularity: {granularity!r} is not one of 'month', 'quarter', 'year'")
    return _shares(effort.records, value, granularity, effort.unit, effort.themes, effort.unclassified)


def _shares(records: pd.DataFrame, value: str, granularity: str, unit: str,
            themes: tuple[str, ...], unclassified: str) -> EffortShare:
    labels, bucket_of_month = _buckets([str(m) for m in records["month"].cat.categories], granularity)
    team_names = np.asarray(records["team"].cat.categories, dtype=object)
    cube = group_sum([(bucket_of_month[records["month"].cat.codes.to_numpy()], len(labels)),
                      (records["team"].cat.codes.to_numpy(), len(team_names)),
                      (records["theme"].cat.codes.to_numpy(), len(themes))],
                     records[value].to_numpy(dtype="float64"))
    order = np.argsort(team_names.astype(str), kind="stable")
    effort = np.concatenate([cube.sum(axis=1)[:, None, :], cube[:, order, :]], axis=1)
    team_labels = np.append(ORGANISATION, team_names[order])
    total = effort.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = effort / total[..., None]
    n_periods, n_teams, n_themes = effort.shape
    keep = np.repeat((total > 0).ravel(), n_themes)
    frame = pd.DataFrame({
        granularity: np.repeat(np.asarray(labels, dtype=object), n_teams * n_themes)[keep],
        "theme": np.tile(np.asarray(themes, dtype=object), n_periods * n_teams)[keep],
        "team": np.tile(np.repeat(team_labels.astype(object), n_themes), n_periods)[keep],
        "effort": effort.ravel()[keep],
        "share": share.ravel()[keep],
    })
    for column in (granularity, "theme", "team"):
        frame[column] = frame[column].astype("string")
    return EffortShare(frame, unit, granularity, themes, unclassified)
