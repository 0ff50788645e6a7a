"""Reading the inputs: a tracker's work-item export, worklogs, people, targets and rules.

Each tracker exports work items with its own column names; :data:`TRACKERS` holds the usual
names of Jira's CSV export, GitHub issues (``gh issue list --json`` flattened to CSV), Linear's
CSV export and Azure DevOps query results, and ``columns`` in the parameters overrides any of
them. Jira repeats the ``Labels`` (and ``Component/s``) header once per value; pandas reads the
copies as ``Labels``, ``Labels.1``, … and they are collected into one list of tags here. Other
trackers put every label in one cell with a separator.

Every problem is a one-line error naming the file, column, line and value, or a counted drop
in the :class:`~prodops_lib.io.DropLog`: duplicate item keys and unparseable item dates stop
the report; worklogs with a negative, non-numeric or missing time or date are dropped and
counted.
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
from prodops_lib.params import load as load_parameters

from .config import AllocationParams, TableSource, ThemeRules

__all__ = [
    "ITEM_FIELDS",
    "TRACKERS",
    "AllocationInputs",
    "WorkItems",
    "load_inputs",
    "load_items",
    "load_people",
    "load_rules",
    "load_targets",
    "load_worklogs",
]

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
WORKLOG_COLUMNS = {"key": "Issue key", "author": "Author", "date": "Started", "time": "Time Spent Seconds"}
PEOPLE_COLUMNS = {"person": "person", "team": "team", "fte": "fte", "monthly_cost": "monthly_cost",
                  "effective_from": "effective_from"}
TARGET_COLUMNS = {"theme": "theme", "team": "team", "target_share": "target_share"}


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


def _mapping(defaults: Mapping[str, str], overrides: Mapping[str, str] | None, where: str,
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


def _copies(frame: pd.DataFrame, name: str) -> list[str]:
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
    mapping = _mapping(preset.columns, columns, label, ITEM_FIELDS)
    raw = io.load_table(data, None, log=log, label=label, delimiter=delimiter, encoding=encoding)
    raw.columns = [str(c) for c in raw.columns]
    needed_fields = {"key", *needed}
    present: dict[str, list[str]] = {}
    for name, column in mapping.items():
        found = _copies(raw, column) if name in MULTI_VALUED else [column] * (column in raw.columns)
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


def load_worklogs(
    source: TableSource | str | Path | pd.DataFrame,
    *,
    log: DropLog | None = None,
    label: str = "worklogs",
) -> pd.DataFrame:
    """Worklogs as ``key, author, date, hours`` (author categorical and stripped; keys are
    stripped when matched to items).

    A row with no key or author, a date that does not parse, or a time that is missing,
    negative or not a number is dropped and counted with its reason.
    """
    spec = source if isinstance(source, TableSource) else TableSource(path="", columns={})
    data = source.path if isinstance(source, TableSource) else source
    mapping = _mapping(WORKLOG_COLUMNS, spec.columns, label, tuple(WORKLOG_COLUMNS))
    log = log if log is not None else DropLog()
    schema = Schema(
        Column(mapping["key"], nullable=False, on_invalid="drop"),
        Column(mapping["author"], nullable=False, on_invalid="drop"),
        Column(mapping["date"], "date", date_format=spec.date_format, nullable=False, on_invalid="drop"),
        Column(mapping["time"], "float", minimum=0, nullable=False, on_invalid="drop"),
    )
    frame = io.load_table(data, schema, log=log, label=label, delimiter=spec.delimiter, encoding=spec.encoding)
    return pd.DataFrame({
        "key": frame[mapping["key"]].array,
        "author": as_category(frame[mapping["author"]]),
        "date": frame[mapping["date"]].to_numpy(dtype="datetime64[s]"),
        "hours": frame[mapping["time"]].to_numpy(dtype="float64") * HOURS_PER[spec.time_unit or "seconds"],
    })


def load_people(
    source: TableSource | str | Path | pd.DataFrame,
    *,
    log: DropLog | None = None,
    label: str = "people",
) -> pd.DataFrame:
    """People as ``person, team, fte, monthly_cost, effective_from``, one row per team spell.

    A person who moves team has a row per move, each with the date it takes effect; a blank
    ``effective_from`` means "since always". FTE must be between 0 and 1; costs are monthly
    loaded costs (optional).
    """
    spec = source if isinstance(source, TableSource) else TableSource(path="", columns={})
    data = source.path if isinstance(source, TableSource) else source
    mapping = _mapping(PEOPLE_COLUMNS, spec.columns, label, tuple(PEOPLE_COLUMNS))
    schema = Schema(
        Column(mapping["person"], nullable=False), Column(mapping["team"], nullable=False),
        Column(mapping["fte"], "float", minimum=0, nullable=False),
        Column(mapping["monthly_cost"], "float", minimum=0, required=False),
        Column(mapping["effective_from"], "date", date_format=spec.date_format, required=False),
    )
    frame = io.load_table(data, schema, log=log, label=label, delimiter=spec.delimiter, encoding=spec.encoding)
    people = pd.DataFrame({
        "person": frame[mapping["person"]].str.strip().to_numpy(),
        "team": frame[mapping["team"]].str.strip().to_numpy(),
        "fte": frame[mapping["fte"]].to_numpy(dtype="float64"),
        "monthly_cost": (frame[mapping["monthly_cost"]].to_numpy(dtype="float64")
                         if mapping["monthly_cost"] in frame else np.nan),
        "effective_from": (frame[mapping["effective_from"]].fillna(pd.Timestamp("1900-01-01")).to_numpy()
                           if mapping["effective_from"] in frame else np.datetime64("1900-01-01")),
    })
    people["effective_from"] = pd.to_datetime(people["effective_from"]).astype("datetime64[ns]")
    too_big = np.flatnonzero(people["fte"].to_numpy() > 1)
    if len(too_big):
        row = people.iloc[too_big[0]]
        raise InputError(f"{label}: column {mapping['fte']!r}: {row['person']!r} has FTE {row['fte']:g}; FTE is a fraction of a full-time week, at most 1")
    twice = people.duplicated(["person", "effective_from"], keep=False)
    if twice.any():
        row = people[twice].iloc[0]
        raise InputError(f"{label}: {row['person']!r} has two rows taking effect on {row['effective_from']:%Y-%m-%d}; keep one per date")
    return people.sort_values(["person", "effective_from"], ignore_index=True)


def load_targets(
    source: str | Path | pd.DataFrame | Mapping[str, float],
    *,
    log: DropLog | None = None,
    label: str = "targets",
    organisation: str = "ALL",
) -> pd.DataFrame:
    """Targets as ``theme, team, target_share``; a blank team means the organisation
    (``organisation``). Each team's shares must add up to 100% (± 0.5 point) and lie in [0, 1]."""
    if isinstance(source, Mapping):
        frame = pd.DataFrame({"theme": list(source), "team": organisation,
                              "target_share": [float(v) for v in source.values()]})
    else:
        schema = Schema(Column("theme", nullable=False), Column("team", required=False),
                        Column("target_share", "float", minimum=0, nullable=False))
        loaded = io.load_table(source, schema, log=log, label=label)
        team = loaded["team"].fillna("").str.strip() if "team" in loaded else pd.Series("", index=loaded.index)
        frame = pd.DataFrame({"theme": loaded["theme"].str.strip().to_numpy(),
                              "team": team.replace("", organisation).to_numpy(),
                              "target_share": loaded["target_share"].to_numpy(dtype="float64")})
    frame["theme"] = frame["theme"].astype("string")
    frame["team"] = frame["team"].astype("string")
    over = frame[frame["target_share"] > 1]
    if len(over):
        row = over.iloc[0]
        raise InputError(f"{label}: target_share {row['target_share']:g} for {row['theme']!r} is above 1; write shares as fractions (0.25 = 25%)")
    twice = frame[frame.duplicated(["theme", "team"], keep=False)]
    if len(twice):
        row = twice.iloc[0]
        raise InputError(f"{label}: theme {row['theme']!r} has two targets for team {row['team']!r}; keep one")
    for team, total in frame.groupby("team", sort=True)["target_share"].sum().items():
        if abs(total - 1) > 0.005:
            raise InputError(
                f"{label}: targets for team {team!r} add up to {total:.1%}, not 100%; "
                "adjust them so each team's shares total 1"
            )
    return frame


