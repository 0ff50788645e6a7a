"""Exact order statistics of values that stay in the engine, in memory that does not grow
with the number of units: the winsorization caps, the quantile metrics' bootstrap ranks and
the distribution chart's edges.

An exact percentile in SQL (``quantile_cont``, ``percentile_disc``) holds every value it
orders and cannot spill to disk: 100 million revenues took 1.9 GB. Yet only the values at a
few ranks are needed, so the selection reads in two passes:

1. **a bracket**: a histogram of the values, the count per bin (``GROUP BY`` a bin key, a few
   hundred rows). The bins are logarithmic, ``floor(64 · ln|v|)``, each a factor ``e^(1/64)``
   (1.6%) wide, so no minimum or maximum is needed beforehand and heavy tails fall in few
   bins; zero and each sign have their own, and NaN (which the engines order above every
   number) its own last one. Counting bins up to a rank gives the bin that holds it and the
   number of values in the bins below;
2. **the values in it**: the distinct values of the bins holding a wanted rank (between bounds
   computed from the bin keys, widened by 1e-9 against the rounding of ``ln`` and ``exp``),
   each with its count and its bin key. Ranks are the bins below's count plus the cumulative
   counts. Bins between two wanted ones are read too when they hold fewer than
   :data:`FETCH_LIMIT` values. The zero, NaN and infinite bins hold one value each and are
   never read: the revenue of the many units that bought nothing is not hashed again.

What is read is checked: the values read with a wanted bin's key must add up to the
histogram's count for it, and keys must not decrease with the values. Were either ever false
(a rounding of ``ln`` that is not monotonic), the group's values are read whole, grouped by
value (exact; DuckDB spills that to disk). A bin of more than a million distinct values (values
packed in a narrow range, e.g. 1000.00 to 1000.99 at 100 million units) is read all the same:
exact and bounded, but slower.

Every query is the kit's portable SQL (``CASE``, ``ln``, ``floor``, ``count``, ``GROUP BY``),
compiled by SQLGlot for each engine, so DuckDB, Spark and warehouses return the same order
statistics, and the interpolation (:func:`interpolate`) runs once, in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .duckdb_source import double_literal, quote_text

__all__ = ["RankWindow", "Selection", "interpolate", "linear_quantile", "select_ranks"]

BINS_PER_E = 64  # a value's bin is floor(64 · ln|v|): each spans a factor e^(1/64)
_OFFSET = 50_000  # above 64 · |ln| of every double (745 for the smallest subnormal), so keys keep the sign's order
_WIDEN = 1e-9  # relative margin around a bin's computed bounds: far above the rounding of ln and exp
FETCH_LIMIT = 1_000_000  # values between two wanted bins up to which one read covers both


@dataclass(frozen=True)
class Selection:
    """Which values to rank: ``value`` (SQL over the base rows) where ``where`` holds (None:
    every row), in groups by ``group`` (SQL; None: one group, keyed ``None``). ``ranks(group,
    n)`` gives the 1-based ranks wanted in a group of ``n`` values."""

    value: str
    ranks: Callable[[Hashable, int], np.ndarray]
    where: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class RankWindow:
    """The distinct values of one group around the wanted ranks, in order, with the 1-based
    rank of each value's last copy; ``n`` values in the group."""

    values: np.ndarray
    last_rank: np.ndarray
    n: int

    def at(self, ranks) -> np.ndarray:
        """The values at 1-based ``ranks`` (each one among those asked for)."""
        return self.values[np.searchsorted(self.last_rank, np.asarray(ranks), side="left")]


def linear_quantile(n: int, q: float) -> np.ndarray:
    """The 1-based ranks the linear-interpolation ``q``-quantile of ``n`` values reads."""
    position = (n - 1) * q
    return np.array([int(np.floor(position)) + 1, int(np.ceil(position)) + 1])


