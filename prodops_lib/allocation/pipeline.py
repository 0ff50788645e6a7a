"""The whole allocation in two calls: read the inputs, then analyse them.

:func:`analyse` runs the steps in the order data flows — themes → effort → shares, targets,
trends, concentration, cost, estimates — and returns one :class:`Allocation` holding every
result, plus the plain-words summary a report opens with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.display import Kpi
from prodops_lib.io import DropLog, InputError
from prodops_lib.labels import money, number_text

from .concentration import Concentration, compute_concentration
from .config import UNIT_LABELS, AllocationParams
from .cost import CostByTheme, cost_by_theme
from .effort import Effort, measure_effort
from .estimates import EstimateAccuracy, estimate_vs_actual
from .inputs import AllocationInputs, load_inputs
from .shares import ORGANISATION, EffortShare, effort_share
from .targets import TargetComparison, compare_to_targets
from .themes import Classification, classify
from .trends import Trends, compute_trends

__all__ = ["Allocation", "analyse", "run_allocation"]


@dataclass(frozen=True, eq=False)
class Allocation:
    """Every result of one allocation analysis."""

    classification: Classification
    effort: Effort
    shares: EffortShare
    targets: TargetComparison | None
    trends: Trends
    concentration: Concentration
    cost: CostByTheme | None
    estimates: EstimateAccuracy | None
    effort_needed: float = 0.0  # the least effort in the period for a verdict (min_effort)

    @property
    def period(self) -> str:
        return self.effort.period

    @property
    def unit_label(self) -> str:
        return UNIT_LABELS[self.effort.unit]

    @property
    def window(self) -> str:
        """The months analysed as a reader names them: ``2026-05 to 2026-10`` (or one month)."""
        months = self.effort.months
        return months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"

    def to_frame(self) -> pd.DataFrame:
        """The tidy effort-share table the monthly review reads:
        ``month, theme, team, effort, share`` (team ``ALL`` = the organisation)."""
        return self.shares.to_frame()

    def targets_frame(self) -> pd.DataFrame:
        """``theme, target_share, actual_share, deviation_pp, status`` for the organisation."""
        if self.targets is None:
            return pd.DataFrame(columns=["theme", "target_share", "actual_share", "deviation_pp", "status"])
        return self.targets.for_team(ORGANISATION)

    def unclassified_share(self) -> float:
        return float(self.shares.unclassified_share().get(self.period, np.nan))

    def period_total(self) -> float:
        org = self.shares.frame
        return float(org.loc[(org["team"] == ORGANISATION) & (org["month"] == self.period), "effort"].sum())

    @property
    def too_little(self) -> bool:
        """Too little effort in the period for a verdict on shares and gaps (``min_effort``)."""
        return self.period_total() < self.effort_needed

    def effort_total(self) -> dict:
        """The period's effort and whether it is enough for a verdict (``effort_total.json``,
        which the monthly review reads)."""
        return {"period": self.period, "effort": self.period_total(), "unit": self.unit_label,
                "effort_needed": self.effort_needed, "too_little": self.too_little}

    def too_little_note(self) -> str:
        """The plain sentence the page leads with when :attr:`too_little`, else ""."""
        if not self.too_little:
            return ""
        return (f"Too little effort in {self.period} for a verdict: {number_text(self.period_total())} {self.unit_label}, "
                f"under the {self.effort_needed:,g} that min_effort asks for. The shares below move by many points "
                "with a single item; read them as a list of what was worked on, not as gaps to plan.")

    def headline(self) -> tuple[str, str]:
        """One sentence for the report index and its tone (good / warning / bad)."""
        unclassified = f"{self.unclassified_share():.1%} of all effort is unclassified"
        if self.too_little:
            return (f"{self.period}: too little effort for a verdict ({number_text(self.period_total())} {self.unit_label}, "
                    f"under the {self.effort_needed:,g} needed).", "warning")
        if self.targets is None:
            top = self._top_themes(1)[0]
            return f"{self.period}: {top}; {unclassified}.", "neutral"
        gap = self.targets.biggest_gaps(n=1).iloc[0]
        direction = "over" if gap["deviation_pp"] > 0 else "under"
        text = (f"{gap['theme']} is {abs(gap['deviation_pp']):.1f} pp {direction} plan in {self.period}: "
                f"{gap['actual_share']:.1%} of {self.target_basis} effort against a {gap['target_share']:.0%} target; "
                f"{self.targets.misallocation[ORGANISATION]:.0%} of {self.target_basis} effort would have to move to match "
                f"the plan; {unclassified}.")
        statuses = set(self.targets_frame()["status"])
        tone = "bad" if "off target" in statuses else ("warning" if "drifting" in statuses else "good")
        return text, tone

    @property
    def target_basis(self) -> str:
        """What the plan's shares are of: ``classified`` effort (the default) or ``all``."""
        return "classified" if self.targets is None or self.targets.basis == "classified" else "all"

    def kpis(self) -> list[Kpi]:
        """The summary cards: effort this month, the biggest gap, misallocation, unclassified
        share and (with costs) the capitalisable share."""
        cards = [Kpi(f"Effort, {self.period}", number_text(self.period_total()), self.unit_label,
                     "warning" if self.too_little else "neutral")]
        if self.too_little:
            cards.append(Kpi("Verdict", "Too little effort",
                             f"under the {self.effort_needed:,g} {self.unit_label} needed to judge gaps to plan", "warning"))
        elif self.targets is not None:
            gap = self.targets.biggest_gaps(n=1).iloc[0]
            tone = {"off target": "bad", "drifting": "warning"}.get(gap["status"], "good")
            cards.append(Kpi("Biggest gap to plan", f"{gap['deviation_pp']:+.1f} pp",
                             f"{gap['theme']}: {gap['actual_share']:.1%} of {self.target_basis} effort vs "
                             f"{gap['target_share']:.0%}", tone))
            misallocation = self.targets.misallocation[ORGANISATION]
            cards.append(Kpi("Misallocation", f"{misallocation:.0%}", f"of {self.target_basis} effort would have to move to match the plan",
                             "bad" if misallocation > 0.15 else ("warning" if misallocation > 0.05 else "good")))
        unclassified = self.unclassified_share()
        cards.append(Kpi("Unclassified", f"{unclassified:.1%}", "of effort matches no theme rule",
                         "bad" if unclassified > 0.15 else ("warning" if unclassified > 0.05 else "good")))
        if self.cost is not None:
            cards.append(Kpi("Capitalisable", f"{self.cost.capitalizable_share:.0%}",
                             f"of {money(self.cost.total_cost, self.cost.currency)} loaded cost"))
        return cards

    def unclassified_items(self, n: int = 10) -> pd.DataFrame:
        """The items with the most Unclassified effort in the months analysed (``key,
        summary, effort``): the first ones to label or write a rule for."""
        records = self.effort.records
        return self._items_by_effort(records[records["theme"] == self.shares.unclassified], n)

    def largest_items(self, n: int = 15) -> pd.DataFrame:
        """The items that took the most effort in the period (``key, summary, theme, effort``):
        what the effort was actually spent on. An item split across themes appears once per
        theme with its share of the effort."""
        records = self.effort.records
        rows = records[records["month"] == self.period]
        by_item = rows.groupby(["item", "theme"], sort=False, observed=True)["effort"].sum().nlargest(n)
        items = by_item.index.get_level_values("item").to_numpy()
        table = self._items_by_effort(rows[rows["item"].isin(items)], len(items), by=by_item)
        table.insert(2, "theme", by_item.index.get_level_values("theme").astype(str))
        return table

    def _items_by_effort(self, rows: pd.DataFrame, n: int, by: pd.Series | None = None) -> pd.DataFrame:
        totals = rows.groupby("item", sort=False)["effort"].sum().nlargest(n) if by is None else by
        positions = totals.index.get_level_values(0).to_numpy()
        summaries = self.classification.summaries
        titles = summaries.iloc[positions].to_numpy() if summaries is not None else None
        return pd.DataFrame({"key": self.effort.keys[positions], "summary": titles, "effort": totals.to_numpy()})

    def _top_themes(self, n: int) -> list[str]:
        org = self.shares.frame
        current = org[(org["team"] == ORGANISATION) & (org["month"] == self.period)]
        current = current[current["theme"] != self.shares.unclassified].nlargest(n, "share")
        return [f"{row.theme} {row.share:.1%}" for row in current.itertuples()]

    def summary_points(self) -> list[str]:
        """The executive summary: where effort went, the gaps to plan, the trend, what is
        unclassified — in that order, in plain words."""
        points = [self.too_little_note()] if self.too_little else []
        points.append(f"Where effort went in {self.period} ({self.period_total():,.0f} {self.unit_label}), as shares of all effort: "
                      + ", ".join(self._top_themes(3)) + ".")
        if self.targets is not None and not self.too_little:
            gaps = []
            for row in self.targets.biggest_gaps(n=2).itertuples():
                direction = "over" if row.deviation_pp > 0 else "under"
                gaps.append(f"{row.theme} {abs(row.deviation_pp):.1f} pp {direction} plan "
                            f"({row.actual_share:.1%} vs {row.target_share:.0%} planned, {row.status})")
            misallocation = self.targets.misallocation[ORGANISATION]
            points.append(f"Biggest gaps to plan, as shares of {self.target_basis} effort: " + "; ".join(gaps)
                          + f". {misallocation:.0%} of {self.target_basis} effort would have to move to match the plan.")
        changes = self.trends.describe_changes(2)
        if changes:
            points.append("Biggest changes since last month: " + "; ".join(changes) + ".")
        elif len(self.effort.months) > 1:
            points.append("The mix is steady: no theme's share moved by 0.1 pp or more since last month.")
        items = self.classification.summary()
        unclassified_items = int(items.loc[items["how"] == "unclassified", "items"].sum())
        points.append(f"{self.unclassified_share():.1%} of effort could not be classified "
                      f"({unclassified_items:,} of {len(self.classification.codes):,} items match no rule and inherit no theme).")
        return points


