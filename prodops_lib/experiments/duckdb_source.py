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
    """Runs queries for one source, turning DuckDB errors into one-line input errors."""

    def __init__(self, connection, source: str) -> None:
        self.connection, self.source = connection, source

    def execute(self, sql: str):
        import duckdb

        try:
            return self.connection.execute(sql)
        except duckdb.Error as error:
            raise self._failed(error) from None

    def batches(self, sql: str, rows: int):
        """The result's first column as numpy arrays of up to ``rows`` values, streamed (the
        whole result never sits in memory)."""
        import duckdb

        try:
            for batch in self.connection.sql(sql).to_arrow_reader(rows):
                yield batch.column(0).to_numpy()
        except duckdb.Error as error:
            raise self._failed(error) from None

    def _failed(self, error: Exception) -> InputError:
        return InputError(f"{self.source}: the query failed: {str(error).strip().splitlines()[0]}")

    def all(self, sql: str) -> list[tuple]:
        return self.execute(sql).fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        return self.execute(sql).df()
