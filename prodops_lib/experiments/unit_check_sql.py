"""The unit check of the SQL collector (:mod:`.aggregate_sql`): rows without a unit id are
counted, a unit with several rows in one variant is an error, and a unit seen in several
variants is counted and left out of the main pass by the filters returned here.

Two implementations with the same result: DuckDB's (:func:`unit_filters_duckdb`: a bitmap of
compact integer ids, else a hash ``GROUP BY``, with DuckDB-only SQL run as written) and the
exact check every other engine runs through SQLGlot (:func:`unit_filters_exact`).
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd

from ..io import InputError
from ..labels import count_of
from .aggregate import DropCounter, crossover_alarm
from .duckdb_source import Runner, quote_name
from .spec import ExperimentSpec

__all__ = ["INTEGER_TYPES", "unit_filters_duckdb", "unit_filters_exact"]

INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def unit_filters_duckdb(run: Runner, con, table: str, spec: ExperimentSpec, kind: str, variant: str,
                  drops: DropCounter, notes: dict) -> tuple[list[str], str | None]:
    """Rows without a unit id and units in several variants: counted, and the filters that drop
    them. Compact integer ids are first checked for repeats with a bitmap (:func:`_distinct_ids`);
    otherwise a ``GROUP BY`` on the 8-byte ``hash`` of the id finds the candidate repeats
    (cheaper than grouping long text ids), and only the rows of candidates are grouped by the
    id itself, so a hash collision between two different ids never counts as a repeat."""
    unit = quote_name(str(spec.unit))
    notes["crossover_units"] = 0
    if kind.startswith(INTEGER_TYPES) and _distinct_ids(run, table, unit):
        return [], None
    key = f"CASE WHEN {unit} IS NOT NULL THEN hash({unit}) END"
    counts = run.frame(
        f"SELECT {key} AS key, grouping({key}) AS total, count(*) AS n_rows FROM {table} WHERE {variant} IS NOT NULL "
        f"GROUP BY GROUPING SETS (({key}), ()) HAVING grouping({key}) = 1 OR {key} IS NULL OR count(*) > 1", native=True
    )
    by_key = counts[counts["total"] == 0]
    no_unit = int(by_key.loc[by_key["key"].isna(), "n_rows"].sum())
    drops.add("missing unit id", no_unit)
    with_unit = int(counts.loc[counts["total"] == 1, "n_rows"].sum()) - no_unit
    candidates = by_key.loc[by_key["key"].notna(), ["key"]]
    kept = f"{unit} IS NOT NULL"
    if candidates.empty:
        return [f"({variant} IS NULL OR {kept})"], None
    name = f"__prodops_units_{uuid.uuid4().hex}"
    con.register(name, candidates.astype({"key": "uint64"}))
    try:
        repeated = run.frame(
            f"SELECT {unit} AS unit, count(*) AS n_rows, count(DISTINCT {variant}) AS n_variants FROM {table} "
            f"WHERE {variant} IS NOT NULL AND {kept} AND hash({unit}) IN (SELECT key FROM {quote_name(name)}) "
            f"GROUP BY ALL HAVING count(*) > 1", native=True
        )
    finally:
        con.unregister(name)
    same_variant = repeated[repeated["n_variants"] == 1]
    if not same_variant.empty:
        raise InputError(
            f"{run.source}: unit column {spec.unit!r} has {count_of(len(same_variant), 'unit')} with several rows in one variant "
            f"(e.g. {same_variant['unit'].iloc[0]}); the data must have one row per unit"
        )
    if repeated.empty:
        return [f"({variant} IS NULL OR {kept})"], None
    con.register(name, repeated[["unit"]])
    crossover_rows = int(repeated["n_rows"].sum())
    drops.add("unit in more than one variant", crossover_rows)
    notes["crossover_units"] = len(repeated)
    notes["crossover_alarm"] = crossover_alarm(len(repeated), with_unit - crossover_rows + len(repeated), spec)
    return [f"({variant} IS NULL OR ({kept} AND {unit} NOT IN (SELECT unit FROM {quote_name(name)})))"], name


def unit_filters_exact(run, table: str, spec: ExperimentSpec, variant: str, drops: DropCounter,
                        notes: dict) -> list[str]:
    """The unit check on Spark and warehouses, exact: one ``GROUP BY`` unit counts the rows
    without a unit id and finds every unit with several rows; only when there are some does a
    second one tell a unit in one variant (an error) from one in several (``min`` and ``max``
    of the variant, cheaper than ``count(DISTINCT)``). A unit in several variants is excluded
    from the main pass by a ``NOT IN`` subquery (an anti-join); the crossover alarm waits for
    the main pass's unit count (:func:`.aggregate_sql.collect_sql`)."""
    unit = quote_name(str(spec.unit))
    notes["crossover_units"] = 0
    variants = ""

    def repeats() -> pd.DataFrame:  # a WHERE on the grouped rows, not a HAVING: Spark's HAVING cannot see {unit} here
        return run.frame(f"SELECT * FROM (SELECT {unit} AS unit, count(*) AS n_rows{variants} FROM {table} "
                         f"WHERE {variant} IS NOT NULL GROUP BY {unit}) AS counted WHERE unit IS NULL OR n_rows > 1")

    repeated = repeats()
    drops.add("missing unit id", int(repeated.loc[repeated["unit"].isna(), "n_rows"].sum()))
    if repeated["unit"].notna().any():
        variants = f", min({variant}) AS first_variant, max({variant}) AS last_variant"
        repeated = repeats()
    repeated = repeated[repeated["unit"].notna()]
    if repeated.empty:
        return [f"({variant} IS NULL OR {unit} IS NOT NULL)"]
    same_variant = repeated[repeated["first_variant"] == repeated["last_variant"]]
    if not same_variant.empty:
        raise InputError(
            f"{run.source}: unit column {spec.unit!r} has {count_of(len(same_variant), 'unit')} with several rows in one variant "
            f"(e.g. {same_variant['unit'].iloc[0]}); the data must have one row per unit"
        )
    kept = f"{unit} IS NOT NULL"
    drops.add("unit in more than one variant", int(repeated["n_rows"].sum()))
    notes["crossover_units"] = len(repeated)
    crossovers = (f"SELECT {unit} FROM {table} WHERE {variant} IS NOT NULL AND {kept} "
                  f"GROUP BY {unit} HAVING min({variant}) <> max({variant})")
    return [f"({variant} IS NULL OR ({kept} AND {unit} NOT IN ({crossovers})))"]


