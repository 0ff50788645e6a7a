"""The review's inputs: the saved results of the same period's other reports.

The review never recomputes an analysis; it reads the tables the detailed reports saved, so
it always agrees with them. A report that failed (its ``status.json`` says so) or whose
results are missing is named, and the review renders what it can without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from prodops_lib.io import Column, DropLog, InputError, Schema, load_table
from prodops_lib.review.spec import ReviewSources

EFFORT_SCHEMA = Schema(Column("month"), Column("theme"), Column("team"),
                       Column("effort", "float"), Column("share", "float"))
DEMAND_SCHEMA = Schema(Column("month"), Column("product_theme"), Column("items", "float"),
                       Column("customers", "float"), Column("arr", "float"),
                       Column("item_share", "float"), Column("customer_share", "float"),
                       Column("arr_share", "float"), Column("product_item_share", "float"),
                       Column("product_customer_share", "float"), Column("product_arr_share", "float"))
TRENDS_SCHEMA = Schema(Column("label"), Column("product_theme"), Column("trend"),
                       Column("count_this_period", "float", required=False),
                       Column("count_before", "float", required=False), Column("level", required=False),
                       Column("share_this_period", "float", required=False),
                       Column("share_before", "float", required=False))
EXPERIMENT_FIELDS = ("name", "kind", "theme", "decision", "status", "primary_metric", "primary_metric_label", "rel_effect",
                     "rel_ci_low", "rel_ci_high", "days_to_go", "click_through", "click_through_low",
                     "click_through_high", "target_rate", "verdict")


@dataclass(frozen=True)
class ReviewInputs:
    """Frames read from the other reports; ``None`` where a report is missing or failed."""

    effort: pd.DataFrame | None
    demand: pd.DataFrame | None
    feedback_trends: pd.DataFrame | None
    experiments: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    too_little_effort: str = ""  # the sentence saying so, when the allocation report found too little effort
    program: dict | None = None  # the experiment program's summary.json, when the review reads one


def load_review_inputs(results_root: str | Path, sources: ReviewSources, log: DropLog) -> ReviewInputs:
    """Read ``effort_share.csv`` (allocation), ``demand_by_theme.csv`` and ``trends.csv``
    (feedback) and each experiment's ``summary.json`` from ``results_root/<name>/``."""
    root = Path(results_root)
    problems: list[str] = []
    effort = demand = trends = None
    too_little = ""
    if sources.allocation and _usable(root, sources.allocation, problems):
        effort = _table(root, sources.allocation, "effort_share.csv", EFFORT_SCHEMA, log, problems)
        total_file = root / sources.allocation / "effort_total.json"
        if total_file.is_file():  # the allocation report's own verdict on whether its effort is enough
            total = json.loads(total_file.read_text(encoding="utf-8"))
            if total.get("too_little"):
                too_little = (f"Too little engineering effort in {total.get('period')} to judge demand against supply "
                              f"({total.get('effort', 0):,.1f} {total.get('unit')}, under the "
                              f"{total.get('effort_needed', 0):,g} needed): the shares are shown, not judged.")
    if sources.feedback and _usable(root, sources.feedback, problems):
        demand = _table(root, sources.feedback, "demand_by_theme.csv", DEMAND_SCHEMA, log, problems)
        trends = _table(root, sources.feedback, "trends.csv", TRENDS_SCHEMA, log, problems)
    rows = []
    for name in sources.experiments:
        summary = _summary(root, name, log, problems, "the experiment is left out")
        if summary is None:
            continue
        row = {key: summary.get(key) for key in EXPERIMENT_FIELDS} | {"report": name}
        # summaries written before the kind was recorded: a fake door is the one with a target
        row["kind"] = row["kind"] or ("fake door" if "target_rate" in summary else "A/B test")
        rows.append(row)
    experiments = pd.DataFrame(rows, columns=[*EXPERIMENT_FIELDS, "report"])
    program = _summary(root, sources.program, log, problems, "the program's headline is left out") if sources.program else None
    return ReviewInputs(effort, demand, trends, experiments, problems, too_little, program)


def _usable(root: Path, name: str, problems: list[str]) -> bool:
    folder = root / name
    if not folder.is_dir():
        problems.append(f"{name}: no results found at {folder}; did the report run for this period?")
        return False
    status_file = folder / "status.json"
    if status_file.is_file():
        status = json.loads(status_file.read_text(encoding="utf-8"))
        if status.get("status") != "ok":
            problems.append(f"{name}: the report {status.get('status')} ({status.get('error')}); its results are left out")
            return False
    return True


def _summary(root: Path, name: str, log: DropLog, problems: list[str], consequence: str) -> dict | None:
    """A report's ``summary.json``, or None with the problem named (missing, failed, no summary)."""
    if not _usable(root, name, problems):
        return None
    summary_file = root / name / "summary.json"
    if not summary_file.is_file():
        problems.append(f"{name}: no summary.json in its results; {consequence}")
        return None
    log.record_input(f"{name}/summary.json", summary_file, 1)
    return json.loads(summary_file.read_text(encoding="utf-8"))


def _table(root: Path, name: str, file: str, schema: Schema, log: DropLog,
           problems: list[str]) -> pd.DataFrame | None:
    path = root / name / file
    if not path.is_file():
        problems.append(f"{name}: {file} is missing from its results; that part of the review is left out")
        return None
    try:
        return load_table(path, schema, log=log, label=f"{name}/{file}")
    except InputError as error:
        problems.append(str(error))
        return None
