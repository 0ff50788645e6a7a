"""Reading a tracker's work-item export into the names the analysis uses.

Each tracker exports work items with its own column names; :data:`TRACKERS` holds the usual
names of Jira's CSV export, GitHub issues (``gh issue list --json`` flattened to CSV), Linear's
CSV export and Azure DevOps query results, and ``columns`` in the parameters overrides any of
them. Jira repeats the ``Labels`` (and ``Component/s``) header once per value; pandas reads the
copies as ``Labels``, ``Labels.1``, … and they are collected into one list of tags here. Other
trackers put every label in one cell with a separator.

Every problem is a one-line error naming the file, column, line and value: a missing or
duplicate item key, an unparseable date, a negative or non-numeric effort, a missing column
the rules or the unit need.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from prodops_lib import io
from prodops_lib.io import Column, DropLog, InputError, Schema

__all__ = ["ITEM_FIELDS", "TRACKERS", "WorkItems", "as_category", "column_mapping", "copies", "load_items", "text_codes"]

ITEM_FIELDS = ("key", "issue_type", "summary", "status", "project", "labels", "components",
               "epic", "parent", "story_points", "estimate", "time_spent", "created", "started",
               "resolved", "assignee")
MULTI_VALUED = ("labels", "components")
NUMERIC_FIELDS = ("story_points", "estimate", "time_spent")
DATE_FIELDS = ("created", "started", "resolved")
HOURS_PER = {"seconds": 1 / 3600, "minutes": 1 / 60, "hours": 1.0}


@dataclass(frozen=True)
class TrackerPreset:
    """A tracker's usual export: column names, date format, time unit, label separator."""

    columns: Mapping[str, str]
    date_format: str | None
    time_unit: str
    separator: str | None  # None: one column per value (Jira); else values share one cell


TRACKERS: dict[str, TrackerPreset] = {
    "jira": TrackerPreset({
        "key": "Issue key", "issue_type": "Issue Type", "summary": "Summary", "status": "Status",
        "project": "Project", "labels": "Labels", "components": "Component/s",
        "epic": "Custom field (Epic Link)", "parent": "Parent",
        "story_points": "Custom field (Story Points)", "estimate": "Original Estimate",
        "time_spent": "Time Spent", "created": "Created", "resolved": "Resolved",
        "assignee": "Assignee"}, "%d/%b/%y %I:%M %p", "seconds", None),
    "github": TrackerPreset({
        "key": "number", "summary": "title", "status": "state", "labels": "labels",
        "project": "milestone", "created": "createdAt", "resolved": "closedAt",
        "assignee": "assignees"}, None, "hours", ","),
    "linear": TrackerPreset({
        "key": "ID", "summary": "Title", "status": "Status", "labels": "Labels",
        "project": "Project", "story_points": "Estimate", "parent": "Parent issue",
        "created": "Created", "started": "Started", "resolved": "Completed",
        "assignee": "Assignee"}, None, "hours", ","),
    "azure_devops": TrackerPreset({
        "key": "ID", "issue_type": "Work Item Type", "summary": "Title", "status": "State",
        "labels": "Tags", "project": "Area Path", "parent": "Parent",
        "story_points": "Story Points", "estimate": "Original Estimate",
        "time_spent": "Completed Work", "created": "Created Date",
        "started": "Activated Date", "resolved": "Closed Date", "assignee": "Assigned To"},
        None, "hours", ";"),
}