def interpolate(window: RankWindow, q: float) -> float:
    """The ``q``-quantile by linear interpolation between order statistics, as DuckDB's
    ``quantile_cont`` and numpy's default ``np.quantile`` define it: ``x[⌊h⌋] + (h - ⌊h⌋) ·
    (x[⌈h⌉] - x[⌊h⌋])``, ``h = (n - 1) q``, 0-based (DuckDB's arithmetic, to the last bit)."""
    position = (window.n - 1) * q
    low, high = window.at(linear_quantile(window.n, q))
    if np.floor(position) == np.ceil(position):
        return float(low)
    return float(low + (high - low) * (position - np.floor(position)))


def select_ranks(run, base: str, selection: Selection) -> dict[Hashable, RankWindow]:
    """The values at the wanted ranks of every group with at least one value, read with
    ``run.frame`` over ``base`` (a query); see the module's docstring."""
    value = selection.value
    where = " AND ".join(c for c in (f"{value} IS NOT NULL", selection.where) if c)
    group = selection.group or "''"
    key = f"CASE WHEN {value} = 0 THEN 0.0 ELSE sign({value}) * ({_OFFSET} + floor(ln(abs({value})) * {BINS_PER_E})) END"
    histogram = run.frame(f"WITH base AS ({base}) SELECT {group} AS g, {key} AS k, count(*) AS n FROM base "
                          f"WHERE {where} GROUP BY 1, 2")
    bins, runs = {}, {}
    for name, rows in histogram.groupby("g", sort=False, dropna=False):
        keys = rows["k"].to_numpy(dtype=float)
        order = np.argsort(keys, kind="stable")  # NaN last
        keys, counts = keys[order], rows["n"].to_numpy(dtype=np.int64)[order]
        wanted = np.asarray(selection.ranks(name if selection.group else None, int(counts.sum())), dtype=np.int64)
        bins[name] = (keys, counts, np.unique(np.searchsorted(np.cumsum(counts), wanted, side="left")))
        runs[name] = _runs(keys, counts, bins[name][2])
    fetched = _fetch(run, base, value, key, group, where, selection.group is not None,
                     {name: [(bins[name][0][first], bins[name][0][last]) for first, last in of_group]
                      for name, of_group in runs.items()})
    windows = {}
    for name, (keys, counts, held) in bins.items():
        window = _window(keys, counts, held, runs[name], fetched.get(name))
        if window is None:  # what was read does not match the histogram (never seen): read the group whole
            whole = _fetch_whole(run, base, value, group, where, name if selection.group else None)
            window = RankWindow(whole["value"].to_numpy(dtype=float), np.cumsum(whole["units"].to_numpy()), 0)
        windows[name if selection.group else None] = RankWindow(window.values, window.last_rank, int(counts.sum()))
    return windows


def _single(keys: np.ndarray) -> np.ndarray:
    """Bins of one value: zero, NaN and the infinities."""
    return (keys == 0) | ~np.isfinite(keys)


