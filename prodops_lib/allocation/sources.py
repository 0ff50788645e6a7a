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

import dataclasses
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

__all__ = ["ITEM_FIELDS", "TRACKERS", "WorkItems", "as_category", "cell_values", "column_mapping", "composed_key", "copies",
           "csv_lines", "detect_separator", "load_items", "text_codes"]

ITEM_FIELDS = ("key", "issue_type", "summary", "status", "project", "labels", "components",
               "epic", "parent", "story_points", "estimate", "time_spent", "created", "started",
               "resolved", "assignee")
MULTI_VALUED = ("labels", "components")
NUMERIC_FIELDS = ("story_points", "estimate", "time_spent")
ONE_VALUE_FIELDS = ("assignee", "project", "status", "issue_type", "epic", "parent")
DATE_FIELDS = ("created", "started", "resolved")
HOURS_PER = {"seconds": 1 / 3600, "minutes": 1 / 60, "hours": 1.0}


@dataclass(frozen=True)
class TrackerPreset:
    """A tracker's usual export: column names (several where versions of the export differ:
    the first present is read), date format, time unit, label separator."""

    columns: Mapping[str, str | tuple[str, ...]]
    date_format: str | None
    time_unit: str
    separator: str | None  # None: one column per value (Jira); else values share one cell
    localized: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # read, not named in errors


