"""How the allocation moves: month-over-month change, rolling share, slope, biggest changes.

Per theme, over the months of the share table (one team, the organisation by default):

- ``change_pp``: ``100 × (share_m − share_{m−1})``;
- ``rolling_share``: the pooled share over the last ``window`` months,
  ``Σ effort(theme) / Σ effort`` (so a big month weighs more than a quiet one);
- ``slope_pp_per_month``: the least-squares slope of ``100 × share`` on the month number,
  ``Σ (x − x̄)(y − ȳ) / Σ (x − x̄)²`` over every month shown;
- "what changed most": themes ordered by the size of this month's change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .shares import ORGANISATION, EffortShare

__all__ = ["Trends", "compute_trends"]


@dataclass(frozen=True, eq=False)
class Trends:
    """``monthly``: ``month, theme, share, change_pp, rolling_share``; ``summary``: one row
    per theme for the last month with ``share, previous_share, change_pp, rolling_share,
    slope_pp_per_month``."""

    monthly: pd.DataFrame
    summary: pd.DataFrame
    window: int
    team: str

    def to_frame(self) -> pd.DataFrame:
        return self.summary.copy()

    def changed_most(self, n: int = 3) -> pd.DataFrame:
        """The ``n`` themes whose share moved most since the previous month."""
        order = self.summary["change_pp"].abs().sort_values(ascending=False, na_position="last").index
        return self.summary.reindex(order).head(n).reset_index(drop=True)

    def describe_changes(self, n: int = 3, at_least_pp: float = 0.1) -> list[str]:
        """Plain sentences for the biggest changes of at least ``at_least_pp`` points, e.g.
        "Mobile app: +3.1 pp (21.0% → 24.1%); trend +0.8 pp a month"."""
        lines = []
        for row in self.changed_most(n).itertuples():
            if np.isnan(row.change_pp) or abs(row.change_pp) < at_least_pp:
                continue
            lines.append(f"{row.theme}: {row.change_pp:+.1f} pp ({row.previous_share:.1%} → {row.share:.1%}); "
                         f"trend {row.slope_pp_per_month:+.1f} pp a month")
        return lines


def _slope(y: np.ndarray) -> np.ndarray:
    """Least-squares slope of each column of ``y`` on 0, 1, 2, …"""
    x = np.arange(y.shape[0], dtype=float)
    if len(x) < 2:
        return np.full(y.shape[1], np.nan)
    centred = x - x.mean()
    return (centred[:, None] * (y - y.mean(axis=0))).sum(axis=0) / (centred ** 2).sum()


def compute_trends(shares: EffortShare, *, team: str = ORGANISATION, window: int = 3) -> Trends:
    """Trends of one team's shares over every period of ``shares`` (see the module docstring)."""
    if window < 1:
        raise ValueError(f"window: must be at least 1 month, got {window}")
    share = shares.matrix(team, "share")
    effort = shares.matrix(team, "effort")
    change = 100 * share.diff()
    pooled = effort.rolling(window, min_periods=1).sum()
    rolling = pooled.div(pooled.sum(axis=1), axis=0)
    slope = _slope(100 * share.to_numpy())
    label = shares.granularity
    monthly = pd.DataFrame({
        label: np.repeat(share.index.astype(str), share.shape[1]),
        "theme": np.tile(share.columns.astype(str), share.shape[0]),
        "share": share.to_numpy().ravel(),
        "change_pp": change.to_numpy().ravel(),
        "rolling_share": rolling.to_numpy().ravel(),
    })
    previous = share.iloc[-2] if len(share) > 1 else share.iloc[-1] * np.nan
    summary = pd.DataFrame({
        "theme": share.columns.astype(str),
        "share": share.iloc[-1].to_numpy(),
        "previous_share": previous.to_numpy(),
        "change_pp": change.iloc[-1].to_numpy(),
        "rolling_share": rolling.iloc[-1].to_numpy(),
        "slope_pp_per_month": slope,
    })
    return Trends(monthly, summary, window, team)