_BYTEMAP_IDS = 1 << 25  # up to 32 MB: one byte per possible id, checked in numpy as the ids stream by


def _distinct_ids(run: Runner, table: str, unit: str) -> bool:
    """Whether every row has an integer id and no id repeats (False: maybe not; look closer).

    ``min``, ``max`` and the counts come from parquet statistics when the file has them. Then
    one read of the id column marks each id in a map of the id range: a byte per id in numpy
    for ranges up to 2**25 (cheaper than DuckDB's ``bitstring_agg``), a bit per id in DuckDB up
    to 2**31; the ids are distinct exactly when as many marks are set as there are rows."""
    low, high, rows, with_unit = run.all(f"SELECT min({unit}), max({unit}), count(*), count({unit}) FROM {table}",
                                         native=True)[0]
    if low is None or rows != with_unit or high - low + 1 < rows:  # missing ids; or fewer possible ids than rows
        return False
    if high - low < _BYTEMAP_IDS:
        seen = np.zeros(high - low + 1, dtype=np.uint8)
        for ids in run.batches(f"SELECT CAST({unit} - {low} AS BIGINT) FROM {table}", 1 << 17, native=True):
            seen[ids] = 1
        return int(np.count_nonzero(seen)) == rows
    if high - low < (1 << 31):
        return run.all(f"SELECT bit_count(bitstring_agg({unit}, {low}, {high})) FROM {table}", native=True)[0][0] == rows
    return False
