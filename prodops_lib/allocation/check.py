"""``prodops check`` for an allocation report: the tracker export as it will be read (preset,
columns, time unit, label separator, dates), rows dropped, how many items each theme rule
matches, and the months with effort (:mod:`prodops_lib.check`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from prodops_lib.check import InputCheck, date_reading, describe_columns, describe_drops
from prodops_lib.io import DropLog

from .config import UNIT_LABELS, AllocationParams
from .inputs import load_inputs
from .sources import TRACKERS, copies
from .themes import HOW, classify

__all__ = ["check_allocation"]


def check_allocation(settings: AllocationParams, period: str | None = None) -> InputCheck:
    """What the allocation report of ``settings`` reads, how its rules classify the items,
    and its warnings; an unusable input raises its one-line error. ``period`` is not needed:
    the whole export is checked."""
    del period  # the rules and columns do not depend on it; the months found are listed
    check = InputCheck()
    log = DropLog()
    inputs = load_inputs(settings, log)
    spec = settings.sources.items
    preset = TRACKERS[spec.tracker]
    items = inputs.items
    check.lines.append(f"work items: {spec.path} (tracker preset {spec.tracker})")
    mapping = {name: copies(items.raw, column) or column for name, column in items.columns.items()}
    check.lines.extend("  " + line for line in describe_columns(list(items.raw.columns), mapping))
    unit = spec.time_unit or preset.time_unit
    check.lines.append(f"  time fields read in {unit}")
    if "pull_request" in items.raw.columns:  # GitHub's REST issue list holds pull requests too
        pulls = int(items.raw["pull_request"].notna().sum())
        if pulls:
            check.warnings.append(f"{pulls:,} of {len(items.raw):,} items are pull requests (GitHub lists them with "
                                  "issues); if they describe the same work as the issues, export issues only")
    columns_read: dict[str, list[str]] = {}
    for column, how in items.tag_reading.items():
        columns_read.setdefault(how, []).append(column)
    check.lines.extend(f"  {', '.join(columns)}: {how}" for how, columns in columns_read.items())
    date_column = items.columns.get(settings.item_date)
    if date_column and date_column in items.raw.columns:
        read_as = items.raw.attrs.get("date_readings", {}).get(date_column, "")
        check.add_dates(date_reading(items.raw[date_column], spec.date_format, preset.date_format, read_as),
                        settings.item_date)
    check.lines.append(f"  effort measured as {UNIT_LABELS[settings.unit]}")
    for entry in log.inputs:
        if entry["kind"] == "data":
            check.lines.append(f"{entry['source']}: {describe_drops(log, entry['source'])}")
    classification = classify(items, inputs.rules)
    check.warnings += [note for note in classification.notes["issue"] if note.startswith("inherit_from")]
    matched = np.bincount(classification.rule, minlength=len(inputs.rules.rules) + 1)[1:]
    check.tables["items matched by each rule (first match wins)"] = pd.DataFrame(
        {"rule": np.arange(1, len(matched) + 1), "theme": [r.theme for r in inputs.rules.rules], "items": matched})
    idle = [f"{number} ({rule.theme})" for number, (rule, count)
            in enumerate(zip(inputs.rules.rules, matched, strict=True), start=1) if count == 0]
    if idle:  # one line, however many: a rules file written for another export can miss them all
        check.warnings.append(f"{'rule ' + idle[0] if len(idle) == 1 else f'{len(idle)} of {len(matched)} rules'} "
                              f"classif{'ies' if len(idle) == 1 else 'y'} no item"
                              + (f" ({', '.join(idle[:8])}{' …' if len(idle) > 8 else ''})" if len(idle) > 1 else "")
                              + ": no item matches, or an earlier rule takes every item matched; check the rules' "
                              "values against the export")
    unclassified = float(np.mean(classification.how == HOW.index("unclassified"))) if len(classification.how) else 0.0
    check.lines.append(f"{len(classification.how):,} items; {unclassified:.0%} unclassified "
                       f"(no rule matched and nothing to inherit from)")
    if unclassified > 0.5:
        check.warnings.append(f"{unclassified:.0%} of items match no rule; the shares will mostly be "
                              f"'{inputs.rules.unclassified}'")
    dates = inputs.worklogs["date"] if inputs.worklogs is not None and settings.unit == "logged_hours" \
        else items.items.get(settings.item_date)
    if dates is not None:
        check.months = sorted(set(pd.to_datetime(pd.Series(dates), utc=True).dt.strftime("%Y-%m").dropna()))
    if not check.months:
        check.warnings.append(f"no dated effort found ({settings.item_date} or worklog dates); check the date columns")
    return check
