"""Hostile inputs through the whole monthly report: every kind of personal data the kit
detects, planted in feedback texts and work-item titles, reaches no output file (HTML,
executed notebook, result CSV or JSON, manifest); result CSVs are safe to open in a spreadsheet;
and script payloads in every text field a user controls — work-item titles and labels, theme
names, variant labels, metric names, report titles — show as text in Chromium and never run
(feedback texts lose their markup when cleaned, and run nothing either)."""

from __future__ import annotations

import csv
import shutil

import pandas as pd
import pytest
import yaml

from prodops_lib import params
from prodops_lib.report import cli

from .browser import check_pages, chromium_executable

pytestmark = pytest.mark.slow

SCRIPT = "<script>window.__prodops_injected=1</script>"
IMAGE = '<img src=x onerror="window.__prodops_injected=1">'
PERSONAL = {
    "[email]": "jane.doe@example.com",
    "[email] obfuscated": "jane (at) example dot com",
    "[phone]": "+44 20 7946 0958",
    "[card]": "4111 1111 1111 1111",
    "[iban]": "GB82 WEST 1234 5698 7654 32",
    "[national id] SSN": "123-45-6789",
    "[national id] NI": "QQ 12 34 56 C",
    "[ip] v4": "192.168.14.201",
    "[ip] v6": "2001:db8:85a3::8a2e:370:7334",
    "[url]": "https://app.example.com/reset?token=abc123XYZ",
}
FORMULA = "=HYPERLINK(\"http://evil.example\",\"click\")"


