"""Effort per item, person, team, month and theme, in the unit the parameters choose.

Units (:data:`~prodops_lib.allocation.config.UNIT_LABELS`):

- ``logged_hours``: each worklog's hours, in the month and team of the worklog's date.
- ``time_spent`` / ``story_points`` / ``item_count``: the item's own value, in the month of
  its ``item_date`` (resolution by default) and its assignee's team on that date.
- ``days_in_progress``: calendar days from start (or creation) to resolution (or the end of
  the period), inclusive, split across the months they fall in.
- ``person_months``: each person-month counts its capacity (FTE, see
  :mod:`.capacity`), spread over the items the person logged time on that month in
  proportion to the hours, or — when they logged nothing — evenly by day over the items
  assigned to them and in progress that day.

Never double counted: a split item's theme weights sum to 1, themes (not effort) flow from
parents to children, and for story points, item count and days in progress an item whose
children carry the unit is represented by its children only (an epic's points are not added
to its stories'). The same spreading gives every person-month's loaded **cost** by theme.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.io import DropLog

from .capacity import Roster, month_labels
from .config import UNIT_LABELS
from .sources import WorkItems
from .themes import Classification

__all__ = ["Effort", "analysis_months", "measure_effort"]


@dataclass(frozen=True, eq=False)
class Effort:
    """Effort records (``month, team, person, theme, item, effort``; ``item`` is the row of
    the work item, ``effort`` is in ``unit``) and, when a people file is given, each
    person-month's time and cost by item (``person_time``: ``… person_months, cost``)."""

    records: pd.DataFrame
    person_time: pd.DataFrame | None
    unit: str
    months: tuple[str, ...]
    themes: tuple[str, ...]
    unclassified: str
    notes: pd.DataFrame
    keys: np.ndarray

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
    if months_of_history is None:
        start = min(np.datetime64(earliest or period, "M"), end)
    else:
        start = end - (months_of_history - 1)
    return list(month_labels(np.arange(start, end + 1)))


def _children_with(items: WorkItems, carries: np.ndarray) -> np.ndarray:
    """Items that some other item carrying the unit names as its parent or epic."""
    frame = items.items
    named = [frame.loc[carries, name] for name in ("parent", "epic") if name in frame]
    if not named:
        return np.zeros(len(frame), dtype=bool)
    return frame["key"].isin(pd.concat(named).dropna().unique()).to_numpy()


def _worklog_rows(items: WorkItems, worklogs: pd.DataFrame, log: DropLog) -> pd.DataFrame:
    codes, uniques = pd.factorize(worklogs["key"])
    row = pd.Index(items.items["key"]).get_indexer(uniques)[codes]
    unknown = row < 0
    if unknown.any():
        log.drop("worklogs", "item key not in the work-item export", int(unknown.sum()),
                 example=repr(worklogs["key"].iloc[int(np.flatnonzero(unknown)[0])]))
    return pd.DataFrame({"item": row[~unknown], "person": worklogs["author"].to_numpy()[~unknown],
                         "date": worklogs["date"].to_numpy()[~unknown],
                         "effort": worklogs["hours"].to_numpy()[~unknown]})


def _item_rows(items: WorkItems, unit: str, item_date: str, log: DropLog, notes: list) -> pd.DataFrame:
    frame = items.items
    value = {"time_spent": frame.get("time_spent"), "story_points": frame.get("story_points"),
             "item_count": pd.Series(1.0, index=frame.index)}[unit].to_numpy(dtype="float64", na_value=np.nan)
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
             example=repr(frame["key"].iloc[int(np.flatnonzero(undated)[0])]) if undated.any() else None)
    keep = carries & ~undated
    return pd.DataFrame({"item": np.flatnonzero(keep), "person": _assignee(frame)[keep],
                         "date": dates[keep], "effort": value[keep]})


def _assignee(frame: pd.DataFrame) -> np.ndarray:
    if "assignee" in frame:
        return frame["assignee"].fillna("").str.strip().to_numpy(dtype=object)
    return np.full(len(frame), "", dtype=object)


