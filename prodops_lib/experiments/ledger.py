"""The experiment ledger: every A/B test's and fake door's per-metric results, period after period.

Layout, under the output root (beside the period folders, never inside one, so it accumulates)::

    <out>/ledger/period=2026-10/report.parquet   rows from that period's reports
    <out>/ledger/imported.parquet                rows loaded by ``prodops ledger import``

Each file is written to a temporary name in the same folder and renamed into place, so a
reader (and a killed writer) sees the old file or the new one, never a part of one. A period's
report rows are rebuilt after its run has been swapped into place: a run killed before that
leaves the ledger as it was (killed between the swap and the ledger write, the next run of
the period brings the ledger in line again).

Keys and replacement: a row is keyed by (period, experiment, metric, variant); ``experiment``
is the report's name in the bundle (its results folder), ``name`` the experiment's own name from
its parameters (what pages show). A run of a period replaces that
period's rows for the reports it ran; ``--only`` replaces only the named reports and keeps the
period's other rows. Only reports that finished (``status.json`` ok) give rows: a report that
failed this time has no rows for the period, as it has no results. An import replaces the
imported rows of every (experiment, period) its file names. When the same (experiment,
period) has both report and imported rows, ``read_ledger`` keeps the report's: they were
measured by this kit.

Numbers: ``effect`` and ``standard_error`` are on ``scale``. For report rows they are the
absolute difference against control and its standard error (``abs_effect``, ``abs_se`` of
``results.csv``); the relative lift and its interval are kept beside them (``rel_*``), as the
kit saves no standard error for the lift. A fake door's effect is its click-through minus the
control's, with the standard error read back from its z interval (half-width / z). No row
holds a timestamp: the same results give the same rows, so a rerun does not change the ledger.

``schema_version`` is a column of every row; a file written by another version is refused in
one line that says what to do.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from prodops_lib.io import InputError

LEDGER_SCHEMA_VERSION = 2  # 2: name, direction and decided_variant
LEDGER_FOLDER = "ledger"
IMPORTED_FILE = "imported.parquet"
KEY = ["period", "experiment", "metric", "variant"]
KINDS = ("A/B test", "fake door")
# every verdict an A/B test or a fake door can reach (decision.py's rules, fake_door_summary)
VERDICTS = ("ship", "don't ship", "build", "don't build", "keep running", "investigate")
SCALES = ("absolute", "relative")

COLUMNS: dict[str, str] = {
    "schema_version": "int64", "period": "string", "experiment": "string", "name": "string", "kind": "string",
    "theme": "string", "team": "string", "metric": "string", "role": "string", "direction": "string", "variant": "string",
    "decided_variant": "string", "control": "string",
    "scale": "string", "effect": "float64", "standard_error": "float64", "ci_low": "float64",
    "ci_high": "float64", "abs_effect": "float64", "abs_se": "float64", "rel_effect": "float64",
    "rel_ci_low": "float64", "rel_ci_high": "float64", "p_value": "float64", "p_value_adjusted": "float64",
    "decision": "string", "verdict": "string", "start_date": "string", "end_date": "string",
    "units_control": "float64", "units_variant": "float64", "source": "string",
}


class LedgerError(InputError):
    """The ledger cannot be read or an import file is unusable; one line saying how to fix it."""


def ledger_folder(out_root: str | Path) -> Path:
    return Path(out_root) / LEDGER_FOLDER


def build_ledger_rows(results_folder: str | Path, period: str, reports: list[str] | None = None) -> pd.DataFrame:
    """The ledger rows of one period's results folder (``<out>/<period>/results``): one row per
    metric and variant of every finished A/B test and fake door among ``reports`` (all the
    folder's reports when None). Reports that are neither (the review, the allocation) give none."""
    folder = Path(results_folder)
    names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if reports is None and folder.is_dir() else (reports or [])
    frames = [rows for name in names if (rows := _report_rows(folder / name, period)) is not None]
    return _typed(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS)))


