"""Bad beta inputs stop with one line that names the file, the column and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodops_lib.beta import estimate_impact, load_beta, measure_adoption
from prodops_lib.io import DropLog, InputError

UNITS = "unit,in_beta,entry_date\nu1,true,2026-06-10\nu2,false,\nu3,false,\n"
PANEL = "unit,period,sessions\n" + "".join(f"u{u},2026-06-{d:02d},{u + d}\n" for u in (1, 2, 3) for d in (1, 8, 15, 22))


def _write(tmp_path: Path, units: str = UNITS, panel: str = PANEL) -> tuple[Path, Path]:
    (tmp_path / "units.csv").write_text(units, encoding="utf-8")
    (tmp_path / "panel.csv").write_text(panel, encoding="utf-8")
    return tmp_path / "units.csv", tmp_path / "panel.csv"


def _one_line_error(*args, **kwargs) -> str:
    with pytest.raises(InputError) as error:
        load_beta(*args, **kwargs)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_missing_entry_date_column_names_file_and_column(tmp_path: Path) -> None:
    units, panel = _write(tmp_path, units="unit,in_beta\nu1,true\n")
    message = _one_line_error(units, panel, ["sessions"])
    assert "units.csv" in message and "entry_date" in message


def test_a_beta_unit_without_entry_date_is_refused(tmp_path: Path) -> None:
    units, panel = _write(tmp_path, units=UNITS.replace("2026-06-10", ""))
    assert _one_line_error(units, panel, ["sessions"]) == (
        f"{units}: beta unit 'u1' has no entry_date; give every beta unit the date it entered the beta")


def test_a_unit_listed_twice_is_refused(tmp_path: Path) -> None:
    units, panel = _write(tmp_path, units=UNITS + "u2,false,\n")
    assert "unit 'u2' is listed twice in column 'unit'" in _one_line_error(units, panel, ["sessions"])


def test_no_beta_unit_and_no_comparison_unit_are_refused(tmp_path: Path) -> None:
    units, panel = _write(tmp_path, units=UNITS.replace("true", "false"))
    assert "no unit has in_beta true" in _one_line_error(units, panel, ["sessions"])
    units, panel = _write(tmp_path, units="unit,in_beta,entry_date\nu1,true,2026-06-10\n")
    assert "every unit is in the beta" in _one_line_error(units, panel, ["sessions"])


def test_a_missing_metric_column_names_the_panel_and_the_column(tmp_path: Path) -> None:
    units, panel = _write(tmp_path)
    message = _one_line_error(units, panel, ["revenue"])
    assert "panel.csv" in message and "revenue" in message


def test_unreadable_values_and_unknown_units_are_dropped_and_counted(tmp_path: Path) -> None:
    units, panel = _write(tmp_path, panel=PANEL.replace("u2,2026-06-08,10", "u2,2026-06-08,ten") + "u9,2026-06-01,1\n")
    log = DropLog()
    beta = load_beta(units, panel, ["sessions"], log=log)
    assert len(beta.panel) == 11
    drops = log.to_frame().set_index("reason")["rows_dropped"]
    assert drops["unit not in the units file"] == 1
    assert drops.filter(like="sessions").sum() == 1  # the value 'ten', with load_table's reason


def test_a_window_longer_than_the_panel_says_what_to_lower(tmp_path: Path) -> None:
    beta = load_beta(*_write(tmp_path), ["sessions"])
    with pytest.raises(InputError, match=r"^metric 'sessions': no entry cohort can be analysed .*lower pre_periods"):
        estimate_impact(beta, "sessions")


def test_unknown_metric_usage_column_and_direction_are_one_liners(tmp_path: Path) -> None:
    beta = load_beta(*_write(tmp_path), ["sessions"])
    with pytest.raises(InputError, match=r"^metric 'revenue' is not in the panel's metrics \['sessions'\]"):
        estimate_impact(beta, "revenue")
    with pytest.raises(InputError, match=r"^direction 'up' is not increase or decrease"):
        estimate_impact(beta, "sessions", direction="up")
    with pytest.raises(InputError, match=r"^usage column 'uses' is not among the panel's metrics"):
        measure_adoption(beta, "uses")
    with pytest.raises(InputError, match=r"^frequency 'month' is not day or week"):
        load_beta(tmp_path / "units.csv", tmp_path / "panel.csv", ["sessions"], frequency="month")
