"""Plan against actual: deviation per theme, a status per theme, total misallocation.

For each team with targets (``ALL`` is the organisation) in the period:

- ``actual_share``: the theme's effort over the team's effort on the chosen basis —
  ``classified`` (Unclassified left out, because no target covers it) or ``all``;
- ``deviation_pp = 100 × (actual_share − target_share)``;
- ``status``: ``on target`` when ``|deviation_pp| ≤ on_target_pp``, ``drifting`` when
  ``≤ drifting_pp``, else ``off target``;
- ``misallocation = ½ Σ_themes |actual − target|``: the share of effort that would have to
  move to match the plan exactly (the total variation distance between the two
  distributions; 0 = on plan, 1 = nothing where planned).

Targets may name themes or, for a "60% roadmap / 20% KTLO / 20% tech debt" plan, the
categories of the rules file; actual effort is then summed per category.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.io import InputError

from .config import StatusBands
from .shares import ORGANISATION, EffortShare

__all__ = ["TargetComparison", "compare_to_targets", "status_for"]


def status_for(deviation_pp: np.ndarray | float, bands: StatusBands) -> np.ndarray:
    """``on target`` / ``drifting`` / ``off target`` for deviations in percentage points (a band's
    edge belongs to the band; rounding noise below 1e-9 points is ignored)."""
    size = np.round(np.abs(np.asarray(deviation_pp, dtype=float)), 9)
    return np.select([size <= bands.on_target_pp, size <= bands.drifting_pp],
                     ["on target", "drifting"], "off target")


@dataclass(frozen=True, eq=False)
class TargetComparison:
    """``frame``: ``team, theme, target_share, actual_share, deviation_pp, status`` for the
    period; ``misallocation``: team → ½ Σ |actual − target|."""

    frame: pd.DataFrame
    misallocation: Mapping[str, float]
    period: str
    basis: str
    bands: StatusBands

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def for_team(self, team: str = ORGANISATION) -> pd.DataFrame:
        """The team's rows without the team column (``theme, target_share, …, status``)."""
        return self.frame[self.frame["team"] == team].drop(columns="team").reset_index(drop=True)

    def biggest_gaps(self, team: str = ORGANISATION, n: int = 3) -> pd.DataFrame:
        rows = self.for_team(team)
        return rows.reindex(rows["deviation_pp"].abs().sort_values(ascending=False).index).head(n)


def _known(name: str, options: list[str], what: str) -> None:
    if name not in options:
        close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known {what}: " + ", ".join(options)
        raise InputError(f"targets: {name!r} is not one of the {what}; {hint}")


def compare_to_targets(
    shares: EffortShare,
    targets: pd.DataFrame,
    *,
    period: str | None = None,
    bands: StatusBands | None = None,
    basis: str = "classified",
    categories: Mapping[str, str] | None = None,
) -> TargetComparison:
    """Compare actual shares in ``period`` (default: the last) with ``targets``
    (``theme, team, target_share`` as from :func:`~.sources.load_targets`)."""
    bands = bands or StatusBands()
    if basis not in ("classified", "all"):
        raise ValueError(f"basis: {basis!r} is not 'classified' or 'all'")
    period = period or shares.periods[-1]
    if period not in shares.periods:
        raise ValueError(f"period: {period!r} has no effort; periods with effort: {', '.join(shares.periods)}")
    categories = dict(categories or {})
    category_names = sorted(set(categories.values()))
    current = shares.frame[shares.frame[shares.granularity] == period]
    teams = list(dict.fromkeys(current["team"]))
    rows, misallocation = [], {}
    for team, planned in targets.groupby("team", sort=False):
        names = planned["theme"].astype(str).tolist()
        by_category = bool(category_names) and all(n in category_names for n in names)
        for name in names:
            _known(name, category_names if by_category else list(shares.themes[:-1]),
                   "categories" if by_category else "themes")
        if team not in set(shares.frame["team"]):
            known_teams = [t for t in teams if t != ORGANISATION]
            close = difflib.get_close_matches(str(team), known_teams, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "teams with effort: " + ", ".join(known_teams)
            raise InputError(f"targets: team {team!r} has no effort in any month; {hint}")
        actual = current[current["team"] == team].set_index("theme")["effort"]
        if basis == "classified":
            actual = actual.drop(shares.unclassified, errors="ignore")
        if by_category:
            actual = actual.groupby(actual.index.map(lambda t: categories.get(t, "uncategorised")), sort=False).sum()
        total = actual.sum()
        actual_share = actual / total if total > 0 else actual * np.nan
        target = planned.set_index("theme")["target_share"]
        names_all = list(dict.fromkeys([*target.index, *actual_share.index[actual_share.fillna(0) > 0]]))
        target_share = target.reindex(names_all).fillna(0.0).to_numpy()
        actual_values = actual_share.reindex(names_all).fillna(0.0).to_numpy() if total > 0 else np.full(len(names_all), np.nan)
        deviation = 100 * (actual_values - target_share)
        status = np.where(np.isnan(deviation), "no effort", status_for(np.nan_to_num(deviation), bands))
        rows.append(pd.DataFrame({"team": team, "theme": names_all, "target_share": target_share,
                                  "actual_share": actual_values, "deviation_pp": deviation,
                                  "status": status}))
        misallocation[str(team)] = float(0.5 * np.abs(actual_values - target_share).sum()) if total > 0 else float("nan")
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["team", "theme", "target_share", "actual_share", "deviation_pp", "status"])
    frame["_org"] = frame["team"] != ORGANISATION
    frame = frame.sort_values(["_org", "team"], kind="stable").drop(columns="_org").reset_index(drop=True)
    return TargetComparison(frame, misallocation, period, basis, bands)
