"""DuckDB plumbing shared by the SQL collector and the distribution chart: quoting, file
readers, one private in-memory database per process, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io import InputError

__all__ = ["Runner", "double_literal", "file_query", "private_cursor", "quote_name", "quote_text"]


def quote_name(column: str) -> str:
    """A SQL identifier, quoted (column names come from parameter files)."""
    return '"' + column.replace('"', '""') + '"'


def quote_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def double_literal(value: float) -> str:
    """An exact DOUBLE literal (a bare decimal would be parsed as DECIMAL)."""
    return f"{quote_text(repr(float(value)))}::DOUBLE"


def file_query(path: str | Path) -> str:
    """A query reading a CSV or parquet file (by extension)."""
    suffix = Path(path).suffix.lower()
    reader = {".parquet": "read_parquet", ".csv": "read_csv", ".tsv": "read_csv", ".gz": "read_csv"}.get(suffix)
    if reader is None:
        raise InputError(f"{path}: unknown file type {suffix!r}; use a .csv or .parquet file")
    return f"SELECT * FROM {reader}({quote_text(str(path))})"


_DATABASE: list = []


def private_cursor():
    """A cursor on this process's own in-memory DuckDB database: opening a database costs
    ~25 ms, a cursor (a connection to the same database, safe to use from another thread)
    almost nothing."""
    import duckdb

    if not _DATABASE:
        _DATABASE.append(duckdb.connect())
    return _DATABASE[0].cursor()


class Runner:
    """Runs queries for one source, turning DuckDB errors into one-line input errors.

    With ``query`` (the source's DuckDB query), queries name the source by the placeholder
    :data:`.engines.SOURCE` and go through SQLGlot, as on the other engines (:mod:`.engines`);
    ``native=True`` marks DuckDB-only SQL, run as written."""

    dialect = "duckdb"

    def __init__(self, connection, source: str, query: str | None = None) -> None:
        self.connection, self.source, self.query, self.queries = connection, source, query, 0

    def prepare(self, sql: str, native: bool = False) -> str:
        if self.query is None:
            return sql
        from .engines import SOURCE, compile_sql

        return (sql if native else compile_sql(sql, self.dialect)).replace(SOURCE, f"({self.query}) AS {SOURCE}")

    def execute(self, sql: str, native: bool = False):
        import duckdb

        self.queries += 1
        try:
            return self.connection.execute(self.prepare(sql, native))
        except duckdb.Error as error:
            raise self._failed(error) from None

    def columns(self) -> dict[str, str]:
        """The source's column names and DuckDB types."""
        from .engines import SOURCE

        self.queries -= 1  # DESCRIBE reads no rows
        return {name: str(kind) for name, kind, *_ in self.all(f"DESCRIBE SELECT * FROM {SOURCE}", native=True)}

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
        return InputError(f"{self.source}: the query failed: {str(error).strip().splitlines()[0]}")

    def all(self, sql: str, native: bool = False) -> list[tuple]:
        return self.execute(sql, native).fetchall()

    def frame(self, sql: str, native: bool = False) -> pd.DataFrame:
        return self.execute(sql, native).df()
