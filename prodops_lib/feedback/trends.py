"""Themes over time: monthly counts, emerging and fading themes, what is new, demand by month.

**Emerging / fading.** For a theme with x₁ of the period's n₁ items and x₀ of the n₀ items
of the ``baseline_months`` before it, the share ratio is (x₁/n₁) / (x₀/n₀). Under "the share
did not change", conditional on m = x₁ + x₀, x₁ ~ Binomial(m, π) with π = n₁ / (n₁ + n₀)
(the exact conditional test for two Poisson rates, Przyborowski & Wileński 1940). One-sided
p-values: P(X ≥ x₁) for growth, P(X ≤ x₁) for decline. p-values are adjusted over themes by
Benjamini & Hochberg (1995); a theme is *emerging* when its adjusted growth p-value is below
``alpha`` and its share ratio at least ``min_ratio``, *fading* symmetrically, *new* when it
has at least ``min_items`` items in the period and none before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from prodops_lib.feedback.config import TrendParams
from prodops_lib.feedback.describe import UNMAPPED
from prodops_lib.params import parse_period

__all__ = ["DEMAND_COLUMNS", "ThemeTrends", "benjamini_hochberg", "demand_by_theme", "rate_ratio_test",
           "theme_trends"]

DEMAND_COLUMNS = ["month", "product_theme", "items", "customers", "arr", "item_share", "customer_share",
                  "arr_share", "product_item_share", "product_customer_share", "product_arr_share"]


def rate_ratio_test(x_period: int, n_period: int, x_before: int, n_before: int) -> tuple[float, float]:
    """One-sided exact conditional p-values (growth, decline) of a count in the period against
    the baseline; see the module docstring."""
    for name, value in (("x_period", x_period), ("n_period", n_period), ("x_before", x_before), ("n_before", n_before)):
        if value < 0:
            raise ValueError(f"{name}: counts must be 0 or more, got {value}")
    if x_period > n_period or x_before > n_before:
        raise ValueError("x_period, x_before: a theme's count cannot exceed its month's total")
    total = x_period + x_before
    if total == 0 or n_period == 0 or n_before == 0:
        return 1.0, 1.0
    pi = n_period / (n_period + n_before)
    return float(stats.binom.sf(x_period - 1, total, pi)), float(stats.binom.cdf(x_period, total, pi))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values: q₍ᵢ₎ = min over j ≥ i of p₍ⱼ₎·m/j, capped at 1."""
    p = np.asarray(p_values, dtype=float)
    if not len(p):
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    result = np.empty_like(adjusted)
    result[order] = adjusted
    return result


@dataclass(frozen=True)
class ThemeTrends:
    """``monthly``: month × group counts and shares; ``changes``: one row per group with the
    period against the baseline and its ``trend`` (emerging, fading, new or steady). ``key``
    names the groups' id column (``issue_id``, ``theme_id`` or ``product_theme_id``)."""

    period: str
    baseline: list[str]
    monthly: pd.DataFrame
    changes: pd.DataFrame
    key: str = "issue_id"

    def to_frame(self) -> pd.DataFrame:
        return self.changes.copy()

    def of_kind(self, trend: str) -> pd.DataFrame:
        return self.changes[self.changes["trend"] == trend].reset_index(drop=True)

    def counts_wide(self) -> pd.DataFrame:
        """Items per group (rows) and month (columns ``items_YYYY-MM``)."""
        wide = self.monthly.pivot_table(index=self.key, columns="month", values="items", fill_value=0)
        return wide.rename(columns=lambda m: f"items_{m}").astype(int)


