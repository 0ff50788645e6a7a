"""The report runner on fixture notebooks: success, failure, timeout, typos and missing inputs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pytest

from prodops_lib.report import cli
from prodops_lib.report.run import run_bundle

from .conftest import RUNNER_FIXTURES, runner_project

BUNDLE = RUNNER_FIXTURES / "parameters" / "bundle.yaml"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory):
    """The whole fixture bundle, run once through the command line: --timeout is generous (a
    loaded machine must not time out the good reports); the bundle gives `sleeps` 4 seconds."""
    out = tmp_path_factory.mktemp("reports")
    code = cli.main(["report", "--bundle", str(BUNDLE), "--out", str(out), "--timeout", "120", "--no-progress"])
    return code, out / "2026-10"


def test_a_failing_report_does_not_stop_the_others_and_the_exit_code_says_so(fixture_run):
    code, folder = fixture_run
    assert code == cli.EXIT_REPORT_FAILED
    for name in ["good", "typo", "missing_input", "fails", "sleeps"]:
        assert (folder / f"{name}.ipynb").is_file(), name
        assert (folder / f"{name}.html").is_file(), name
    assert (folder / "results" / "good" / "items.csv").is_file()
    assert not list(folder.parent.glob(".*staging*")), "the staging folder must be renamed into place"


def test_manifest_records_status_hashes_versions_and_git(fixture_run):
    _, folder = fixture_run
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["period"] == "2026-10" and manifest["status"] == "failed"
    assert {"python", "pandas", "numpy", "papermill", "nbconvert"} <= set(manifest["versions"])
    assert manifest["git"] is None or len(manifest["git"]["commit"]) == 40
    reports = {r["name"]: r for r in manifest["reports"]}
    assert {n: r["status"] for n, r in reports.items()} == {
        "good": "ok", "typo": "failed", "missing_input": "failed", "fails": "failed", "sleeps": "timeout"}
    items = RUNNER_FIXTURES / "data" / "items.csv"
    assert reports["good"]["inputs"][0]["sha256"] == hashlib.sha256(items.read_bytes()).hexdigest()
    assert reports["good"]["parameters_file"]["contents"] == {"input": "data/items.csv", "alpha": 0.05}
    assert reports["good"]["injected_parameters"]["results_dir"] == (folder / "results" / "good").as_posix()
    notebook = RUNNER_FIXTURES / "notebooks" / "ok.ipynb"
    assert reports["good"]["notebook"]["sha256"] == hashlib.sha256(notebook.read_bytes()).hexdigest()
    assert all(r["duration_seconds"] > 0 for r in manifest["reports"])


def test_index_names_each_failure_its_cell_and_its_error(fixture_run):
    _, folder = fixture_run
    index = (folder / "index.html").read_text()
    assert "5 reports; 4 failed: typo, missing_input, fails, sleeps." in index
    assert "Failed in cell [4]: RuntimeError: the fixture failed on purpose" in index
    assert "alhpa: unknown key; did you mean &#x27;alpha&#x27;?" in index
    assert "data/no_such_file.csv: file not found" in index
    assert "Timed out" in index and "stopped after 4 s: the notebook did not finish within the bundle&#x27;s timeout" in index
    # the good report's headline is the period headline and its card links its files
    assert '<div class="period-headline">3 items for 2026-10</div>' in index
    assert 'href="good.html"' in index and 'href="results/good/items.csv"' in index


def test_a_timeout_is_marked_in_the_executed_notebook(fixture_run):
    _, folder = fixture_run
    notebook = nbformat.read(folder / "sleeps.ipynb", as_version=4)
    assert notebook.metadata.papermill["exception"] is True
    sleeping = next(c for c in notebook.cells if c.cell_type == "code" and "time.sleep" in c.source)
    assert sleeping.outputs[-1]["ename"] == "TimeoutError"


def test_the_drop_log_reaches_the_report(fixture_run):
    _, folder = fixture_run
    quality = (folder / "results" / "good" / "data_quality.csv").read_text()
    assert "column 'effort': not a number,1" in quality


@pytest.fixture
def small_project(tmp_path):
    """A copy of the fixture project whose bundle has two quick reports."""
    return runner_project(tmp_path, (
        "title: Small\ndefault_period: 2026-10\nreports:\n"
        "  - {name: good, notebook: notebooks/ok.ipynb, parameters: parameters/ok.yaml}\n"
        "  - {name: fails, notebook: notebooks/fails.ipynb}\n"))


def test_rerunning_a_period_replaces_its_folder_whole(small_project, tmp_path):
    out = tmp_path / "out"
    stale = out / "2026-10" / "stale.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    bundle = small_project / "parameters" / "bundle.yaml"
    result = run_bundle(bundle, out_dir=out, progress=False, echo=lambda _: None)
    assert [o.status for o in result.outcomes] == ["ok", "failed"]
    assert not stale.exists()
    assert sorted(p.name for p in (out / "2026-10").iterdir()) == [
        "fails.html", "fails.ipynb", "good.html", "good.ipynb", "index.html", "logs", "manifest.json", "results"]
    assert json.loads((out / "2026-10" / "results" / "good" / "status.json").read_text()) == {"status": "ok", "error": None}
    assert sorted(p.name for p in out.iterdir()) == ["2026-10"]  # no staging folder, no lock file left


def test_only_reruns_the_named_reports_and_keeps_the_others(small_project, tmp_path):
    out = tmp_path / "out"
    bundle = small_project / "parameters" / "bundle.yaml"
    run_bundle(bundle, out_dir=out, progress=False, echo=lambda _: None)
    first = json.loads((out / "2026-10" / "manifest.json").read_text())
    result = run_bundle(bundle, out_dir=out, only=["fails"], progress=False, echo=lambda _: None)
    assert [(o.entry.name, o.status, o.carried_over is not None) for o in result.outcomes] == [
        ("good", "ok", True), ("fails", "failed", False)]
    folder = out / "2026-10"
    assert (folder / "good.html").is_file() and (folder / "results" / "good" / "items.csv").is_file()
    manifest = json.loads(folder.joinpath("manifest.json").read_text())
    good = next(r for r in manifest["reports"] if r["name"] == "good")
    assert good["carried_over"] is True and good["inputs"] == first["reports"][0]["inputs"]
    assert "Kept from the previous run of this period" in (folder / "index.html").read_text()


def test_identical_runs_write_identical_reports(small_project, tmp_path):
    bundle = small_project / "parameters" / "bundle.yaml"
    pages = []
    for attempt in ("a", "b"):
        run_bundle(bundle, out_dir=tmp_path / attempt, only=["good"], progress=False, echo=lambda _: None)
        pages.append((tmp_path / attempt / "2026-10" / "results" / "good" / "inputs.json").read_text())
    assert pages[0] == pages[1]
    assert ".staging" not in pages[0]


def test_a_broken_parameter_file_fails_its_report_not_the_run(small_project, tmp_path):
    (small_project / "parameters" / "ok.yaml").write_text("input: [unclosed\n", encoding="utf-8")
    result = run_bundle(small_project / "parameters" / "bundle.yaml", out_dir=tmp_path / "out",
                        progress=False, echo=lambda _: None)
    assert result.outcomes[0].status == "failed" and "invalid YAML" in result.outcomes[0].error
    manifest = json.loads((tmp_path / "out" / "2026-10" / "manifest.json").read_text())
    assert manifest["reports"][0]["parameters_file"]["contents"] is None
    assert "invalid YAML" in manifest["reports"][0]["parameters_file"]["error"]


@pytest.mark.parametrize(("arguments", "message"), [
    (["--only", "goood"], "--only goood: no report of that name in the bundle; did you mean 'good'?"),
    (["--period", "2026-13"], "--period: '2026-13' is not a month; write it as YYYY-MM"),
    (["--timeout", "0"], "--timeout 0: must be a positive number of seconds"),
    (["--timeout", "nan"], "--timeout nan: must be a positive number of seconds"),
])
def test_usage_errors_exit_2_with_one_line(arguments, message, tmp_path, capsys):
    code = cli.main(["report", "--bundle", str(BUNDLE), "--out", str(tmp_path), *arguments])
    assert code == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_bundle_naming_a_missing_parameter_file_exits_2(tmp_path, capsys):
    bundle = runner_project(tmp_path) / "parameters" / "bundle.yaml"
    project = bundle.parents[1]
    (project / "parameters" / "ok.yaml").unlink()
    code = cli.main(["report", "--bundle", str(bundle), "--out", str(tmp_path / "out")])
    assert code == cli.EXIT_USAGE
    assert "reports[0] 'good': parameter file 'parameters/ok.yaml' not found" in capsys.readouterr().err


def test_inject_may_not_override_what_the_runner_sets(small_project, tmp_path, capsys):
    bundle = small_project / "parameters" / "bundle.yaml"
    bundle.write_text("reports:\n  - {name: good, notebook: notebooks/ok.ipynb, inject: {period: 2020-01}}\n",
                      encoding="utf-8")
    assert cli.main(["report", "--bundle", str(bundle), "--out", str(tmp_path)]) == cli.EXIT_USAGE
    assert "reports[0]: inject: 'period' is set by the runner for every report; remove it from inject" in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_written_is_one_line(small_project, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code = cli.main(["report", "--bundle", str(small_project / "parameters" / "bundle.yaml"),
                     "--out", str(blocker / "reports"), "--no-progress"])
    assert code == cli.EXIT_REPORT_FAILED
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"prodops report: --out {blocker / 'reports'}: cannot write there (")
    assert message.endswith("choose a writable folder with --out")


def test_a_full_disk_keeps_the_previous_period_and_the_reports_that_finished(small_project, tmp_path, monkeypatch):
    import errno

    from prodops_lib.io import OutputError
    from prodops_lib.report import manifest

    out = tmp_path / "out"
    bundle = small_project / "parameters" / "bundle.yaml"
    run_bundle(bundle, out_dir=out, progress=False, echo=lambda _: None)
    before = sorted(p.relative_to(out).as_posix() for p in (out / "2026-10").rglob("*"))

    def disk_full(*args, **kwargs):  # the manifest is written after every notebook has run
        raise OSError(errno.ENOSPC, "No space left on device", str(out / ".2026-10.staging" / "manifest.json"))

    monkeypatch.setattr(manifest, "build_manifest", disk_full)
    with pytest.raises(OutputError) as error:
        run_bundle(bundle, out_dir=out, progress=False, echo=lambda _: None)
    kept = out / ".2026-10.unfinished"
    assert str(error.value) == (
        f"No space left on device writing {out / '.2026-10.staging' / 'manifest.json'}: the previous reports of this "
        f"period are unchanged; good finished before the fault and are kept in {kept}; free space or fix the "
        "folder's permissions and run again")
    assert sorted(p.relative_to(out).as_posix() for p in (out / "2026-10").rglob("*")) == before
    assert (kept / "good.html").is_file() and (kept / "results" / "good" / "status.json").is_file()
    assert not (out / ".2026-10.staging").exists() and not (out / ".2026-10.lock").exists()
    monkeypatch.undo()  # the next full run clears what the fault left
    run_bundle(bundle, out_dir=out, progress=False, echo=lambda _: None)
    assert sorted(p.name for p in out.iterdir()) == ["2026-10"]


def test_a_killed_runs_staging_folder_and_lock_file_are_cleared_by_the_next_run(small_project, tmp_path):
    out = tmp_path / "out"
    (out / ".2026-10.staging" / "results" / "half").mkdir(parents=True)  # what a killed run leaves
    (out / ".2026-10.lock").write_text("")
    run_bundle(small_project / "parameters" / "bundle.yaml", out_dir=out, progress=False, echo=lambda _: None)
    assert sorted(p.name for p in out.iterdir()) == ["2026-10"]
    assert not (out / "2026-10" / "results" / "half").exists()


def test_a_bundle_outside_the_project_is_told_where_the_kits_notebook_is(tmp_path, capsys):
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text("reports:\n  - {name: fb, notebook: notebooks/feedback_clustering.ipynb}\n", encoding="utf-8")
    assert cli.main(["report", "--bundle", str(bundle), "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    kits = Path(__file__).resolve().parents[1] / "notebooks" / "feedback_clustering.ipynb"
    assert capsys.readouterr().err.strip() == (
        f"prodops report: {bundle}: reports[0] 'fb': notebook 'notebooks/feedback_clustering.ipynb' not found "
        f"relative to {tmp_path}; the kit's own is {kits}: give that full path")