TRACKERS: dict[str, TrackerPreset] = {
    # Jira Server/Data Center and Cloud CSV ("Export CSV (all fields)"), in English or Spanish,
    # and the REST API's JSON, whose field ids prodops_lib.records renames to these headers
    "jira": TrackerPreset({
        "key": "Issue key", "issue_type": "Issue Type", "summary": "Summary", "status": "Status",
        "project": ("Project", "Project name"), "labels": "Labels", "components": ("Component/s", "Components"),
        "epic": "Custom field (Epic Link)", "parent": ("Parent", "Parent id"),
        "story_points": ("Custom field (Story Points)", "Custom field (Story point estimate)"),
        "estimate": "Original Estimate", "time_spent": "Time Spent", "created": "Created",
        "resolved": "Resolved", "assignee": "Assignee"}, "%d/%b/%y %I:%M %p", "seconds", None,
        localized={  # the headers of a real Spanish export
            "key": ("Clave de incidencia",), "issue_type": ("Tipo de Incidencia",), "summary": ("Resumen",),
            "status": ("Estado",), "project": ("Nombre del proyecto",), "labels": ("Etiquetas",),
            "components": ("Componentes",), "epic": ("Campo personalizado (Epic Link)",), "parent": ("Clave principal",),
            "story_points": ("Campo personalizado (Story Points)", "Campo personalizado (Story point estimate)"),
            "estimate": ("Estimación original",), "time_spent": ("Tiempo Trabajado",), "created": ("Creada",),
            "resolved": ("Resuelta",), "assignee": ("Persona asignada",)}),
    # `gh issue list --json ...` (camelCase) or the REST API (snake_case), as JSON or CSV
    "github": TrackerPreset({
        "key": "number", "summary": "title", "status": "state", "labels": "labels",
        "project": "milestone", "created": ("createdAt", "created_at"), "resolved": ("closedAt", "closed_at"),
        "assignee": "assignees"}, None, "hours", ","),
    # Linear's CSV export (Settings → Import/export)
    "linear": TrackerPreset({
        "key": "ID", "summary": "Title", "status": "Status", "labels": "Labels",
        "project": ("Project", "Team"), "story_points": "Estimate", "parent": "Parent issue",
        "created": "Created", "started": "Started", "resolved": "Completed",
        "assignee": "Assignee"}, None, "hours", ","),
    # an Azure Boards query exported to CSV; the Scrum process calls points Effort, CMMI Size
    "azure_devops": TrackerPreset({
        "key": "ID", "issue_type": "Work Item Type", "summary": "Title", "status": "State",
        "labels": "Tags", "project": "Area Path", "parent": "Parent",
        "story_points": ("Story Points", "Effort", "Size"), "estimate": "Original Estimate",
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
    tag_reading: Mapping[str, str] = dataclasses.field(default_factory=dict)  # label column → how its cells were read

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


def column_mapping(defaults: Mapping[str, object], overrides: Mapping[str, object] | None, where: str,
                   known: tuple[str, ...]) -> dict:
    for name in overrides or {}:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(known)
            raise InputError(f"{where}: columns.{name} is not a field the analysis reads; {hint}")
    return {**defaults, **(overrides or {})}


def csv_lines(data: object) -> bool:
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
    label_separator: str | None = None,
    setting: str = "",
) -> WorkItems:
    """Read a work-item export into :class:`WorkItems`.

    ``needed`` names the fields the analysis will use (the unit, the rules); one that the
    export lacks is an error naming the column looked for, the parameter that maps it
    (``setting``, e.g. ``sources.items.columns``) and the columns present. A key given as
    several columns is their values joined by "-". Times (``estimate``, ``time_spent``)
    become hours. Keys must be present and unique.
    """
    if tracker not in TRACKERS:
        raise InputError(f"{label}: tracker {tracker!r} is not one of {', '.join(TRACKERS)}")
    preset = TRACKERS[tracker]
    mapping = column_mapping(preset.columns, columns, label, ITEM_FIELDS)
    raw = io.load_table(data, None, log=log, label=label, delimiter=delimiter, encoding=encoding)
    raw.columns = [str(c) for c in raw.columns]
    where = f"{setting}.{{}}" if setting else "columns.{}"
    if not isinstance(mapping["key"], str) and (columns or {}).get("key") is not None:
        mapping["key"] = composed_key(raw, list(mapping["key"]), label, where.format("key"))
    needed_fields = {"key", *needed}
    present: dict[str, list[str]] = {}
    resolved: dict[str, str] = {}
    for name, spec in mapping.items():
        options = (spec,) if isinstance(spec, str) else tuple(spec)
        overridden = name in (columns or {})
        if name != "key" and overridden and len(options) > 1:
            raise InputError(f"{label}: {where.format(name)} lists several columns; only the key may be "
                             "composed of several columns, so name one")
        found: list[str] = []
        for option in options + (() if overridden else preset.localized.get(name, ())):
            found = copies(raw, option) if name in MULTI_VALUED else [option] * (option in raw.columns)
            if found:
                break
        resolved[name] = found[0] if found else options[0]
        if found and name not in MULTI_VALUED and found[0] in raw.attrs.get("duplicate_columns", ()):
            raise InputError(f"{label}: column {found[0]!r} ({name}) appears more than once in the header; "
                             "remove or rename the extra column")
        if found:
            present[name] = found
        elif name in needed_fields or name in (columns or {}):
            why = "the key" if name == "key" else f"the {name} field"
            looked = " or ".join(map(repr, options))
            close = _closest(options[0], raw.columns)
            raise InputError(
                f"{label}: column {looked} ({why}) is missing; "
                + (io.delimiter_hint(list(raw.columns)) or f"set {where.format(name)} to the export's column"
                   + (f" (did you mean {close!r}?)" if close else "")
                   + "; columns present: " + ", ".join(list(raw.columns)[:15])
                   + (f" … ({len(raw.columns)} in all)" if len(raw.columns) > 15 else ""))
            )
    schema = Schema(
        *(Column(present[n][0], "datetime", date_format=date_format, date_hint=preset.date_format)
          for n in DATE_FIELDS if n in present),
        *(Column(present[n][0], "float", minimum=0) for n in NUMERIC_FIELDS if n in present),
    )
    typed = io.validate(raw, schema, label=label, log=log, csv_lines=csv_lines(data))
    typed = typed.reset_index(drop=True)
    items = pd.DataFrame(index=pd.RangeIndex(len(typed)))
    for name, found in present.items():
        if name not in MULTI_VALUED:
            values = typed[found[0]]
            items[name] = values if name in DATE_FIELDS + NUMERIC_FIELDS else values.astype("string")
    for name in ONE_VALUE_FIELDS:  # a JSON export writes GitHub's assignees as a list: the first, or none
        if name in items and items[name].str.startswith("[", na=False).any():
            items[name] = _first_listed(items[name])
    items["key"] = items["key"].str.strip()
    hours = HOURS_PER[time_unit or preset.time_unit]
    for name in ("estimate", "time_spent"):
        if name in items:
            items[name] = items[name] * hours
    _check_keys(items["key"], label, csv_lines(data))
    for name in ("epic", "parent"):
        if name in items:
            items[name] = items[name].str.strip()
    if "parent" in items:
        items["parent"] = _parents_by_key(items, typed)
    tags, tag_reading = _tags(typed, present, preset.separator, label_separator)
    return WorkItems(items, tags, typed, label, resolved, tuple(present), tag_reading)


ISSUE_ID_COLUMNS = ("Issue id", "ID de la incidencia")  # Jira's numeric id, beside the key


def _parents_by_key(items: pd.DataFrame, typed: pd.DataFrame) -> pd.Series:
    """The parent column as keys: Jira Cloud's CSV writes the parent's numeric Issue id
    ("10090"), not its key ("SHOP-90"); ids found in the export's Issue id column become keys."""
    parent = items["parent"]
    numeric = parent.str.fullmatch(r"\d+", na=False)
    column = next((c for c in ISSUE_ID_COLUMNS if c in typed.columns), None)
    if column is None or not numeric.any():
        return parent
    ids = typed[column].astype("string").str.strip()
    lookup = pd.Series(items["key"].to_numpy(), index=ids.to_numpy())
    lookup = lookup[~lookup.index.duplicated()]
    keys = set(items["key"].dropna())
    by_id = parent.map(lookup)
    use = numeric & by_id.notna() & ~parent.isin(keys)
    return parent.where(~use, by_id).astype("string")


def _first_listed(values: pd.Series) -> pd.Series:
    """List-text cells replaced by their first value (an empty list: missing); other cells
    as they are. Each distinct cell is parsed once."""
    codes, cells = pd.factorize(values, use_na_sentinel=True)
    firsts = [cell if not _LIST_TEXT.match(str(cell)) else next(iter(cell_values(str(cell), None)), None)
              for cell in cells]
    picked = np.asarray([*firsts, None], dtype=object)[np.where(codes >= 0, codes, len(firsts))]
    return pd.Series(pd.array(picked, dtype="string"), index=values.index)


def composed_key(raw: pd.DataFrame, parts: list[str], label: str, setting: str) -> str:
    """Add the key made of several columns (values joined by "-") to ``raw``; returns its name."""
    missing = [part for part in parts if part not in raw.columns]
    if missing:
        raise InputError(f"{label}: {setting} names column {missing[0]!r}, which the export does not have; "
                         "columns present: " + ", ".join(list(raw.columns)[:15]))
    name = " + ".join(parts)
    texts = [raw[part].astype("string").str.strip() for part in parts]
    composed = texts[0]
    for text in texts[1:]:
        composed = composed + "-" + text  # a missing part leaves the key missing, which is an error
    raw[name] = composed
    return name


def _closest(name: str, options: object) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, [str(o) for o in options], n=1, cutoff=0.8)
    return close[0] if close else None


def _check_keys(keys: pd.Series, label: str, csv_lines: bool) -> None:
    def where(position: int) -> str:  # as io names rows: the data row of a file, else the frame's row
        return f"data row {position + 1}" if csv_lines else f"row {position}"

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


_LIST_TEXT = re.compile(r"^\s*\[(.*)\]\s*$", re.S)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'" + r'|"((?:[^"\\]|\\.)*)"')
SEPARATORS = (";", ",", "|")


