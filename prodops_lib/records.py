"""JSON exports as tables: one row per record, one column per field.

Trackers and review stores hand out JSON from their APIs: Jira's search (``{"issues": [...]}``
with each issue's values under ``fields``), Azure DevOps (``{"value": [...]}``), the GitHub
CLI (``gh issue list --json ...``: a list), JSON lines. A record's nested object becomes the
value a person would read in the tracker (its name, display name, title, login or key, in
that order); a list becomes list text (``["a", "b"]``), which the label reader splits. Jira's
``names`` map (``expand=names``) renames custom fields as Jira's CSV export names them,
``Custom field (Story Points)``; Jira's own field ids are renamed to the CSV headers too, so
the ``jira`` preset reads either export.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

__all__ = ["JIRA_FIELDS", "read_json_records"]

# the list of records in an API response, by the key it sits under
RECORD_KEYS = ("issues", "value", "items", "data", "nodes", "results", "records", "reviews")
DISPLAY_KEYS = ("name", "displayName", "value", "title", "login", "key", "id")
# Jira's field ids → the headers of Jira's CSV export
JIRA_FIELDS = {
    "key": "Issue key", "id": "Issue id", "summary": "Summary", "issuetype": "Issue Type", "status": "Status",
    "project": "Project", "labels": "Labels", "components": "Component/s", "parent": "Parent",
    "timeoriginalestimate": "Original Estimate", "timespent": "Time Spent", "created": "Created",
    "resolutiondate": "Resolved", "assignee": "Assignee", "priority": "Priority", "updated": "Updated",
}


class JSONShapeError(ValueError):
    """The file is JSON but holds no list of records; the message says what it found."""


def read_json_records(path: Path) -> pd.DataFrame:
    """The records of a JSON (or JSON lines) file as a table; see the module docstring.
    Raises :class:`json.JSONDecodeError` for text that is not JSON and
    :class:`JSONShapeError` for JSON without a list of records."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        document: object = _json_lines(text)
    else:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            if error.msg != "Extra data":
                raise
            document = _json_lines(text)  # a .json file written as JSON lines, one record per line
    records, names = _records(document)
    jira = any(isinstance(record, dict) and isinstance(record.get("fields"), dict) and "key" in record
               for record in records[:50])
    rows = [_flatten(record, names, jira) for record in records]
    columns = list(dict.fromkeys(name for row in rows for name in row))
    return pd.DataFrame(rows, columns=columns)


def _json_lines(text: str) -> list:
    """One JSON value per line; an error names the file's own line."""
    values, offset = [], 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            try:
                values.append(json.loads(line.rstrip("\r\n")))
            except json.JSONDecodeError as error:
                raise json.JSONDecodeError(error.msg, text, offset + error.pos) from None
        offset += len(line)
    return values


def _records(document: object) -> tuple[list, dict[str, str]]:
    if isinstance(document, list):
        records, names = document, {}
    elif isinstance(document, dict):
        key = next((k for k in RECORD_KEYS if isinstance(document.get(k), list)), None)
        if key is None:
            lists = [k for k, v in document.items() if isinstance(v, list)]
            found = f"lists under {', '.join(map(repr, lists[:5]))}" if lists else "no list"
            raise JSONShapeError(f"holds an object with {found}; expected a list of records, or one under "
                                 + ", ".join(map(repr, RECORD_KEYS)))
        records, names = document[key], document.get("names") or {}
    else:
        raise JSONShapeError("holds a single value; expected a list of records")
    bad = next((i for i, record in enumerate(records) if not isinstance(record, dict)), None)
    if bad is not None:
        raise JSONShapeError(f"record {bad + 1} is {type(records[bad]).__name__}, not an object with fields")
    return records, {str(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}


def _flatten(record: dict, names: dict[str, str], jira: bool) -> dict[str, object]:
    fields = record.get("fields") if isinstance(record.get("fields"), dict) else {}
    merged = {k: v for k, v in record.items() if k not in ("fields", "expand", "self")} | fields
    row = {}
    for name, value in merged.items():
        if jira:
            if name in JIRA_FIELDS:
                name = JIRA_FIELDS[name]
            elif name in names:
                name = f"Custom field ({names[name]})" if name.startswith("customfield_") else names[name]
        row[name] = _display(value)
    return row


def _display(value: object) -> object:
    if isinstance(value, dict):
        for key in DISPLAY_KEYS:
            if value.get(key) not in (None, ""):
                return _display(value[key])
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        return json.dumps([_display(item) for item in value], ensure_ascii=False)
    return value
