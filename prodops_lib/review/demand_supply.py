"""Demand against supply by product theme: feedback share against engineering-effort share.

Both sides are normalised over the product themes of the taxonomy before they are compared:
demand is each theme's share of the feedback that maps to a product theme (unmapped feedback
is reported as coverage, not spread over themes), supply is each theme's share of the effort
spent on product themes (maintenance, tech debt and unclassified work are reported beside the
comparison, not inside it). The gap is ``demand share − effort share`` in percentage points:
positive means customers ask for more than engineering gives (under-served).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.review.spec import DemandBasis

_DEMAND_SHARES = {"items": "product_item_share", "customers": "product_customer_share", "arr": "product_arr_share"}


@dataclass(frozen=True)
class DemandSupply:
    """One period's comparison.

    ``frame``: one row per product theme — ``theme, demand_items_share, demand_customers_share,
    demand_arr_share, effort_share, gap_pp, status`` (status: under-served, over-served,
    balanced, no effort, no demand). ``non_product_effort``: share of all effort that is not
    product work, by theme. ``demand_coverage``/``effort_coverage``: the share of feedback items
    mapped to a product theme and of effort spent on product themes.
    """

    period: str
    basis: DemandBasis
    threshold_pp: float
    frame: pd.DataFrame
    non_product_effort: pd.DataFrame
    demand_coverage: float | None
    effort_coverage: float | None

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def most(self, status: str) -> pd.Series | None:
        """The theme with the largest gap of that status (under-served: largest positive gap)."""
        rows = self.frame[self.frame["status"] == status]
        if rows.empty:
            return None
        return rows.loc[rows["gap_pp"].abs().idxmax()]


def demand_shares(demand: pd.DataFrame, month: str, product_themes: list[str]) -> pd.DataFrame:
    """Each product theme's share of the feedback on product themes in ``month``, by items,
    customers and ARR: read as the feedback report computed it (``product_item_share``…), so the
    review and the feedback report show one number for a theme's demand."""
    rows = demand[(demand["month"] == month) & demand["product_theme"].isin(product_themes)]
    by_theme = rows.groupby("product_theme")
    shares = pd.DataFrame(index=pd.Index(product_themes, name="theme"))
    month_has_feedback = bool((demand["month"] == month).any())
    for basis, column in _DEMAND_SHARES.items():
        share = by_theme[column].sum(min_count=1).reindex(product_themes)
        # a theme nobody asked about has no row: its share is 0 when the month has feedback
        shares[f"demand_{basis}_share"] = share.fillna(0.0) if month_has_feedback and share.notna().any() else np.nan
    shares["demand_items"] = by_theme["items"].sum().reindex(product_themes, fill_value=0.0)
    return shares


def effort_shares(effort: pd.DataFrame, month: str, product_themes: list[str]) -> pd.Series:
    """Each product theme's share of the organisation's product effort in ``month``."""
    organisation = effort[(effort["month"] == month) & (effort["team"] == "ALL")]
    by_theme = organisation.groupby("theme")["effort"].sum()
    product = by_theme.reindex(product_themes, fill_value=0.0)
    total = product.sum()
    return (product / total if total > 0 else product * np.nan).rename("effort_share")


def demand_vs_supply(
    demand: pd.DataFrame | None,
    effort: pd.DataFrame | None,
    period: str,
    product_themes: list[str],
    *,
    basis: DemandBasis = "items",
    threshold_pp: float = 5.0,
    too_little_effort: bool = False,
) -> DemandSupply:
    """Compare demand and supply for ``period`` (see the module docstring for the shares). With
    ``too_little_effort`` (the allocation report's verdict) no theme is called under- or
    over-served: the status says there is too little effort to judge."""
    frame = pd.DataFrame(index=pd.Index(product_themes, name="theme"))
    demand_coverage = effort_coverage = None
    if demand is not None:
        frame = frame.join(demand_shares(demand, period, product_themes))
        month = demand[demand["month"] == period]
        total_items = month["items"].sum()
        demand_coverage = float(month[month["product_theme"].isin(product_themes)]["items"].sum() / total_items) if total_items else None
    else:
        for b in _DEMAND_SHARES:
            frame[f"demand_{b}_share"] = np.nan
        frame["demand_items"] = np.nan
    non_product = pd.DataFrame(columns=["theme", "share_of_all_effort"])
    if effort is not None:
        frame = frame.join(effort_shares(effort, period, product_themes))
        organisation = effort[(effort["month"] == period) & (effort["team"] == "ALL")]
        by_theme = organisation.groupby("theme")["effort"].sum()
        total = by_theme.sum()
        if total > 0:
            effort_coverage = float(by_theme.reindex(product_themes, fill_value=0).sum() / total)
            others = by_theme.drop(labels=[t for t in product_themes if t in by_theme.index])
            non_product = (others / total).rename("share_of_all_effort").reset_index().rename(columns={"index": "theme"})
            non_product = non_product.sort_values("share_of_all_effort", ascending=False, ignore_index=True)
    else:
        frame["effort_share"] = np.nan
    frame["gap_pp"] = 100 * (frame[f"demand_{basis}_share"] - frame["effort_share"])
    frame["status"] = [_status(row, basis, threshold_pp) for _, row in frame.iterrows()]
    if too_little_effort:
        frame.loc[frame["status"] != "unknown", "status"] = "too little effort"
    frame = frame.reset_index().sort_values("gap_pp", ascending=False, na_position="last", ignore_index=True)
    return DemandSupply(period, basis, threshold_pp, frame, non_product, demand_coverage, effort_coverage)


