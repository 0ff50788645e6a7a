"""prodops_lib.io: loaders, schema validation with one-line errors, and the drop log."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest

from prodops_lib import io
from prodops_lib.io import SQL, Column, DropLog, InputError, Schema

SCHEMA = Schema(
    Column("id", "int", nullable=False),
    Column("variant", allowed=("control", "treatment")),
    Column("revenue", "float", minimum=0),
    Column("day", "date"),
)


def write(tmp_path, text: str, name: str = "units.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_is_typed_and_recorded_with_its_hash(tmp_path):
    path = write(tmp_path, "id,variant,revenue,day,extra\n1,control,2.5,2026-10-01,x\n2,treatment,0,2026-10-02,y\n")
    log = DropLog()
    frame = io.load_table(path, SCHEMA, log=log, label="units.csv")
    assert frame["id"].tolist() == [1, 2]
    assert frame["revenue"].tolist() == [2.5, 0.0]
    assert frame["day"].tolist() == [pd.Timestamp("2026-10-01"), pd.Timestamp("2026-10-02")]
    assert frame["extra"].tolist() == ["x", "y"]  # undeclared columns pass through
    assert log.inputs == [{"source": "units.csv", "kind": "data", "path": str(path),
                           "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "rows": 2}]


def test_bad_number_names_file_column_line_and_value(tmp_path):
    path = write(tmp_path, "id,variant,revenue,day\n1,control,2.5,2026-10-01\n2,control,abc,2026-10-01\n3,control,x,2026-10-01\n")
    with pytest.raises(InputError) as error:
        io.load_table(path, SCHEMA, label="units.csv")
    assert str(error.value) == ("units.csv: column 'revenue', data row 2: 'abc' is not a number ≥ 0; "
                                "fix the value (and 1 more rows)")


def test_value_not_allowed(tmp_path):
    path = write(tmp_path, "id,variant,revenue,day\n1,contrl,1,2026-10-01\n")
    with pytest.raises(InputError, match=r"column 'variant', data row 1: 'contrl' is not one of control, treatment"):
        io.load_table(path, SCHEMA, label="u.csv")


def test_missing_required_value(tmp_path):
    path = write(tmp_path, "id,variant,revenue,day\n,control,1,2026-10-01\n")
    with pytest.raises(InputError, match=r"column 'id', data row 1: value is missing"):
        io.load_table(path, SCHEMA, label="u.csv")


def test_missing_column_suggests_the_close_one(tmp_path):
    path = write(tmp_path, "id,varient,revenue,day\n1,control,1,2026-10-01\n")
    with pytest.raises(InputError, match=r"u.csv: required column 'variant' is missing; did you mean 'varient'\?"):
        io.load_table(path, SCHEMA, label="u.csv")


def test_invalid_rows_can_be_dropped_and_counted(tmp_path):
    schema = Schema(Column("id", "int"), Column("hours", "float", minimum=0, on_invalid="drop"))
    path = write(tmp_path, "id,hours\n1,2\n2,-1\n3,lots\n4,5\n")
    log = DropLog()
    frame = io.load_table(path, schema, log=log, label="worklogs.csv")
    assert frame["id"].tolist() == [1, 4]
    assert log.drops == [{"source": "worklogs.csv", "reason": "column 'hours': below 0 or not a number",
                          "rows": 2, "example": "data row 2: '-1'"}]
    quality = log.to_frame()
    assert quality[["source", "rows_read", "rows_dropped"]].values.tolist() == [["worklogs.csv", 4, 2]]


def test_missing_empty_and_header_only_files(tmp_path):
    with pytest.raises(InputError, match=r"nope.csv: file not found"):
        io.load_table(tmp_path / "nope.csv", SCHEMA, label="nope.csv")
    with pytest.raises(InputError, match=r"the file is empty \(0 bytes\)"):
        io.load_table(write(tmp_path, ""), SCHEMA)
    with pytest.raises(InputError, match="has a header but no data rows"):
        io.load_table(write(tmp_path, "id,variant,revenue,day\n"), SCHEMA)
    empty = io.load_table(write(tmp_path, "id,variant,revenue,day\n"), SCHEMA, allow_empty=True)
    assert empty.empty and empty.columns.tolist() == ["id", "variant", "revenue", "day"]


def test_wrong_delimiter_is_named(tmp_path):
    path = write(tmp_path, "id;variant;revenue;day\n1;control;1;2026-10-01\n")
    with pytest.raises(InputError, match=r"the header looks ';'-separated, not ','-separated; re-export with commas or set delimiter: ';'"):
        io.load_table(path, SCHEMA)
    assert len(io.load_table(path, SCHEMA, delimiter=";")) == 1


def test_wrong_encoding_is_named(tmp_path):
    path = write(tmp_path, "id,variant,revenue,day,name\n1,control,1,2026-10-01,Zoë\n", encoding="latin-1")
    with pytest.raises(InputError, match=r"not valid utf-8 text \(byte 0xeb at offset \d+\); re-save it as UTF-8 or set encoding: latin-1"):
        io.load_table(path, SCHEMA)
    assert io.load_table(path, SCHEMA, encoding="latin-1")["name"].tolist() == ["Zoë"]


def test_parquet_and_duckdb_sql_sources(tmp_path):
    frame = pd.DataFrame({"id": [1, 2, 3], "variant": ["control", "treatment", "control"],
                          "revenue": [1.0, 2.0, 3.0], "day": pd.to_datetime(["2026-10-01"] * 3)})
    parquet = tmp_path / "units.parquet"
    frame.to_parquet(parquet)
    assert io.load_table(parquet, SCHEMA)["revenue"].sum() == 6.0
    log = DropLog()
    query = SQL(f"select variant, sum(revenue) as revenue from read_parquet('{parquet}') group by 1 order by 1",
                files=(str(parquet),), name="revenue by variant")
    totals = io.load_table(query, log=log)
    assert totals.to_dict("list") == {"variant": ["control", "treatment"], "revenue": [4.0, 2.0]}
    assert [entry["source"] for entry in log.inputs] == ["revenue by variant", f"revenue by variant: {parquet}"]
    with pytest.raises(InputError, match=r"^bad: the SQL query failed: .*"):
        io.load_table(SQL("select * from no_such_table", name="bad"))


def test_column_mapping_renames_file_columns(tmp_path):
    path = write(tmp_path, "Ticket,Group\n1,control\n")
    schema = Schema(Column("id", "int"), Column("variant"))
    frame = io.load_table(path, schema, rename={"Ticket": "id", "Group": "variant"})
    assert frame.columns.tolist() == ["id", "variant"]
    with pytest.raises(InputError, match=r"required column 'Tickt' is missing in the column mapping; did you mean 'Ticket'\?"):
        io.load_table(path, schema, rename={"Tickt": "id"})


def test_drop_log_saves_quality_and_inputs(tmp_path):
    log = DropLog()
    log.record_input("a.csv", None, 10)
    log.drop("a.csv", "duplicate id", 2, example="row 4")
    log.drop_frame(pd.DataFrame({"source": ["b"], "reason": ["zero denominator"], "rows": [3]}))
    log.drop("a.csv", "nothing", 0)
    log.save(tmp_path)
    saved = pd.read_csv(tmp_path / "data_quality.csv")
    assert saved[["source", "reason", "rows_dropped"]].values.tolist() == [
        ["a.csv", "duplicate id", 2], ["b", "zero denominator", 3]]
    assert log.dropped() == 5 and log.dropped("a.csv") == 2


def test_a_row_with_extra_fields_is_refused_not_shifted(tmp_path):
    path = write(tmp_path, 'user,theme,text\nu1,billing,"quoted, fine"\nu2,billing,slow invoices, please fix\n')
    with pytest.raises(InputError, match=r"data row 2 has 4 fields but the header has 3; quote text that contains ','"):
        io.load_table(path, Schema(Column("user"), Column("theme"), Column("text")))


def test_a_declared_column_repeated_in_the_header_is_refused(tmp_path):
    path = write(tmp_path, "id,team,team\n1,a,b\n")
    with pytest.raises(InputError, match=r"column 'team' appears more than once in the header"):
        io.load_table(path, Schema(Column("id", "int"), Column("team")))
    # undeclared repeated columns (Jira's Labels) pass through as pandas names them
    assert io.load_table(path, Schema(Column("id", "int"))).columns.tolist() == ["id", "team", "team.1"]


def test_whole_numbers_beyond_64_bits_are_refused(tmp_path):
    path = write(tmp_path, "id\n99999999999999999999999\n")
    with pytest.raises(InputError, match="is not a whole number"):
        io.load_table(path, Schema(Column("id", "int")))


def test_byte_order_marks_and_utf16(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfid,variant,revenue,day\n1,control,1,2026-10-01\n")
    assert io.load_table(bom, SCHEMA)["id"].tolist() == [1]
    only_bom = tmp_path / "only_bom.csv"
    only_bom.write_bytes(b"\xef\xbb\xbf")
    with pytest.raises(InputError, match=r"the first line is blank|no header row"):
        io.load_table(only_bom, SCHEMA)
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("id,variant\n1,control\n".encode("utf-16"))
    with pytest.raises(InputError, match="the file is UTF-16 text; re-save it as UTF-8 or set encoding: utf-16"):
        io.load_table(utf16, SCHEMA)


def test_the_encoding_error_gives_the_offset_in_the_file(tmp_path):
    rows = "".join(f"{i},control,1,2026-10-01,plain\n" for i in range(20000))
    text = "id,variant,revenue,day,name\n" + rows + "20000,control,1,2026-10-01,Zoë\n"
    path = write(tmp_path, text, encoding="latin-1")
    offset = text.encode("latin-1").index(b"\xeb")
    with pytest.raises(InputError, match=rf"byte 0xeb at offset {offset}\)"):
        io.load_table(path, SCHEMA)


def test_a_date_column_is_read_with_one_format(tmp_path):
    path = write(tmp_path, "day\n03/10/2026\n13/10/2026\n04/10/2026\nlater\n")
    frame = io.load_table(path, Schema(Column("day", "date", date_format="%d/%m/%Y", on_invalid="drop")),
                          log=DropLog())
    assert frame["day"].tolist() == [pd.Timestamp("2026-10-03"), pd.Timestamp("2026-10-13"), pd.Timestamp("2026-10-04")]
    log = DropLog()
    detected = io.load_table(path, Schema(Column("day", "date", on_invalid="drop")), log=log, label="d.csv")
    # day first reads 3 values, month first only 2 (13/10 has no 13th month): never 03/10 as
    # March next to 13/10 as October, which reading value by value would give
    assert detected["day"].tolist() == [pd.Timestamp("2026-10-03"), pd.Timestamp("2026-10-13"), pd.Timestamp("2026-10-04")]
    assert log.dropped("d.csv") == 1


def test_offsets_are_converted_to_utc(tmp_path):
    path = write(tmp_path, "at\n2026-10-01T10:00:00+02:00\n2026-10-01T10:00:00\n")
    frame = io.load_table(path, Schema(Column("at", "datetime")))
    assert frame["at"].tolist() == [pd.Timestamp("2026-10-01 08:00"), pd.Timestamp("2026-10-01 10:00")]


def test_two_columns_mapped_to_one_name_is_refused(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(InputError, match="the column mapping maps two columns to 'id'"):
        io.load_table(path, rename={"a": "id", "b": "id"})


def test_missing_and_invalid_values_are_dropped_with_their_own_reasons(tmp_path):
    path = write(tmp_path, "id,hours\n1,\n2,x\n3,4\n")
    log = DropLog()
    frame = io.load_table(path, Schema(Column("id", "int"), Column("hours", "float", nullable=False, on_invalid="drop")),
                          log=log, label="w.csv")
    assert frame["id"].tolist() == [3]
    assert [(d["reason"], d["rows"]) for d in log.drops] == [("column 'hours': not a number", 1),
                                                             ("column 'hours': missing value", 1)]


# --------------------------------------------------------------------------- workbooks


def workbook(tmp_path, sheets: dict[str, list[list]], name: str = "units.xlsx", hidden: tuple[str, ...] = ()):
    """A real .xlsx written by openpyxl: one worksheet per entry, rows as given (None = blank)."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if title in hidden:
            sheet.sheet_state = "hidden"
    path = tmp_path / name
    book.save(path)
    return path


