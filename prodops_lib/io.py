"""Loading inputs: CSV, Excel, parquet or a SQL query on DuckDB, checked against a declared schema.

Every loader reports problems in one line that names the file, the column, the first bad row
(a CSV's data row, or a spreadsheet's row number as Excel shows it) and its value, and says how
to fix it. Rows an analysis decides to drop are never lost silently: they go into a :class:`DropLog` with their reason, and every report shows that log
in its data-quality appendix. The log also remembers each input file's SHA-256, which the
report manifest records.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import hashlib
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from prodops_lib.dates import read_dates
from prodops_lib.params import files_read, project_root, resolve_path
from prodops_lib.privacy import map_text, redact

__all__ = [
    "CHECK_WARNINGS",
    "SPREADSHEET_SUFFIXES",
    "SQL",
    "Column",
    "DropLog",
    "InputError",
    "OutputError",
    "Schema",
    "delimiter_hint",
    "diagnose_csv",
    "existing_file",
    "file_sha256",
    "id_text",
    "load_table",
    "read_csv_written",
    "read_frame",
    "spreadsheet_safe",
    "validate",
    "write_csv",
]

ColumnType = Literal["string", "int", "float", "bool", "date", "datetime"]

# the warnings of `prodops check` for one report, saved in its results folder by the runner
CHECK_WARNINGS = "check_warnings.json"
SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
JSON_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson"})
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class InputError(ValueError):
    """An input file or table is unusable; the message is one line that says how to fix it."""


class OutputError(OSError):
    """Reports cannot be written (no permission, a full disk); the message is one line that
    says what was kept and what to do."""


@dataclass(frozen=True)
class Column:
    """One declared column.

    ``on_invalid="drop"`` drops (and logs) rows whose value does not parse or is not allowed,
    instead of stopping the report; ``required=False`` lets the column be absent from the file.
    """

    name: str
    type: ColumnType = "string"
    required: bool = True
    nullable: bool = True
    allowed: tuple[str, ...] | None = None
    date_format: str | None = None
    date_hint: str | None = None  # the source's usual format, tried first when date_format is not set
    minimum: float | None = None
    maximum: float | None = None
    on_invalid: Literal["error", "drop"] = "error"


@dataclass(frozen=True)
class Schema:
    """The columns a table must have; other columns pass through untouched."""

    columns: tuple[Column, ...]

    def __init__(self, *columns: Column) -> None:
        object.__setattr__(self, "columns", tuple(columns))

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


@dataclass(frozen=True)
class SQL:
    """A DuckDB query as a source. ``files`` lists the files it reads, so their hashes are
    recorded in the manifest; ``name`` labels it in messages and the drop log."""

    query: str
    files: tuple[str, ...] = ()
    name: str = "sql query"


@dataclass
class DropLog:
    """What each report read and what it dropped, with reasons.

    ``inputs`` has one entry per source read (label, path, sha256, rows); ``drops`` one entry
    per (source, reason) with the number of rows and an example row number.
    """

    inputs: list[dict] = field(default_factory=list)
    drops: list[dict] = field(default_factory=list)

    def record_input(self, label: str, path: Path | None, rows: int | None, kind: str = "data") -> None:
        """Remember a source read (``kind`` data or parameters), its file's SHA-256 and its
        rows; a file already recorded under the same label is not listed twice."""
        digest = file_sha256(path) if path is not None and Path(path).is_file() else None
        entry = {"source": label, "kind": kind, "path": portable_path(path) if path else None, "sha256": digest,
                 "rows": None if rows is None else int(rows)}
        if entry not in self.inputs:
            self.inputs.append(entry)

    def drop(self, source: str, reason: str, rows: int, example: str | None = None) -> None:
        """Count ``rows`` dropped from ``source`` because of ``reason`` (zero counts are kept
        out, so the appendix lists only what happened)."""
        if rows:
            self.drops.append(
                {"source": source, "reason": reason, "rows": int(rows), "example": example}
            )

    def drop_frame(self, frame: pd.DataFrame) -> None:
        """Ingest drops counted elsewhere: a frame with columns source, reason, rows."""
        for record in frame.to_dict("records"):
            self.drop(str(record["source"]), str(record["reason"]), int(record["rows"]))

    def dropped(self, source: str | None = None) -> int:
        return sum(d["rows"] for d in self.drops if source is None or d["source"] == source)

    def to_frame(self) -> pd.DataFrame:
        """Rows read and dropped per source, one row per reason (a source without drops gets
        one row with reason ``—``)."""
        rows = []
        data_inputs = [entry for entry in self.inputs if entry["kind"] == "data"]
        for entry in data_inputs:
            reasons = [d for d in self.drops if d["source"] == entry["source"]] or [None]
            for drop in reasons:
                rows.append({
                    "source": entry["source"],
                    "rows_read": entry["rows"],
                    "reason": drop["reason"] if drop else "—",
                    "rows_dropped": drop["rows"] if drop else 0,
                    "example": (drop or {}).get("example"),
                })
        read_sources = {entry["source"] for entry in data_inputs}
        for drop in self.drops:
            if drop["source"] not in read_sources:
                rows.append({"source": drop["source"], "rows_read": None, "reason": drop["reason"],
                             "rows_dropped": drop["rows"], "example": drop.get("example")})
        return pd.DataFrame(rows, columns=["source", "rows_read", "reason", "rows_dropped", "example"])

    def record_parameter_files(self) -> None:
        """Record every parameter file this process has read (taxonomies, rule files): they
        change the numbers as much as the data does, so their hashes go into the manifest."""
        for path in files_read():
            self.record_input(portable_path(path), path, None, kind="parameters")

    def save(self, results_dir: str | Path) -> None:
        """Write ``data_quality.csv`` and ``inputs.json`` (the runner reads the latter)."""
        folder = resolve_path(results_dir)
        folder.mkdir(parents=True, exist_ok=True)
        write_csv(self.to_frame(), folder / "data_quality.csv")
        (folder / "inputs.json").write_text(json.dumps(self.inputs, indent=2) + "\n", encoding="utf-8")


# A cell a spreadsheet would run as a formula (OWASP, "CSV Injection"): it starts with one of
# these. A plain number such as "-3.5" is read as a number, not a formula, and is left alone.
_FORMULA_START = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would otherwise run it as a formula
    (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return and is not a plain
    number): Excel, LibreOffice and Google Sheets then show it as text."""
    if text and text[0] in _FORMULA_START and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _from_spreadsheet_safe(value: object) -> object:
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_START:
        return value[1:]
    return value


