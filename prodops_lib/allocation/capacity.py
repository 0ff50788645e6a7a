"""People over time: which team someone was in on a date, and what each person-month is worth.

The people file has one row per team spell: ``person, team, fte, monthly_cost,
effective_from``; a spell lasts until the person's next row. Lookups are vectorised (a sorted
search over ``person × day`` keys), so five million worklogs find their author's team in well
under a second.

A person-month's **capacity** counts each calendar day at that day's FTE:
``capacity = Σ_days fte(day) / days_in_month`` — someone at 0.8 FTE all month is 0.8
person-months; someone who joins on the 16th of a 30-day month at 1.0 is 0.5. The month's
**cost** is ``Σ_days monthly_cost(day) / days_in_month`` (a loaded cost already reflects FTE).
Each is split between teams by the days spent in each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["MONTH_FORMAT", "Roster", "month_labels"]

MONTH_FORMAT = "%Y-%m"
_DAY_SPAN = 1_000_000  # day numbers stay below this (year ≈ 4700)
_EPOCH = np.datetime64("1900-01-01", "D")


def month_labels(months: np.ndarray) -> np.ndarray:
    """``YYYY-MM`` text for an array of datetime64 months."""
    return np.datetime_as_string(months.astype("datetime64[M]"), unit="M")


def _day_numbers(dates: np.ndarray) -> np.ndarray:
    return (np.asarray(dates).astype("datetime64[D]") - _EPOCH).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Roster:
    """The people file prepared for lookups (spells sorted by person and start day)."""

    people: pd.DataFrame
    names: pd.Index
    person_code: np.ndarray
    start_day: np.ndarray
    keys: np.ndarray

    @classmethod
    def build(cls, people: pd.DataFrame) -> Roster:
        spells = people.sort_values(["person", "effective_from"], kind="stable", ignore_index=True)
        names = pd.Index(pd.unique(spells["person"]))
        code = names.get_indexer(spells["person"]).astype(np.int64)
        start = _day_numbers(spells["effective_from"].to_numpy())
        return cls(spells, names, code, start, code * _DAY_SPAN + start)

    def spell_of(self, persons: pd.Series | np.ndarray, dates: np.ndarray) -> np.ndarray:
        """Row of the spell in force for each (person, date), or -1 when the person is not in
        the people file on that date (unknown name, or before their first spell)."""
        codes, uniques = pd.factorize(pd.Series(persons, copy=False), use_na_sentinel=True)
        person = np.where(codes >= 0, self.names.get_indexer(uniques)[np.maximum(codes, 0)], -1)
        query = person * _DAY_SPAN + _day_numbers(dates)
        row = np.searchsorted(self.keys, query, side="right") - 1
        found = (person >= 0) & (row >= 0)
        found[found] = self.person_code[row[found]] == person[found]
        return np.where(found, row, -1)

    def capacity(self, months: list[str]) -> pd.DataFrame:
        """Capacity and cost per person, month and team over ``months`` (``YYYY-MM``):
        ``person, month, team, fte_months, cost``."""
        month_start = np.array(months, dtype="datetime64[M]")
        first = _day_numbers(month_start)
        last = _day_numbers(month_start + 1) - 1
        days_in_month = last - first + 1
        spells = self.people
        next_start = np.append(self.start_day[1:], _DAY_SPAN)
        same_person = np.append(self.person_code[1:] == self.person_code[:-1], False)
        spell_end = np.where(same_person, next_start - 1, _DAY_SPAN)
        n_spells, n_months = len(spells), len(months)
        spell = np.repeat(np.arange(n_spells), n_months)
        month = np.tile(np.arange(n_months), n_spells)
        overlap = (np.minimum(spell_end[spell], last[month]) - np.maximum(self.start_day[spell], first[month]) + 1)
        keep = overlap > 0
        spell, month, overlap = spell[keep], month[keep], overlap[keep]
        fraction = overlap / days_in_month[month]
        frame = pd.DataFrame({
            "person": spells["person"].to_numpy()[spell],
            "month": np.asarray(months, dtype=object)[month],
            "team": spells["team"].to_numpy()[spell],
            "fte_months": spells["fte"].to_numpy()[spell] * fraction,
            "cost": spells["monthly_cost"].to_numpy()[spell] * fraction,
        })
        return frame.groupby(["person", "month", "team"], as_index=False, sort=True).sum()