JIRA_LABELS = "jira labels"  # the separator token for Jira-style labels: any space, ',' or ';'


def cell_values(cell: str, separator: str | None) -> list[str]:
    """The values in one label cell: list text (``['a', 'b']``, ``["a","b"]``, ``[a, b]``; a
    null in it is no value), else the cell split at ``separator`` (``" "``: at any whitespace;
    :data:`JIRA_LABELS`: at whitespace, ',' or ';'; None: the whole cell)."""
    listed = _LIST_TEXT.match(cell)
    if listed:
        return [str(value) for value in _list_text(cell, listed.group(1)) if value is not None]
    if separator is None:
        return [cell]
    if separator == JIRA_LABELS:
        return re.split(r"[\s,;]+", cell)
    return cell.split() if separator == " " else cell.split(separator)


def _list_text(cell: str, inner: str) -> list:
    """The items of list text: JSON first (escapes decoded), then a Python literal, then, for
    text neither reads (``[a, b]``, ``['a', b]``), the parts between commas, unquoted."""
    import ast
    import json

    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(cell)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, list):
            return [item if item is None or isinstance(item, str) else str(item) for item in value]
    return [part.strip().strip("'\"") for part in inner.split(",")] if inner.strip() else []


def detect_separator(cells: pd.Index, field: str, preset: str | None) -> tuple[str | None, str]:
    """The separator of a label field (all its columns) and how it was chosen, in words. A
    tracker that writes one value per cell in repeated columns (Jira: ``preset`` None) never
    has its components split (a component may be called "Search, Discovery"); its labels are
    split at spaces, ',' or ';' when a cell holds several, since a Jira label has no spaces.
    Other trackers: their own separator. List text is read as lists everywhere."""
    plain = [str(c) for c in cells if not _LIST_TEXT.match(str(c))]
    listed = "list text read as lists" if len(plain) < len(cells) else ""
    if preset is not None:
        how = f"split at {preset!r} (the tracker's separator)" if preset != " " else "split at spaces"
        return preset, ", ".join(filter(None, [how, listed]))
    if field == "labels" and any(re.search(r"[\s,;]", cell) for cell in plain):
        return JIRA_LABELS, ", ".join(filter(None, ["split at spaces, ',' or ';' (detected; a Jira label holds "
                                                    "no spaces)", listed]))
    return None, listed or "one value per cell"