def _one_line_break(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """The one way a result table is written: personal data in its text redacted, every text
    cell and column name safe to open in a spreadsheet (:func:`spreadsheet_safe`), line breaks
    inside text written as ``\n`` (a bare carriage return is not quoted by the csv writer and
    would end the row for every reader), UTF-8, no index."""
    table = map_text(frame, lambda text: _one_line_break(spreadsheet_safe(redact(text))))
    table.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def read_csv_written(path: str | Path, **options) -> pd.DataFrame:
    """A table :func:`write_csv` wrote, with its text as it was before it was made
    spreadsheet-safe (the kit reads its own registries back)."""
    return map_text(pd.read_csv(path, **options), _from_spreadsheet_safe)


_STAGING = re.compile(r"(^|/)\.(\d{4}-\d{2})\.staging(?=/|$)")


def portable_path(path: str | Path) -> str:
    """A path as reports show it: relative to the project root when inside it, and with the
    runner's staging folder (``.YYYY-MM.staging``, renamed to ``YYYY-MM`` when the run ends)
    named as it will be, so identical runs record identical paths."""
    resolved = Path(path).resolve()
    try:
        text = resolved.relative_to(project_root().resolve()).as_posix()
    except ValueError:
        text = resolved.as_posix()
    return _STAGING.sub(r"\1\2", text)


def id_text(values: pd.Series) -> pd.Series:
    """Ids as text that match across files: surrounding spaces stripped, and a whole number
    stored as a float (a column with a blank cell, or a parquet double) written as the integer
    it is, so ``12.0`` in one export matches ``12`` in another. Missing ids stay missing."""
    def one(value: object) -> object:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return pd.NA
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        text = str(value).strip()
        return text if text else pd.NA

    return values.map(one).astype("string")


_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (cached per path, size and modification time)."""
    file = Path(path)
    stat = file.stat()
    cache_key = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
    if cache_key not in _HASHES:
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASHES[cache_key] = digest.hexdigest()
    return _HASHES[cache_key]


# --------------------------------------------------------------------------- reading


def existing_file(source: str | Path, label: str) -> Path:
    """The path of ``source``, or a one-line error: not found, a folder, or 0 bytes."""
    path = resolve_path(source)
    if not path.exists():
        raise InputError(f"{label}: file not found (looked at {path}); check the path or run `prodops sample-data`")
    if path.is_dir():
        raise InputError(f"{label}: is a folder, not a file; name the CSV, Excel or parquet file inside it")
    if path.stat().st_size == 0:
        raise InputError(f"{label}: the file is empty (0 bytes); export it again")
    return path


def diagnose_csv(path: Path, label: str, *, delimiter: str = ",", encoding: str = "utf-8") -> None:
    """Raise the message :func:`read_frame` gives for a CSV that another reader (DuckDB)
    could not read or found empty: not UTF-8, no header, a header and no rows, a row with
    too many fields. Returns quietly when pandas reads the file."""
    if path.suffix.lower() not in {".csv", ".tsv", ".txt"}:
        return
    read_frame(path, delimiter=delimiter, encoding=encoding)


def read_frame(
    source: str | Path | SQL | pd.DataFrame,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    expected_columns: Sequence[str] = (),
    allow_empty: bool = False,
    sheet: str | None = None,
) -> tuple[pd.DataFrame, str, Path | None]:
    """Read a source as it is: CSV and spreadsheet cells come in as text so that validation
    can name the first bad value (spreadsheet dates stay dates: see :func:`_read_sheet`).
    Returns the frame, a label for messages and the file path (if any). ``allow_empty``
    accepts a table with a header and no rows (a result table that is empty); ``sheet`` names
    the worksheet of a workbook (default: the first visible one)."""
    if isinstance(source, pd.DataFrame):
        return source.copy(), "data frame", None
    if isinstance(source, SQL):
        return _read_sql(source), source.name, None
    label = str(source)
    path = existing_file(source, label)
    suffix = path.suffix.lower()
    if sheet is not None and suffix not in SPREADSHEET_SUFFIXES:
        raise InputError(f"{label}: sheet {sheet!r} is set but the file is not a workbook; "
                         "remove sheet: or point at the .xlsx file")
    if suffix in {".parquet", ".pq"}:
        try:
            frame = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for a corrupt file
            raise InputError(f"{label}: not a readable parquet file ({type(error).__name__}); export it again") from None
    elif suffix in {".csv", ".tsv", ".txt"}:
        frame = _read_csv(path, label, "\t" if suffix == ".tsv" else delimiter, encoding, expected_columns)
    elif suffix in SPREADSHEET_SUFFIXES:
        frame = _read_sheet(path, label, sheet, expected_columns)
    elif suffix in JSON_SUFFIXES:
        frame = _read_json(path, label)
        if frame.empty and not allow_empty:
            raise InputError(f"{label}: holds no records (an empty list); export it again with the items in it")
    else:
        raise InputError(f"{label}: unsupported file type {suffix!r}; use .csv, .tsv, .xlsx (.xlsm, .xls, .ods), "
                         ".parquet or .json")
    if frame.empty and not allow_empty and suffix not in {".parquet", ".pq"}:
        raise InputError(f"{label}: has a header but no data rows{_sheet_note(frame)}")
    return frame, label, path


def _read_csv(path: Path, label: str, delimiter: str, encoding: str, expected: Sequence[str]) -> pd.DataFrame:
    raw_start = path.read_bytes()[:4]
    if raw_start[:2] in (b"\xff\xfe", b"\xfe\xff") and not encoding.lower().startswith("utf-16"):
        raise InputError(f"{label}: the file is UTF-16 text; re-save it as UTF-8 or set encoding: utf-16 for this file")
    # Excel writes a byte-order mark before the header; utf-8-sig reads UTF-8 with or without it
    encoding = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        with path.open(encoding=encoding, newline="") as handle:
            header_line = handle.readline()
    except UnicodeDecodeError:
        raise _encoding_error(label, path, encoding) from None
    if not header_line.strip():
        raise InputError(f"{label}: the first line is blank; the file must start with a header row")
    header = next(csv.reader([header_line], delimiter=delimiter))
    if len(header) == 1 and expected and header[0] not in expected:
        guessed = _guess_delimiter(header_line, delimiter)
        if guessed:
            raise InputError(
                f"{label}: the header looks {guessed!r}-separated, not {delimiter!r}-separated; "
                f"re-export with commas or set delimiter: {guessed!r} for this file"
            )
    try:
        with warnings.catch_warnings():
            # a row with more fields than the header: pandas would drop the extra fields
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, sep=delimiter, encoding=encoding, dtype="string", index_col=False,
                                keep_default_na=False, na_values=[""], skipinitialspace=False)
    except UnicodeDecodeError:
        raise _encoding_error(label, path, encoding) from None
    except pd.errors.ParserWarning:
        raise InputError(_field_count_message(path, label, delimiter, encoding, len(header))) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{label}: the file has no header row; export it again with column names") from None
    except pd.errors.ParserError as error:
        if "fields in line" in str(error):
            raise InputError(_field_count_message(path, label, delimiter, encoding, len(header))) from None
        raise InputError(f"{label}: not valid CSV ({str(error).strip().splitlines()[-1]}); check quoting and the delimiter") from None
    duplicated = sorted({name for name in header if header.count(name) > 1})
    frame.attrs["duplicate_columns"] = duplicated
    return frame


def _field_count_message(path: Path, label: str, delimiter: str, encoding: str, expected: int) -> str:
    """Find the first record with more fields than the header (the csv module counts quoted
    newlines correctly, so the record number is right even when the line number is not)."""
    with path.open(encoding=encoding, newline="") as handle:
        for number, record in enumerate(csv.reader(handle, delimiter=delimiter)):
            if len(record) > expected:
                return (f"{label}: data row {number} has {len(record)} fields but the header has {expected}; "
                        f"quote text that contains {delimiter!r}, or check the delimiter")
    return f"{label}: a row has more fields than the header; quote text that contains {delimiter!r}"


def delimiter_hint(columns: Sequence[str]) -> str:
    """When a file's header came out as one column holding separators ("a;b;c"), the advice to
    set the delimiter, else ""."""
    if len(columns) == 1 and (separator := _guess_delimiter(str(columns[0]), ",")):
        return (f"the header is one column, {str(columns[0])[:60]!r}: the file looks separated by {separator!r}; "
                f"set delimiter: {separator!r}")
    return ""


def _guess_delimiter(line: str, current: str) -> str | None:
    counts = {d: line.count(d) for d in (",", ";", "\t", "|") if d != current}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else None


def _encoding_error(label: str, path: Path, encoding: str) -> InputError:
    """Name the first byte that does not decode, at its offset in the file (pandas reports an
    offset inside its read buffer, so decode incrementally to find the real one)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                byte = block[error.start : error.start + 1].hex()
                return InputError(
                    f"{label}: not valid {encoding.replace('-sig', '')} text (byte 0x{byte} at offset {offset + error.start}); "
                    "re-save it as UTF-8 or set encoding: latin-1 (or the file's encoding) for this file"
                )
            offset += len(block)
    return InputError(f"{label}: not valid {encoding} text; re-save it as UTF-8 or set the file's encoding")


# A workbook saved with a password is an OLE compound file wrapping the encrypted package.
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADER_SEARCH = 20  # rows searched for the header below a title


def _read_json(path: Path, label: str) -> pd.DataFrame:
    from prodops_lib.records import JSONShapeError, read_json_records

    try:
        return read_json_records(path)
    except UnicodeDecodeError as error:
        raise InputError(f"{label}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
                         f"{error.start}); JSON files are UTF-8, export it again") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{label}: not valid JSON at line {error.lineno}, column {error.colno} ({error.msg}); "
                         "export it again") from None
    except JSONShapeError as error:
        raise InputError(f"{label}: {error}") from None