def _report_rows(results_dir: Path, period: str) -> pd.DataFrame | None:
    summary_file, results_file = results_dir / "summary.json", results_dir / "results.csv"
    if not (summary_file.is_file() and results_file.is_file() and _finished(results_dir)):
        return None
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    kind = summary.get("kind")
    if kind not in KINDS:
        return None
    results = pd.read_csv(results_file)
    start, end = _exposure_dates(results_dir)
    common = {"schema_version": LEDGER_SCHEMA_VERSION, "period": period, "experiment": results_dir.name,
              "name": summary.get("name") or results_dir.name,
              "kind": kind, "theme": summary.get("theme"), "team": summary.get("team"),
              "decision": summary.get("decision"), "decided_variant": summary.get("variant"),
              "start_date": start, "end_date": end, "source": "report"}
    rows = _ab_rows(results) if kind == "A/B test" else _fake_door_rows(results, float(summary.get("alpha", 0.05)))
    return rows.assign(**common)


def _finished(results_dir: Path) -> bool:
    status = results_dir / "status.json"
    if not status.is_file():
        return True  # a results folder written outside the runner (a notebook run by hand)
    return json.loads(status.read_text(encoding="utf-8")).get("status") == "ok"


def _exposure_dates(results_dir: Path) -> tuple[str | None, str | None]:
    """First and last exposure day, from the cumulative effect table when the report saved one."""
    cumulative = results_dir / "cumulative.csv"
    if not cumulative.is_file():
        return None, None
    days = pd.read_csv(cumulative, usecols=["day"])["day"].dropna().astype(str)
    return (days.min(), days.max()) if len(days) else (None, None)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(np.nan, index=frame.index)


def _ab_rows(results: pd.DataFrame) -> pd.DataFrame:
    # the relative lift where the report saved its standard error (results.csv's rel_se): the
    # scale priors and shrinkage across experiments compare on; else the absolute difference
    relative = (_column(results, "rel_se").notna() & _column(results, "rel_effect").notna()).to_numpy()

    def chosen(rel: str, abs_: str) -> np.ndarray:
        return np.where(relative, _column(results, rel), _column(results, abs_))

    guardrail = _column(results, "guardrail_status")
    significant = _column(results, "significant").map({True: "clear difference", False: "no clear difference",
                                                        "True": "clear difference", "False": "no clear difference"})
    return pd.DataFrame({
        "metric": results["metric"], "role": _column(results, "role"), "direction": _column(results, "direction"),
        "variant": results["variant"],
        "control": results["control"], "scale": np.where(relative, "relative", "absolute"),
        "effect": chosen("rel_effect", "abs_effect"), "standard_error": chosen("rel_se", "abs_se"),
        "ci_low": chosen("rel_ci_low", "abs_ci_low"), "ci_high": chosen("rel_ci_high", "abs_ci_high"),
        "abs_effect": results["abs_effect"], "abs_se": _column(results, "abs_se"),
        "rel_effect": _column(results, "rel_effect"), "rel_ci_low": _column(results, "rel_ci_low"),
        "rel_ci_high": _column(results, "rel_ci_high"), "p_value": _column(results, "p_value"),
        "p_value_adjusted": _column(results, "p_value_adjusted"),
        "verdict": guardrail.where(guardrail.notna(), significant),
        "units_control": _column(results, "n_control"), "units_variant": _column(results, "n_variant"),
    })


