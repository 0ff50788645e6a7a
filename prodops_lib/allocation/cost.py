"""What each theme costs, and how much of it may be capitalised.

Cost comes from people's loaded monthly cost, spread over items exactly like person-months
(:mod:`.effort`): by logged hours within each person-month, else evenly by day over their
items in progress. ``cost(theme) = Σ_person-months cost_pm × fraction of the month on the
theme``. The capitalisable share is ``Σ cost(capitalizable themes) / Σ cost(all themes)``,
Unclassified work included in the denominator (it cannot be shown to be capitalisable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .effort import Effort
from .shares import EffortShare, _shares, group_sum

__all__ = ["CostByTheme", "cost_by_theme"]


@dataclass(frozen=True, eq=False)
class CostByTheme:
    """``frame``: ``theme, cost, share, person_months, capitalizable`` for the period;
    ``monthly``: the cost shares by month and team (an :class:`~.shares.EffortShare` whose
    effort column is cost); ``capitalizable_share`` for the period; ``currency`` the ISO 4217
    code of the people file's costs, when the parameters name it."""

    frame: pd.DataFrame
    monthly: EffortShare
    period: str
    capitalizable_share: float
    total_cost: float
    currency: str | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()


def cost_by_theme(effort: Effort, capitalizable: Sequence[str] = (), period: str | None = None,
                  currency: str | None = None) -> CostByTheme | None:
    """Cost per theme in ``period`` (default: the last month); ``None`` without a people file
    or without any cost in it."""
    person_time = effort.person_time
    if person_time is None or not np.nansum(person_time["cost"].to_numpy()) > 0:
        return None
    unknown = [name for name in capitalizable if name not in effort.themes]
    if unknown:
        raise ValueError(f"capitalizable: {unknown[0]!r} is not a theme; themes: {', '.join(effort.themes[:-1])}")
    period = period or effort.period
    monthly = _shares(person_time, "cost", "month", "cost", effort.themes, effort.unclassified)
    in_period = np.flatnonzero(person_time["month"].cat.codes.to_numpy()
                               == list(person_time["month"].cat.categories).index(period))
    theme = person_time["theme"].cat.codes.to_numpy()[in_period]
    frame = pd.DataFrame({"theme": list(effort.themes)})
    for column in ("cost", "person_months"):
        values = person_time[column].to_numpy(dtype="float64")[in_period]
        frame[column] = group_sum([(theme, len(effort.themes))], values)
    total = float(frame["cost"].sum())
    frame["share"] = frame["cost"] / total if total > 0 else np.nan
    frame["capitalizable"] = frame["theme"].isin(list(capitalizable))
    frame = frame[["theme", "cost", "share", "person_months", "capitalizable"]]
    capitalizable_share = float(frame.loc[frame["capitalizable"], "cost"].sum() / total) if total > 0 else float("nan")
    return CostByTheme(frame, monthly, period, capitalizable_share, total, currency)
