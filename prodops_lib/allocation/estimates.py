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

from .capacity import month_labels
from .sources import WorkItems
from .themes import Classification

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
                       worklogs: pd.DataFrame | None = None, months: list[str] | None = None) -> EstimateAccuracy | None:
    """Estimates against actuals per theme (see the module docstring); ``None`` when the
    export has no estimates or no resolution dates."""
    frame = items.items
    if "estimate" not in frame or "resolved" not in frame:
        return None
    estimate = frame["estimate"].to_numpy(dtype="float64", na_value=np.nan)
    if worklogs is not None:
        actual = worklogs.groupby("key", sort=False)["hours"].sum().reindex(frame["key"]).to_numpy()
    elif "time_spent" in frame:
        actual = frame["time_spent"].to_numpy(dtype="float64", na_value=np.nan)
    else:
        return None
    resolved = frame["resolved"].to_numpy(dtype="datetime64[ns]")
    keep = (estimate > 0) & ~np.isnan(actual) & ~np.isnat(resolved)
    if months is not None:
        keep &= np.isin(month_labels(resolved), months) & ~np.isnat(resolved)
    rows = np.flatnonzero(keep)
    if not len(rows):
        return None
    record, theme, weight = classification.expand(rows)
    per_item = pd.DataFrame({
        "key": frame["key"].to_numpy()[rows][record],
        "theme": pd.Categorical.from_codes(theme, categories=list(classification.themes)),
        "weight": weight,
        "estimate_hours": estimate[rows][record],
        "actual_hours": actual[rows][record],
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
