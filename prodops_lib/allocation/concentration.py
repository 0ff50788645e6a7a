"""Focus: how many themes each person works on in a month, and which teams are spread thinnest.

For each person-month, with ``p_i`` the person's share of effort on theme ``i``
(Unclassified left out: it is not a theme, just unknown):

- ``themes_worked``: the number of themes with effort;
- ``effective_themes = 1 / Σ p_i²``: the inverse Simpson (Herfindahl) index — 1 when all
  effort is on one theme, ``k`` when it is spread evenly over ``k`` (Hill number of order 2;
  Jost 2006, "Entropy and diversity", Oikos 113).

A team's figure is the mean over its person-months (a person-month belongs to the team that
received most of that person's effort that month; ties go to the team listed first);
teams are listed thinnest-spread first. Work with no person (no assignee) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .effort import Effort
from .shares import group_sum

__all__ = ["Concentration", "compute_concentration"]


@dataclass(frozen=True, eq=False)
class Concentration:
    """``person_months``: ``person, month, team, effort, themes_worked, effective_themes``;
    ``teams``: ``team, person_months, mean_themes_worked, mean_effective_themes``."""

    person_months: pd.DataFrame
    teams: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.teams.copy()

    @property
    def mean_effective_themes(self) -> float:
        return float(self.person_months["effective_themes"].mean()) if len(self.person_months) else float("nan")


def compute_concentration(effort: Effort, months: list[str] | None = None) -> Concentration:
    """Themes per person-month over ``months`` (default: every month of ``effort``)."""
    records = effort.records
    themes = list(effort.themes)
    person_names = np.asarray(records["person"].cat.categories, dtype=object)
    team_names = np.asarray(records["team"].cat.categories, dtype=object)
    month_names = [str(m) for m in records["month"].cat.categories]
    person = records["person"].cat.codes.to_numpy()
    theme = records["theme"].cat.codes.to_numpy()
    month = records["month"].cat.codes.to_numpy()
    keep = (theme != themes.index(effort.unclassified)) & (person >= 0)
    keep &= person != (np.flatnonzero(person_names == "")[0] if (person_names == "").any() else -1)
    if months is not None:
        keep &= np.isin(month, [month_names.index(m) for m in months if m in month_names])
    values = np.where(keep, records["effort"].to_numpy(dtype="float64"), 0.0)
    n_people, n_months = len(person_names), len(month_names)
    by_theme = group_sum([(person, n_people), (month, n_months), (theme, len(themes))], values)
    by_team = group_sum([(person, n_people), (month, n_months), (records["team"].cat.codes.to_numpy(), len(team_names))], values)
    by_theme = by_theme.reshape(n_people * n_months, len(themes))
    total = by_theme.sum(axis=1)
    worked = np.flatnonzero(total > 0)
    shares = by_theme[worked] / total[worked, None]
    person_months = pd.DataFrame({
        "person": person_names[worked // n_months].astype(str),
        "month": np.asarray(month_names, dtype=object)[worked % n_months].astype(str),
        "team": team_names[by_team.reshape(n_people * n_months, -1)[worked].argmax(axis=1)].astype(str),
        "effort": total[worked],
        "themes_worked": (by_theme[worked] > 0).sum(axis=1).astype(np.int64),
        "effective_themes": 1.0 / (shares ** 2).sum(axis=1),
    })
    teams = (person_months.groupby("team", sort=True)
             .agg(person_months=("person", "size"), mean_themes_worked=("themes_worked", "mean"),
                  mean_effective_themes=("effective_themes", "mean"))
             .reset_index().sort_values("mean_effective_themes", ascending=False, kind="stable",
                                        ignore_index=True))
    return Concentration(person_months, teams)