def _tags(frame: pd.DataFrame, present: Mapping[str, list[str]], separator: str | None,
          chosen: str | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Long table (item row, field, value) of every label and component, case-folded, and how
    each column's cells were read. ``chosen`` is the user's separator, ``separator`` the
    preset's. Cells are parsed once per distinct value, so millions of items cost little."""
    parts, reading = [], {}
    for name in MULTI_VALUED:
        factorized = {column: pd.factorize(frame[column].astype("string").str.strip(), use_na_sentinel=True)
                      for column in present.get(name, [])}
        if not factorized:
            continue
        if chosen is not None:
            split_at, how = chosen, f"split at {chosen!r} (as set)"
        else:  # one decision for the field, over all its columns
            every = pd.Index(np.concatenate([np.asarray(cells, dtype=object) for _, cells in factorized.values()])).unique()
            split_at, how = detect_separator(every, name, separator)
        for column, (codes, cells) in factorized.items():
            reading[column] = how
            lists = [cell_values(str(cell), split_at) for cell in cells]
            lengths = np.array([len(values) for values in lists], dtype=np.int64)
            flat_codes, distinct = text_codes(pd.Series([v for values in lists for v in values], dtype="string"),
                                              casefold=True)
            rows = np.flatnonzero(codes >= 0)
            per_row = lengths[codes[rows]]
            starts = (np.cumsum(lengths) - lengths)[codes[rows]]
            within = np.arange(per_row.sum()) - np.repeat(np.cumsum(per_row) - per_row, per_row)
            value_codes = flat_codes[np.repeat(starts, per_row) + within] if len(within) else np.zeros(0, np.int64)
            positions = np.repeat(rows, per_row)
            keep = value_codes >= 0
            parts.append(pd.DataFrame({"item": positions[keep], "field": name, "value": distinct[value_codes[keep]]}))
    if not parts:
        empty = pd.DataFrame({"item": pd.Series(dtype="int64"), "field": pd.Series(dtype="string"),
                              "value": pd.Series(dtype="string")})
        return empty, reading
    tags = pd.concat(parts, ignore_index=True).drop_duplicates()
    tags["field"] = tags["field"].astype("string")
    tags["value"] = tags["value"].astype("string")
    return tags.sort_values(["item", "field"], kind="stable", ignore_index=True), reading
