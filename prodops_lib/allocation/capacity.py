"""People over time: which team someone was in on a date, and what each person-month is worth.

The people file has one row per team spell: ``person, team, fte, monthly_cost,
effective_from``; a spell lasts until the person's next row. Lookups work on integer codes (a
sorted search over ``person × day`` keys), so five million worklogs find their author's team
in a fraction of a second.

A person-month's **capacity** counts each calendar day at that day's FTE:
``capacity = Σ_days fte(day) / days_in_month`` — someone at 0.8 FTE all month is 0.8
person-months; someone who joins on the 16th of a 30-day month at 1.0 is 0.5. The month's
**cost** is ``Σ_days monthly_cost(day) / days_in_month`` (a loaded cost already reflects FTE).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .sources import text_codes

__all__ = ["Names", "Roster", "day_numbers", "month_labels"]

_SPAN = 1_000_000  # day numbers (offset below) stay under this: years 1700–4400
_OFFSET = 100_000


def month_labels(months: np.ndarray) -> np.ndarray:
    """``YYYY-MM`` text for an array of datetime64 values."""
    return np.datetime_as_string(np.asarray(months).astype("datetime64[M]"), unit="M")


def day_numbers(dates: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 as int64 (NaT stays a very negative number)."""
    return np.asarray(dates).astype("datetime64[D]").astype(np.int64)


class Names:
    """A growing index of person names: roster people first, then everyone else seen in the
    data, so every text column of people maps to the same integer codes."""

    def __init__(self, first: np.ndarray) -> None:
        self.index = pd.Index(np.asarray(first, dtype=object), dtype=object)

    def encode(self, values: pd.Series) -> np.ndarray:
        """Codes for a column of names (stripped); blank or missing names become ``""``."""
        codes, distinct = text_codes(values)
        if (codes < 0).any():
            distinct = np.append(distinct, "")
            codes = np.where(codes < 0, len(distinct) - 1, codes)
        position = self.index.get_indexer(distinct)
        if (position < 0).any():
            self.index = self.index.append(pd.Index(distinct[position < 0], dtype=object))
            position = self.index.get_indexer(distinct)
        return position[codes] if len(codes) else np.zeros(0, dtype=np.int64)

    @property
    def names(self) -> np.ndarray:
        return self.index.to_numpy(dtype=object)


@dataclass(frozen=True, eq=False)
class Roster:
    """The people file prepared for lookups: spells sorted by person and start day; person
    codes ``0 … len(persons) − 1`` are the roster's people."""

    people: pd.DataFrame
    persons: np.ndarray
    teams: np.ndarray
    spell_person: np.ndarray
    spell_team: np.ndarray
    start_day: np.ndarray
    keys: np.ndarray

    @classmethod
    def build(cls, people: pd.DataFrame) -> Roster:
        spells = people.sort_values(["person", "effective_from"], kind="stable", ignore_index=True)
        persons = pd.unique(spells["person"].to_numpy(dtype=object))
        person = pd.Index(persons).get_indexer(spells["person"].to_numpy(dtype=object)).astype(np.int64)
        team_codes, teams = pd.factorize(spells["team"].to_numpy(dtype=object), sort=True)
        start = day_numbers(spells["effective_from"].to_numpy()) + _OFFSET
        return cls(spells, np.asarray(persons, dtype=object), np.asarray(teams, dtype=object), person,
                   team_codes.astype(np.int64), start, person * _SPAN + start)

    def spell_of(self, person: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Spell row in force for each (person code, day number), or -1 when the person is not
        on the roster that day (not in the file, or before their first spell). People with one
        spell take a direct lookup; only people who moved need the sorted search."""
        person = np.asarray(person, dtype=np.int64)
        days = np.asarray(days, dtype=np.int64) + _OFFSET
        n = len(self.persons)
        per_person = np.bincount(self.spell_person, minlength=n)
        first = np.append(np.cumsum(per_person) - per_person, -1)  # code n: not on the roster
        code = np.where((person >= 0) & (person < n), person, n)
        row = first[code]
        start = np.append(self.start_day, _SPAN)
        row[days < start[row]] = -1
        moved = np.flatnonzero(np.append(per_person > 1, False)[code])
        if len(moved):
            query = person[moved] * _SPAN + days[moved]
            found = np.searchsorted(self.keys, query, side="right") - 1
            ok = (found >= 0) & (self.spell_person[np.maximum(found, 0)] == person[moved])
            row[moved] = np.where(ok, found, -1)
        return row

    def capacity(self, months: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """FTE-months and cost per (roster person, month): two arrays of shape
        ``(len(persons), len(months))``."""
        month_start = np.array(months, dtype="datetime64[M]")
        first = day_numbers(month_start) + _OFFSET
        last = day_numbers(month_start + 1) + _OFFSET - 1
        same_person = np.append(self.spell_person[1:] == self.spell_person[:-1], False)
        spell_end = np.where(same_person, np.append(self.start_day[1:], 0) - 1, _SPAN)
        overlap = (np.minimum(spell_end[:, None], last[None, :])
                   - np.maximum(self.start_day[:, None], first[None, :]) + 1).clip(min=0)
        fraction = overlap / (last - first + 1)[None, :]
        fte = np.zeros((len(self.persons), len(months)))
        cost = np.zeros((len(self.persons), len(months)))
        np.add.at(fte, self.spell_person, fraction * self.people["fte"].to_numpy(dtype=float)[:, None])
        np.add.at(cost, self.spell_person, fraction * np.nan_to_num(self.people["monthly_cost"].to_numpy(dtype=float))[:, None])
        return fte, cost