def _intervals(items: WorkItems, months: list[str], log: DropLog, reason: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item rows, first day, last day) of the leaf items' time in progress within ``months``."""
    frame = items.items
    start = frame["started"].fillna(frame["created"]) if "started" in frame else frame["created"]
    start = start.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    window_first = np.datetime64(months[0], "M").astype("datetime64[D]")
    window_last = (np.datetime64(months[-1], "M") + 1).astype("datetime64[D]") - 1
    end = (frame["resolved"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]") if "resolved" in frame
           else np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[D]"))
    end = np.where(np.isnat(end), window_last, end)
    leaf = ~_children_with(items, np.ones(len(frame), dtype=bool))
    undated = leaf & np.isnat(start)
    log.drop(items.label, reason, int(undated.sum()),
             example=repr(frame["key"].iloc[int(np.flatnonzero(undated)[0])]) if undated.any() else None)
    first, last = np.maximum(start, window_first), np.minimum(end, window_last)
    keep = leaf & ~undated & (first <= last)
    return np.flatnonzero(keep), first[keep], last[keep]


def _by_month(rows: np.ndarray, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split day intervals at month boundaries: (interval index, first day, days) per month."""
    month_first = first.astype("datetime64[M]")
    count = (last.astype("datetime64[M]") - month_first).astype(np.int64) + 1
    index = np.repeat(np.arange(len(rows)), count)
    step = np.arange(len(index)) - np.repeat(np.cumsum(count) - count, count)
    month = np.repeat(month_first, count) + step
    start = np.maximum(first[index], month.astype("datetime64[D]"))
    stop = np.minimum(last[index], (month + 1).astype("datetime64[D]") - 1)
    return index, start, (stop - start).astype(np.int64) + 1


def _days_rows(items: WorkItems, months: list[str], log: DropLog) -> pd.DataFrame:
    rows, first, last = _intervals(items, months, log, "no start or created date, so no days in progress")
    index, start, days = _by_month(rows, first, last)
    return pd.DataFrame({"item": rows[index], "person": _assignee(items.items)[rows[index]],
                         "date": start, "effort": days.astype("float64")})


def _person_time(items: WorkItems, worklogs: pd.DataFrame | None, roster: Roster, months: list[str],
                 log: DropLog, notes: list) -> pd.DataFrame:
    """Each person-month's capacity and cost spread over items (see the module docstring)."""
    capacity = roster.capacity(months)
    totals = capacity.groupby(["person", "month"], sort=False)[["fte_months", "cost"]].sum()
    parts = []
    logged = pd.MultiIndex.from_arrays([[], []])
    if worklogs is not None and len(worklogs):
        spell = roster.spell_of(worklogs["person"], worklogs["date"].to_numpy())
        rows = worklogs[spell >= 0].assign(month=month_labels(worklogs["date"].to_numpy()[spell >= 0]))
        hours = rows.groupby(["person", "month"], sort=False)["effort"].transform("sum").to_numpy()
        share = np.divide(rows["effort"].to_numpy(), hours, out=np.zeros(len(rows)), where=hours > 0)
        pm = pd.MultiIndex.from_arrays([rows["person"], rows["month"]])
        matched = totals.reindex(pm).to_numpy()
        parts.append(pd.DataFrame({"item": rows["item"].to_numpy(), "person": rows["person"].to_numpy(),
                                   "date": rows["date"].to_numpy(), "person_months": share * matched[:, 0],
                                   "cost": share * matched[:, 1]}))
        logged = pd.MultiIndex.from_frame(rows[["person", "month"]]).unique()
    idle = totals[~totals.index.isin(logged) & (totals["fte_months"].to_numpy() > 0)]
    if len(idle):
        spread = _spread_by_day(items, roster, months, idle, log)
        parts.append(spread)
        placed = spread["person_months"].sum() if len(spread) else 0.0
        unplaced = float(idle["fte_months"].sum() - placed)
        if unplaced > 1e-9:
            notes.append({"issue": "person-months with no logged or assigned work",
                          "rows": round(unplaced, 2), "action": "left out of shares and costs"})
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["item", "person", "date", "person_months", "cost"])


def _spread_by_day(items: WorkItems, roster: Roster, months: list[str], idle: pd.DataFrame, log: DropLog) -> pd.DataFrame:
    frame = items.items
    empty = pd.DataFrame(columns=["item", "person", "date", "person_months", "cost"])
    if "created" not in frame or "assignee" not in frame:
        return empty
    people = set(idle.index.get_level_values("person"))
    owner = _assignee(frame)
    rows, first, last = _intervals(items, months, DropLog(), "")
    mine = pd.Series(owner[rows]).isin(people).to_numpy()
    rows, first, last = rows[mine], first[mine], last[mine]
    length = (last - first).astype(np.int64) + 1
    index = np.repeat(np.arange(len(rows)), length)
    day = first[index] + (np.arange(len(index)) - np.repeat(np.cumsum(length) - length, length))
    work = pd.DataFrame({"item": rows[index], "person": owner[rows[index]], "date": day,
                         "month": month_labels(day)})
    work = work[pd.MultiIndex.from_frame(work[["person", "month"]]).isin(idle.index)]
    if work.empty:
        return empty
    spell = roster.spell_of(work["person"], work["date"].to_numpy())
    work = work[spell >= 0]
    spell = spell[spell >= 0]
    days_in_month = ((work["date"].to_numpy().astype("datetime64[M]") + 1).astype("datetime64[D]")
                     - work["date"].to_numpy().astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    sharing = work.groupby(["person", "date"], sort=False)["item"].transform("size").to_numpy()
    spells = roster.people
    return pd.DataFrame({"item": work["item"].to_numpy(), "person": work["person"].to_numpy(),
                         "date": work["date"].to_numpy(),
                         "person_months": spells["fte"].to_numpy()[spell] / days_in_month / sharing,
                         "cost": spells["monthly_cost"].to_numpy()[spell] / days_in_month / sharing})


def _attribute(rows: pd.DataFrame, values: list[str], months: list[str], roster: Roster | None,
               classification: Classification, unknown_people: str, unknown_team: str,
               log: DropLog, notes: list, source: str) -> pd.DataFrame:
    """Month, team and theme for base rows; rows outside the months are left out."""
    month = month_labels(rows["date"].to_numpy())
    month_code = pd.Index(months).get_indexer(month)
    rows = rows[month_code >= 0]
    month_code = month_code[month_code >= 0]
    person = rows["person"].to_numpy(dtype=object)
    if roster is not None:
        spell = roster.spell_of(rows["person"], rows["date"].to_numpy())
        unknown = spell < 0
        if unknown.any():
            names = pd.unique(person[unknown])
            if unknown_people == "drop":
                log.drop(source, "person not in the people file on that date", int(unknown.sum()),
                         example=repr(names[0]))
                rows, month_code, spell, person = rows[~unknown], month_code[~unknown], spell[~unknown], person[~unknown]
                unknown = np.zeros(len(rows), dtype=bool)
            else:
                notes.append({"issue": f"{source} by {len(names)} people not in the people file on that date "
                                       f"(e.g. {names[0] or 'no assignee'})",
                              "rows": int(unknown.sum()), "action": f"kept under team {unknown_team!r}"})
        team = np.where(unknown, unknown_team, roster.people["team"].to_numpy(dtype=object)[np.maximum(spell, 0)])
    else:
        team = np.full(len(rows), unknown_team, dtype=object)
    record, theme, weight = classification.expand(rows["item"].to_numpy())
    teams = pd.Categorical(team[record])
    people = pd.Categorical(person[record])
    frame = pd.DataFrame({
        "month": pd.Categorical.from_codes(month_code[record], categories=months, ordered=True),
        "team": teams, "person": people,
        "theme": pd.Categorical.from_codes(theme, categories=list(classification.themes)),
        "item": rows["item"].to_numpy()[record],
    })
    for name in values:
        frame[name] = rows[name].to_numpy(dtype="float64")[record] * weight
    return frame


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
    log = log if log is not None else DropLog()
    notes: list[dict] = []
    logged = _worklog_rows(items, worklogs, log) if worklogs is not None else None
    dated = [logged["date"]] if logged is not None else []
    dated += [items.items[c] for c in ("created", "resolved") if c in items.items]
    all_dates = pd.concat([pd.Series(d.to_numpy(dtype="datetime64[ns]")) for d in dated]).dropna() if dated else pd.Series([], dtype="datetime64[ns]")
    if period is None:
        if all_dates.empty:
            raise ValueError("no dated effort: give period= (YYYY-MM)")
        period = str(month_labels(np.array([all_dates.max()]))[0])
    earliest = str(month_labels(np.array([all_dates.min()]))[0]) if len(all_dates) else period
    months = analysis_months(period, months_of_history, earliest)
    roster = Roster.build(people) if people is not None else None
    if roster is None:
        notes.append({"issue": "no people file", "rows": 0, "action": f"every team is {unknown_team!r}; no cost"})

    person_time = None
    if roster is not None:
        base = _person_time(items, logged, roster, months, log, notes)
        person_time = _attribute(base, ["person_months", "cost"], months, roster, classification,
                                 "keep", unknown_team, DropLog(), [], "person time")
    if unit == "person_months":
        records = person_time.rename(columns={"person_months": "effort"}).drop(columns="cost")
        if logged is not None:
            unknown = roster.spell_of(logged["person"], logged["date"].to_numpy()) < 0
            if unknown.any():
                log.drop("worklogs", "author not in the people file (capacity unknown)", int(unknown.sum()),
                         example=repr(logged["person"].to_numpy()[unknown][0]))
    else:
        if unit == "logged_hours":
            base, source = logged, "worklogs"
        elif unit == "days_in_progress":
            base, source = _days_rows(items, months, log), items.label
        else:
            base, source = _item_rows(items, unit, item_date, log, notes), items.label
        records = _attribute(base, ["effort"], months, roster, classification, unknown_people,
                             unknown_team, log, notes, source)
    notes.extend(classification.notes.to_dict("records"))
    return Effort(records, person_time, unit, tuple(months), classification.themes,
                  classification.unclassified, pd.DataFrame(notes, columns=["issue", "rows", "action"]),
                  items.items["key"].to_numpy(dtype=object))
