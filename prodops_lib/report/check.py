"""``prodops check``: every report of a bundle checked without running a notebook.

A report is checked by the checker of its notebook (:data:`CHECKERS`, by the notebook's file
name); a notebook without one is listed as such. A checker's one-line error (a missing
column, an unreadable date) is that report's result, and the other reports are still checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prodops_lib.check import InputCheck
from prodops_lib.io import InputError
from prodops_lib.labels import count_of
from prodops_lib.params import ParameterError, load, resolve_path
from prodops_lib.report.bundle import ReportEntry, bundle_root, load_bundle

__all__ = ["CHECKERS", "ReportCheck", "check_bundle"]


def _feedback(parameters: Path, period: str | None, reports: dict) -> InputCheck:
    from prodops_lib.feedback.check import check_feedback
    from prodops_lib.feedback.config import FeedbackParams

    return check_feedback(load(parameters, FeedbackParams), period)


def _allocation(parameters: Path, period: str | None, reports: dict) -> InputCheck:
    from prodops_lib.allocation.check import check_allocation
    from prodops_lib.allocation.config import AllocationParams

    return check_allocation(load(parameters, AllocationParams), period)


def _experiment(parameters: Path, period: str | None, reports: dict) -> InputCheck:
    from prodops_lib.experiments.check import check_experiment
    from prodops_lib.experiments.report import ExperimentReport

    return check_experiment(load(parameters, ExperimentReport), period)


def _fake_door(parameters: Path, period: str | None, reports: dict) -> InputCheck:
    from prodops_lib.experiments.check import check_fake_door
    from prodops_lib.experiments.report import FakeDoorReport

    return check_fake_door(load(parameters, FakeDoorReport), period)


def _design(parameters: Path, period: str | None, reports: dict) -> InputCheck:
    from prodops_lib.experiments.check import check_design
    from prodops_lib.experiments.report import ExperimentReport

    return check_design(load(parameters, ExperimentReport), period)


def _beta(parameters: Path, period: str | None, reports: dict) -> InputCheck:
    from prodops_lib.beta.check import check_beta
    from prodops_lib.beta.report import BetaReport

    return check_beta(load(parameters, BetaReport), period)


def _review(parameters: Path, period: str | None, reports: dict) -> InputCheck:
    from prodops_lib.review.check import check_review
    from prodops_lib.review.spec import ReviewParams

    del period  # the review reads what the period's other reports saved
    return check_review(load(parameters, ReviewParams), reports)


# notebook file name → checker(parameter file, period or None, the bundle's reports: name → (notebook file
# name, parameter file))
CHECKERS: dict[str, Callable[[Path, str | None, dict], InputCheck]] = {
    "feedback_clustering.ipynb": _feedback,
    "resource_allocation.ipynb": _allocation,
    "ab_test.ipynb": _experiment,
    "fake_door.ipynb": _fake_door,
    "beta_release.ipynb": _beta,
    "experiment_design.ipynb": _design,
    "monthly_review.ipynb": _review,
}


@dataclass(frozen=True)
class ReportCheck:
    """One report's check: ``check`` when it could be made, else ``error`` (one line), or
    neither when its notebook has no checker."""

    entry: ReportEntry
    check: InputCheck | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        if self.check is None:
            return "not checked"
        return count_of(len(self.check.warnings), "warning") if self.check.warnings else "ok"

    def to_text(self) -> str:
        head = f"{self.entry.name} ({self.entry.parameters or 'no parameter file'}): {self.status}"
        if self.error:
            return f"{head}\n  {self.error}"
        if self.check is None:
            return f"{head}\n  no input check exists for {Path(self.entry.notebook).name}; run the report to test it"
        return f"{head}\n{self.check.to_text()}"


def check_bundle(bundle_path: str | Path, *, period: str | None = None,
                 only: list[str] | None = None) -> list[ReportCheck]:
    """Check the reports of the bundle (or those named in ``only``) for ``period`` (default:
    each report's last month with data)."""
    from prodops_lib.experiments.engines import running_sessions, stop_sessions

    bundle = load_bundle(bundle_path)
    root = bundle_root(bundle_path)
    results, running = [], running_sessions()
    reports = {entry.name: (Path(entry.notebook).name, resolve_path(entry.parameters, root) if entry.parameters else None)
               for entry in bundle.reports}
    try:
        for entry in bundle.select(only):
            checker = CHECKERS.get(Path(entry.notebook).name)
            if checker is None or not entry.parameters:
                results.append(ReportCheck(entry))
                continue
            try:
                results.append(ReportCheck(entry, checker(resolve_path(entry.parameters, root), period, reports)))
            except (ParameterError, InputError) as error:
                results.append(ReportCheck(entry, error=str(error)))
    finally:
        stop_sessions(keep=running)  # the checks' own Spark session: the reports that follow start theirs
    return results


def last_common_month(checks: list[ReportCheck]) -> str | None:
    """The last month every checked report has data for: the default period."""
    lasts = [check.check.months[-1] for check in checks if check.check is not None and check.check.months]
    return min(lasts) if lasts else None
