"""Parameters of the monthly review."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DemandBasis = Literal["items", "customers", "arr"]


@dataclass(frozen=True)
class ReviewSources:
    """The reports whose saved results the review reads, by their bundle names (``program``:
    the experiment program report, whose headline the review shows beside experiments by theme)."""

    allocation: str | None = "resource_allocation"
    feedback: str | None = "feedback_clustering"
    experiments: list[str] = field(default_factory=list)
    program: str | None = None


@dataclass(frozen=True)
class ReviewParams:
    """What the review compares and when it calls a gap.

    ``taxonomy`` is the product-theme file shared with the allocation rules and the feedback
    taxonomy. ``results_root`` is the folder holding ``<report name>/`` result folders (default:
    the folder the review's own results go into, i.e. the same period's run); ``reports_root``
    holds earlier periods as ``<YYYY-MM>/results/`` (default: two levels above
    ``results_root``). ``demand_basis`` chooses which demand share the gap uses.
    """

    taxonomy: str
    sources: ReviewSources = field(default_factory=ReviewSources)
    results_root: str | None = None
    reports_root: str | None = None
    demand_basis: DemandBasis = "items"
    gap_threshold_pp: float = 5.0
    history_months: int = 6
    top_changes: int = 5

    def __post_init__(self) -> None:
        if self.gap_threshold_pp <= 0:
            raise ValueError(f"gap_threshold_pp {self.gap_threshold_pp:g} must be positive (percentage points)")
        if self.history_months < 1:
            raise ValueError(f"history_months {self.history_months} must be at least 1")
        if self.top_changes < 1:
            raise ValueError(f"top_changes {self.top_changes} must be at least 1")
