"""What a report will read, found without running it: the result of ``prodops check``.

Each analysis has a checker (``prodops_lib.<analysis>.check``) that reads its parameter file
and inputs the way the report does, and says in plain lines what it read and what it will
do: rows read and dropped with their reasons, the columns it maps and those it leaves
unused, how it reads dates, what it found (channels and months, variants, rules matched),
and warnings. Nothing heavy runs (no embedding, no model), so a check takes seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from prodops_lib.dates import read_dates
from prodops_lib.io import DropLog

__all__ = ["InputCheck", "date_reading", "describe_columns", "describe_drops"]


@dataclass
class InputCheck:
    """One report's check: ``lines`` to print, ``tables`` (title → small table), ``warnings``
    (things that will make numbers wrong or thin, each one line) and ``months``: the months
    its inputs have data for (the default period is the last month every report has)."""

    lines: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    months: list[str] = field(default_factory=list)

    def add_dates(self, reading: str, where: str) -> None:
        """A line on how a date column is read (:func:`date_reading`); when day and month could
        be either way round, also a warning, so the report's appendix shows it."""
        self.lines.append(f"  {reading} ({where})")
        if "either way round" in reading:
            self.warnings.append(f"{where}: {reading}")

    def to_text(self, indent: str = "  ") -> str:
        parts = [indent + line for line in self.lines]
        for title, table in self.tables.items():
            parts.append(f"{indent}{title}:")
            body = table.to_string(index=False) if len(table) else "(none)"
            parts.extend(indent * 2 + row for row in body.splitlines())
        parts.extend(f"{indent}warning: {text}" for text in self.warnings)
        return "\n".join(parts)


def describe_drops(log: DropLog, source: str) -> str:
    """``1,204 rows read, 3 dropped (empty text: 2; dated after 2026-10-31: 1)``."""
    read = sum(entry["rows"] or 0 for entry in log.inputs if entry["source"] == source and entry["kind"] == "data")
    drops = [entry for entry in log.drops if entry["source"] == source]
    text = f"{read:,} rows read"
    if drops:
        reasons = "; ".join(f"{entry['reason']}: {entry['rows']:,}" for entry in drops)
        text += f", {sum(entry['rows'] for entry in drops):,} dropped ({reasons})"
    else:
        text += ", none dropped"
    return text


def describe_columns(present: Sequence[str], mapping: Mapping[str, str | Sequence[str] | None]) -> list[str]:
    """Two lines: each field and the column(s) it reads, and the file's columns left unused."""
    used: list[str] = []
    pairs = []
    for name, columns in mapping.items():
        if not columns:
            continue
        columns = [columns] if isinstance(columns, str) else list(columns)
        used.extend(columns)
        pairs.append(f"{name} ← {' + '.join(columns)}")
    unused = [str(column) for column in present if column not in used]
    return [f"columns used: {', '.join(pairs)}",
            f"columns not used: {', '.join(unused) if unused else 'none'}"]


def date_reading(values: pd.Series, date_format: str | None, hint: str | None = None, read_as: str = "") -> str:
    """How a date column is read (:func:`prodops_lib.dates.read_dates`), with the range found;
    for a column already read, ``read_as`` says how the loader read it."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed, how = pd.to_datetime(values.dropna(), utc=True), read_as or "date cells"
    else:
        reading = read_dates(values, date_format, hint)
        given = values.astype("string").str.strip().fillna("") != ""
        parsed, how = reading.values[given], reading.how
    if not parsed.notna().any():
        return f"dates: {how}; no value could be read"
    return (f"dates: {how}; {parsed.min():%Y-%m-%d} to {parsed.max():%Y-%m-%d}"
            + (f"; {int(parsed.isna().sum()):,} unreadable" if parsed.isna().any() else ""))