def load_rules(rules: str | Path | ThemeRules) -> ThemeRules:
    """The theme rules, from a YAML file (paths relative to the project root) or as given."""
    return rules if isinstance(rules, ThemeRules) else load_parameters(rules, ThemeRules)


@dataclass(frozen=True, eq=False)
class AllocationInputs:
    """Everything read from disk for one report."""

    items: WorkItems
    rules: ThemeRules
    worklogs: pd.DataFrame | None
    people: pd.DataFrame | None
    targets: pd.DataFrame | None


def load_inputs(settings: AllocationParams, log: DropLog) -> AllocationInputs:
    """Read every source named in ``settings``; the fields the rules and unit use are required."""
    from .themes import fields_used

    rules = load_rules(settings.rules)
    needed = fields_used(rules, settings)
    spec = settings.sources.items
    items = load_items(spec.path, tracker=spec.tracker, columns=spec.columns, date_format=spec.date_format,
                       time_unit=spec.time_unit, needed=needed, delimiter=spec.delimiter,
                       encoding=spec.encoding, log=log)
    worklogs = load_worklogs(settings.sources.worklogs, log=log) if settings.sources.worklogs else None
    people = load_people(settings.sources.people, log=log) if settings.sources.people else None
    targets = load_targets(settings.targets, log=log) if settings.targets is not None else None
    return AllocationInputs(items, rules, worklogs, people, targets)
