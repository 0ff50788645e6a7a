"""DuckDB plumbing shared by the SQL collector and the distribution chart: quoting, file
readers, one private in-memory database per process (with a bounded memory and a spill
folder, see :func:`database_settings`), and one-line errors."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd

from ..io import InputError, diagnose_csv

__all__ = ["Runner", "database_settings", "double_literal", "file_query", "private_cursor", "quote_name", "quote_text",
           "read_unit_file"]

T = TypeVar("T")


def quote_name(column: str) -> str:
    """A SQL identifier, quoted (column names come from parameter files)."""
    return '"' + column.replace('"', '""') + '"'


def quote_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def double_literal(value: float) -> str:
    """An exact DOUBLE literal (a bare decimal would be parsed as DECIMAL)."""
    return f"{quote_text(repr(float(value)))}::DOUBLE"


def file_query(path: str | Path, *, types_from_every_row: bool = False) -> str:
    """A query reading a CSV or parquet file (by extension). DuckDB guesses a CSV column's
    type from a sample of its first rows; ``types_from_every_row`` makes it read them all (ten
    times slower), for a file whose later rows contradict the guess."""
    suffix = Path(path).suffix.lower()
    reader = {".parquet": "read_parquet", ".csv": "read_csv", ".tsv": "read_csv", ".gz": "read_csv"}.get(suffix)
    if reader is None:
        raise InputError(f"{path}: unknown file type {suffix!r}; use a .csv or .parquet file")
    options = ", sample_size = -1" if types_from_every_row and reader == "read_csv" else ""
    return f"SELECT * FROM {reader}({quote_text(str(path))}{options})"


def read_unit_file(path: Path, label: str, read: Callable[[str], T]) -> tuple[T, str]:
    """``read(query)`` on the query of a unit-level file, and the query that worked: the file
    as DuckDB guesses its types, else, when a later row contradicts the guess (an id column of
    numbers that holds a text id after the sample), with types from every row. A file DuckDB
    cannot read, or reads empty, gets the loaders' own message (a CSV that is not UTF-8, ...)."""
    query = file_query(path)
    try:
        try:
            return read(query), query
        except InputError as error:
            if "Conversion Error" not in str(error) or query == file_query(path, types_from_every_row=True):
                raise
            query = file_query(path, types_from_every_row=True)
            return read(query), query
    except InputError as error:
        if "the query failed" in str(error) or "(found: none)" in str(error):
            diagnose_csv(path, label)
        raise


_DATABASE: list = []

MEMORY_LIMIT_MB = 512  # at most; a quarter of the machine's memory on smaller machines


def database_settings() -> dict[str, str]:
    """DuckDB settings of the private database: DuckDB's own defaults suit a database server
    (80% of the machine's memory; spill files in a ``.tmp`` folder of the working directory).

    The analysis's main pass keeps a few sums per variant, day and segment, whatever the number
    of units, so a bounded memory costs it nothing; the operators that grow with the units (the
    ``GROUP BY`` of the unit check on ids that are not compact integers, sorts) spill to a
    folder in the system's temporary directory beyond the limit, so 100 million units stay
    under 1 GB resident (docs/scale.md). Winsorization caps and quantile metrics read their
    order statistics through a histogram (:mod:`.order_statistics`), not with an exact quantile
    aggregate, which cannot spill. A query that runs out of memory all the same (an operator
    that cannot spill, in a source's own SQL) runs again without the limit (:meth:`Runner.execute`)."""
    try:
        machine_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): the fixed limit
        machine_mb = 4 * MEMORY_LIMIT_MB
    spill = Path(tempfile.gettempdir()) / f"prodops-duckdb-{os.getpid()}"  # a process's own: DuckDB removes it
    return {"memory_limit": f"{min(MEMORY_LIMIT_MB, machine_mb // 4)}MB", "temp_directory": str(spill)}


def private_cursor():
    """A cursor on this process's own in-memory DuckDB database: opening a database costs
    ~25 ms, a cursor (a connection to the same database, safe to use from another thread)
    almost nothing."""
    import duckdb

    if not _DATABASE:
        _DATABASE.append(duckdb.connect(config=database_settings()))
    return _DATABASE[0].cursor()