def _bounds(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values each logarithmic bin can hold, widened by :data:`_WIDEN`."""
    size = np.abs(keys) - _OFFSET
    with np.errstate(over="ignore", invalid="ignore"):
        low, high = np.exp(size / BINS_PER_E) * (1 - _WIDEN), np.exp((size + 1) / BINS_PER_E) * (1 + _WIDEN)
    negative = keys < 0
    return np.where(negative, -high, low), np.where(negative, -low, high)


def _runs(keys: np.ndarray, counts: np.ndarray, held: np.ndarray) -> list[tuple[int, int]]:
    """Runs of bins to read (first, last position): the held bins of more than one value, with
    the bins between two of them when those hold fewer than :data:`FETCH_LIMIT` values."""
    runs: list[list[int]] = []
    for b in held:
        if _single(keys[b : b + 1])[0]:
            continue
        if runs and counts[runs[-1][1] + 1 : b].sum() < FETCH_LIMIT and not np.isnan(keys[runs[-1][1] + 1 : b]).any():
            runs[-1][1] = int(b)
        else:
            runs.append([int(b), int(b)])
    return [(first, last) for first, last in runs]


def _fetch(run, base: str, value: str, key: str, group: str, where: str, grouped: bool,
           ranges: dict[Hashable, list[tuple[float, float]]]) -> dict[Hashable, pd.DataFrame]:
    """Per group, the distinct values (not 0: its bin is known) between the bounds of the bins
    keyed ``ranges`` (first, last; a little beyond), with their bin key and count: one query."""
    within = []
    for name, of_group in ranges.items():
        for first, last in of_group:
            lows, highs = _bounds(np.array([first, last]))
            of = f"{group} = {quote_text(str(name))} AND " if grouped else ""
            within.append(f"({of}{value} >= {double_literal(lows.min())} AND {value} <= {double_literal(highs.max())})")
    if not within:
        return {}
    rows = run.frame(f"WITH base AS ({base}) SELECT {group} AS g, {value} AS value, {key} AS k, count(*) AS units "
                     f"FROM base WHERE {where} AND {value} <> 0 AND ({' OR '.join(within)}) GROUP BY 1, 2, 3")
    return {name: of_group for name, of_group in rows.groupby("g", sort=False, dropna=False)}


def _window(keys: np.ndarray, counts: np.ndarray, held: np.ndarray, runs: list[tuple[int, int]],
            fetched: pd.DataFrame | None) -> RankWindow | None:
    """The held bins' values and ranks, from the histogram (bins of one value) and what was
    read (the other bins); None when what was read does not match the histogram."""
    ends = np.cumsum(counts)
    values, last = [], []
    for b in held:
        if _single(keys[b : b + 1])[0]:
            values.append(np.array([0.0 if keys[b] == 0 else keys[b]]))  # the infinities' keys are themselves
            last.append(ends[b : b + 1])
    if runs and fetched is None:
        return None
    if runs:  # every value read, those just outside the bins included: keys never decrease as values grow
        fetched = fetched.sort_values("value", kind="stable")
        if (np.diff(fetched["k"].to_numpy(dtype=float)) < 0).any():
            return None
    for first, last_bin in runs:
        inside = fetched[(fetched["k"] >= keys[first]) & (fetched["k"] <= keys[last_bin])]
        read, expected = int(inside["units"].sum()), int(counts[first : last_bin + 1].sum())
        zeros = keys[first : last_bin + 1] == 0
        expected -= int(counts[first : last_bin + 1][zeros].sum())  # zero is not read: its bin says how many
        if read != expected:
            return None
        run_values, run_units = inside["value"].to_numpy(dtype=float), inside["units"].to_numpy(dtype=np.int64)
        if zeros.any():  # zero, in its place among the values read
            at = int(np.searchsorted(run_values, 0.0))
            run_values = np.insert(run_values, at, 0.0)
            run_units = np.insert(run_units, at, int(counts[first : last_bin + 1][zeros].sum()))
        values.append(run_values)
        last.append(ends[first] - counts[first] + np.cumsum(run_units))
    if not values:
        return RankWindow(np.array([]), np.array([], dtype=np.int64), 0)
    values, last = np.concatenate(values), np.concatenate(last).astype(np.int64)
    order = np.argsort(last, kind="stable")
    return RankWindow(values[order], last[order], 0)


def _fetch_whole(run, base: str, value: str, group: str, where: str, name) -> pd.DataFrame:
    """Every distinct value of one group with its count, in order (NaN last)."""
    of = f" AND {group} = {quote_text(str(name))}" if name is not None else ""
    rows = run.frame(f"WITH base AS ({base}) SELECT {value} AS value, count(*) AS units FROM base "
                     f"WHERE {where}{of} GROUP BY 1")
    return rows.assign(value=rows["value"].astype(float)).sort_values("value", na_position="last", kind="stable")
