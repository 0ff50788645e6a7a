"""Focus: how many themes each person works on in a month, and which teams are spread thinnest.

For each person-month, with ``p_i`` the person's share of effort on theme ``i``
(Unclassified left out: it is not a theme, just unknown):

- ``themes_worked``: the number of themes with effort;
- ``effective_themes = 1 / Σ p_i²``: the inverse Simpson (Herfindahl) index — 1 when all
  effort is on one theme, ``k`` when it is spread evenly over ``k`` (Hill number of order 2;
  Jost 2006, "Entropy and diversity", Oikos 113).

A team's figure is the mean over its person-months (a person-month belongs to the team that
received most of that person's effort that month); teams are listed thinnest-spread first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .effort import Effort

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
    keep = (records["theme"] != effort.unclassified).to_numpy() & (records["person"].astype(str) != "").to_numpy()
    if months is not None:
        keep &= records["month"].isin(months).to_numpy()
    rows = records[keep]
    columns = ["person", "month", "team", "theme"]
    by_theme = rows.groupby(columns, observed=True, sort=False)["effort"].sum().reset_index()
    by_theme = by_theme[by_theme["effort"] > 0]
    by_team = by_theme.groupby(["person", "month", "team"], observed=True, sort=False)["effort"].sum().reset_index()
    main_team = (by_team.sort_values(["person", "month", "effort"], ascending=[True, True, False], kind="stable")
                 .drop_duplicates(["person", "month"])[["person", "month", "team"]])
    per_theme = by_theme.groupby(["person", "month", "theme"], observed=True, sort=False)["effort"].sum().reset_index()
    total = per_theme.groupby(["person", "month"], observed=True, sort=False)["effort"].transform("sum")
    per_theme["p2"] = (per_theme["effort"] / total) ** 2
    stats = per_theme.groupby(["person", "month"], observed=True, sort=True).agg(
        effort=("effort", "sum"), themes_worked=("theme", "size"), sum_p2=("p2", "sum")).reset_index()
    stats["effective_themes"] = 1.0 / stats.pop("sum_p2")
    for column in ("person", "month"):
        stats[column] = stats[column].astype(str)
        main_team[column] = main_team[column].astype(str)
    main_team["team"] = main_team["team"].astype(str)
    person_months = stats.merge(main_team, on=["person", "month"], how="left")[
        ["person", "month", "team", "effort", "themes_worked", "effective_themes"]]
    teams = (person_months.groupby("team", sort=True)
             .agg(person_months=("person", "size"), mean_themes_worked=("themes_worked", "mean"),
                  mean_effective_themes=("effective_themes", "mean"))
             .reset_index().sort_values("mean_effective_themes", ascending=False, kind="stable",
                                        ignore_index=True))
    person_months["themes_worked"] = person_months["themes_worked"].astype(np.int64)
    return Concentration(person_months, teams)