def theme_trends(items: pd.DataFrame, period: str, params: TrendParams | None = None, *,
                 key: str = "issue_id") -> ThemeTrends:
    """Trends of every group of ``items`` (the description's item table: ``month``, the id
    column ``key``, ``label, product_theme``) up to ``period``."""
    params = params or TrendParams()
    period = parse_period(period)
    missing = [c for c in ("month", key, "label", "product_theme") if c not in items]
    if missing:
        raise ValueError(f"items: column {missing[0]!r} is missing; pass ThemeDescription.items")
    known = items[items["month"] <= period]
    months = sorted(set(known["month"]))
    if period not in months:
        raise ValueError(f"period: no feedback in {period}; months present: {', '.join(months[-6:]) or 'none'}")
    names = known.drop_duplicates(key).set_index(key)[["label", "product_theme"]]
    counts = known.groupby(["month", key]).size().unstack(fill_value=0).reindex(months, fill_value=0)
    totals = counts.sum(axis=1)
    monthly = counts.stack().rename("items").reset_index()
    monthly["share"] = monthly["items"] / monthly["month"].map(totals)
    monthly = monthly.join(names, on=key)[["month", key, "label", "product_theme", "items", "share"]]
    position = months.index(period)
    baseline = months[max(0, position - params.baseline_months):position]
    x_period = counts.loc[period]
    n_period = int(totals[period])
    x_before = counts.loc[baseline].sum() if baseline else x_period * 0
    n_before = int(totals[baseline].sum()) if baseline else 0
    rows = []
    for theme in counts.columns:
        growth, decline = rate_ratio_test(int(x_period[theme]), n_period, int(x_before[theme]), n_before)
        share_now = x_period[theme] / n_period if n_period else np.nan
        share_before = x_before[theme] / n_before if n_before else np.nan
        ratio = share_now / share_before if share_before and share_before > 0 else (np.inf if share_now > 0 else np.nan)
        rows.append({key: int(theme), "label": names.at[theme, "label"],
                     "product_theme": names.at[theme, "product_theme"],
                     "count_this_period": int(x_period[theme]), "count_before": int(x_before[theme]),
                     "share_this_period": share_now, "share_before": share_before, "share_ratio": ratio,
                     "p_growth": growth, "p_decline": decline})
    changes = pd.DataFrame(rows, columns=[key, "label", "product_theme", "count_this_period", "count_before",
                                          "share_this_period", "share_before", "share_ratio", "p_growth", "p_decline"])
    changes["q_growth"] = benjamini_hochberg(changes["p_growth"].to_numpy())
    changes["q_decline"] = benjamini_hochberg(changes["p_decline"].to_numpy())
    trend = np.full(len(changes), "steady", dtype=object)
    if baseline:
        trend[(changes["q_growth"] < params.alpha) & (changes["share_ratio"] >= params.min_ratio)] = "emerging"
        trend[(changes["q_decline"] < params.alpha) & (changes["share_ratio"] <= 1 / params.min_ratio)] = "fading"
        trend[(changes["count_before"] == 0) & (changes["count_this_period"] >= params.min_items)] = "new"
    changes["trend"] = trend
    changes = changes.sort_values(["trend", "q_growth", key]).reset_index(drop=True)
    return ThemeTrends(period, baseline, monthly, changes, key)


def demand_by_theme(items: pd.DataFrame) -> pd.DataFrame:
    """Tidy demand per month and product theme (``unmapped`` kept): items, distinct customers,
    their ARR, each as a share of the month's total (``item_share``…) and, for mapped rows, as a
    share of the month's feedback on product themes (``product_item_share``…)."""
    missing = [c for c in ("month", "product_theme", "customer_id", "arr") if c not in items]
    if missing:
        raise ValueError(f"items: column {missing[0]!r} is missing; pass ThemeDescription.items")
    rows = []
    for (month, product_theme), group in items.groupby(["month", "product_theme"], sort=True):
        known = group.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
        rows.append({"month": month, "product_theme": product_theme, "items": len(group),
                     "customers": len(known), "arr": float(known["arr"].fillna(0).sum())})
    frame = pd.DataFrame(rows, columns=DEMAND_COLUMNS[:5])
    mapped = frame["product_theme"] != UNMAPPED
    for column, share in (("items", "item_share"), ("customers", "customer_share"), ("arr", "arr_share")):
        total = frame.groupby("month")[column].transform("sum")
        frame[share] = (frame[column] / total).where(total > 0)
        # the bundle's one definition of a theme's demand: its share of the feedback that maps to
        # a product theme (the review sets it against the share of product-theme effort)
        product_total = frame[column].where(mapped, 0.0).groupby(frame["month"]).transform("sum")
        frame[f"product_{share}"] = (frame[column] / product_total).where(mapped & (product_total > 0))
    return frame[DEMAND_COLUMNS]