class Runner:
    """Runs queries for one source, turning DuckDB errors into one-line input errors.

    With ``query`` (the source's DuckDB query), queries name the source by the placeholder
    :data:`.engines.SOURCE` and go through SQLGlot, as on the other engines (:mod:`.engines`);
    ``native=True`` marks DuckDB-only SQL, run as written."""

    dialect = "duckdb"

    def __init__(self, connection, source: str, query: str | None = None) -> None:
        self.connection, self.source, self.query, self.queries = connection, source, query, 0
        self._lifted = None  # (cursor, memory limit) while a query runs without the limit
        self._optimizers = None  # the optimizers turned off before distrust_statistics()

    def prepare(self, sql: str, native: bool = False) -> str:
        if self.query is None:
            return sql
        from .engines import SOURCE, compile_sql

        return (sql if native else compile_sql(sql, self.dialect)).replace(SOURCE, f"({self.query}) AS {SOURCE}")

    def execute(self, sql: str, native: bool = False):
        import duckdb

        self.queries += 1
        prepared = self.prepare(sql, native)
        try:
            try:
                return self.connection.execute(prepared)
            except duckdb.OutOfMemoryException:
                return self._without_memory_limit(prepared)
        except duckdb.Error as error:
            raise self._failed(error) from None

    def _without_memory_limit(self, sql: str):
        """Some operators (an exact quantile, which holds every value it orders) cannot spill to
        disk: such a query alone runs with the memory DuckDB would take by default (80% of the machine's). The
        limit is the database's: it is lifted through another cursor, which leaves this one's
        result alone, and restored once the result is read (:meth:`_restore_memory_limit`)."""
        settings = self.connection.cursor()
        self._lifted = (settings, settings.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        settings.execute("RESET memory_limit")
        return self.connection.execute(sql)

    def _restore_memory_limit(self) -> None:
        if self._lifted:
            settings, limit = self._lifted
            self._lifted = None
            self.connection.execute("SELECT 1").fetchall()  # releases the last query's memory first
            settings.execute(f"SET memory_limit = {quote_text(limit)}")
            settings.close()

    def columns(self) -> dict[str, str]:
        """The source's column names and DuckDB types."""
        from .engines import SOURCE

        self.queries -= 1  # DESCRIBE reads no rows
        return {name: str(kind) for name, kind, *_ in self.all(f"DESCRIBE SELECT * FROM {SOURCE}", native=True)}

    def statistics(self, columns: list[str]) -> dict[str, tuple] | None:
        """The smallest and largest value and the count of missing values of each of
        ``columns`` that DuckDB answers from the source's own statistics without reading a row
        (a parquet file's footer); None for none. Left out, since reading would cost what it
        saves: every column of a CSV file or of a query that filters or computes, and columns
        whose row groups lack statistics or hold a missing value or an infinity."""
        import duckdb

        from .engines import SOURCE

        if self.query is None:
            return None

        def query(names: list[str]) -> str:
            return "SELECT " + ", ".join(f"min({name}), max({name}), count(*) - count({name})"
                                         for name in map(quote_name, names)) + f" FROM {SOURCE}"

        free = []
        for column in columns:  # one by one: a column with a missing value or an infinity is never folded
            try:
                plan = self.connection.execute("EXPLAIN (FORMAT json) " + self.prepare(query([column]), native=True))
                if _reads_no_rows(json.loads(plan.fetchall()[0][1])):
                    free.append(column)
            except duckdb.Error:  # a plan DuckDB cannot show may read rows
                continue
        if not free:
            return None
        row = self.all(query(free), native=True)[0]
        return {column: row[3 * k: 3 * k + 3] for k, column in enumerate(free)}

    def distrust_statistics(self) -> None:
        """Let the queries that follow see every value: parquet writers leave NaN out of a
        column's minimum and maximum, and DuckDB's optimizer, trusting them, folds a test for
        NaN away (``nullif(x, 'NaN')`` keeps the NaN). Undone by :meth:`trust_statistics`."""
        if self._optimizers is None:
            self._optimizers = self.connection.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0]
            turned_off = ",".join(part for part in (self._optimizers, "statistics_propagation") if part)
            self.connection.execute(f"SET disabled_optimizers = {quote_text(turned_off)}")

    def trust_statistics(self) -> None:
        if self._optimizers is not None:
            self.connection.execute(f"SET disabled_optimizers = {quote_text(self._optimizers)}")
            self._optimizers = None

    def batches(self, sql: str, rows: int, native: bool = False):
        """The result's first column as numpy arrays of up to ``rows`` values, streamed (the
        whole result never sits in memory)."""
        import duckdb

        self.queries += 1
        try:
            for batch in self.connection.sql(self.prepare(sql, native)).to_arrow_reader(rows):
                yield batch.column(0).to_numpy()
        except duckdb.Error as error:
            raise self._failed(error) from None

    def _failed(self, error: Exception) -> InputError:
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        # a CSV's conversion error names the line first and the column and value further down
        detail = next((line for line in lines[1:] if line.startswith("Error when converting column")), None)
        return InputError(f"{self.source}: the query failed: {lines[0]}" + (f" ({detail})" if detail else ""))

    def all(self, sql: str, native: bool = False) -> list[tuple]:
        try:
            return self.execute(sql, native).fetchall()
        finally:
            self._restore_memory_limit()

    def frame(self, sql: str, native: bool = False) -> pd.DataFrame:
        try:
            return self.execute(sql, native).df()
        finally:
            self._restore_memory_limit()


def _reads_no_rows(plan) -> bool:
    """Whether a JSON query plan only projects constants (DuckDB folded the aggregates from
    statistics into a ``COLUMN_DATA_SCAN``): no operator reads a file or a table."""
    nodes = list(plan) if isinstance(plan, list) else [plan]
    while nodes:
        node = nodes.pop()
        if node.get("name") not in ("PROJECTION", "COLUMN_DATA_SCAN", "DUMMY_SCAN"):
            return False
        nodes += node.get("children", [])
    return True
