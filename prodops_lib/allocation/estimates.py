"""Planned against actual effort per theme, for finished items that carry an estimate.

For items resolved in the months analysed with an estimate (``estimate`` hours, Jira's
Original Estimate) and a known actual (logged hours on the item when worklogs are given,
else its time spent), per theme (split items weighted):

- ``estimate_hours`` and ``actual_hours``, summed;
- ``actual_to_estimate = Σ actual / Σ estimate`` (1.25 = 25% over plan, pooled so big items
  weigh more);
- ``median_item_ratio``: the median of the items' own actual / estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .sources import WorkItems
from .themes import Classification, extend

__all__ = ["EstimateAccuracy", "estimate_vs_actual"]


@dataclass(frozen=True, eq=False)
class EstimateAccuracy:
    """``frame``: ``theme, items, estimate_hours, actual_hours, actual_to_estimate,
    median_item_ratio`` (themes without estimated items left out); ``items``: per item."""

    frame: pd.DataFrame
    items: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    @property
    def overall_ratio(self) -> float:
        total = self.frame["estimate_hours"].sum()
        return float(self.frame["actual_hours"].sum() / total) if total > 0 else float("nan")


def estimate_vs_actual(items: WorkItems, classification: Classification, *,
                       worklogs: pd.DataFrame | None = None, logged_hours: np.ndarray | None = None,
                       months: list[str] | None = None) -> EstimateAccuracy | None:
    """Estimates against actuals per theme (see the module docstring); ``None`` when the
    export has no estimates or no resolution dates. ``logged_hours`` (hours per item row, as
    :attr:`.Effort.logged_by_item`) saves summing ``worklogs`` again."""
    frame = items.items
    if "estimate" not in frame or "resolved" not in frame:
        return None
    estimate = frame["estimate"].to_numpy(dtype="float64", na_value=np.nan)
    if logged_hours is not None:
        actual = logged_hours
    elif worklogs is not None:
        item = items.rows_of(worklogs["key"])
        known = item >= 0
        actual = np.bincount(item[known], weights=worklogs["hours"].to_numpy(dtype="float64")[known],
                             minlength=len(frame))
        logged = np.bincount(item[known], minlength=len(frame)) > 0
        actual = np.where(logged, actual, np.nan)
    elif "time_spent" in frame:
        actual = frame["time_spent"].to_numpy(dtype="float64", na_value=np.nan)
    else:
        return None
    resolved = frame["resolved"].to_numpy(dtype="datetime64[ns]")
    keep = (estimate > 0) & ~np.isnan(actual) & ~np.isnat(resolved)
    if months is not None:
        month = resolved.astype("datetime64[M]").astype(np.int64)
        wanted = np.array(months, dtype="datetime64[M]").astype(np.int64)
        keep &= np.isin(month, wanted)
    rows = np.flatnonzero(keep)
    if not len(rows):
        return None
    extra, theme, weight = classification.expand(rows)
    per_item = pd.DataFrame({
        "key": extend(frame["key"].to_numpy()[rows], extra),
        "theme": pd.Categorical.from_codes(theme, categories=list(classification.themes)),
        "weight": weight,
        "estimate_hours": extend(estimate[rows], extra),
        "actual_hours": extend(actual[rows], extra),
    })
    per_item["ratio"] = per_item["actual_hours"] / per_item["estimate_hours"]
    weighted = per_item.assign(estimate_hours=per_item["estimate_hours"] * per_item["weight"],
                               actual_hours=per_item["actual_hours"] * per_item["weight"])
    summary = weighted.groupby("theme", observed=True, sort=True).agg(
        items=("weight", "sum"), estimate_hours=("estimate_hours", "sum"), actual_hours=("actual_hours", "sum"))
    summary["actual_to_estimate"] = summary["actual_hours"] / summary["estimate_hours"]
    summary["median_item_ratio"] = per_item.groupby("theme", observed=True, sort=True)["ratio"].median()
    summary = summary.reset_index()
    summary["theme"] = summary["theme"].astype(str)
    per_item["theme"] = per_item["theme"].astype(str)
    return EstimateAccuracy(summary, per_item)
