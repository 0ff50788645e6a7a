"""Mature cohorts: which units count for a metric that needs time to happen (day-7 retention).

A unit exposed yesterday cannot have come back on its 7th day yet. Counting it as "not
retained" biases the rate towards 0, the more so the more units arrived late (a ramp-up makes
the late share large). A metric with ``maturity_days = k`` therefore counts only the units
exposed on a day ``d`` with ``d + k <= end day``, where the end day is the experiment's
``end_date`` or, without one, the last exposure day in the data (the data then runs at least
until that day). The rule is on calendar days of the exposure timestamp, read as
:mod:`.aggregate_frame` and :mod:`.aggregate_sql` read them, so both paths drop the same units.
A unit with no readable exposure time cannot be shown to be mature and is dropped too.

Both collectors use :func:`maturity_cutoff` and :func:`immature_reason`, so the drop log reads
the same whichever path computed it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .spec import ExperimentSpec, MetricSpec

__all__ = ["analysis_end_day", "immature_reason", "mature_units", "maturity_cutoff"]


def analysis_end_day(spec: ExperimentSpec, last_exposure_day: dt.date | None) -> dt.date | None:
    """The experiment's ``end_date``, else the last exposure day found in the data."""
    return spec.end_date or last_exposure_day


def maturity_cutoff(metric: MetricSpec, end_day: dt.date | None) -> dt.date | None:
    """The last exposure day whose units count for ``metric`` (None: no unit is mature)."""
    if end_day is None:
        return None
    return end_day - dt.timedelta(days=int(metric.maturity_days or 0))


def immature_reason(metric: MetricSpec, cutoff: dt.date | None) -> str:
    """The drop log's reason for the units ``metric`` leaves out."""
    after = f"exposed after {cutoff}" if cutoff is not None else "no readable exposure day in the data"
    return f"metric {metric.name!r}: not yet mature for a day-{metric.maturity_days} metric ({after})"


def mature_units(metric: MetricSpec, exposure_days: np.ndarray, end_day: dt.date | None) -> np.ndarray:
    """Whether each unit (its exposure day, ``datetime64[D]``, NaT when unreadable) counts."""
    cutoff = maturity_cutoff(metric, end_day)
    if cutoff is None:
        return np.zeros(len(exposure_days), dtype=bool)
    return ~np.isnat(exposure_days) & (exposure_days <= np.datetime64(cutoff, "D"))
