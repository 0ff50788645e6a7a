"""End to end: `prodops report` on the bundled sample data, checked file by file and in Chromium."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

from prodops_lib.report import cli

from .browser import check_pages, chromium_executable
from .conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample_report(sample_reports):
    """The default period's report (its previous month was run first, into the same folder)."""
    period = sample_reports["period"]
    return sample_reports["codes"][period], sample_reports["out"] / period, sample_reports["bundle"]


class _Resources(HTMLParser):
    """Every src/href in a page, and every element that would show notebook code."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.code_cells = 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        self.references += [values[key] for key in ("src", "href") if values.get(key)]
        classes = (values.get("class") or "").split()
        if ("jp-CodeCell" in classes and "jp-mod-noInput" not in classes) or "jp-InputPrompt" in classes:
            self.code_cells += 1


def test_the_sample_bundle_runs_clean(sample_report):
    code, folder, _bundle = sample_report
    manifest = json.loads((folder / "manifest.json").read_text())
    failures = {r["name"]: r["error"] for r in manifest["reports"] if r["status"] != "ok"}
    assert failures == {}
    assert code == cli.EXIT_OK


def test_every_file_of_the_layout_is_written(sample_report):
    _, folder, bundle = sample_report
    assert (folder / "index.html").is_file() and (folder / "manifest.json").is_file()
    for entry in bundle.reports:
        assert (folder / f"{entry.name}.html").is_file()
        assert (folder / f"{entry.name}.ipynb").is_file()
        results = folder / "results" / entry.name
        assert {"headline.json", "data_quality.csv", "inputs.json", "parameters.json"} <= {p.name for p in results.iterdir()}
        assert len(list(results.glob("*.csv"))) >= 2, f"{entry.name}: the tables behind its charts"


def test_manifest_hashes_every_input_and_names_versions(sample_report):
    _, folder, bundle = sample_report
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["period"] == bundle.default_period
    assert [r["name"] for r in manifest["reports"]] == [e.name for e in bundle.reports]
    for report in manifest["reports"]:
        assert report["inputs"], f"{report['name']}: no input recorded"
        for item in report["inputs"]:
            assert item["sha256"] is None or re.fullmatch(r"[0-9a-f]{64}", item["sha256"])
        assert any(item["sha256"] for item in report["inputs"])
    assert {"python", "pandas", "papermill"} <= set(manifest["versions"])


def test_html_reports_hide_code_and_load_nothing_remote(sample_report):
    _, folder, _ = sample_report
    for page in sorted(folder.glob("*.html")):
        text = page.read_text(encoding="utf-8")
        parser = _Resources()
        parser.feed(text)
        assert parser.code_cells == 0, f"{page.name}: shows code"
        notebook = page.with_suffix(".ipynb")
        if notebook.is_file():
            code_lines = {line.strip() for cell in nbformat.read(notebook, as_version=4).cells
                          if cell.cell_type == "code" for line in cell.source.splitlines()
                          if len(line.strip()) >= 25}
            shown = [line for line in code_lines if html.escape(line, quote=False) in text]
            assert shown == [], f"{page.name}: shows its code: {shown[:2]}"
        remote = [r for r in parser.references if re.match(r"^(https?:)?//", r)]
        assert remote == [], f"{page.name}: loads {remote[:3]}"
        assert "<script>window.__prodops_injected" not in text, f"{page.name}: hostile text reached the HTML as markup"
        assert "@example.com" not in text, f"{page.name}: an email address was not redacted"


def test_reports_render_in_chromium_with_the_network_blocked(sample_report, tmp_path):
    chromium_executable()
    _, folder, _ = sample_report
    pages = sorted(folder.glob("*.html"))
    checks = check_pages(pages, tmp_path / "screenshots")
    for check in checks:
        assert check.problems == [], f"{check.html_path.name}: {check.problems}"
        assert check.injected_type == "undefined"
        assert check.screenshot.is_file()
    # The allocation report lists the period's largest work items, and the sample's largest
    # carries a <script> tag in its title: it must show as text, and must not have run.
    allocation = next(c for c in checks if c.html_path.stem == "resource_allocation")
    assert "<script>window.__prodops_injected=1</script>" in allocation.body_text


PLANTED_PERSONAL_DATA = ("jane.doe@example.com", "415-555-0134", "7946 0958", "4111 1111 1111 1111",
                         "token=abc123", "@jdoe_ops")


def test_no_planted_personal_data_reaches_any_file_of_the_report(sample_report):
    """Reports, executed notebooks and result tables: the sample's emails, phones, cards, token
    links and handles are all redacted before they reach any of them."""
    _, folder, _ = sample_report
    leaks = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".csv", ".json"}:
            text = path.read_text(encoding="utf-8")
            leaks += [f"{path.relative_to(folder)}: {secret}" for secret in PLANTED_PERSONAL_DATA if secret in text]
    assert leaks == []


def test_every_report_prints_within_the_page_and_shows_its_summary_first(sample_report, tmp_path):
    from .browser import check_layout

    chromium_executable()
    _, folder, _ = sample_report
    reports = [page for page in sorted(folder.glob("*.html")) if page.stem != "index"]
    layouts = check_layout(reports, tmp_path / "pdf")
    for layout in layouts:
        name = layout.html_path.name
        assert layout.overflowing_headers == (), f"{name}: columns cut off in print: {layout.overflowing_headers}"
        assert layout.scrolling_boxes == 0, f"{name}: a box would print a scrollbar"
        assert layout.broken_words == (), f"{name}: table cells too narrow to print these words whole: {layout.broken_words}"
        assert layout.summary_top_px is not None and layout.summary_top_px < 800, \
            f"{name}: the summary starts at {layout.summary_top_px} px, below a 1280 x 800 screen"
        assert layout.scrolling_appendix_tables == (), \
            f"{name}: appendix tables scroll sideways in an 800 px window: {layout.scrolling_appendix_tables}"
        assert layout.pdf.read_bytes().startswith(b"%PDF")


def test_no_table_a_pm_reads_has_a_machine_column_name(sample_report):
    """Headers on the pages are labels; the machine names stay in results/."""
    _, folder, _ = sample_report
    machine = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
    raw = {}
    for page in sorted(folder.glob("*.html")):
        headers = [th.get_text().strip() for th in BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").find_all("th")]
        raw[page.name] = sorted({text for text in headers if machine.match(text)})
    assert all(not names for names in raw.values()), raw
    # and the results keep them: the A/B results table has rel_ci_low as a column
    assert "rel_ci_low" in (folder / "results" / "ab_checkout_redesign" / "results.csv").read_text(encoding="utf-8")


def _table_rows(page, caption_start: str) -> list[dict[str, str]]:
    """The rows of the table whose caption starts with ``caption_start``, as header → cell text."""
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    table = next(t for t in soup.find_all("table") if t.caption and t.caption.get_text().strip().startswith(caption_start))
    headers = [th.get_text().strip() for th in table.find_all("th")]
    return [dict(zip(headers, (td.get_text().strip() for td in tr.find_all("td")), strict=True))
            for tr in table.find_all("tr") if tr.find_all("td")]


def test_every_number_the_index_and_the_review_show_for_a_theme_is_the_source_reports_number(sample_report):
    """One definition per quantity: a theme's demand is its share of the feedback on product
    themes as the feedback report saved it, its effort the allocation's effort over product
    themes, an experiment's lift its own results'; the index and the review never show another."""
    import pandas as pd

    _, folder, _ = sample_report
    period = folder.name
    results = folder / "results"
    demand = pd.read_csv(results / "feedback_clustering" / "demand_by_theme.csv")
    demand = demand[demand["month"] == period].set_index("product_theme")
    effort = pd.read_csv(results / "resource_allocation" / "effort_share.csv")
    effort = effort[(effort["month"] == period) & (effort["team"] == "ALL")]
    effort = effort.set_index("theme")["effort"]
    taxonomy = yaml.safe_load((ROOT / "data" / "sample" / "taxonomy.yaml").read_text(encoding="utf-8"))
    product = [theme["name"] for theme in taxonomy["themes"]]
    product_effort = effort.reindex(product).fillna(0) / effort.reindex(product).fillna(0).sum()
    review = folder / "monthly_review.html"

    rows = _table_rows(review, "Demand and supply by product theme")
    assert {row["Theme"] for row in rows} == set(product)
    for row in rows:
        theme = row["Theme"]
        source = demand.loc[theme] if theme in demand.index else None
        assert row["Share of feedback on product themes"] == f"{source['product_item_share']:.1%}", theme
        assert row["Share of customers asking (product themes)"] == f"{source['product_customer_share']:.1%}", theme
        assert row["Share of product-theme effort"] == f"{product_effort[theme]:.1%}", theme
        gap = 100 * (source["product_item_share"] - product_effort[theme])
        assert row["Gap, demand − effort (pp)"] == f"{gap:+.1f} pp", theme

    # the sentences: the review's summary (also the index's review card) and the feedback card
    index = (folder / "index.html").read_text(encoding="utf-8")
    text = BeautifulSoup(review.read_text(encoding="utf-8"), "html.parser").get_text(" ") + " " + \
        BeautifulSoup(index, "html.parser").get_text(" ")
    said = re.findall(r"([A-Z][\w &]+?) is the most under-served theme: (\d+)% of feedback on product themes but "
                      r"(\d+)% of product-theme effort", text)
    assert said, "the under-served sentence"
    for theme, asked, given in said:
        assert int(asked) == round(100 * demand.loc[theme, "product_item_share"]), theme
        assert int(given) == round(100 * product_effort[theme]), theme
    leads = re.findall(r"([A-Z][\w &]+?) leads the feedback on product themes in \S+ \((\d+)%\)", text)
    assert leads, "the feedback card's sentence"
    for theme, share in leads:
        assert int(share) == round(100 * demand.loc[theme, "product_item_share"])
        assert theme == demand.drop(index="unmapped", errors="ignore")["items"].idxmax()

    # the allocation card: the plan's share (of classified effort) as targets.csv has it
    targets = pd.read_csv(results / "resource_allocation" / "targets.csv").set_index("theme")
    plans = re.findall(r"([A-Z][\w &]+?) is ([\d.]+) pp (over|under) plan in \S+: ([\d.]+)% of classified effort "
                       r"against a (\d+)% target", text)
    assert plans, "the allocation card's sentence"
    for theme, gap, _, actual, target in plans:
        assert float(actual) == round(100 * targets.loc[theme, "actual_share"], 1)
        assert int(target) == round(100 * targets.loc[theme, "target_share"])
        assert float(gap) == round(abs(targets.loc[theme, "deviation_pp"]), 1)

    # experiments: each A/B row is its own results' primary lift; fake doors apart, with their own click-through
    for row in _table_rows(review, "A/B tests"):
        name = row["Name"].lower().replace(" ", "_")
        summary = json.loads((results / f"ab_{name}" / "summary.json").read_text(encoding="utf-8"))
        own = pd.read_csv(results / f"ab_{name}" / "results.csv")
        own = own[(own["metric"] == summary["primary_metric"]) & (own["variant"] == summary["variant"])].iloc[0]
        assert row["Change vs control"] == f"{own['rel_effect']:+.1%}", name
        assert row["Change, low end (95%)"] == f"{own['rel_ci_low']:+.1%}", name
    doors = _table_rows(review, "Fake doors")
    assert [row["Name"] for row in doors] == ["Fake door ai summary"]
    own = pd.read_csv(results / "fake_door_ai_summary" / "results.csv").iloc[0]
    assert doors[0]["Click-through"] == f"{own['click_through']:.2%}"
    assert doors[0]["Target click-through"] == f"{own['target_rate']:.2%}"
    assert not any("Fake door" in row["Name"] for row in _table_rows(review, "A/B tests"))