def analyse(inputs: AllocationInputs, settings: AllocationParams, log: DropLog) -> Allocation:
    """Run every step on loaded inputs (see the module docstring)."""
    classification = classify(inputs.items, inputs.rules)
    effort = measure_effort(
        inputs.items, classification, unit=settings.unit, worklogs=inputs.worklogs, people=inputs.people,
        period=settings.period, months_of_history=settings.months_of_history, item_date=settings.item_date,
        unknown_people=settings.unknown_people, unknown_team=settings.unknown_team, log=log)
    shares = effort_share(effort)
    targets = None
    if inputs.targets is not None and inputs.people is None:
        teams = sorted(set(inputs.targets["team"]) - {ORGANISATION})
        if teams:
            raise InputError(f"targets: team targets ({', '.join(teams)}) need sources.people to know who is in "
                             "which team; add the people file or keep only organisation targets (blank team)")
    if inputs.targets is not None:
        targets = compare_to_targets(shares, inputs.targets, period=effort.period, bands=settings.status_bands,
                                     basis=settings.target_basis, categories=inputs.rules.categories)
    capitalizable = settings.capitalizable if settings.capitalizable is not None else inputs.rules.capitalizable
    return Allocation(
        classification=classification,
        effort=effort,
        shares=shares,
        targets=targets,
        trends=compute_trends(shares),
        concentration=compute_concentration(effort),
        cost=cost_by_theme(effort, capitalizable, currency=settings.currency),
        estimates=estimate_vs_actual(inputs.items, classification, worklogs=inputs.worklogs,
                                     logged_hours=effort.logged_by_item, months=list(effort.months)),
        effort_needed=settings.effort_needed,
    )


def run_allocation(settings: AllocationParams, log: DropLog) -> Allocation:
    """Read the sources named in ``settings`` and analyse them."""
    return analyse(load_inputs(settings, log), settings, log)
