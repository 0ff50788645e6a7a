"""The monthly review: demand (feedback by theme) against supply (effort by theme), experiments
by theme, and what changed since last month — read from the other reports' saved results."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prodops_lib.io import DropLog
from prodops_lib.params import (
    Taxonomy,
    previous_period,
    previous_results_folder,
    recent_months,
    resolve_path,
)
from prodops_lib.review.changes import Changes, load_saved_review, what_changed
from prodops_lib.review.demand_supply import DemandSupply, GapHistory, demand_vs_supply, gap_history
from prodops_lib.review.experiments import ExperimentsByTheme, experiments_by_theme
from prodops_lib.review.inputs import ReviewInputs, load_review_inputs
from prodops_lib.review.spec import ReviewParams, ReviewSources
from prodops_lib.review.summary import executive_summary

__all__ = [
    "MonthlyReview",
    "ReviewInputs",
    "ReviewParams",
    "ReviewSources",
    "build_review",
    "load_previous",
    "load_review_inputs",
    "load_saved_review",
    "previous_period",
    "recent_months",
    "results_root_for",
]

UNCLASSIFIED = "Unclassified"


@dataclass(frozen=True)
class MonthlyReview:
    """Everything the review page shows, computed from the other reports' results."""

    period: str
    demand_supply: DemandSupply
    history: GapHistory
    experiments: ExperimentsByTheme
    changes: Changes
    summary: list[tuple[str, str]]
    problems: list[str]
    coverage: pd.DataFrame
    allocation_by_theme: pd.DataFrame
    program: dict | None = None  # the experiment program's saved summary, when the review reads one

    @property
    def headline(self) -> str:
        """The period's headline on the index page: the summary's first two sentences."""
        return " ".join(text for _, text in self.summary[:2])

    @property
    def headline_tone(self) -> str:
        return self.summary[0][0]

    def to_frame(self) -> pd.DataFrame:
        return self.demand_supply.to_frame()

    def saved_tables(self) -> dict[str, pd.DataFrame]:
        """The tables next month's review reads back to say what changed."""
        return {
            "allocation_by_theme": self.allocation_by_theme,
            "demand_supply": self.demand_supply.to_frame(),
            "experiments": self.experiments.to_frame(),
        }


def build_review(inputs: ReviewInputs, taxonomy: Taxonomy, params: ReviewParams, period: str,
                 previous: dict[str, pd.DataFrame] | None) -> MonthlyReview:
    """Join the three analyses for ``period``; ``previous`` is last period's saved review."""
    themes = taxonomy.product_themes
    comparison = demand_vs_supply(inputs.demand, inputs.effort, period, themes,
                                  basis=params.demand_basis, threshold_pp=params.gap_threshold_pp,
                                  too_little_effort=bool(inputs.too_little_effort))
    history = gap_history(inputs.demand, inputs.effort, recent_months(period, params.history_months), themes,
                          basis=params.demand_basis, threshold_pp=params.gap_threshold_pp,
                          too_little_effort=bool(inputs.too_little_effort))
    experiments = experiments_by_theme(inputs.experiments, themes)
    allocation = _allocation_by_theme(inputs.effort, period)
    current = {"allocation_by_theme": allocation, "demand_supply": comparison.frame,
               "experiments": experiments.experiments}
    changes = what_changed(period, current, previous, inputs.feedback_trends, top=params.top_changes)
    unclassified = _share_of(allocation, UNCLASSIFIED)
    summary = executive_summary(comparison, experiments, changes, inputs.problems, unclassified_share=unclassified,
                                effort_note=inputs.too_little_effort)
    coverage = _coverage(inputs, comparison, experiments, unclassified)
    return MonthlyReview(period, comparison, history, experiments, changes, summary, inputs.problems,
                         coverage, allocation, inputs.program)


def _allocation_by_theme(effort: pd.DataFrame | None, period: str) -> pd.DataFrame:
    if effort is None:
        return pd.DataFrame(columns=["theme", "effort", "share"])
    organisation = effort[(effort["month"] == period) & (effort["team"] == "ALL")]
    by_theme = organisation.groupby("theme", as_index=False)["effort"].sum()
    total = by_theme["effort"].sum()
    by_theme["share"] = by_theme["effort"] / total if total > 0 else float("nan")
    return by_theme.sort_values("share", ascending=False, ignore_index=True)


def _share_of(allocation: pd.DataFrame, theme: str) -> float | None:
    rows = allocation[allocation["theme"] == theme]
    if allocation.empty:
        return None
    return float(rows["share"].sum()) if len(rows) else 0.0


def _coverage(inputs: ReviewInputs, comparison: DemandSupply, experiments: ExperimentsByTheme,
              unclassified: float | None) -> pd.DataFrame:
    rows = [
        {"input": "engineering effort", "measure": "share of effort not classified into a theme",
         "value": unclassified},
        {"input": "engineering effort", "measure": "share of effort on product themes",
         "value": comparison.effort_coverage},
        {"input": "customer feedback", "measure": "share of feedback items not mapped to a product theme",
         "value": None if comparison.demand_coverage is None else 1 - comparison.demand_coverage},
        {"input": "experiments", "measure": "experiments without a product theme",
         "value": float(len(experiments.unthemed))},
        {"input": "all", "measure": "inputs missing or failed", "value": float(len(inputs.problems))},
    ]
    return pd.DataFrame(rows)


def results_root_for(results_dir: str | Path, params: ReviewParams) -> Path:
    """Where the other reports' result folders are: ``params.results_root`` or the review's own
    results folder's parent (the same period's run)."""
    return resolve_path(params.results_root) if params.results_root else resolve_path(results_dir).parent


def previous_review_folder(results_dir: str | Path, params: ReviewParams, period: str, report_name: str) -> Path:
    """Where last period's saved review is: ``<reports_root>/<previous period>/results/<name>``."""
    reports_root = params.reports_root or results_root_for(results_dir, params).parent.parent
    return previous_results_folder(results_dir, period, report_name, reports_root)


def load_previous(results_dir: str | Path, params: ReviewParams, period: str, report_name: str,
                  log: DropLog) -> dict[str, pd.DataFrame] | None:
    """Last period's saved review tables, or None when there is none."""
    return load_saved_review(previous_review_folder(results_dir, params, period, report_name), log)