def _hostile_inputs(root, folder):
    """Copies of the sample inputs with hostile text planted; returns the bundle file."""
    sample = root / "data" / "sample"
    personal = "; ".join(PERSONAL.values())
    # feedback: 40 tickets about one refund problem, each carrying personal data and a payload,
    # so they form an issue of their own and are quoted
    tickets = pd.read_csv(sample / "feedback" / "support_tickets.csv", dtype=str)
    planted = tickets.tail(40).copy()
    planted["ticket_id"] = [f"T-9{i:05d}" for i in range(len(planted))]
    planted["subject"] = f"Refund never arrived {SCRIPT}"
    planted["description"] = [f"My refund never arrived. Reach me: {personal}. {IMAGE} {FORMULA} case {i}"
                              for i in range(len(planted))]
    planted["created_at"] = [f"2026-10-{1 + i % 28:02d}T10:00:00Z" for i in range(len(planted))]
    tickets = pd.concat([tickets, planted], ignore_index=True).rename(columns={"plan": f"plan {IMAGE}"})
    tickets.to_csv(folder / "tickets.csv", index=False)
    feedback = yaml.safe_load((root / "parameters" / "feedback_clustering.yaml").read_text(encoding="utf-8"))
    feedback["sources"] = [{"name": "support", "path": str(folder / "tickets.csv"),
                            "columns": {"id": "ticket_id", "text": ["subject", "description"], "date": "created_at",
                                        "customer": "account_id"}}]
    feedback["accounts"]["path"] = _absolute(root, feedback["accounts"]["path"])
    feedback["taxonomy"] = _absolute(root, feedback["taxonomy"])
    feedback["clustering"]["cache_dir"] = str(root / ".cache" / "embeddings")
    (folder / "feedback.yaml").write_text(yaml.safe_dump(feedback), encoding="utf-8")

    # allocation: every title carries personal data and a payload; one label and one theme too
    export = (sample / "allocation" / "jira_export.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(export.splitlines()))
    summary = rows[0].index("Summary")
    label = rows[0].index("Labels")
    for row in rows[1:]:
        row[summary] = f"{row[summary]} {SCRIPT} (from {PERSONAL['[email]']}, {PERSONAL['[ip] v4']})"
    rows[1][label] = f"{IMAGE}"
    with (folder / "jira.csv").open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    rules = (sample / "allocation" / "theme_rules.yaml").read_text(encoding="utf-8")
    (folder / "rules.yaml").write_text(rules.replace('"Search"', f'"Search {SCRIPT}"'), encoding="utf-8")
    targets = (sample / "allocation" / "targets.csv").read_text(encoding="utf-8")
    (folder / "targets.csv").write_text(targets.replace("Search,", f"Search {SCRIPT},"), encoding="utf-8")
    allocation = yaml.safe_load((root / "parameters" / "resource_allocation.yaml").read_text(encoding="utf-8"))
    allocation["sources"]["items"]["path"] = str(folder / "jira.csv")
    for name in ("worklogs", "people"):
        allocation["sources"][name]["path"] = _absolute(root, allocation["sources"][name]["path"])
    allocation["rules"] = str(folder / "rules.yaml")
    allocation["targets"] = str(folder / "targets.csv")
    (folder / "allocation.yaml").write_text(yaml.safe_dump(allocation), encoding="utf-8")

    # an experiment whose treatment label and metric name are payloads
    units = pd.read_csv(sample / "experiments" / "onboarding_checklist.csv", dtype=str)
    units["variant"] = units["variant"].replace({"treatment": IMAGE})
    units = units.rename(columns={"activated": f"activated {SCRIPT}"})
    units.to_csv(folder / "units.csv", index=False)
    experiment = yaml.safe_load((root / "parameters" / "ab_onboarding_checklist.yaml").read_text(encoding="utf-8"))
    experiment["source"] = str(folder / "units.csv")
    spec = experiment["experiment"]
    spec["expected_split"] = {"control": 0.5, IMAGE: 0.5}
    spec["hypothesis"] = f"A checklist helps {SCRIPT}"
    spec["metrics"][0]["name"] = f"activated {SCRIPT}"
    (folder / "experiment.yaml").write_text(yaml.safe_dump(experiment), encoding="utf-8")

    bundle = {"title": f"Hostile {SCRIPT}", "default_period": "2026-10", "reports": [
        {"name": "feedback_clustering", "notebook": str(root / "notebooks" / "feedback_clustering.ipynb"),
         "parameters": str(folder / "feedback.yaml"), "title": f"Feedback {IMAGE}"},
        {"name": "resource_allocation", "notebook": str(root / "notebooks" / "resource_allocation.ipynb"),
         "parameters": str(folder / "allocation.yaml"), "title": "Allocation"},
        {"name": "ab_onboarding_checklist", "notebook": str(root / "notebooks" / "ab_test.ipynb"),
         "parameters": str(folder / "experiment.yaml"), "title": f"Experiment {SCRIPT}"},
    ]}
    (folder / "bundle.yaml").write_text(yaml.safe_dump(bundle), encoding="utf-8")
    return folder / "bundle.yaml"


def _absolute(root, path: str) -> str:
    return str(root / path)


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    bundle = _hostile_inputs(params.project_root(), folder)
    out = folder / "reports"
    code = cli.main(["report", "--bundle", str(bundle), "--out", str(out), "--period", "2026-10", "--no-progress"])
    yield code, out / "2026-10"
    shutil.rmtree(folder, ignore_errors=True)


def _outputs(report_folder):
    return [path for path in sorted(report_folder.rglob("*"))
            if path.is_file() and path.suffix in {".html", ".ipynb", ".csv", ".json"}]


def test_the_hostile_bundle_runs(hostile_report):
    code, folder = hostile_report
    assert code == cli.EXIT_OK
    assert {path.suffix for path in _outputs(folder)} == {".html", ".ipynb", ".csv", ".json"}


def test_no_kind_of_personal_data_reaches_any_output_file(hostile_report):
    _, folder = hostile_report
    leaks, labels = [], set()
    for path in _outputs(folder):
        text = path.read_text(encoding="utf-8")
        leaks += [f"{path.relative_to(folder)}: {kind}" for kind, value in PERSONAL.items() if value in text]
        labels |= {kind.split()[0] for kind in PERSONAL if kind.split()[0] in text}
    assert leaks == []
    # the planted texts were shown (quoted), with each kind replaced by its label
    assert labels == {"[email]", "[phone]", "[card]", "[iban]", "[national", "[ip]", "[url]"}


def test_result_csvs_are_safe_to_open_in_a_spreadsheet(hostile_report):
    _, folder = hostile_report
    risky = []
    for path in folder.rglob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                risky += [f"{path.name}: {cell[:40]}" for cell in row
                          if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _plain_number(cell)]
    assert risky == []


def _plain_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_script_payloads_in_every_field_stay_text_in_chromium(hostile_report, tmp_path):
    chromium_executable()
    _, folder = hostile_report
    checks = check_pages(sorted(folder.glob("*.html")), tmp_path / "screenshots")
    assert len(checks) == 4  # three reports and the index
    for check in checks:
        assert check.injected_type == "undefined", check.html_path.name
        assert check.problems == [], f"{check.html_path.name}: {check.problems}"
    text = {check.html_path.stem: check.body_text for check in checks}
    assert f"Hostile {SCRIPT}" in text["index"] and f"Experiment {SCRIPT}" in text["index"]
    # feedback texts are cleaned of markup before clustering (a tag is not what a customer said);
    # the quotes show the rest, with the personal data replaced
    assert "Reach me: [email]; [email]; [phone]; [card]; [iban]; [national id]" in text["feedback_clustering"]
    assert f"Feedback {IMAGE}" in text["index"]
    assert SCRIPT in text["resource_allocation"]  # work-item titles and the theme name
    assert f"Search {SCRIPT}" in text["resource_allocation"]
    assert IMAGE in text["ab_onboarding_checklist"]  # the variant label
    assert f"activated {SCRIPT}" in text["ab_onboarding_checklist"]  # the metric name