@dataclass(frozen=True, eq=False)
class WorkItems:
    """Work items in the analysis's names: one row per item (``items``, canonical columns),
    their labels and components as a long table (``tags``: item row, field, value; values
    case-folded), the export as read (``raw``, for rules on other columns), the column
    mapping used and the fields the export has."""

    items: pd.DataFrame
    tags: pd.DataFrame
    raw: pd.DataFrame
    label: str
    columns: Mapping[str, str]
    fields: tuple[str, ...]

    @cached_property
    def key_index(self) -> pd.Index:
        """The item keys as an index (row positions by key), built once."""
        return pd.Index(self.items["key"])

    @cached_property
    def key_values(self) -> np.ndarray:
        """The item keys as Python strings, converted once (a million take ~0.05 s)."""
        return self.items["key"].to_numpy(dtype=object)

    @cached_property
    def _key_array(self) -> pa.Array:
        return pa.array(self.items["key"].astype("string"), type=pa.large_string())

    def rows_of(self, keys: pd.Series) -> np.ndarray:
        """The row of the item each key names (-1 when missing or not in the export). Keys are
        compared as exported and, failing that, stripped of surrounding spaces. Uses Arrow's
        hash lookup, which is the fastest way to match millions of worklogs to items."""
        if isinstance(keys.dtype, pd.CategoricalDtype):
            by_category = self.rows_of(pd.Series(keys.cat.categories, dtype="string"))
            codes = keys.cat.codes.to_numpy()
            return np.where(codes >= 0, by_category[np.maximum(codes, 0)] if len(by_category) else -1, -1)
        values = pa.array(keys.astype("string"), type=pa.large_string())
        # Arrow's hash lookup; a DuckDB join uses both cores but allocates ten times the memory,
        # and on 5M worklog keys the page faults cost more than the second core saves
        rows = pc.fill_null(pc.index_in(values, value_set=self._key_array), -1).to_numpy().astype(np.int64)
        unmatched = (rows < 0) & ~values.is_null().to_numpy(zero_copy_only=False)
        if unmatched.any():
            missing = values.filter(pa.array(unmatched))
            distinct = pc.unique(missing)
            stripped = pc.index_in(pc.utf8_trim_whitespace(distinct), value_set=self._key_array)
            position = pc.index_in(missing, value_set=distinct).to_numpy()
            rows[unmatched] = pc.fill_null(stripped, -1).to_numpy().astype(np.int64)[position]
        return rows

    def to_frame(self) -> pd.DataFrame:
        """The items with their labels and components joined by ", "."""
        frame = self.items.copy()
        for name in MULTI_VALUED:
            values = self.tags[self.tags["field"] == name]
            joined = values.groupby("item")["value"].agg(", ".join)
            frame[name] = pd.Series(joined.reindex(range(len(frame))).to_numpy(), index=frame.index,
                                    dtype="string")
        return frame


def text_codes(values: pd.Series, casefold: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and the distinct values (stripped, optionally case-folded) of a text
    column; missing or blank values get code -1. Factorising first and cleaning only the
    distinct values keeps this fast on millions of rows."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(dtype=np.int64), pd.Index(values.cat.categories)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        codes, uniques = codes.astype(np.int64), pd.Index(uniques)
    cleaned = pd.Series(uniques.astype("string"), dtype="string").str.strip()
    if casefold:
        cleaned = cleaned.str.casefold()
    merged, distinct = pd.factorize(cleaned.fillna(""))
    distinct = np.asarray(distinct, dtype=object)
    keep = distinct != ""
    if len(distinct) == len(uniques) and keep.all():  # nothing to merge or blank: codes stand
        return codes, distinct
    renumber = np.where(keep, np.cumsum(keep) - 1, -1)
    per_unique = renumber[merged] if len(merged) else np.zeros(0, dtype=np.int64)
    codes = np.where(codes >= 0, per_unique[np.maximum(codes, 0)] if len(per_unique) else -1, -1)
    return codes.astype(np.int64), distinct[keep]


def as_category(values: pd.Series) -> pd.Categorical:
    """A text column as a categorical of its stripped values (blank → missing)."""
    codes, distinct = text_codes(values)
    return pd.Categorical.from_codes(codes, categories=pd.Index(distinct, dtype=object).astype("string"))


def column_mapping(defaults: Mapping[str, str], overrides: Mapping[str, str] | None, where: str,
             known: tuple[str, ...]) -> dict[str, str]:
    for name in overrides or {}:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(known)
            raise InputError(f"{where}: columns.{name} is not a field the analysis reads; {hint}")
    return {**defaults, **(overrides or {})}


def _csv_lines(data: object) -> bool:
    return isinstance(data, (str, Path)) and Path(str(data)).suffix.lower() in {".csv", ".tsv", ".txt"}


def copies(frame: pd.DataFrame, name: str) -> list[str]:
    """The column ``name`` and the copies pandas made of a repeated header (``name.1``, …)."""
    pattern = re.compile(rf"^{re.escape(name)}(\.\d+)?$")
    return [str(c) for c in frame.columns if pattern.match(str(c))]


def load_items(
    data: str | Path | pd.DataFrame,
    *,
    tracker: str = "jira",
    columns: Mapping[str, str] | None = None,
    date_format: str | None = None,
    time_unit: str | None = None,
    needed: tuple[str, ...] = (),
    delimiter: str = ",",
    encoding: str = "utf-8",
    log: DropLog | None = None,
    label: str = "work items",
) -> WorkItems:
    """Read a work-item export into :class:`WorkItems`.

    ``needed`` names the fields the analysis will use (the unit, the rules); one that the
    export lacks is an error naming the column looked for and how to map it. Times
    (``estimate``, ``time_spent``) become hours. Keys must be present and unique.
    """
    if tracker not in TRACKERS:
        raise InputError(f"{label}: tracker {tracker!r} is not one of {', '.join(TRACKERS)}")
    preset = TRACKERS[tracker]
    mapping = column_mapping(preset.columns, columns, label, ITEM_FIELDS)
    raw = io.load_table(data, None, log=log, label=label, delimiter=delimiter, encoding=encoding)
    raw.columns = [str(c) for c in raw.columns]
    needed_fields = {"key", *needed}
    present: dict[str, list[str]] = {}
    for name, column in mapping.items():
        found = copies(raw, column) if name in MULTI_VALUED else [column] * (column in raw.columns)
        if found:
            present[name] = found
        elif name in needed_fields or name in (columns or {}):
            why = "the key" if name == "key" else f"the {name} field"
            raise InputError(
                f"{label}: column {column!r} ({why}) is missing; map it with "
                f"columns.{name} in the parameters, or check the export"
                + (f" (did you mean {_closest(column, raw.columns)!r}?)" if _closest(column, raw.columns) else "")
            )
    fmt = date_format or preset.date_format
    schema = Schema(
        *(Column(present[n][0], "datetime", date_format=fmt) for n in DATE_FIELDS if n in present),
        *(Column(present[n][0], "float", minimum=0) for n in NUMERIC_FIELDS if n in present),
    )
    typed = io.validate(raw, schema, label=label, log=log, csv_lines=_csv_lines(data))
    typed = typed.reset_index(drop=True)
    items = pd.DataFrame(index=pd.RangeIndex(len(typed)))
    for name, found in present.items():
        if name not in MULTI_VALUED:
            values = typed[found[0]]
            items[name] = values if name in DATE_FIELDS + NUMERIC_FIELDS else values.astype("string")
    items["key"] = items["key"].str.strip()
    hours = HOURS_PER[time_unit or preset.time_unit]
    for name in ("estimate", "time_spent"):
        if name in items:
            items[name] = items[name] * hours
    _check_keys(items["key"], label, _csv_lines(data))
    for name in ("epic", "parent"):
        if name in items:
            items[name] = items[name].str.strip()
    tags = _tags(typed, present, preset.separator)
    return WorkItems(items, tags, typed, label, mapping, tuple(present))


def _closest(name: str, options: object) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, [str(o) for o in options], n=1, cutoff=0.8)
    return close[0] if close else None