def _read_sheet(path: Path, label: str, sheet: str | None, expected: Sequence[str] = ()) -> pd.DataFrame:
    """One worksheet as text cells, read with calamine (Rust; .xlsx, .xlsm, .xlsb, .xls, .ods).

    The header is the first non-blank row, or, when that row names none of the ``expected``
    columns (a title above the table), the first of the next ``_HEADER_SEARCH`` rows that does.
    Fully blank rows below it are skipped, but each row keeps its index label so that messages
    give the row number Excel shows (:func:`_row_number`). Numbers become text (whole numbers without ``.0``, so an id
    ``1001`` stays ``'1001'``), booleans ``true``/``false``; date cells stay timestamps, so
    they need no ``date_format`` (which applies to dates typed as text). Error cells
    (``#N/A``) and formulas without a saved result are empty."""
    try:
        from python_calamine import CalamineError, CalamineWorkbook
    except ImportError:  # pragma: no cover - a declared dependency
        raise InputError(f"{label}: reading workbooks needs python-calamine; pip install python-calamine") from None
    protected = (f"{label}: the workbook is password-protected; remove the password in Excel "
                 "(File › Info › Protect Workbook) and save it again, or export the sheet as CSV")
    with path.open("rb") as handle:
        if handle.read(8) == _OLE_SIGNATURE and path.suffix.lower() != ".xls":
            raise InputError(protected)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        try:
            name = _sheet_name(workbook, label, sheet)
            others = [other for other in workbook.sheet_names if other != name]
            rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        finally:
            workbook.close()
    except CalamineError as error:
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if "password" in detail.lower() or "encrypt" in detail.lower():
            raise InputError(protected) from None
        raise InputError(f"{label}: not a readable workbook ({detail[:120]}); open it in Excel and save it "
                         "again, or export the sheet as CSV") from None
    blank = [all(cell == "" or cell is None for cell in row) for row in rows]
    header_at = next((number for number, empty in enumerate(blank) if not empty), None)
    if header_at is None:
        raise InputError(f"{label}: sheet {name!r} is empty; put the table on it, or set sheet: to the sheet that holds it")
    wanted = {str(column) for column in expected}
    if wanted and not wanted & {str(_cell_text(cell)) for cell in rows[header_at]}:
        header_at = next((number for number in range(header_at, min(header_at + _HEADER_SEARCH, len(rows)))
                          if wanted & {str(_cell_text(cell)) for cell in rows[number]}), header_at)
    width = max(len(row) for row in rows)
    grid = [list(row) + [""] * (width - len(row)) for row in rows]
    kept = [number for number in range(header_at + 1, len(grid)) if not blank[number]]
    used = [c for c in range(width) if grid[header_at][c] not in ("", None) or any(grid[n][c] not in ("", None) for n in kept)]
    header, repeated = _sheet_header([grid[header_at][c] for c in used])
    columns = {}
    for position, column in zip(used, header, strict=True):
        cells = [_cell_text(grid[number][position]) for number in kept]
        has_dates = any(isinstance(cell, pd.Timestamp) for cell in cells)
        columns[column] = pd.Series(cells, dtype=object if has_dates else "string")
    frame = pd.DataFrame(columns, columns=header)
    if kept and kept[-1] - header_at != len(kept):  # blank rows were skipped: keep each row's place
        frame.index = pd.Index([number - header_at - 1 for number in kept])
    frame.attrs["sheet"] = name
    frame.attrs["other_sheets"] = others
    frame.attrs["sheet_header_row"] = header_at + 1
    frame.attrs["duplicate_columns"] = repeated
    return frame