UNITS = [["id", "variant", "revenue", "day", "extra"],
         [1, "control", 2.5, dt.datetime(2026, 10, 1), "x"],
         [2, "treatment", 0, dt.date(2026, 10, 2), "y"]]


def test_a_worksheet_is_typed_like_a_csv_and_recorded_with_its_hash(tmp_path):
    path = workbook(tmp_path, {"Units": UNITS})
    log = DropLog()
    frame = io.load_table(path, SCHEMA, log=log, label="units.xlsx")
    assert frame["id"].tolist() == [1, 2]
    assert frame["revenue"].tolist() == [2.5, 0.0]
    assert frame["day"].tolist() == [pd.Timestamp("2026-10-01"), pd.Timestamp("2026-10-02")]
    assert frame["extra"].tolist() == ["x", "y"]
    assert log.inputs == [{"source": "units.xlsx", "kind": "data", "path": str(path),
                           "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "rows": 2}]


def test_worksheet_cells_arrive_as_text_except_dates(tmp_path):
    path = workbook(tmp_path, {"Units": [["id", "score", "flag", "day"],
                                         [1001, 2.5, True, dt.datetime(2026, 10, 1, 9, 30)],
                                         ["A-7", 3, False, "2026-10-02"]]})
    frame, label, _ = io.read_frame(path)
    # a whole number is '1001', not '1001.0', so numeric ids match the same ids in a CSV
    assert frame["id"].tolist() == ["1001", "A-7"] and frame["score"].tolist() == ["2.5", "3"]
    assert frame["flag"].tolist() == ["true", "false"]
    assert frame["day"].tolist() == [pd.Timestamp("2026-10-01 09:30"), "2026-10-02"]
    assert label == str(path)


def test_a_bad_value_in_a_worksheet_names_the_row_excel_shows(tmp_path):
    # a title row and a blank line above the header, and a blank row inside the data, as people
    # lay sheets out: the message must give the row number at the left of the sheet (3 and 6)
    rows = [["Units export"], [], UNITS[0], UNITS[1], [], [3, "control", "abc", dt.datetime(2026, 10, 3)],
            [4, "control", "x", dt.datetime(2026, 10, 4)]]
    path = workbook(tmp_path, {"Units": rows})
    with pytest.raises(InputError) as error:
        io.load_table(path, SCHEMA, label="units.xlsx")
    assert str(error.value) == ("units.xlsx: column 'revenue', row 6 of sheet 'Units': 'abc' is not a number ≥ 0; "
                                "fix the value (and 1 more rows)")
    log = DropLog()
    schema = Schema(Column("id", "int"), Column("revenue", "float", minimum=0, on_invalid="drop"))
    frame = io.load_table(path, schema, log=log, label="units.xlsx")
    assert frame["id"].tolist() == [1]
    assert log.drops[0]["example"] == "row 6 of sheet 'Units': 'abc'"


def test_a_date_format_for_text_does_not_reject_real_date_cells(tmp_path):
    path = workbook(tmp_path, {"Units": [["day"], [dt.datetime(2026, 10, 3)], ["13/10/2026"], [dt.date(2026, 10, 20)]]})
    frame = io.load_table(path, Schema(Column("day", "date", date_format="%d/%m/%Y")))
    assert frame["day"].tolist() == [pd.Timestamp("2026-10-03"), pd.Timestamp("2026-10-13"), pd.Timestamp("2026-10-20")]
    with pytest.raises(InputError, match=r"column 'day', row 3 of sheet 'Units': '2026-13-10' is not a date like %d/%m/%Y"):
        io.load_table(workbook(tmp_path, {"Units": [["day"], [dt.datetime(2026, 10, 3)], ["2026-13-10"]]}, name="b.xlsx"),
                      Schema(Column("day", "date", date_format="%d/%m/%Y")))


def test_a_date_cell_in_a_number_column_is_shown_as_a_date(tmp_path):
    path = workbook(tmp_path, {"Units": [["hours"], [2], [dt.datetime(2026, 10, 3)]]})
    with pytest.raises(InputError, match=r"row 3 of sheet 'Units': '2026-10-03' is not a number"):
        io.load_table(path, Schema(Column("hours", "float")), label="units.xlsx")


def test_the_first_visible_sheet_is_read_unless_one_is_named(tmp_path):
    path = workbook(tmp_path, {"Lookup": [["code"], ["x"]], "Units": UNITS, "Old units": [["id"], [9]]},
                    hidden=("Lookup",))
    assert io.load_table(path, SCHEMA)["id"].tolist() == [1, 2]
    assert io.load_table(path, sheet="Old units")["id"].tolist() == ["9"]
    with pytest.raises(InputError) as error:
        io.load_table(path, SCHEMA, label="units.xlsx", sheet="Unit")
    assert str(error.value) == f"{path}: no sheet named 'Unit'; did you mean 'Units'?"
    with pytest.raises(InputError, match=r"units.xlsx: no sheet named 'Q3'; set sheet: to one of 'Lookup', 'Units', 'Old units'$"):
        io.load_table(path, SCHEMA, label="units.xlsx", sheet="Q3")


def test_empty_header_only_corrupt_and_password_protected_workbooks(tmp_path):
    path = workbook(tmp_path, {"Units": UNITS, "Blank": []})
    messages = []
    for source, sheet in ((path, "Blank"), (workbook(tmp_path, {"Units": [UNITS[0]]}, name="h.xlsx"), None)):
        with pytest.raises(InputError) as error:
            io.load_table(source, SCHEMA, sheet=sheet)
        messages.append(str(error.value))
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_bytes(b"PK\x03\x04" + b"not really a zip" * 20)
    encrypted = tmp_path / "locked.xlsx"  # how Excel stores a workbook saved with a password
    encrypted.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    for source in (corrupt, encrypted):
        with pytest.raises(InputError) as error:
            io.load_table(source, SCHEMA)
        messages.append(str(error.value))
    assert messages[0] == (f"{path}: sheet 'Blank' is empty; put the table on it, or set sheet: to the sheet "
                           "that holds it")
    assert messages[1].endswith("h.xlsx: has a header but no data rows")
    assert messages[2].startswith(f"{corrupt}: not a readable workbook (")
    assert messages[2].endswith("); open it in Excel and save it again, or export the sheet as CSV")
    assert messages[3] == (f"{encrypted}: the workbook is password-protected; remove the password in Excel "
                           "(File › Info › Protect Workbook) and save it again, or export the sheet as CSV")
    assert not any("\n" in message for message in messages)
    assert io.load_table(workbook(tmp_path, {"Units": [UNITS[0]]}, name="e.xlsx"), SCHEMA, allow_empty=True).empty


def test_a_sheet_named_for_a_csv_file_is_refused(tmp_path):
    path = write(tmp_path, "id,variant,revenue,day\n1,control,1,2026-10-01\n")
    with pytest.raises(InputError, match=r"sheet 'Units' is set but the file is not a workbook; remove sheet:"):
        io.load_table(path, SCHEMA, sheet="Units")


def test_a_declared_column_repeated_in_a_worksheet_header_is_refused(tmp_path):
    path = workbook(tmp_path, {"Units": [["id", "team", "team", None], [1, "a", "b", None]]})
    with pytest.raises(InputError, match=r"column 'team' appears more than once in the header"):
        io.load_table(path, Schema(Column("id", "int"), Column("team")))
    assert io.load_table(path, Schema(Column("id", "int"))).columns.tolist() == ["id", "team", "team.1"]


# OWASP "CSV Injection": a cell starting with = + - @ tab or carriage return runs as a formula.
FORMULAS = ["=1+1", "=HYPERLINK(\"http://evil.example\",\"click\")", "+SUM(A1:A9)", "-2+3", "@1+A1",
            "\tTAB=1", "\r=1", "=cmd|' /C calc'!A0"]


def test_result_csv_cells_and_column_names_cannot_run_as_formulas(tmp_path):
    import csv

    from prodops_lib.display import save_result

    table = pd.DataFrame({"title": [*FORMULAS, "-3.5", "plain", "mail jane@example.com"],
                          "=evil()": range(len(FORMULAS) + 3), "delta": [-1.0] * (len(FORMULAS) + 3)})
    save_result(table, "titles", tmp_path)
    with open(tmp_path / "titles.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["title", "'=evil()", "delta"]
    cells = [row[0] for row in rows[1:]]
    # neutralised first; then a carriage return inside a cell is written as a line break
    assert cells[: len(FORMULAS)] == ["'" + formula.replace("\r", "\n") for formula in FORMULAS]
    assert cells[len(FORMULAS):] == ["-3.5", "plain", "mail [email]"]  # a plain number stays a number
    assert {row[2] for row in rows[1:]} == {"-1.0"}  # numeric columns are numbers, not text


def test_the_data_quality_file_is_redacted_and_spreadsheet_safe(tmp_path):
    log = DropLog()
    log.drop("feedback.csv", "empty text", 2, example="=HYPERLINK(\"x\") from jane@example.com")
    log.save(tmp_path)
    text = (tmp_path / "data_quality.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and "jane@example.com" not in text and "[email]" in text
