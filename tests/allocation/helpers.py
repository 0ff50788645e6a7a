"""Small hand-made inputs for the allocation tests: Jira-shaped frames built from short rows."""

from __future__ import annotations

import pandas as pd

from prodops_lib.allocation import Rule, ThemeRules, load_items, load_people, load_worklogs
from prodops_lib.io import DropLog

JIRA = {"key": "Issue key", "type": "Issue Type", "summary": "Summary", "project": "Project",
        "components": "Component/s", "epic": "Custom field (Epic Link)", "parent": "Parent",
        "points": "Custom field (Story Points)", "estimate": "Original Estimate", "spent": "Time Spent",
        "created": "Created", "resolved": "Resolved", "assignee": "Assignee"}


def jira_frame(rows: list[dict]) -> pd.DataFrame:
    """A Jira export as pandas reads it: text columns, repeated Labels as Labels, Labels.1, …"""
    width = max([len(r.get("labels", [])) for r in rows] + [1])
    records = []
    for row in rows:
        record = {JIRA[name]: (None if value is None else str(value)) for name, value in row.items() if name != "labels"}
        labels = list(row.get("labels", [])) + [None] * width
        for i in range(width):
            record["Labels" if i == 0 else f"Labels.{i}"] = labels[i]
        records.append(record)
    frame = pd.DataFrame(records)
    for column in JIRA.values():
        if column not in frame:
            frame[column] = None
    return frame.astype("string")


def items_from(rows: list[dict], log: DropLog | None = None, **options):
    options.setdefault("date_format", "%Y-%m-%d")
    return load_items(jira_frame(rows), log=log, **options)


def worklogs_from(rows: list[tuple], log: DropLog | None = None) -> pd.DataFrame:
    """Rows of (key, author, date, hours)."""
    frame = pd.DataFrame([{"Issue key": k, "Author": a, "Started": d, "Time Spent Seconds": str(int(h * 3600))}
                          for k, a, d, h in rows]).astype("string")
    return load_worklogs(frame, log=log if log is not None else DropLog())


def people_from(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (person, team, fte, monthly_cost, effective_from)."""
    frame = pd.DataFrame(rows, columns=["person", "team", "fte", "monthly_cost", "effective_from"]).astype("string")
    return load_people(frame)


def label_rules(*themes: str, split: bool = False, **extra) -> ThemeRules:
    """One label rule per theme: theme "X" is label "x"."""
    return ThemeRules(rules=[Rule(theme=t, labels=[t.lower()]) for t in themes], split_multiple_label_matches=split, **extra)