def _status(row: pd.Series, basis: str, threshold_pp: float) -> str:
    demand, effort = row[f"demand_{basis}_share"], row["effort_share"]
    if pd.isna(demand) or pd.isna(effort):
        return "unknown"
    if demand > 0 and effort == 0:
        return "no effort"
    if demand == 0 and effort > 0:
        return "no demand"
    if row["gap_pp"] >= threshold_pp:
        return "under-served"
    if row["gap_pp"] <= -threshold_pp:
        return "over-served"
    return "balanced"


@dataclass(frozen=True)
class GapHistory:
    """The gap per theme over the last months, and whether each gap is closing.

    ``frame``: ``month, theme, demand_share, effort_share, gap_pp``; ``trend``: one row per
    theme with the gap's least-squares slope in points per month, the slope of its absolute size
    and a verdict: reversed (now under- or over-served) when the gap is beyond ``threshold_pp`` on
    one side now and was beyond it on the other side the month before (with data), unless
    ``too_little_effort``; else closing or widening when its absolute size
    shrinks or grows by more than ``steady_pp_per_month`` a month; else steady.
    """

    frame: pd.DataFrame
    trend: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()


def gap_history(
    demand: pd.DataFrame | None,
    effort: pd.DataFrame | None,
    months: list[str],
    product_themes: list[str],
    *,
    basis: DemandBasis = "items",
    steady_pp_per_month: float = 0.5,
    threshold_pp: float = 5.0,
    too_little_effort: bool = False,
) -> GapHistory:
    """The demand-supply gap for each of ``months`` where both sides have data."""
    rows = []
    if demand is not None and effort is not None:
        for month in months:
            if not ((demand["month"] == month).any() and (effort["month"] == month).any()):
                continue
            shares = demand_shares(demand, month, product_themes).join(effort_shares(effort, month, product_themes))
            for theme, row in shares.iterrows():
                gap = 100 * (row[f"demand_{basis}_share"] - row["effort_share"])
                rows.append({"month": month, "theme": theme, "demand_share": row[f"demand_{basis}_share"],
                             "effort_share": row["effort_share"], "gap_pp": gap})
    frame = pd.DataFrame(rows, columns=["month", "theme", "demand_share", "effort_share", "gap_pp"])
    trends = []
    for theme, group in frame.groupby("theme", sort=False):
        group = group.dropna(subset=["gap_pp"])  # a month without product-theme effort has no gap
        if len(group) < 2:
            continue
        x = np.arange(len(group), dtype=float)
        slope = float(np.polyfit(x, group["gap_pp"].to_numpy(float), 1)[0])
        gaps = group["gap_pp"].to_numpy(float)
        abs_slope = float(np.polyfit(x, np.abs(gaps), 1)[0])
        # a gap that crossed from beyond the threshold on one side to beyond it on the other is news
        # however its size moved: over-served the month before, under-served now (its size's slope
        # can read as steady). Not said when this month has too little effort to judge gaps.
        if not too_little_effort and gaps[-1] * gaps[-2] < 0 and min(abs(gaps[-1]), abs(gaps[-2])) >= threshold_pp:
            verdict = "reversed: now under-served" if gaps[-1] > 0 else "reversed: now over-served"
        else:
            verdict = ("closing" if abs_slope < -steady_pp_per_month else
                       "widening" if abs_slope > steady_pp_per_month else "steady")
        trends.append({"theme": theme, "months": len(group), "gap_slope_pp_per_month": slope,
                       "abs_gap_slope_pp_per_month": abs_slope, "verdict": verdict})
    trend = pd.DataFrame(trends, columns=["theme", "months", "gap_slope_pp_per_month",
                                          "abs_gap_slope_pp_per_month", "verdict"])
    return GapHistory(frame, trend)
