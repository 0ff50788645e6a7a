"""Effort per item, person, team, month and theme, in the unit the parameters choose.

Units (:data:`~prodops_lib.allocation.config.UNIT_LABELS`):

- ``logged_hours``: each worklog's hours, in the month and team of the worklog's date.
- ``time_spent`` / ``story_points`` / ``item_count``: the item's own value, in the month of
  its ``item_date`` (resolution by default) and its assignee's team on that date.
- ``days_in_progress``: calendar days from start (or creation) to resolution (or the end of
  the period), inclusive, split across the months they fall in.
- ``person_months``: each person-month counts its capacity (FTE, see :mod:`.capacity`),
  spread over the items the person logged time on that month in proportion to the hours,
  or — when they logged nothing — evenly by day over the items assigned to them and in
  progress that day.

Never double counted: a split item's theme weights sum to 1, themes (not effort) flow from
parents to children, and for story points, item count and days in progress an item whose
children carry the unit is represented by its children only (an epic's points are not added
to its stories'). The same spreading gives every person-month's loaded **cost** by item.
Internally everything is integer codes and numpy arrays, so millions of worklogs stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from prodops_lib.io import DropLog
from prodops_lib.labels import count_of

from .capacity import Names, Roster, day_numbers
from .config import UNIT_LABELS
from .sources import WorkItems
from .themes import Classification, extend

__all__ = ["Effort", "analysis_months", "measure_effort"]

NOTE_COLUMNS = ["issue", "rows", "action"]


@dataclass(frozen=True, eq=False)
class Effort:
    """Effort records (``month, team, person, theme, item, effort``: categorical labels,
    ``item`` the work item's row, ``effort`` in ``unit``) and, with a people file, each
    person-month's time and cost by item (``person_time``: ``… person_months, cost``);
    ``logged_by_item``: all hours logged on each item (any month; NaN when none)."""

    records: pd.DataFrame
    person_time: pd.DataFrame | None
    unit: str
    months: tuple[str, ...]
    themes: tuple[str, ...]
    unclassified: str
    notes: pd.DataFrame
    keys: np.ndarray
    logged_by_item: np.ndarray | None = None

    @property
    def unit_label(self) -> str:
        return UNIT_LABELS[self.unit]

    @property
    def period(self) -> str:
        return self.months[-1]

    def to_frame(self) -> pd.DataFrame:
        frame = self.records.copy()
        frame.insert(4, "key", pd.array(self.keys[frame.pop("item").to_numpy()], dtype="string"))
        return frame


def analysis_months(period: str, months_of_history: int | None, earliest: str | None) -> list[str]:
    """The months analysed: ``months_of_history`` ending at ``period`` (or from ``earliest``)."""
    end = np.datetime64(period, "M")
    start = end - (months_of_history - 1) if months_of_history else min(np.datetime64(earliest or period, "M"), end)
    return [str(m) for m in np.arange(start, end + 1)]


@dataclass
class _Rows:
    """Base effort rows before themes: item row, person code, day number, values; ``month``
    (index into the months analysed) and ``spell`` (row of the people file, -1 if none) are
    filled once by :func:`_locate`."""

    item: np.ndarray
    person: np.ndarray
    day: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    month: np.ndarray | None = None
    spell: np.ndarray | None = None

    def take(self, keep: np.ndarray) -> _Rows:
        return _Rows(self.item[keep], self.person[keep], self.day[keep], {k: v[keep] for k, v in self.values.items()},
                     None if self.month is None else self.month[keep], None if self.spell is None else self.spell[keep])

    @staticmethod
    def concat(parts: list[_Rows], names: tuple[str, ...]) -> _Rows:
        parts = [part for part in parts if len(part.item)] or parts[:1]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return _Rows(empty, empty, empty, {n: np.zeros(0) for n in names}, empty, empty)
        if len(parts) == 1:
            return parts[0]
        joined = {a: np.concatenate([getattr(p, a) for p in parts]) for a in ("item", "person", "day", "month", "spell")}
        return _Rows(values={n: np.concatenate([p.values[n] for p in parts]) for n in names}, **joined)


def _locate(rows: _Rows, months: list[str], roster: Roster | None) -> _Rows:
    """Fill month and spell, keeping only rows inside the months analysed."""
    month = _month_index(rows.day, months) if rows.month is None else rows.month
    inside = month >= 0
    if not inside.all():
        rows, month = rows.take(inside), month[inside]
    rows.month = month
    if rows.spell is None:
        rows.spell = roster.spell_of(rows.person, rows.day) if roster is not None else np.full(len(rows.item), -1)
    return rows


def _month_index(day: np.ndarray, months: list[str]) -> np.ndarray:
    """Position of each day number's month in ``months`` (-1 outside), by table lookup."""
    bounds = day_numbers(np.arange(np.datetime64(months[0], "M"), np.datetime64(months[-1], "M") + 2))
    table = np.concatenate([[-1], np.repeat(np.arange(len(months)), np.diff(bounds)), [-1]])
    offset = np.asarray(day, dtype=np.int64) - (bounds[0] - 1)
    np.clip(offset, 0, len(table) - 1, out=offset)
    return table[offset]


def _children_with(items: WorkItems, carries: np.ndarray) -> np.ndarray:
    """Items that some other item carrying the unit names as its parent or epic."""
    frame = items.items
    named = [frame.loc[carries, name] for name in ("parent", "epic") if name in frame]
    if not named:
        return np.zeros(len(frame), dtype=bool)
    return frame["key"].isin(pd.concat(named).dropna().unique()).to_numpy()


def _first_example(keys: pd.Series, mask: np.ndarray) -> str | None:
    return repr(str(keys.iloc[int(np.flatnonzero(mask)[0])])) if mask.any() else None


def _worklog_rows(items: WorkItems, worklogs: pd.DataFrame, names: Names, log: DropLog) -> _Rows:
    item = items.rows_of(worklogs["key"])
    unknown = item < 0
    log.drop("worklogs", "item key not in the work-item export", int(unknown.sum()),
             example=_first_example(worklogs["key"], unknown))
    rows = _Rows(item, names.encode(worklogs["author"]), day_numbers(worklogs["date"].to_numpy()),
                 {"effort": worklogs["hours"].to_numpy(dtype="float64")})
    return rows.take(~unknown) if unknown.any() else rows


def _item_rows(items: WorkItems, unit: str, item_date: str, names: Names, log: DropLog, notes: list) -> _Rows:
    frame = items.items
    source = {"time_spent": frame.get("time_spent"), "story_points": frame.get("story_points"),
              "item_count": pd.Series(1.0, index=frame.index)}[unit]
    value = source.to_numpy(dtype="float64", na_value=np.nan)
    carries = ~np.isnan(value) & (value > 0)
    if unit != "time_spent":
        parents = carries & _children_with(items, carries)
        if parents.any():
            notes.append({"issue": f"items whose children carry {UNIT_LABELS[unit]}", "rows": int(parents.sum()),
                          "action": "counted through their children only"})
        carries &= ~parents
    no_value = int(np.isnan(value).sum())
    if no_value and unit != "item_count":
        notes.append({"issue": f"items with no {UNIT_LABELS[unit]}", "rows": no_value, "action": "count nothing"})
    dates = frame[item_date].to_numpy(dtype="datetime64[ns]")
    undated = carries & np.isnat(dates)
    log.drop(items.label, f"no {item_date} date, so not counted in {UNIT_LABELS[unit]}", int(undated.sum()),
             example=_first_example(frame["key"], undated))
    keep = np.flatnonzero(carries & ~undated)
    return _Rows(keep, _assignees(items, names)[keep], day_numbers(dates[keep]), {"effort": value[keep]})


def _assignees(items: WorkItems, names: Names) -> np.ndarray:
    frame = items.items
    column = frame["assignee"] if "assignee" in frame else pd.Series(pd.NA, index=frame.index, dtype="string")
    return names.encode(column)


def _intervals(items: WorkItems, months: list[str], log: DropLog | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item rows, first day, last day) of leaf items' time in progress within ``months``."""
    frame = items.items
    start = frame["started"].fillna(frame["created"]) if "started" in frame else frame["created"]
    start = day_numbers(start.to_numpy(dtype="datetime64[ns]"))
    missing_start = np.isnat(frame["created"].to_numpy(dtype="datetime64[ns]")) if "started" not in frame else (
        np.isnat(frame["started"].fillna(frame["created"]).to_numpy(dtype="datetime64[ns]")))
    window_first = day_numbers(np.datetime64(months[0], "M"))
    window_last = day_numbers(np.datetime64(months[-1], "M") + 1) - 1
    resolved = frame["resolved"].to_numpy(dtype="datetime64[ns]") if "resolved" in frame else np.full(len(frame), np.datetime64("NaT"))
    end = np.where(np.isnat(resolved), window_last, day_numbers(resolved))
    leaf = ~_children_with(items, np.ones(len(frame), dtype=bool))
    if log is not None:
        undated = leaf & missing_start
        log.drop(items.label, "no start or created date, so no days in progress", int(undated.sum()),
                 example=_first_example(frame["key"], undated))
    first, last = np.maximum(start, window_first), np.minimum(end, window_last)
    keep = leaf & ~missing_start & (first <= last)
    return np.flatnonzero(keep), first[keep], last[keep]


def _days_rows(items: WorkItems, months: list[str], names: Names, log: DropLog) -> _Rows:
    rows, first, last = _intervals(items, months, log)
    month_first = first.astype("datetime64[D]").astype("datetime64[M]")
    count = (last.astype("datetime64[D]").astype("datetime64[M]") - month_first).astype(np.int64) + 1
    index = np.repeat(np.arange(len(rows)), count)
    step = np.arange(len(index)) - np.repeat(np.cumsum(count) - count, count)
    month = np.repeat(month_first, count) + step
    start = np.maximum(first[index], day_numbers(month))
    stop = np.minimum(last[index], day_numbers(month + 1) - 1)
    owners = _assignees(items, names)
    return _Rows(rows[index], owners[rows[index]], start, {"effort": (stop - start + 1).astype("float64")})


def _person_time(items: WorkItems, logged: _Rows | None, roster: Roster, names: Names, months: list[str],
                 notes: list) -> tuple[dict[str, np.ndarray], _Rows]:
    """Each person-month's capacity and cost spread over items (see the module docstring):
    the values for the logged rows (zero for people not on the roster) and the rows spread by
    day for person-months with nothing logged."""
    fte, cost = roster.capacity(months)
    n_people, n_months = fte.shape
    hours = np.zeros(n_people * n_months)
    on_logged = {}
    if logged is not None:
        on_roster = logged.spell >= 0
        slot = np.where(on_roster, logged.person * n_months + logged.month, 0)
        effort = np.where(on_roster, logged.values["effort"], 0.0)
        hours = np.bincount(slot, weights=effort, minlength=n_people * n_months)
        share = np.divide(effort, hours[slot], out=np.zeros(len(effort)), where=on_roster)
        on_logged = {"person_months": share * fte.ravel()[slot], "cost": share * cost.ravel()[slot]}
    idle = (hours == 0) & (fte.ravel() > 0)
    spread = _Rows.concat([], ("person_months", "cost"))
    if idle.any():
        spread = _spread_by_day(items, roster, names, months, idle)
        unplaced = float(fte.ravel()[idle].sum() - spread.values["person_months"].sum())
        if unplaced > 1e-9:
            notes.append({"issue": "person-months of capacity with no logged or assigned work",
                          "rows": round(unplaced, 2), "action": "left out of shares and costs"})
    return on_logged, spread


def _spread_by_day(items: WorkItems, roster: Roster, names: Names, months: list[str], idle: np.ndarray) -> _Rows:
    """Idle person-months' capacity, spread evenly by day over their items in progress."""
    n_months = len(months)
    if "created" not in items.items or "assignee" not in items.items:
        return _Rows.concat([], ("person_months", "cost"))
    owner = _assignees(items, names)
    rows, first, last = _intervals(items, months, None)
    idle_people = np.unique(np.flatnonzero(idle) // n_months)
    mine = np.isin(owner[rows], idle_people)
    rows, first, last = rows[mine], first[mine], last[mine]
    length = last - first + 1
    index = np.repeat(np.arange(len(rows)), length)
    day = first[index] + (np.arange(len(index)) - np.repeat(np.cumsum(length) - length, length))
    person = owner[rows[index]]
    slot = person * n_months + _month_index(day, months)
    keep = idle[slot]
    day, person, item = day[keep], person[keep], rows[index][keep]
    spell = roster.spell_of(person, day)
    on_roster = spell >= 0
    day, person, item, spell = day[on_roster], person[on_roster], item[on_roster], spell[on_roster]
    _, together, sharing = np.unique(person * 1_000_000 + day, return_inverse=True, return_counts=True)
    month = day.astype("datetime64[D]").astype("datetime64[M]")
    days_in_month = day_numbers(month + 1) - day_numbers(month)
    per_day = 1.0 / days_in_month / sharing[together.ravel()]
    spells = roster.people
    return _Rows(item, person, day, {
        "person_months": spells["fte"].to_numpy(dtype=float)[spell] * per_day,
        "cost": np.nan_to_num(spells["monthly_cost"].to_numpy(dtype=float))[spell] * per_day},
        _month_index(day, months), spell)


def _attribute(rows: _Rows, months: list[str], roster: Roster | None, names: Names,
               classification: Classification, unknown_people: str, unknown_team: str,
               log: DropLog, notes: list, source: str) -> pd.DataFrame:
    """Month, team and theme for base rows; rows outside the months are left out."""
    rows = _locate(rows, months, roster)
    teams = np.append(roster.teams if roster is not None else np.zeros(0, dtype=object), unknown_team)
    if roster is not None:
        unknown = rows.spell < 0
        if unknown.any():
            missing = pd.unique(names.names[rows.person[unknown]])
            if unknown_people == "drop":
                log.drop(source, "person not in the people file on that date", int(unknown.sum()),
                         example=repr(missing[0]))
                rows = rows.take(~unknown)
            else:
                notes.append({"issue": f"{source} by {count_of(len(missing), 'person', 'people')} not in the people file on that date "
                                       f"(e.g. {missing[0] or 'no assignee'})",
                              "rows": int(unknown.sum()), "action": f"kept under team {unknown_team!r}, without cost"})
        team = np.where(rows.spell >= 0, roster.spell_team[np.maximum(rows.spell, 0)], len(teams) - 1)
    else:
        team = np.full(len(rows.item), len(teams) - 1)
    extra, theme, weight = classification.expand(rows.item)
    # Millions of rows: codes are narrowed to the categoricals' own width before they are
    # extended (pandas would narrow them anyway), the frame is built in one call without
    # copies, and only the rows of split items are scaled by their weight.
    team_names = pd.Index(teams, dtype=object).astype("string")
    person_names = pd.Index(names.names, dtype=object).astype("string")
    columns = {
        "month": _categorical(extra, rows.month, pd.Index(months), ordered=True),
        "team": _categorical(extra, team, team_names),
        "person": _categorical(extra, rows.person, person_names),
        "theme": _categorical(None, theme, pd.Index(classification.themes)),  # expand() already extended it
        "item": extend(rows.item, extra),
    }
    scaled = np.flatnonzero(weight != 1.0)
    for name, values in rows.values.items():
        column = extend(values, extra) if len(extra) else values.copy()  # the frame owns its values
        column[scaled] *= weight[scaled]
        columns[name] = column
    return pd.DataFrame(columns, copy=False)


def _categorical(extra: np.ndarray | None, codes: np.ndarray, categories: pd.Index, ordered: bool = False) -> pd.Categorical:
    """Codes (built in range by the caller), extended over the split rows unless ``extra`` is
    None, as a categorical."""
    width = np.int8 if len(categories) < 2**7 else np.int16 if len(categories) < 2**15 else np.int32
    narrow = codes.astype(width)
    return pd.Categorical.from_codes(narrow if extra is None else extend(narrow, extra), categories=categories,
                                     ordered=ordered, validate=False)


def measure_effort(
    items: WorkItems,
    classification: Classification,
    *,
    unit: str = "logged_hours",
    worklogs: pd.DataFrame | None = None,
    people: pd.DataFrame | None = None,
    period: str | None = None,
    months_of_history: int | None = 6,
    item_date: str = "resolved",
    unknown_people: str = "keep",
    unknown_team: str = "Unknown",
    log: DropLog | None = None,
) -> Effort:
    """Effort in ``unit`` for the months ending at ``period`` (default: the latest month with
    data), by month, team, person, theme and item; plus person time and cost when ``people``
    is given. Dropped rows go to ``log`` with their reason; kept oddities to ``notes``."""
    if unit not in UNIT_LABELS:
        raise ValueError(f"unit: {unit!r} is not one of {', '.join(UNIT_LABELS)}")
    if unit == "logged_hours" and worklogs is None:
        raise ValueError("unit 'logged_hours' needs worklogs; pass worklogs= or choose an item-level unit")
    if unit == "person_months" and people is None:
        raise ValueError("unit 'person_months' needs people (person, team, fte); pass people=")
    if unit in ("time_spent", "story_points", "item_count") and item_date not in items.items:
        raise ValueError(f"item_date: the work items have no {item_date!r} column; map it or choose another")
    log = log if log is not None else DropLog()
    notes: list[dict] = []
    roster = Roster.build(people) if people is not None else None
    names = Names(roster.persons if roster is not None else np.zeros(0, dtype=object))
    logged = _worklog_rows(items, worklogs, names, log) if worklogs is not None else None
    logged_by_item = None
    if logged is not None:
        logged_by_item = np.bincount(logged.item, weights=logged.values["effort"], minlength=len(items.items))
        logged_by_item[np.bincount(logged.item, minlength=len(items.items)) == 0] = np.nan
    days = [logged.day] if logged is not None else []
    days += [day_numbers(items.items[c].dropna().to_numpy()) for c in ("created", "resolved") if c in items.items]
    days = np.concatenate(days) if days else np.zeros(0, dtype=np.int64)
    if period is None and not len(days):
        raise ValueError("no dated effort: give period= (YYYY-MM)")
    latest = str(np.datetime64(int(days.max()), "D").astype("datetime64[M]")) if len(days) else period
    earliest = str(np.datetime64(int(days.min()), "D").astype("datetime64[M]")) if len(days) else period
    months = analysis_months(period or latest, months_of_history, earliest)
    if roster is None:
        notes.append({"issue": "no people file", "rows": 0, "action": f"every team is {unknown_team!r}; no cost"})
    if logged is not None:
        logged = _locate(logged, months, roster)

    person_time = None
    on_logged, spread = (_person_time(items, logged, roster, names, months, notes) if roster is not None
                         else ({}, None))
    if unit == "logged_hours" and roster is not None:  # one table carries hours, time and cost
        base = _Rows(logged.item, logged.person, logged.day, {**logged.values, **on_logged}, logged.month, logged.spell)
        spread.values["effort"] = np.zeros(len(spread.item))
        records = _attribute(_Rows.concat([base, spread], ("effort", "person_months", "cost")), months, roster,
                             names, classification, unknown_people, unknown_team, log, notes, "worklogs")
        person_time = records
    else:
        if roster is not None:
            parts = [spread]
            if logged is not None:
                on_roster = logged.spell >= 0
                parts.insert(0, _Rows(logged.item, logged.person, logged.day, on_logged, logged.month,
                                      logged.spell).take(on_roster))
            person_time = _attribute(_Rows.concat(parts, ("person_months", "cost")), months, roster, names,
                                     classification, "keep", unknown_team, DropLog(), [], "person time")
        if unit == "person_months":
            records = person_time.rename(columns={"person_months": "effort"}).drop(columns="cost")
            if logged is not None:
                unknown = logged.spell < 0
                log.drop("worklogs", "author not in the people file (capacity unknown)", int(unknown.sum()),
                         example=repr(names.names[logged.person[unknown][0]]) if unknown.any() else None)
        else:
            if unit == "logged_hours":
                base, source = logged, "worklogs"
            elif unit == "days_in_progress":
                base, source = _days_rows(items, months, names, log), items.label
            else:
                base, source = _item_rows(items, unit, item_date, names, log, notes), items.label
            records = _attribute(base, months, roster, names, classification, unknown_people,
                                 unknown_team, log, notes, source)
    notes.extend(classification.notes.to_dict("records"))
    return Effort(records, person_time, unit, tuple(months), classification.themes,
                  classification.unclassified, pd.DataFrame(notes, columns=NOTE_COLUMNS),
                  items.key_values, logged_by_item)