def _fake_door_rows(results: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """A fake door against its control: the z interval is symmetric, so its half-width over
    z(1 - alpha/2) is the standard error of the difference."""
    z = stats.norm.ppf(1 - alpha / 2)
    control_rate = _column(results, "control_click_through")
    se = (_column(results, "abs_ci_high") - _column(results, "abs_ci_low")) / (2 * z)
    return pd.DataFrame({
        "metric": "click_through", "role": "primary", "direction": "increase", "variant": results["variant"],
        "control": np.where(control_rate.notna(), "control", None), "scale": "absolute",
        "effect": _column(results, "abs_effect"), "standard_error": se,
        "ci_low": _column(results, "abs_ci_low"), "ci_high": _column(results, "abs_ci_high"),
        "abs_effect": _column(results, "abs_effect"), "abs_se": se,
        "rel_effect": np.nan, "rel_ci_low": np.nan, "rel_ci_high": np.nan,
        "p_value": _column(results, "p_value_vs_control"), "p_value_adjusted": np.nan,
        "verdict": results["verdict"], "units_control": np.nan, "units_variant": results["exposures"],
    })


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reindex(columns=list(COLUMNS))
    for name, dtype in COLUMNS.items():
        if dtype == "string":
            # pd.isna: None, NaN and pd.NA alike (str(pd.NA) would store the text "<NA>")
            frame[name] = frame[name].map(lambda v: None if pd.isna(v) else str(v)).astype("string")
        else:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(dtype)
    return frame.sort_values(KEY, kind="stable").reset_index(drop=True)


def update_ledger(out_root: str | Path, period: str, rows: pd.DataFrame,
                  replace_experiments: list[str] | None = None) -> Path:
    """Write ``rows`` as ``period``'s report rows. With ``replace_experiments`` only those
    experiments' previous rows are replaced (``--only``) and the period's others kept; without,
    the period's report rows are replaced whole. Atomic: one rename of the period's file."""
    folder = ledger_folder(out_root) / f"period={period}"
    file = folder / "report.parquet"
    rows = _typed(rows)
    if replace_experiments is not None and file.is_file():
        kept = _read_file(file)
        kept = kept[~kept["experiment"].isin(list(replace_experiments) + rows["experiment"].tolist())]
        rows = _typed(pd.concat([kept, rows], ignore_index=True))
    _write_atomic(rows, file)
    return file


def _write_atomic(rows: pd.DataFrame, file: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    file.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(rows, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"prodops_ledger_schema_version": str(LEDGER_SCHEMA_VERSION).encode()})
    temporary = file.with_name(f".{file.name}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, file)


def _read_file(file: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(file).metadata or {}
    except Exception as error:  # a truncated or foreign file: pyarrow's many error types
        raise LedgerError(f"{file}: not a readable ledger file ({error}); delete it and rerun its period "
                          "or re-import its CSV") from None
    version = metadata.get(b"prodops_ledger_schema_version", b"none").decode()
    if version != str(LEDGER_SCHEMA_VERSION):
        raise LedgerError(f"{file}: ledger schema version {version}, this kit reads version {LEDGER_SCHEMA_VERSION}; "
                          "rerun its period (or re-import its CSV) with this kit to rewrite it")
    return _typed(pd.read_parquet(file))


def read_ledger(out_root: str | Path) -> pd.DataFrame:
    """Every ledger row under ``out_root``, sorted by period, experiment, metric and variant
    (empty, with the ledger's columns, when nothing was written yet)."""
    folder = ledger_folder(out_root)
    reported = [_read_file(file) for file in sorted(folder.glob("period=*/report.parquet"))]
    report = pd.concat(reported, ignore_index=True) if reported else _typed(pd.DataFrame(columns=list(COLUMNS)))
    imported_file = folder / IMPORTED_FILE
    if not imported_file.is_file():
        return _typed(report)
    imported = _read_file(imported_file)
    measured = set(zip(report["period"], report["experiment"], strict=True))
    imported = imported[[key not in measured for key in zip(imported["period"], imported["experiment"], strict=True)]]
    return _typed(pd.concat([report, imported], ignore_index=True))


def ledger_files(out_root: str | Path, *, through: str) -> list[tuple[str, Path, int]]:
    """The ledger files under ``out_root`` whose rows a reader of the months up to ``through``
    may use (those months' report files, and the imported rows), each with a label and its row
    count, for a report's list of inputs."""
    import pyarrow.parquet as pq

    folder = ledger_folder(out_root)
    files = [file for file in sorted(folder.glob("period=*/report.parquet"))
             if file.parent.name.removeprefix("period=") <= through]
    if (folder / IMPORTED_FILE).is_file():
        files.append(folder / IMPORTED_FILE)
    return [(f"ledger {file.parent.name if file.name != IMPORTED_FILE else 'imported'}", file,
             pq.ParquetFile(file).metadata.num_rows) for file in files]


def ledger_root_for(results_dir: str | Path) -> Path | None:
    """The output root whose ledger a report reads: a bundle run writes ``<out>/<period>/results/<name>``
    (while running, ``<out>/.<period>.staging/results/<name>``), so three levels up; None for a
    results folder outside a run (a notebook opened by hand), which has no ledger."""
    folder = Path(results_dir).resolve()
    return folder.parent.parent.parent if folder.parent.name == "results" else None


def program_history(out_root: str | Path | None, period: str, *, history: str | Path | None = None,
                    this_period: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every experiment result known at ``period``: the ledger's rows of ``period`` and before,
    with ``this_period`` (rows built from the running bundle's own results) in place of the
    ledger's rows of ``period`` for the same experiments, and the rows of a ``history`` CSV (the
    import format) for the (experiment, period) pairs neither has. Later periods are left out, so
    rerunning an old month shows what was known then."""
    ledger = read_ledger(out_root) if out_root is not None else _typed(pd.DataFrame(columns=list(COLUMNS)))
    ledger = ledger[ledger["period"] <= period]
    frames = [ledger]
    if this_period is not None and not this_period.empty:
        replaced = (ledger["period"] == period) & ledger["experiment"].isin(this_period["experiment"])
        frames = [ledger[~replaced], _typed(this_period)]
    rows = pd.concat(frames, ignore_index=True)
    if history:
        past = read_import_csv(history)
        known = set(zip(rows["experiment"], rows["period"], strict=True))
        past = past[[key not in known for key in zip(past["experiment"], past["period"], strict=True)]]
        rows = pd.concat([rows, past[past["period"] <= period]], ignore_index=True)
    return _typed(rows)


# --- import ------------------------------------------------------------------------------

REQUIRED_IMPORT = ("experiment", "metric", "effect", "standard_error")
OPTIONAL_IMPORT = ("period", "end_date", "start_date", "theme", "team", "kind", "decision", "verdict", "variant",
                   "decided_variant", "control", "role", "direction", "scale", "ci_low", "ci_high", "p_value",
                   "units_control", "units_variant")
_NUMERIC_IMPORT = ("effect", "standard_error", "ci_low", "ci_high", "p_value", "units_control", "units_variant")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def read_import_csv(path: str | Path) -> pd.DataFrame:
    """Past results from a CSV (one row per experiment, period and metric) as ledger rows.
    Required: experiment, period (YYYY-MM) or end_date (a date; its month is the period),
    metric, effect, standard_error (> 0). Optional: the other ledger columns of
    ``OPTIONAL_IMPORT``; ``scale`` is absolute unless given, ``kind`` A/B test, ``variant``
    ``treatment``, ``direction`` increase. A bad value is one line naming the file, column and line."""
    path = Path(path)
    if not path.is_file():
        raise LedgerError(f"{path}: no such file; give the CSV of past effects and standard errors")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise LedgerError(f"{path}: not a readable CSV ({str(error).splitlines()[0]})") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in REQUIRED_IMPORT if c not in table]
    if missing or not ({"period", "end_date"} & set(table.columns)):
        need = missing + ([] if {"period", "end_date"} & set(table.columns) else ["period or end_date"])
        raise LedgerError(f"{path}: missing column {', '.join(need)}; required: experiment, period or end_date, "
                          "metric, effect, standard_error")
    unknown = [c for c in table.columns if c not in REQUIRED_IMPORT + OPTIONAL_IMPORT]
    if unknown:
        raise LedgerError(f"{path}: unknown column {', '.join(unknown)}; the ledger's import columns are "
                          + ", ".join(REQUIRED_IMPORT + OPTIONAL_IMPORT))
    if table.empty:
        raise LedgerError(f"{path}: no rows to import")
    rows = [_import_row(path, line, record) for line, record in enumerate(table.to_dict("records"), start=2)]
    frame = pd.DataFrame(rows)
    duplicated = frame.duplicated(KEY, keep=False)
    if duplicated.any():
        line = int(np.flatnonzero(duplicated.to_numpy())[1]) + 2
        raise LedgerError(f"{path}: line {line}: a second row for the same experiment, period, metric and variant; "
                          "keep one")
    return _typed(frame)


def _import_row(path: Path, line: int, record: dict[str, str]) -> dict[str, object]:
    def fail(column: str, why: str) -> LedgerError:
        return LedgerError(f"{path}: line {line}, column {column}: {record.get(column)!r} {why}")

    row: dict[str, object] = {c: (record.get(c) or "").strip() or None for c in REQUIRED_IMPORT + OPTIONAL_IMPORT}
    for column in ("experiment", "metric"):
        if row[column] is None:
            raise fail(column, "is empty; every row needs one")
    for column in _NUMERIC_IMPORT:
        if row[column] is not None:
            try:
                row[column] = float(str(row[column]))
            except ValueError:
                raise fail(column, "is not a number") from None
            if not math.isfinite(row[column]):
                raise fail(column, "is not a finite number")
    if row["effect"] is None:
        raise fail("effect", "is empty; every row needs its effect")
    if row["standard_error"] is None or row["standard_error"] <= 0:
        raise fail("standard_error", "must be a positive number")
    if row["p_value"] is not None and not 0 <= row["p_value"] <= 1:
        raise fail("p_value", "must be between 0 and 1")
    row["period"] = _import_period(row, fail)
    row["scale"] = row["scale"] or "absolute"
    if row["scale"] not in SCALES:
        raise fail("scale", "must be absolute or relative")
    row["kind"] = row["kind"] or "A/B test"
    if row["kind"] not in KINDS:
        raise fail("kind", "must be 'A/B test' or 'fake door'")
    if row["decision"] is not None:
        # the kit's own verdicts, whatever their case: "Ship" is ship, not an unknown outcome
        decision = " ".join(str(row["decision"]).lower().replace("’", "'").split())
        if decision not in VERDICTS:
            raise fail("decision", f"is not a verdict; use one of {', '.join(VERDICTS)}")
        row["decision"] = decision
    for column in ("start_date", "end_date"):
        if row[column] is not None:
            day = pd.to_datetime(row[column], errors="coerce", format="ISO8601")
            if pd.isna(day):
                raise fail(column, "is not a date; write it as YYYY-MM-DD")
            row[column] = day.strftime("%Y-%m-%d")
    row["variant"] = row["variant"] or "treatment"
    row["direction"] = row["direction"] or "increase"
    if row["direction"] not in ("increase", "decrease"):
        raise fail("direction", "must be increase (higher is better) or decrease")
    abs_or_rel = ("abs", "rel") if row["scale"] == "absolute" else ("rel", "abs")
    row[f"{abs_or_rel[0]}_effect"] = row["effect"]
    if abs_or_rel[0] == "abs":
        row["abs_se"] = row["standard_error"]
    else:
        row["rel_ci_low"], row["rel_ci_high"] = row["ci_low"], row["ci_high"]
    return {**row, "name": row["experiment"], "schema_version": LEDGER_SCHEMA_VERSION, "source": "import"}


def _import_period(row: dict[str, object], fail) -> str:
    if row["period"] is not None:
        if not _PERIOD.match(str(row["period"])):
            raise fail("period", "is not a month; write it as YYYY-MM, e.g. 2026-10")
        return str(row["period"])
    if row["end_date"] is None:
        raise fail("end_date", "is empty and there is no period; give one of them")
    end = pd.to_datetime(row["end_date"], errors="coerce", format="ISO8601")
    if pd.isna(end):
        raise fail("end_date", "is not a date; write it as YYYY-MM-DD")
    row["end_date"] = end.strftime("%Y-%m-%d")
    return end.strftime("%Y-%m")


def import_ledger_csv(out_root: str | Path, path: str | Path) -> pd.DataFrame:
    """Load past results from ``path`` into ``out_root``'s ledger; the imported rows of every
    (experiment, period) the file names are replaced, so importing the same file twice changes
    nothing. Returns the rows imported."""
    rows = read_import_csv(path)
    file = ledger_folder(out_root) / IMPORTED_FILE
    if file.is_file():
        previous = _read_file(file)
        named = set(zip(rows["experiment"], rows["period"], strict=True))
        previous = previous[[key not in named for key in zip(previous["experiment"], previous["period"], strict=True)]]
        merged = _typed(pd.concat([previous, rows], ignore_index=True))
    else:
        merged = rows
    _write_atomic(merged, file)
    return rows


__all__ = ["COLUMNS", "LEDGER_SCHEMA_VERSION", "LedgerError", "build_ledger_rows", "import_ledger_csv",
           "ledger_files", "ledger_root_for", "program_history", "read_import_csv", "read_ledger", "update_ledger"]