def _sheet_note(frame: pd.DataFrame) -> str:
    """`` (read sheet 'Read me'; …)`` for a message about a frame read from a workbook with
    other sheets: the table may be on another one."""
    others = frame.attrs.get("other_sheets")
    if not others:
        return ""
    return (f" (read sheet {frame.attrs['sheet']!r}; if the table is on another, set sheet: to it: "
            + ", ".join(map(repr, others[:12])) + ")")


def _sheet_name(workbook: object, label: str, sheet: str | None) -> str:
    """The sheet asked for, or the first visible worksheet (what a person sees on opening it)."""
    names = list(workbook.sheet_names)
    if sheet is None:
        visible = [m.name for m in workbook.sheets_metadata
                   if str(m.visible).endswith("Visible") and str(m.typ).endswith("WorkSheet")]
        if not names:
            raise InputError(f"{label}: the workbook has no sheets; export it again")
        return (visible or names)[0]
    if sheet in names:
        return sheet
    import difflib

    close = difflib.get_close_matches(sheet, names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else "set sheet: to one of " + ", ".join(map(repr, names[:12]))
    raise InputError(f"{label}: no sheet named {sheet!r}; {hint}")


def _sheet_header(cells: list[object]) -> tuple[list[str], list[str]]:
    """Column names from the header row, and the names that repeat. Text as typed, whole
    numbers without ``.0``, a blank name as pandas names it (``Unnamed: N``), a repeated name
    suffixed ``.1``, ``.2`` as pandas does for CSV (:func:`validate` refuses a declared column
    that is repeated)."""
    names, seen = [], {}
    for number, cell in enumerate(cells):
        text = _cell_text(cell)
        name = f"Unnamed: {number}" if text is None else str(text.date() if isinstance(text, pd.Timestamp) else text)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return names, sorted(name for name, count in seen.items() if count > 1)


def _cell_text(cell: object) -> str | pd.Timestamp | None:
    """A spreadsheet cell as the text a CSV export would hold, except dates (timestamps)."""
    if cell is None or cell == "":
        return None
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() else repr(cell)
    if isinstance(cell, dt.datetime | dt.date):
        return pd.Timestamp(cell)
    if isinstance(cell, dt.time):
        return cell.isoformat()
    if isinstance(cell, dt.timedelta):
        return str(pd.Timedelta(cell))
    return str(cell)


def _read_sql(source: SQL) -> pd.DataFrame:
    import duckdb

    try:
        with duckdb.connect() as connection:
            return connection.execute(source.query).df()
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise InputError(f"{source.name}: the SQL query failed: {first_line}") from None


# --------------------------------------------------------------------------- validation


def load_table(
    source: str | Path | SQL | pd.DataFrame,
    schema: Schema | None = None,
    *,
    log: DropLog | None = None,
    label: str | None = None,
    rename: Mapping[str, str] | None = None,
    delimiter: str = ",",
    encoding: str = "utf-8",
    allow_empty: bool = False,
    sheet: str | None = None,
    settings: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read ``source``, rename columns (file name → schema name), validate and type it.
    ``settings`` names, per file column, the parameter that chose it (``columns.date``), so a
    missing column says what to set.

    The rows read are recorded in ``log`` with the file's hash; rows dropped by a column's
    ``on_invalid="drop"`` are recorded with their reason. ``sheet`` names the worksheet of an
    Excel or OpenDocument workbook (default: the first visible one).
    """
    expected = list((rename or {}).keys()) + (schema.names if schema else [])
    frame, source_label, path = read_frame(source, delimiter=delimiter, encoding=encoding,
                                           expected_columns=expected, allow_empty=allow_empty, sheet=sheet)
    label = label or source_label
    if rename:
        missing = [name for name in rename if name not in frame.columns]
        if missing:
            raise InputError(_missing_message(label, missing[0], frame.columns, "in the column mapping",
                                              (settings or {}).get(missing[0])) + _sheet_note(frame))
    if schema is not None:  # named before renaming, so the message lists the file's own columns
        targets = set((rename or {}).values())
        absent = [c.name for c in schema.columns if c.required and c.name not in targets and c.name not in frame.columns]
        if absent:
            raise InputError(_missing_message(label, absent[0], frame.columns, setting=(settings or {}).get(absent[0]))
                             + _sheet_note(frame))
    if rename:
        targets = list(rename.values())
        twice = next((name for name in targets if targets.count(name) > 1), None)
        if twice is not None:
            raise InputError(f"{label}: the column mapping maps two columns to {twice!r}; map one column to each name")
        frame = frame.rename(columns=dict(rename))
    if log is not None:
        log.record_input(label, path, len(frame))
        for file in getattr(source, "files", ()):
            log.record_input(f"{label}: {file}", resolve_path(file), len(frame))
    if schema is None:
        return frame
    csv_lines = path is not None and path.suffix.lower() in {".csv", ".tsv", ".txt"}
    try:
        return validate(frame, schema, label=label, log=log, csv_lines=csv_lines)
    except InputError as error:  # name the file's own column, not the name it was mapped to
        message = str(error)
        for file_name, target in (rename or {}).items():
            if file_name != target:
                message = message.replace(f"column {target!r}", f"column {file_name!r} (read as {target})", 1)
        raise InputError(message) from None


def validate(
    frame: pd.DataFrame, schema: Schema, *, label: str, log: DropLog | None = None,
    csv_lines: bool = False,
) -> pd.DataFrame:
    """Check and convert ``frame`` column by column (see :class:`Column`). ``csv_lines`` says
    the frame was read from a CSV file, so rows are named as data rows (the header not counted);
    a frame read from a worksheet names rows as Excel numbers them, whatever ``csv_lines``."""
    repeated = [c.name for c in schema.columns if c.name in frame.attrs.get("duplicate_columns", ())]
    if repeated:
        raise InputError(f"{label}: column {repeated[0]!r} appears more than once in the header; "
                         "remove or rename the extra column")
    frame = frame.copy()
    for column in schema.columns:
        if column.name not in frame.columns:
            if column.required:
                raise InputError(_missing_message(label, column.name, frame.columns) + _sheet_note(frame))
            continue
        if frame.attrs.get("sheet") is not None and column.type not in ("date", "datetime") \
                and frame[column.name].dtype == object:  # date cells in a column read as text
            frame[column.name] = frame[column.name].map(
                lambda cell: _timestamp_text(cell) if isinstance(cell, pd.Timestamp) else cell).astype("string")
        converted, invalid = _convert_column(frame[column.name], column)
        if column.type in ("date", "datetime"):
            if invalid.sum() > 0.5 * frame[column.name].notna().sum():
                raise InputError(_date_format_message(label, column, frame, invalid, csv_lines))
            frame.attrs["date_readings"] = {**frame.attrs.get("date_readings", {}),
                                            column.name: converted.attrs.get("date_reading", "")}
            if not column.date_format and converted.attrs.get("date_reading", "").startswith(("format", "ISO")):
                # for the messages: the format the rest of the column was read with
                column = dataclasses.replace(column, date_format=converted.attrs.get("date_format") or "ISO 8601")
        missing = converted.isna() & ~invalid if not column.nullable else pd.Series(False, index=frame.index)
        for mask, reason in ((invalid, _reason(column)), (missing, "missing value")):
            if not mask.any():
                continue
            first = mask.to_numpy().nonzero()[0][0]
            raw = frame[column.name].iloc[first]
            row = _row_number(frame, first, csv_lines)
            if column.on_invalid == "error":
                more = "" if mask.sum() == 1 else f" (and {int(mask.sum()) - 1} more rows)"
                raise InputError(f"{label}: column {column.name!r}, {row}: {_problem(column, raw)}; fix the value{more}")
            if log is None:
                raise ValueError(f"validate({label}): column {column.name!r} drops rows, so pass log=DropLog()")
            log.drop(label, f"column {column.name!r}: {reason}", int(mask.sum()), example=f"{row}: {raw!r}")
        keep = ~(invalid | missing).to_numpy()
        if not keep.all():
            frame, converted = frame.loc[keep], converted.loc[keep]
        frame[column.name] = converted
    return frame


def _date_format_message(label: str, column: Column, frame: pd.DataFrame, invalid: pd.Series,
                         csv_lines: bool) -> str:
    """Most of a date column unreadable is a format to set, not values to fix: the message
    says so, with the format the values look like when one reads them."""
    first = invalid.to_numpy().nonzero()[0][0]
    raw = frame[column.name].iloc[first]
    count = f"{int(invalid.sum()):,} of {int(frame[column.name].notna().sum()):,} values"
    detected = read_dates(frame[column.name].astype("string"))
    advice = (f"they read as {detected.how.removesuffix(' (detected)')}; set date_format: '{detected.format}'"
              if detected.format and detected.format != column.date_format and detected.unreadable < invalid.sum() else
              "set date_format to their format (for example '%d.%m.%Y %H:%M'; codes as in Python's strftime)")
    setting = f"with date_format {column.date_format!r}" if column.date_format else "as dates"
    return (f"{label}: column {column.name!r}: {count} cannot be read {setting} (first: {raw!r}, "
            f"{_row_number(frame, first, csv_lines)}); {advice}")


def _missing_message(label: str, name: str, columns: Iterable[str], where: str = "", setting: str | None = None) -> str:
    import difflib

    present = [str(c) for c in columns]
    close = difflib.get_close_matches(name, present, n=1, cutoff=0.6)
    listed = ", ".join(present[:12]) + (f" … ({len(present)} in all)" if len(present) > 12 else "")
    if delimiter_hint(present):
        hint = delimiter_hint(present)
    elif setting:
        hint = (f"set {setting} to the file's column" + (f" (did you mean {close[0]!r}?)" if close else "")
                + f"; columns present: {listed}")
    else:
        hint = f"did you mean {close[0]!r}?" if close else f"columns present: {listed}"
    place = f" (set by {setting})" if setting else ""
    return f"{label}: required column {name!r}{place} is missing{(' ' + where) if where and not setting else ''}; {hint}"


def _row_number(frame: pd.DataFrame, position: int, csv_lines: bool) -> str:
    """The row as a person finds it: the row number Excel shows for a worksheet (the header's
    row + 1 + the index, see :func:`_read_sheet`), the data row of a CSV file (1 = the first row
    under the header; a text field with a line break makes file lines and rows differ), else
    the index."""
    index = frame.index[position]
    if frame.attrs.get("sheet") is not None:
        return f"row {frame.attrs['sheet_header_row'] + 1 + int(index)} of sheet {frame.attrs['sheet']!r}"
    return f"data row {int(index) + 1}" if csv_lines else f"row {index!r}"


def _timestamp_text(stamp: pd.Timestamp) -> str:
    """A date cell as text: ``2026-10-01``, or ``2026-10-01 09:30:00`` when it has a time."""
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat(sep=" ")


def _convert_column(values: pd.Series, column: Column) -> tuple[pd.Series, pd.Series]:
    """Converted values and a mask of values present in the input that did not convert."""
    present = values.notna()
    if column.type == "string":
        converted = values.astype("string")
        bad = pd.Series(False, index=values.index)
    elif column.type in ("int", "float"):
        converted = pd.to_numeric(values, errors="coerce")
        bad = present & converted.isna()
        if column.type == "int":
            # fractions, and whole numbers beyond 64 bits (which would wrap around silently)
            unusable = converted.notna() & ((converted % 1 != 0) | (converted.abs() >= 2.0**63))
            bad = bad | unusable
            converted = converted.where(~unusable).astype("float64").astype("Int64")
        else:
            converted = converted.astype("float64")
        if column.minimum is not None:
            bad = bad | (converted.notna() & (converted < column.minimum))
        if column.maximum is not None:
            bad = bad | (converted.notna() & (converted > column.maximum))
    elif column.type == "bool":
        lowered = values.astype("string").str.strip().str.lower()
        converted = pd.Series(pd.NA, index=values.index, dtype="boolean")
        converted[lowered.isin(_TRUE)] = True
        converted[lowered.isin(_FALSE)] = False
        bad = present & converted.isna()
    else:
        converted = _to_datetimes(values, column)
        noted = dict(converted.attrs)
        if getattr(converted.dt, "tz", None) is not None:
            converted = converted.dt.tz_convert("UTC").dt.tz_localize(None)
        if column.type == "date":
            converted = converted.dt.normalize()
        converted.attrs.update(noted)
        bad = present & converted.isna()
    if column.allowed is not None:
        bad = bad | (converted.notna() & ~converted.astype("string").isin(column.allowed))
    return converted, bad.fillna(False).astype(bool)


def _to_datetimes(values: pd.Series, column: Column) -> pd.Series:
    """Date-times from a column: date cells of a worksheet (timestamps) as they are, text
    read with one format for the column (:func:`prodops_lib.dates.read_dates`), so a
    ``date_format`` for text never rejects a real date."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return _noted(values, None, "date cells")
    if values.dtype == object:
        native = values.map(lambda cell: isinstance(cell, dt.datetime | dt.date)).astype(bool)
        if native.any():
            stamps = pd.to_datetime(values.where(native), utc=True)
            if native.all():
                return stamps
            text = values.where(~native).astype("string")
            reading = read_dates(text, column.date_format, column.date_hint)
            return _noted(reading.values.where(~native, stamps), reading.format, reading.how + " and date cells")
    reading = read_dates(values, column.date_format, column.date_hint)
    return _noted(reading.values, reading.format, reading.how)


def _noted(values: pd.Series, date_format: str | None, how: str) -> pd.Series:
    """The dates, noting how they were read: the format for messages about the others, and
    the words ``prodops check`` prints."""
    values.attrs.update(date_format=date_format, date_reading=how)
    return values


def _problem(column: Column, raw: object) -> str:
    if raw is None or (isinstance(raw, float) and raw != raw) or raw is pd.NA:
        return "value is missing"
    if column.allowed is not None:
        return f"{raw!r} is not one of {', '.join(column.allowed)}"
    if column.minimum is not None and column.maximum is not None:
        return f"{raw!r} is not a number from {column.minimum:g} to {column.maximum:g}"
    if column.minimum is not None:
        return f"{raw!r} is not a number ≥ {column.minimum:g}"
    return f"{raw!r} is not {_reason(column, article=True)}"


def _reason(column: Column, article: bool = False) -> str:
    kinds = {
        "int": "a whole number", "float": "a number", "bool": "true/false",
        "date": "a date" + (f" like {column.date_format}" if column.date_format else ""),
        "datetime": "a date-time" + (f" like {column.date_format}" if column.date_format else ""),
        "string": "text",
    }
    if not article:
        if column.allowed is not None:
            return "value not allowed"
        if column.minimum is not None and column.maximum is not None:
            return f"not a number from {column.minimum:g} to {column.maximum:g}"
        if column.minimum is not None:
            return f"below {column.minimum:g} or not a number"
        return f"not {kinds[column.type]}"
    return kinds[column.type]
