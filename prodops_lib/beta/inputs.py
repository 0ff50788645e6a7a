"""Beta inputs: the units (who is in the beta and since when) and a metric panel per unit and
period, read through :func:`prodops_lib.io.load_table` so every dropped row is counted with its
reason and a bad file stops with one line naming the file and column.

The panel is put on an integer period index (0 = the first period; days or weeks), and each
beta unit's entry date becomes the index of the period that contains it: event time 0 is the
first period the unit could use the feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from prodops_lib.io import SQL, Column, DropLog, InputError, Schema, id_text, load_table

__all__ = ["BetaPanel", "align", "load_beta"]

Frequency = Literal["day", "week"]
_PERIOD_DAYS = {"day": 1, "week": 7}
_NO_ENTRY = -1  # entry index of a unit outside the beta


@dataclass(frozen=True)
class BetaPanel:
    """The units and the panel, aligned: ``panel`` has columns unit, period (the period's first
    day), period_index, in_beta, entry_index (−1 outside the beta), event_time (periods since
    entry; NaN outside the beta) and one column per metric."""

    units: pd.DataFrame
    panel: pd.DataFrame
    metrics: tuple[str, ...]
    frequency: Frequency

    def to_frame(self) -> pd.DataFrame:
        return self.panel

    @property
    def beta_units(self) -> int:
        return int(self.units["in_beta"].sum())


def _units_schema() -> Schema:
    return Schema(Column("unit"), Column("in_beta", "bool", nullable=False),
                  Column("entry_date", "date"))


def _panel_schema(metrics: Sequence[str]) -> Schema:
    return Schema(Column("unit"), Column("period", "date", nullable=False),
                  *(Column(metric, "float", on_invalid="drop") for metric in metrics))


def _label(source: object, fallback: str) -> str:
    """The name messages and the drop log use: the file as given, a query's name, or ``fallback``."""
    if isinstance(source, (str, Path)):
        return str(source)
    return source.name if isinstance(source, SQL) else fallback


def load_beta(
    units: str | Path | SQL | pd.DataFrame,
    panel: str | Path | SQL | pd.DataFrame,
    metrics: Sequence[str],
    *,
    frequency: Frequency = "week",
    log: DropLog | None = None,
) -> BetaPanel:
    """Read and align the units and the panel.

    Rows are dropped (and counted in ``log``) when a metric value does not parse, when the
    panel names a unit missing from the units file, or when a unit appears twice in a period
    (the first row is kept). A beta unit without an entry date, or a unit listed twice in the
    units file, stops the report: the beta's timing cannot be guessed.
    """
    if frequency not in _PERIOD_DAYS:
        raise InputError(f"frequency {frequency!r} is not day or week; set frequency: day or frequency: week")
    if not metrics:
        raise InputError("no metrics given; list the panel's metric columns under metrics")
    units_label, panel_label = _label(units, "units"), _label(panel, "panel")
    unit_frame = load_table(units, _units_schema(), log=log, label=units_label)
    frame = load_table(panel, _panel_schema(metrics), log=log, label=panel_label)
    return align(unit_frame, frame.dropna(subset=list(metrics)), metrics, frequency=frequency, log=log,
                 units_label=units_label, panel_label=panel_label)


def align(units: pd.DataFrame, panel: pd.DataFrame, metrics: Sequence[str], *, frequency: Frequency = "week",
          log: DropLog | None = None, units_label: str = "units", panel_label: str = "panel") -> BetaPanel:
    """Put typed units and panel frames on one period index (what :func:`load_beta` does after
    reading; simulations call it directly). Rows dropped are counted in ``log``."""
    log = log if log is not None else DropLog()
    unit_frame = units.assign(unit=id_text(units["unit"]))
    twice = unit_frame["unit"].duplicated()
    if twice.any():
        raise InputError(f"{units_label}: unit {unit_frame['unit'][twice].iloc[0]!r} is listed twice in column 'unit'; "
                         "keep one row per unit")
    undated = unit_frame["in_beta"] & unit_frame["entry_date"].isna()
    if undated.any():
        raise InputError(f"{units_label}: beta unit {unit_frame['unit'][undated].iloc[0]!r} has no entry_date; "
                         "give every beta unit the date it entered the beta")
    if not unit_frame["in_beta"].any():
        raise InputError(f"{units_label}: no unit has in_beta true; mark the beta units in column 'in_beta'")
    if unit_frame["in_beta"].all():
        raise InputError(f"{units_label}: every unit is in the beta; the comparison needs units outside it")

    frame = panel.assign(unit=id_text(panel["unit"]))
    unknown = ~frame["unit"].isin(unit_frame["unit"])
    log.drop(panel_label, "unit not in the units file", int(unknown.sum()),
             example=str(frame["unit"][unknown].iloc[0]) if unknown.any() else None)
    frame = frame[~unknown]
    repeated = frame.duplicated(["unit", "period"])
    log.drop(panel_label, "second row for the same unit and period", int(repeated.sum()))
    frame = frame[~repeated]
    if frame.empty:
        raise InputError(f"{panel_label}: no usable rows; check the unit ids match the units file")

    days = _PERIOD_DAYS[frequency]
    start = frame["period"].min()
    frame = frame.assign(period_index=((frame["period"] - start).dt.days // days).astype(int))
    entry_index = ((unit_frame["entry_date"] - start).dt.days // days).where(unit_frame["in_beta"])
    unit_frame = unit_frame.assign(entry_index=entry_index.fillna(_NO_ENTRY).astype(int))
    frame = frame.merge(unit_frame[["unit", "in_beta", "entry_index"]], on="unit", how="left")
    event_time = (frame["period_index"] - frame["entry_index"]).astype(float)
    frame["event_time"] = event_time.where(frame["in_beta"], np.nan)
    frame = frame.sort_values(["unit", "period_index"], kind="stable").reset_index(drop=True)
    return BetaPanel(units=unit_frame.reset_index(drop=True), panel=frame, metrics=tuple(metrics), frequency=frequency)
