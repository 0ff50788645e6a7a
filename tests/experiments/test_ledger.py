"""The experiment ledger: rows from saved results, atomic per-period replacement, imports."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from prodops_lib.experiments.ledger import (
    COLUMNS,
    LedgerError,
    build_ledger_rows,
    import_ledger_csv,
    ledger_folder,
    read_import_csv,
    read_ledger,
    update_ledger,
)
from prodops_lib.report import cli

from ..conftest import runner_project

AB_RESULTS = (
    "metric,variant,control,n_control,n_variant,abs_effect,abs_ci_low,abs_ci_high,abs_se,rel_effect,rel_ci_low,"
    "rel_ci_high,p_value,p_value_adjusted,significant,role,guardrail_status,direction\n"
    "converted,treatment,control,12101,11891,0.0098,0.0021,0.0176,0.0039,0.0989,0.0203,0.1835,0.0128,0.0383,True,primary,,"
    "increase\n"
    "page_load_ms,treatment,control,12101,11891,-5.7,-13.4,2.0,3.95,-0.007,-0.016,0.002,0.15,0.3,False,guardrail,"
    "non-inferior,decrease\n"
)


def _write_ab(results: Path, name: str, effect: float = 0.0098, status: str = "ok") -> None:
    folder = results / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(
        {"name": name, "kind": "A/B test", "theme": "Billing", "decision": "ship", "alpha": 0.05,
         "variant": "treatment"}))
    (folder / "results.csv").write_text(AB_RESULTS.replace("0.0098", str(effect)))
    (folder / "cumulative.csv").write_text("metric,variant,day\nconverted,treatment,2026-10-01\nconverted,treatment,2026-10-28\n")
    (folder / "status.json").write_text(json.dumps({"status": status, "error": None}))


def _write_fake_door(results: Path) -> None:
    folder = results / "fake_door"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(
        {"name": "fake_door", "kind": "fake door", "theme": "Reporting", "decision": "build", "alpha": 0.05,
         "variant": "fake_door"}))
    # 126/3000 against 63/3000: the Wald interval of the difference, as the fake-door report saves it
    se = math.sqrt(0.042 * 0.958 / 3000 + 0.021 * 0.979 / 3000)
    z = float(stats.norm.ppf(0.975))
    (folder / "results.csv").write_text(
        "variant,exposures,clicks,click_through,ci_low,ci_high,verdict,control_click_through,abs_effect,abs_ci_low,"
        f"abs_ci_high,p_value_vs_control\nfake_door,3000,126,0.042,0.035,0.050,above target,0.021,0.021,"
        f"{0.021 - z * se!r},{0.021 + z * se!r},3.2e-06\n")


def test_rows_come_from_each_finished_experiments_saved_results(tmp_path):
    results = tmp_path / "2026-10" / "results"
    _write_ab(results, "ab_checkout")
    _write_ab(results, "ab_broken", status="failed")  # a failed report has no results to record
    _write_fake_door(results)
    (results / "monthly_review").mkdir()
    (results / "monthly_review" / "summary.json").write_text(json.dumps({"kind": "review"}))
    rows = build_ledger_rows(results, "2026-10")
    assert list(rows.columns) == list(COLUMNS)
    assert rows[["experiment", "metric", "variant", "verdict"]].values.tolist() == [
        ["ab_checkout", "converted", "treatment", "clear difference"],
        ["ab_checkout", "page_load_ms", "treatment", "non-inferior"],
        ["fake_door", "click_through", "fake_door", "above target"]]
    converted = rows.iloc[0]
    # results without rel_se (saved before issue 15): the absolute difference
    assert (converted["effect"], converted["standard_error"], converted["scale"]) == (0.0098, 0.0039, "absolute")
    # with rel_se, the relative lift: the scale priors and shrinkage across experiments compare on
    folder = results / "ab_checkout"
    saved = pd.read_csv(folder / "results.csv").assign(rel_se=0.04)
    saved.to_csv(folder / "results.csv", index=False)
    relative = build_ledger_rows(results, "2026-10").iloc[0]
    assert (relative["scale"], relative["effect"], relative["standard_error"]) == (
        "relative", saved["rel_effect"].iloc[0], 0.04)
    assert (relative["ci_low"], relative["ci_high"]) == (saved["rel_ci_low"].iloc[0], saved["rel_ci_high"].iloc[0])
    assert (converted["start_date"], converted["end_date"]) == ("2026-10-01", "2026-10-28")
    assert (converted["units_control"], converted["units_variant"], converted["decision"]) == (12101, 11891, "ship")
    assert converted["source"] == "report" and converted["schema_version"] == 2
    # the decision is about the summary's variant; each metric keeps which way is better
    assert rows["decided_variant"].tolist() == ["treatment", "treatment", "fake_door"]
    assert rows["direction"].tolist() == ["increase", "decrease", "increase"]
    door = rows.iloc[2]
    # the standard error read back from the interval is the two-proportion Wald SE, 0.0045016663581
    assert door["standard_error"] == pytest.approx(0.0045016663581389504, rel=1e-12)
    assert door["standard_error"] == pytest.approx(math.sqrt(0.042 * 0.958 / 3000 + 0.021 * 0.979 / 3000), rel=1e-12)


def test_a_rerun_replaces_the_periods_rows_and_only_keeps_the_others(tmp_path):
    results = tmp_path / "2026-10" / "results"
    _write_ab(results, "ab_a")
    _write_ab(results, "ab_b")
    update_ledger(tmp_path, "2026-10", build_ledger_rows(results, "2026-10"))
    first = read_ledger(tmp_path)
    update_ledger(tmp_path, "2026-10", build_ledger_rows(results, "2026-10"))
    pd.testing.assert_frame_equal(read_ledger(tmp_path), first)  # same inputs, same rows, no duplicates
    assert len(first) == 4

    _write_ab(results, "ab_a", effect=0.02)
    update_ledger(tmp_path, "2026-10", build_ledger_rows(results, "2026-10", ["ab_a"]), replace_experiments=["ab_a"])
    ledger = read_ledger(tmp_path)
    assert len(ledger) == 4 and not ledger.duplicated(["period", "experiment", "metric", "variant"]).any()
    converted = ledger[ledger["metric"] == "converted"].set_index("experiment")["effect"]
    assert converted.to_dict() == {"ab_a": 0.02, "ab_b": 0.0098}

    later = tmp_path / "2026-11" / "results"
    _write_ab(later, "ab_a")
    update_ledger(tmp_path, "2026-11", build_ledger_rows(later, "2026-11"))
    ledger = read_ledger(tmp_path)
    assert ledger.groupby("period").size().to_dict() == {"2026-10": 4, "2026-11": 2}
    assert sorted(p.name for p in ledger_folder(tmp_path).iterdir()) == ["period=2026-10", "period=2026-11"]


def test_a_ledger_of_another_schema_version_is_refused_in_one_line(tmp_path):
    results = tmp_path / "2026-10" / "results"
    _write_ab(results, "ab_a")
    file = update_ledger(tmp_path, "2026-10", build_ledger_rows(results, "2026-10"))
    table = pq.read_table(file)
    pq.write_table(table.replace_schema_metadata({b"prodops_ledger_schema_version": b"0"}), file)
    with pytest.raises(LedgerError) as error:
        read_ledger(tmp_path)
    assert str(error.value) == (f"{file}: ledger schema version 0, this kit reads version 2; rerun its period "
                                "(or re-import its CSV) with this kit to rewrite it")
    pq.write_table(pa.table({"x": [1]}), file)  # no version at all
    with pytest.raises(LedgerError, match="ledger schema version none"):
        read_ledger(tmp_path)


def test_an_empty_ledger_has_the_ledgers_columns(tmp_path):
    assert list(read_ledger(tmp_path).columns) == list(COLUMNS) and read_ledger(tmp_path).empty


IMPORT = ("experiment,period,end_date,metric,effect,standard_error,theme,scale\n"
          "old_checkout,2025-03,,converted,0.012,0.004,Billing,relative\n"
          "old_search,,2025-04-20,clicked,-0.002,0.003,Search,\n")


def test_an_import_is_idempotent_and_a_report_of_the_same_period_wins(tmp_path, capsys):
    csv = tmp_path / "history.csv"
    csv.write_text(IMPORT)
    out = tmp_path / "reports"
    assert cli.main(["ledger", "import", str(csv), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"imported 2 rows (2 experiments, 2 periods) into {out / 'ledger'}\n"
    cli.main(["ledger", "import", str(csv), "--out", str(out)])
    ledger = read_ledger(out)
    assert ledger[["experiment", "period", "scale", "effect", "source"]].values.tolist() == [
        ["old_checkout", "2025-03", "relative", 0.012, "import"], ["old_search", "2025-04", "absolute", -0.002, "import"]]
    assert ledger["rel_effect"].tolist()[0] == 0.012 and math.isnan(ledger["rel_effect"].tolist()[1])
    assert math.isnan(ledger["abs_effect"].tolist()[0]) and ledger["abs_effect"].tolist()[1] == -0.002
    assert len(ledger) == 2 and ledger.loc[1, "end_date"] == "2025-04-20" and ledger.loc[1, "variant"] == "treatment"

    csv.write_text(IMPORT.replace("0.012", "0.015"))  # a corrected history replaces its rows
    import_ledger_csv(out, csv)
    assert read_ledger(out)["effect"].tolist() == [0.015, -0.002]

    results = out / "2025-03" / "results"
    _write_ab(results, "old_checkout")
    update_ledger(out, "2025-03", build_ledger_rows(results, "2025-03"))
    ledger = read_ledger(out)
    assert ledger[ledger["experiment"] == "old_checkout"]["source"].unique().tolist() == ["report"]
    assert len(ledger) == 3


@pytest.mark.parametrize(("text", "message"), [
    ("experiment,period,metric,effect\nx,2025-03,m,0.1\n", "missing column standard_error; required: experiment, "
                                                            "period or end_date, metric, effect, standard_error"),
    ("experiment,metric,effect,standard_error\nx,m,0.1,0.1\n", "missing column period or end_date"),
    ("experiment,period,metric,effect,standard_error,owner\nx,2025-03,m,0.1,0.1,me\n", "unknown column owner"),
    ("experiment,period,metric,effect,standard_error\nx,2025-03,m,0.1,0.1\nx,2025-3,m,0.1,0.1\n",
     "line 3, column period: '2025-3' is not a month; write it as YYYY-MM, e.g. 2026-10"),
    ("experiment,period,metric,effect,standard_error\nx,2025-03,m,big,0.1\n", "line 2, column effect: 'big' is not a number"),
    ("experiment,period,metric,effect,standard_error\nx,2025-03,m,0.1,0\n",
     "line 2, column standard_error: '0' must be a positive number"),
    ("experiment,period,metric,effect,standard_error\n,2025-03,m,0.1,0.1\n", "line 2, column experiment: '' is empty"),
    ("experiment,end_date,metric,effect,standard_error\nx,soon,m,0.1,0.1\n",
     "line 2, column end_date: 'soon' is not a date; write it as YYYY-MM-DD"),
    ("experiment,period,metric,effect,standard_error,scale\nx,2025-03,m,0.1,0.1,log\n",
     "line 2, column scale: 'log' must be absolute or relative"),
    ("experiment,period,metric,effect,standard_error\nx,2025-03,m,0.1,0.1\nx,2025-03,m,0.2,0.1\n",
     "line 3: a second row for the same experiment, period, metric and variant; keep one"),
])
def test_a_bad_import_file_is_one_line_naming_the_file_column_and_line(tmp_path, capsys, text, message):
    csv = tmp_path / "history.csv"
    csv.write_text(text)
    assert cli.main(["ledger", "import", str(csv), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"prodops ledger: {csv}: ") and message in error and error.count("\n") == 1
    assert not (tmp_path / "out" / "ledger").exists()


# --- through the runner ----------------------------------------------------------------------

@pytest.fixture
def experiment_project(tmp_path):
    """The runner's fixture project with two quick fixture experiments and a non-experiment."""
    project = runner_project(tmp_path, (
        "title: Small\ndefault_period: 2026-10\nreports:\n"
        "  - {name: exp_a, notebook: notebooks/experiment.ipynb, inject: {effect: 0.01}}\n"
        "  - {name: exp_b, notebook: notebooks/experiment.ipynb, inject: {effect: -0.01}}\n"
        "  - {name: good, notebook: notebooks/ok.ipynb, parameters: parameters/ok.yaml}\n"))
    return project / "parameters" / "bundle.yaml"


