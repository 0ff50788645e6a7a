"""``prodops check``: what each report will read, without running a notebook."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodops_lib import params
from prodops_lib.io import InputError
from prodops_lib.report import cli
from prodops_lib.report.check import check_bundle, last_common_month
from prodops_lib.report.run import run_bundle

from .conftest import runner_project

ROOT = Path(__file__).resolve().parents[1]


def test_the_sample_bundle_checks_clean_and_says_what_feedback_will_read(capsys):
    assert cli.main(["check", "--only", "feedback_clustering", "ab_checkout_redesign", "monthly_review"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "feedback_clustering (parameters/feedback_clustering.yaml): ok" in out
    assert "columns used: text ← subject + description, date ← created_at, id ← ticket_id, customer ← account_id" in out
    assert "columns not used: plan" in out
    assert "dates: ISO 8601 (detected); 2026-05-01 to 2026-10-31" in out
    # nps 712 rows read, 5 empty: the same counts the report's data-quality appendix shows
    assert "nps, 2026-10 and the 5 months before: 712 rows read, 5 dropped (empty text: 5)" in out
    assert "support      216      201      218      208      234      202" in out
    assert "ab_checkout_redesign (parameters/ab_checkout_redesign.yaml): ok" in out
    assert "monthly_review (parameters/monthly_review.yaml): ok\n  taxonomy: data/sample/taxonomy.yaml (8 product themes, 2 engineering-only)" in out
    assert out.rstrip().endswith("3 reports checked: 0 with unusable inputs, 0 warnings")


def _feedback_bundle(tmp_path: Path, csv: str, columns: str) -> Path:
    (tmp_path / "reviews.csv").write_text(csv, encoding="utf-8")
    (tmp_path / "feedback.yaml").write_text(
        f"sources:\n  - {{name: reviews, path: {tmp_path / 'reviews.csv'}, columns: {columns}}}\n"
        "history_months: 2\n", encoding="utf-8")
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(f"reports:\n  - {{name: fb, notebook: {ROOT / 'notebooks' / 'feedback_clustering.ipynb'}, "
                      f"parameters: {tmp_path / 'feedback.yaml'}}}\n", encoding="utf-8")
    return bundle


def test_a_missing_column_is_that_reports_one_line_error_and_exit_1(tmp_path, capsys):
    bundle = _feedback_bundle(tmp_path, "when,comment\n2026-10-01,slow\n", "{text: body, date: when}")
    assert cli.main(["check", "--bundle", str(bundle)]) == cli.EXIT_REPORT_FAILED
    out = capsys.readouterr().out
    assert (": error\n  reviews: required column 'body' (set by columns.text) is missing; set columns.text to the "
            "file's column; columns present: when, comment\n") in out
    assert "1 report checked: 1 with unusable inputs (fb), 0 warnings" in out


def test_dates_not_in_iso_are_inferred_and_the_last_month_with_data_is_the_default(tmp_path):
    rows = "".join(f"{day}/{month}/2026,text number {day} {month},{rating}\n"
                   for month in ("08", "09") for day, rating in (("13", 5), ("14", 1)))
    bundle = _feedback_bundle(tmp_path, "when,comment,stars\n" + rows, "{text: comment, date: when, rating: stars}")
    [result] = check_bundle(bundle)
    text = result.to_text()
    assert "dates: format %d/%m/%Y (detected); " \
           "2026-08-13 to 2026-09-14" in text
    assert "rating: 4 of 4 rows have one" in text
    assert result.check.months == ["2026-08", "2026-09"] and last_common_month([result]) == "2026-09"
    # four texts cannot make themes: the check says so instead of the report failing later
    assert any("need at least" in warning or "themes need" in warning for warning in result.check.warnings)


def test_check_warnings_reach_the_reports_appendix(tmp_path):
    project = runner_project(
        tmp_path, "default_period: 2026-10\nreports:\n  - {name: good, notebook: notebooks/ok.ipynb, parameters: parameters/ok.yaml}\n")
    out = tmp_path / "out"
    run_bundle(project / "parameters" / "bundle.yaml", out_dir=out, progress=False, echo=lambda _: None,
               warnings={"good": ["support: no feedback in 2026-10 <b>"]})
    page = (out / "2026-10" / "good.html").read_text(encoding="utf-8")
    assert "Input check</strong> support: no feedback in 2026-10 &lt;b&gt;" in page


@pytest.mark.parametrize("argv", [["check", "--period", "2026-13"], ["check", "--only", "nope"]])
def test_bad_check_arguments_are_usage_errors(argv, capsys):
    assert cli.main(argv) == cli.EXIT_USAGE
    assert capsys.readouterr().err.startswith("prodops check: ")


def test_the_allocation_check_shows_the_preset_the_rules_matches_and_a_rule_that_classifies_nothing(capsys):
    assert cli.main(["check", "--only", "resource_allocation"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "work items: data/sample/allocation/jira_export.csv (tracker preset jira)" in out
    assert "labels ← Labels + Labels.1 + Labels.2" in out and "columns not used: Issue id" in out
    assert "time fields read in seconds\n    Labels, Labels.1, Labels.2, Component/s: one value per cell\n" in out
    assert "dates: format %d/%b/%y %I:%M %p (the tracker's usual format); 2026-04-18 to 2026-10-31 (resolved)" in out
    # the sample's known bad worklog rows, counted as the report's appendix counts them
    assert "worklogs: 15,010 rows read, 3 dropped (column 'Time Spent Seconds': below 0 or not a number: 3)" in out
    assert "2,505 items; 5% unclassified" in out
    # rule 22 sends project MOB to Mobile app, but the label and component rules before it take every MOB item
    assert "warning: rule 22 (Mobile app) classifies no item" in out


def test_the_experiment_checks_list_variants_units_and_exposure_dates(capsys):
    assert cli.main(["check", "--only", "ab_onboarding_checklist", "fake_door_ai_summary"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "data/sample/experiments/onboarding_checklist.csv: 10,000 rows" in out
    assert "columns not used: platform, country, plan" in out and "exposures: 2026-10-01 to 2026-10-21" in out
    assert "control  5200   5200" in out and "treatment  4800   4800" in out
    assert "fake_door_ai_summary (parameters/fake_door_ai_summary.yaml): ok" in out


def _experiment_bundle(tmp_path: Path, csv: str, experiment: str) -> Path:
    (tmp_path / "units.csv").write_text(csv, encoding="utf-8")
    (tmp_path / "ab.yaml").write_text(f"source: {tmp_path / 'units.csv'}\nexperiment: {experiment}\n", encoding="utf-8")
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(f"reports:\n  - {{name: ab, notebook: {ROOT / 'notebooks' / 'ab_test.ipynb'}, "
                      f"parameters: {tmp_path / 'ab.yaml'}}}\n", encoding="utf-8")
    return bundle


def test_variant_labels_differing_in_case_or_spacing_and_a_missing_control_are_warned(tmp_path):
    rows = "".join(f"u{i},{variant},{i % 2}\n" for i, variant in enumerate(["Control", "treatment", "Treatment "] * 4))
    bundle = _experiment_bundle(tmp_path, "user_id,variant,converted\n" + rows,
                                "{name: t, unit: user_id, metrics: [{name: converted, kind: proportion, role: primary}]}")
    [result] = check_bundle(bundle)
    assert result.check.warnings == [
        "variants 'Treatment ' and 'treatment' differ only in case or spacing; they are counted as two arms: "
        "fix the labels in the data",
        "control 'control' is not among the variants found ('Control', 'Treatment ', 'treatment'); "
        "set experiment.control"]


def test_a_text_metric_and_rows_without_a_variant_are_found_before_the_run(tmp_path):
    rows = "".join(f"u{i},{['control', 'treatment', ''][i % 3]},{i % 2},{'2) $100 - $200' if i == 7 else i}\n"
                   for i in range(30))
    csv = "user_id,variant,converted,spend\n" + rows
    metrics = "[{name: converted, kind: proportion, role: primary}, {name: spend}]"
    [result] = check_bundle(_experiment_bundle(tmp_path, csv, f"{{name: t, unit: user_id, metrics: {metrics}}}"))
    # the report's own line, as the analysis would stop with it
    assert result.error == (f"{tmp_path / 'units.csv'}: metric 'spend': column 'spend' is not numeric "
                            "(value '2) $100 - $200'); clean the column or fix the source")
    [result] = check_bundle(_experiment_bundle(tmp_path, csv.replace("2) $100 - $200", "7"),
                                               f"{{name: t, unit: user_id, metrics: {metrics}}}"))
    assert result.check.warnings == ["10 rows without a variant in 'variant'; the report drops them and counts them "
                                     "in its data quality"]
    assert result.check.tables["variants found"].to_dict("records") == [
        {"variant": "control", "rows": 10, "units": 10}, {"variant": "treatment", "rows": 10, "units": 10}]


def test_the_check_stops_where_the_report_stops_and_reads_what_the_report_reads(tmp_path):
    from prodops_lib.experiments import ExperimentSpec, MetricSpec, analyse_experiment

    metrics = "[{name: converted, kind: proportion, role: primary}]"
    spec = ExperimentSpec(name="t", unit="user_id", metrics=[MetricSpec("converted", kind="proportion", role="primary")])
    # a unit with two rows in one variant: the report's own error, before the run
    rows = "".join(f"u{i},{['control', 'treatment'][i % 2]},{int(i % 3 == 0)}\n" for i in range(40)) + "u2,control,1\n"
    [result] = check_bundle(_experiment_bundle(tmp_path, "user_id,variant,converted\n" + rows,
                                               f"{{name: t, unit: user_id, metrics: {metrics}}}"))
    with pytest.raises(InputError) as raised:
        analyse_experiment(tmp_path / "units.csv", spec)
    assert "with several rows in one variant (e.g. u2)" in result.error
    assert result.error.split(": ", 1)[1] == str(raised.value).split(": ", 1)[1]
    # ids that are numbers for DuckDB's whole type sample, then one text id: both read it, with types from every row
    rows = "".join(f"{i},{['control', 'treatment'][i % 2]},{int(i % 3 == 0)}\n" for i in range(30_000)) + "u-x,control,1\n"
    [result] = check_bundle(_experiment_bundle(tmp_path, "user_id,variant,converted\n" + rows,
                                               f"{{name: t, unit: user_id, metrics: {metrics}}}"))
    assert result.error is None and result.check.tables["variants found"]["units"].tolist() == [15_001, 15_000]
    assert analyse_experiment(tmp_path / "units.csv", spec).units == {"control": 15_001, "treatment": 15_000}
    # a Latin-1 export: the loaders' message, which says what to set
    (tmp_path / "units.csv").write_bytes("user_id,variant,converted\nü1,control,1\nü2,treatment,0\n".encode("latin-1"))
    [result] = check_bundle(tmp_path / "bundle.yaml")
    assert "encoding" in result.error and "the query failed" not in result.error


def test_unreadable_exposure_times_are_said_to_count_in_the_effect(tmp_path):
    rows = "".join(f"u{i},{['control', 'treatment'][i % 2]},{i % 2},{'soon' if i < 3 else '2026-10-0' + str(1 + i % 9)}\n"
                   for i in range(40))
    metrics = "[{name: converted, kind: proportion, role: primary}]"
    [result] = check_bundle(_experiment_bundle(tmp_path, "user_id,variant,converted,seen\n" + rows,
                                               f"{{name: t, unit: user_id, timestamp_column: seen, metrics: {metrics}}}"))
    assert "3 values of 'seen' are not times; those units count in the effect, not in the chart over time" \
        in result.check.warnings
    assert "exposures: 2026-10-01 to 2026-10-09" in result.check.lines


def test_a_fake_door_count_that_is_not_a_number_is_one_line_naming_the_row(tmp_path):
    from prodops_lib.experiments.report import FakeDoorReport, load_fake_door
    from prodops_lib.io import DropLog, InputError

    path = tmp_path / "door.csv"
    path.write_text("variant,exposures,clicks\ncontrol,3000,63\nfake_door,3000,12O\n", encoding="utf-8")
    report = FakeDoorReport(name="door", source=str(path), target_click_through=0.03)
    with pytest.raises(InputError, match=rf"^{path}: column 'clicks', data row 2: '12O' is not a count; "
                                         "write a whole number of 0 or more$"):
        load_fake_door(report, DropLog())


def test_the_sample_ratio_check_is_run_and_a_borderline_one_is_warned(tmp_path, capsys):
    # the onboarding sample: 5,200 / 4,800 units, chi-square 16 on 1 df, p = 6.334e-05 (scipy.stats.chi2.sf)
    assert cli.main(["check", "--only", "ab_onboarding_checklist"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "sample ratio check: p = 0.000063" in out
    assert "warning: sample ratio mismatch (p = 0.000063, below 0.001): the report will say investigate, not ship" in out
    # 545 / 455: chi-square 8.1, p = 0.00443 — below 0.01 but above srm_alpha 0.001: borderline
    rows = "".join(f"u{i},{'control' if i < 545 else 'treatment'},{i % 2}\n" for i in range(1000))
    bundle = _experiment_bundle(tmp_path, "user_id,variant,converted\n" + rows,
                                "{name: t, unit: user_id, metrics: [{name: converted, kind: proportion, role: primary}]}")
    [result] = check_bundle(bundle)
    assert result.check.warnings == ["sample ratio borderline (p = 0.0044, below 0.01): check the assignment before "
                                     "trusting the effects"]


def test_a_relative_bundle_path_is_read_from_the_working_directory(tmp_path, monkeypatch, capsys):
    bundle = _feedback_bundle(tmp_path, "when,comment\n2026-10-01,slow\n", "{text: comment, date: when}")
    monkeypatch.chdir(tmp_path)
    cli.main(["check", "--bundle", bundle.name])
    assert "fb (" in capsys.readouterr().out  # found beside the user, not in the project


def test_the_review_check_names_themes_the_taxonomy_does_not_list_and_reports_not_in_the_bundle(tmp_path):
    root = params.project_root()
    taxonomy = (root / "data/sample/taxonomy.yaml").read_text(encoding="utf-8").replace(
        '{name: "Onboarding", ', '{name: "Onboarding flow", ')
    (tmp_path / "taxonomy.yaml").write_text(taxonomy, encoding="utf-8")
    (tmp_path / "review.yaml").write_text(
        f"taxonomy: {tmp_path / 'taxonomy.yaml'}\n"
        "sources: {allocation: resource_allocation, feedback: feedback_clustering, "
        "experiments: [ab_onboarding_checklist, ab_gone]}\n", encoding="utf-8")
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(
        "title: t\nreports:\n"
        f"  - {{name: ab_onboarding_checklist, notebook: {root}/notebooks/ab_test.ipynb, "
        f"parameters: {root}/parameters/ab_onboarding_checklist.yaml}}\n"
        f"  - {{name: resource_allocation, notebook: {root}/notebooks/resource_allocation.ipynb, "
        f"parameters: {root}/parameters/resource_allocation.yaml}}\n"
        f"  - {{name: monthly_review, notebook: {root}/notebooks/monthly_review.ipynb, parameters: {tmp_path / 'review.yaml'}}}\n",
        encoding="utf-8")
    [review] = check_bundle(bundle, only=["monthly_review"])
    assert review.check.warnings == [
        "sources.feedback names 'feedback_clustering', which is not a report of this bundle; the review will show it "
        "as missing (reports: ab_onboarding_checklist, resource_allocation, monthly_review)",
        "sources.experiments[1] names 'ab_gone', which is not a report of this bundle; the review will show it as "
        "missing (reports: ab_onboarding_checklist, resource_allocation, monthly_review)",
        "theme rules (resource_allocation) uses a theme the taxonomy does not list: 'Onboarding'; rename it as in "
        "the taxonomy, or the review cannot set its demand against its effort",
        "experiment theme (ab_onboarding_checklist) uses a theme the taxonomy does not list: 'Onboarding'; rename "
        "it as in the taxonomy, or the review cannot set its demand against its effort",
    ]


def test_dates_that_read_either_way_round_are_a_warning_the_report_shows(tmp_path):
    rows = "".join(f"0{day}/0{month}/2026,text number {day} {month},5\n" for month in (8, 9) for day in (3, 4))
    bundle = _feedback_bundle(tmp_path, "when,comment,stars\n" + rows, "{text: comment, date: when, rating: stars}")
    [result] = check_bundle(bundle)
    assert any(warning.startswith("when: dates: format %m/%d/%Y (detected); day and month could be either way round")
               for warning in result.check.warnings)
