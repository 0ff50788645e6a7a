"""Reading the other inputs: worklogs, people, targets and theme rules — and all of them at once.

Worklogs with a negative, non-numeric or missing time, a date that does not parse, or no key
or author are dropped and counted in the :class:`~prodops_lib.io.DropLog`; people, targets and
rules that cannot be right (FTE above 1, two spells on one date, targets not adding up to
100%, an unknown rule key) stop the report with a one-line error that says how to fix them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prodops_lib import io
from prodops_lib.io import Column, DropLog, InputError, Schema
from prodops_lib.params import load as load_parameters

from .config import AllocationParams, TableSource, ThemeRules
from .sources import (
    HOURS_PER,
    WorkItems,
    as_category,
    column_mapping,
    composed_key,
    csv_lines,
    load_items,
)
from .themes import fields_used

__all__ = ["AllocationInputs", "load_inputs", "load_people", "load_rules", "load_targets", "load_worklogs"]

WORKLOG_COLUMNS = {"key": "Issue key", "author": "Author", "date": "Started", "time": "Time Spent Seconds"}
PEOPLE_COLUMNS = {"person": "person", "team": "team", "fte": "fte", "monthly_cost": "monthly_cost",
                  "effective_from": "effective_from"}
TARGET_COLUMNS = {"theme": "theme", "team": "team", "target_share": "target_share"}


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
    mapping = column_mapping(WORKLOG_COLUMNS, spec.columns, label, tuple(WORKLOG_COLUMNS))
    log = log if log is not None else DropLog()
    _one_column_each(mapping, label, except_key=True)
    schema = Schema(
        Column(mapping["key"], nullable=False, on_invalid="drop"),
        Column(mapping["author"], nullable=False, on_invalid="drop"),
        # "datetime", not "date": the day is taken when effort is dated, so no separate pass to
        # drop the time of day over millions of rows.
        Column(mapping["date"], "datetime", date_format=spec.date_format, nullable=False, on_invalid="drop"),
        Column(mapping["time"], "float", minimum=0, nullable=False, on_invalid="drop"),
    )
    settings = {column: f"sources.worklogs.columns.{name}" for name, column in mapping.items() if isinstance(column, str)}
    if isinstance(mapping["key"], str):
        frame = io.load_table(data, schema, log=log, label=label, delimiter=spec.delimiter, encoding=spec.encoding,
                              settings=settings)
    else:  # a key made of several columns, as the items' key is
        raw = io.load_table(data, None, log=log, label=label, delimiter=spec.delimiter, encoding=spec.encoding)
        mapping["key"] = composed_key(raw, list(mapping["key"]), label, "worklogs columns.key")
        frame = io.validate(raw, Schema(Column(mapping["key"], nullable=False, on_invalid="drop"), *schema.columns[1:]),
                            label=label, log=log, csv_lines=csv_lines(data))
    return pd.DataFrame({
        "key": frame[mapping["key"]].array,
        "author": as_category(frame[mapping["author"]]),
        "date": frame[mapping["date"]].to_numpy(),
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
    mapping = column_mapping(PEOPLE_COLUMNS, spec.columns, label, tuple(PEOPLE_COLUMNS))
    _one_column_each(mapping, label, except_key=False)
    schema = Schema(
        Column(mapping["person"], nullable=False), Column(mapping["team"], nullable=False),
        Column(mapping["fte"], "float", minimum=0, nullable=False),
        Column(mapping["monthly_cost"], "float", minimum=0, required=False),
        Column(mapping["effective_from"], "date", date_format=spec.date_format, required=False),
    )
    frame = io.load_table(data, schema, log=log, label=label, delimiter=spec.delimiter, encoding=spec.encoding,
                          settings={column: f"sources.people.columns.{name}" for name, column in mapping.items()})
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


def _one_column_each(mapping: dict, label: str, *, except_key: bool) -> None:
    for name, column in mapping.items():
        if not isinstance(column, str) and not (except_key and name == "key"):
            raise InputError(f"{label}: columns.{name} lists several columns; "
                             + ("only the key may be composed of several columns" if except_key else "name one column"))


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
    rules = load_rules(settings.rules)
    needed = fields_used(rules, settings)
    spec = settings.sources.items
    items = load_items(spec.path, tracker=spec.tracker, columns=spec.columns, date_format=spec.date_format,
                       time_unit=spec.time_unit, needed=needed, delimiter=spec.delimiter,
                       encoding=spec.encoding, log=log, label_separator=spec.label_separator,
                       setting="sources.items.columns", label=f"work items ({spec.path})")
    # worklogs and people keep their short labels: the effort step counts its drops under "worklogs"
    worklogs = load_worklogs(settings.sources.worklogs, log=log) if settings.sources.worklogs else None
    people = load_people(settings.sources.people, log=log) if settings.sources.people else None
    targets = load_targets(settings.targets, log=log) if settings.targets is not None else None
    return AllocationInputs(items, rules, worklogs, people, targets)
