"""Exported reports render completely offline in headless Chromium, and hostile text stays text."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from prodops_lib.report.export import export_html

from .browser import PageCheck, check_pages, chromium_executable
from .test_export import HOSTILE_IMG, HOSTILE_SCRIPT, execute_and_export

pytestmark = pytest.mark.browser

BADGE_WIDTH = 48  # tests/fixtures/export/badge.png is 48 x 24 pixels


@pytest.fixture(scope="module")
def fixture_checks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PageCheck]:
    chromium_executable()  # skip (or fail on CI) before spending time executing notebooks
    out_dir = tmp_path_factory.mktemp("browser")
    html_paths = [
        execute_and_export("report", out_dir, "Export fixture"),
        execute_and_export("failing", out_dir, "Failing fixture"),
    ]
    checks = check_pages(html_paths, out_dir / "screenshots")
    return {check.html_path.stem: check for check in checks}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["report", "failing"])
def test_report_renders_offline_without_errors(fixture_checks: dict[str, PageCheck], name: str) -> None:
    check = fixture_checks[name]
    assert check.console_errors == ()
    assert check.page_errors == ()
    assert check.failed_requests == ()
    assert check.blocked_requests == ()
    assert check.injected_type == "undefined"
    assert check.broken_anchor_links == ()
    assert check.problems == []
    assert check.screenshot.is_file()
    assert check.screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.slow
def test_every_image_renders(fixture_checks: dict[str, PageCheck]) -> None:
    widths = fixture_checks["report"].image_natural_widths
    assert len(widths) == 2  # markdown badge, matplotlib chart
    assert widths[0] == BADGE_WIDTH
    assert widths[1] > 0


@pytest.mark.slow
def test_hostile_text_shows_literally(fixture_checks: dict[str, PageCheck]) -> None:
    report_text = fixture_checks["report"].body_text
    assert HOSTILE_SCRIPT in report_text
    assert HOSTILE_IMG in report_text
    assert f"printed {HOSTILE_SCRIPT}" in report_text
    failing_text = fixture_checks["failing"].body_text
    assert "This report did not finish." in failing_text
    assert f"missing {HOSTILE_SCRIPT}: add it to the input CSV" in failing_text


def test_unescaped_script_in_an_output_is_blocked_by_the_page_policy(tmp_path: Path) -> None:
    """Defence in depth: even raw HTML that bypassed escaping cannot run a script."""
    raw = f"<p>raw output</p>{HOSTILE_SCRIPT}<div onclick=\"window.__prodops_injected=2\">x</div>"
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Raw HTML"),
            new_code_cell("x", outputs=[new_output("display_data", data={"text/html": raw})]),
        ]
    )
    nbformat.write(notebook, tmp_path / "raw.ipynb")
    html_path = export_html(tmp_path / "raw.ipynb", tmp_path / "raw.html", title="Raw")
    (check,) = check_pages([html_path], tmp_path)
    assert check.injected_type == "undefined"
    assert any("Content Security Policy" in message for message in check.console_errors)
    assert check.blocked_requests == ()


def test_check_pages_reports_remote_loads_broken_images_and_scripts(tmp_path: Path) -> None:
    """The checker itself must see what it is meant to catch."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>bad</title>"
        '<script src="https://cdn.example.com/require.js"></script></head><body>'
        '<a href="#nowhere">x</a><img src="https://example.com/chart.png">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7">'
        "<script>window.__prodops_injected = 1; undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    (check,) = check_pages([page], tmp_path / "shots")
    assert check.blocked_requests == ("https://cdn.example.com/require.js", "https://example.com/chart.png")
    assert check.image_natural_widths == (0, 1)
    assert check.injected_type == "number"
    assert check.broken_anchor_links == ("#nowhere",)
    assert any("undefinedFunction" in message for message in check.page_errors)
    assert len(check.problems) >= 6
    assert (tmp_path / "shots" / "01-bad.png").is_file()


def test_missing_chromium_skips_locally_and_fails_on_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODOPS_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install Debian's chromium"):
        chromium_executable()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="install Debian's chromium"):
        check_pages([tmp_path / "any.html"], tmp_path)