def _check_keys(keys: pd.Series, label: str, csv_lines: bool) -> None:
    def where(position: int) -> str:
        return f"line {position + 2}" if csv_lines else f"row {position}"

    missing = np.flatnonzero(keys.isna().to_numpy() | (keys.fillna("") == "").to_numpy())
    if len(missing):
        raise InputError(f"{label}: {where(missing[0])} has no item key ({len(missing)} rows in all); every item needs one")
    if keys.is_unique:  # a hash of the distinct values: about half the cost of duplicated()
        return
    duplicated = np.flatnonzero(keys.duplicated(keep=False).to_numpy())
    if len(duplicated):
        first = keys.iloc[duplicated[0]]
        twins = np.flatnonzero((keys == first).to_numpy())
        count = int(keys.duplicated().sum())
        raise InputError(
            f"{label}: item key {first!r} appears more than once ({where(twins[0])} and {where(twins[1])}; "
            f"{count} duplicate rows in all); export each item once"
        )


def _tags(frame: pd.DataFrame, present: Mapping[str, list[str]], separator: str | None) -> pd.DataFrame:
    """Long table (item row, field, value) of every label and component, case-folded."""
    parts = []
    for name in MULTI_VALUED:
        for column in present.get(name, []):
            values = frame[column]
            if separator:
                values = values.astype("string").str.split(separator).explode()
            codes, distinct = text_codes(values, casefold=True)
            keep = codes >= 0
            positions = frame.index.get_indexer(values.index[keep]) if separator else np.flatnonzero(keep)
            parts.append(pd.DataFrame({"item": positions, "field": name, "value": distinct[codes[keep]]}))
    if not parts:
        return pd.DataFrame({"item": pd.Series(dtype="int64"), "field": pd.Series(dtype="string"),
                             "value": pd.Series(dtype="string")})
    tags = pd.concat(parts, ignore_index=True).drop_duplicates()
    tags["field"] = tags["field"].astype("string")
    tags["value"] = tags["value"].astype("string")
    return tags.sort_values(["item", "field"], kind="stable", ignore_index=True)