def _effects(out: Path) -> list[tuple[str, str, float]]:
    ledger = read_ledger(out)
    return list(zip(ledger["period"], ledger["experiment"], ledger["effect"], strict=True))


@pytest.mark.slow
def test_the_ledger_survives_reruns_only_two_months_and_a_killed_run(experiment_project, tmp_path, monkeypatch):
    from prodops_lib.report import manifest
    from prodops_lib.report.run import run_bundle

    out = tmp_path / "out"
    quiet = {"progress": False, "echo": lambda _: None}
    run_bundle(experiment_project, out_dir=out, **quiet)
    first = read_ledger(out)
    assert _effects(out) == [("2026-10", "exp_a", 0.01), ("2026-10", "exp_b", -0.01)]

    run_bundle(experiment_project, out_dir=out, **quiet)  # a rerun: the same rows, none twice
    pd.testing.assert_frame_equal(read_ledger(out), first)

    text = experiment_project.read_text()
    experiment_project.write_text(text.replace("effect: 0.01}", "effect: 0.03}"))
    run_bundle(experiment_project, out_dir=out, only=["exp_a"], **quiet)  # --only keeps exp_b's rows
    assert _effects(out) == [("2026-10", "exp_a", 0.03), ("2026-10", "exp_b", -0.01)]

    run_bundle(experiment_project, period="2026-11", out_dir=out, **quiet)
    assert _effects(out) == [("2026-10", "exp_a", 0.03), ("2026-10", "exp_b", -0.01),
                             ("2026-11", "exp_a", 0.03), ("2026-11", "exp_b", -0.01)]

    before = {p: p.read_bytes() for p in ledger_folder(out).rglob("*.parquet")}
    experiment_project.write_text(text.replace("effect: 0.01}", "effect: 0.05}"))

    def killed(*args, **kwargs):  # the run dies after every notebook ran, before the swap
        raise KeyboardInterrupt

    monkeypatch.setattr(manifest, "build_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        run_bundle(experiment_project, out_dir=out, **quiet)
    assert {p: p.read_bytes() for p in ledger_folder(out).rglob("*.parquet")} == before
    assert sorted(p.name for p in ledger_folder(out).rglob("*")) == [
        "period=2026-10", "period=2026-11", "report.parquet", "report.parquet"]  # no temporary file left


def test_program_history_is_what_was_known_at_the_period(tmp_path):
    """Later periods are left out, the running bundle's rows replace the ledger's for the same
    period, and a history CSV only fills the (experiment, period) pairs nobody measured."""
    from prodops_lib.experiments.ledger import ledger_root_for, program_history

    out = tmp_path / "reports"
    for period, effect in (("2026-09", 0.01), ("2026-10", 0.02), ("2026-11", 0.03)):
        results = out / period / "results"
        _write_ab(results, "ab_checkout", effect=effect)
        update_ledger(out, period, build_ledger_rows(results, period))
    history = tmp_path / "history.csv"
    history.write_text("experiment,period,metric,effect,standard_error,scale,decision\n"
                       "ab_checkout,2026-09,converted,0.5,0.1,relative,ship\n"
                       "past_1,2025-12,converted,0.04,0.02,relative,ship\n"
                       "past_2,2026-12,converted,0.04,0.02,relative,ship\n")
    fresh = build_ledger_rows(out / "2026-10" / "results", "2026-10").assign(effect=0.25)

    rows = program_history(out, "2026-10", history=history, this_period=fresh)

    primary = rows[rows["metric"] == "converted"].set_index(["experiment", "period"])["effect"]
    # the report's difference (AB_RESULTS has no rel_se) for 2026-09, the fresh row for 2026-10,
    # the history's past_1; not the history's ab_checkout 2026-09 (measured) nor anything after 2026-10
    assert primary.to_dict() == {("ab_checkout", "2026-09"): 0.01, ("ab_checkout", "2026-10"): 0.25,
                                 ("past_1", "2025-12"): 0.04}
    assert ledger_root_for(out / ".2026-10.staging" / "results" / "ab_checkout") == out.resolve()
    assert ledger_root_for(tmp_path / "interactive" / "ab_checkout") is None
    assert program_history(None, "2026-10").empty


@pytest.mark.parametrize(("cell", "column", "message"), [
    ("Ship", "decision", None),  # the kit's verdict in another case is that verdict
    ("launched", "decision", "is not a verdict; use one of ship, don't ship"),
    ("10/12/2025", "start_date", "is not a date; write it as YYYY-MM-DD"),
])
def test_an_imported_decision_is_a_kit_verdict_and_a_start_a_date(tmp_path, cell, column, message):
    path = tmp_path / "past.csv"
    values = {"decision": "ship", "start_date": "2025-09-01"} | {column: cell}
    path.write_text("experiment,period,metric,effect,standard_error,decision,start_date\n"
                    f"a,2025-10,converted,0.02,0.01,{values['decision']},{values['start_date']}\n")
    if message is None:
        assert read_import_csv(path)["decision"].tolist() == ["ship"]
        return
    with pytest.raises(LedgerError) as error:
        read_import_csv(path)
    assert str(error.value).startswith(f"{path}: line 2, column {column}: {cell!r} {message}")
