"""Open HTML reports in headless Chromium with the network off and record what went wrong.

Test-support module (not a test file): ``check_pages`` is used by the export
browser test and by the end-to-end report test. Reports are opened from
file:// with every request other than the page itself or a data: URL aborted,
which is how a product manager opens them from a shared drive, offline.

Chromium is Debian's ``chromium`` package (``/usr/bin/chromium``), driven by
playwright through ``executable_path`` so no browser download is needed.
``PRODOPS_CHROMIUM`` overrides the path. When Chromium or playwright is
missing the calling test is skipped, unless ``CI`` is set: then it fails, so
CI cannot pass without having looked at the reports.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INJECTION_GLOBAL = "__prodops_injected"
PAGE_TIMEOUT_MS = 30_000
BROKEN_ANCHORS_JS = """
() => Array.from(document.querySelectorAll('a[href^="#"]'))
  .map(link => link.getAttribute('href'))
  .filter(href => href.length > 1
    && !document.getElementById(href.slice(1))
    && !document.getElementById(decodeURIComponent(href.slice(1))))
"""


@dataclass(frozen=True)
class PageCheck:
    """What headless Chromium saw when opening one report offline."""

    html_path: Path
    console_errors: tuple[str, ...]
    page_errors: tuple[str, ...]
    failed_requests: tuple[str, ...]
    blocked_requests: tuple[str, ...]
    image_natural_widths: tuple[int, ...]
    broken_anchor_links: tuple[str, ...]  # in-page `#id` links whose target does not exist
    injected_type: str  # `typeof window.__prodops_injected`; "undefined" when nothing ran
    body_text: str
    screenshot: Path

    @property
    def problems(self) -> list[str]:
        """One line per failed expectation; empty when the page rendered cleanly offline."""
        found = [f"console error: {message}" for message in self.console_errors]
        found += [f"page error: {message}" for message in self.page_errors]
        found += [f"failed request: {request}" for request in self.failed_requests]
        found += [f"blocked request: {request}" for request in self.blocked_requests]
        found += [
            f"image {index} not rendered (naturalWidth 0)"
            for index, width in enumerate(self.image_natural_widths)
            if width <= 0
        ]
        found += [f"in-page link to a missing id: {href}" for href in self.broken_anchor_links]
        if self.injected_type != "undefined":
            found.append(f"injected script ran: typeof window.{INJECTION_GLOBAL} is {self.injected_type}")
        return found


def chromium_executable() -> str:
    """Path to Chromium: ``PRODOPS_CHROMIUM`` or ``chromium`` on PATH; skip (or fail on CI) if absent."""
    candidate = os.environ.get("PRODOPS_CHROMIUM") or shutil.which("chromium")
    if candidate and Path(candidate).is_file():
        return candidate
    _skip_or_fail(
        "Chromium not found (set PRODOPS_CHROMIUM or put `chromium` on PATH): "
        "install Debian's chromium package (apt-get install chromium)"
    )
    raise AssertionError("unreachable")  # pytest.skip/fail raise


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; browser tests must run on CI")
    pytest.skip(reason)


def check_pages(html_paths: list[Path], screenshot_dir: Path) -> list[PageCheck]:
    """Open each report offline in headless Chromium and return one ``PageCheck`` per page.

    Every request that is not the page's own file:// URL or a data: URL is
    aborted and recorded in ``blocked_requests``. A full-page screenshot of
    each report is written to ``screenshot_dir/<position>-<report stem>.png``.
    """
    executable = chromium_executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright is not installed: pip install 'prodops-kit[dev]'")
        raise
    screenshot_dir = Path(screenshot_dir)
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            return [
                _check_page(browser, Path(path), screenshot_dir / f"{position:02d}-{Path(path).stem}.png")
                for position, path in enumerate(html_paths, start=1)
            ]
        finally:
            browser.close()


def _check_page(browser: Browser, html_path: Path, screenshot: Path) -> PageCheck:
    page_url = html_path.resolve().as_uri()
    context = browser.new_context(offline=True, java_script_enabled=True)
    console_errors: list[str] = []
    page_errors: list[str] = []
    failed_requests: list[str] = []
    blocked_requests: list[str] = []

    def route(route: Route) -> None:
        url = route.request.url
        if url == page_url or url.startswith("data:"):
            route.continue_()
        else:
            blocked_requests.append(url)
            route.abort("blockedbyclient")

    try:
        context.route("**/*", route)
        page = context.new_page()
        page.on(
            "console",
            lambda message: console_errors.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        page.on(
            "requestfailed",
            lambda request: None
            if request.url in blocked_requests
            else failed_requests.append(f"{request.url} ({request.failure})"),
        )
        page.goto(page_url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        widths = page.eval_on_selector_all(
            "img", "images => images.map(image => image.complete ? image.naturalWidth : 0)"
        )
        broken_anchors = page.evaluate(BROKEN_ANCHORS_JS)
        injected_type = page.evaluate(f"typeof window.{INJECTION_GLOBAL}")
        body_text = page.inner_text("body")
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    return PageCheck(
        html_path=html_path,
        console_errors=tuple(console_errors),
        page_errors=tuple(page_errors),
        failed_requests=tuple(failed_requests),
        blocked_requests=tuple(blocked_requests),
        image_natural_widths=tuple(int(width) for width in widths),
        broken_anchor_links=tuple(broken_anchors),
        injected_type=str(injected_type),
        body_text=body_text,
        screenshot=screenshot,
    )


# A4 less the template's 15 mm margins on each side, at CSS's 96 px per inch
PRINT_WIDTH_PX = round((210 - 2 * 15) / 25.4 * 96)
OVERFLOWING_HEADERS_JS = """
() => Array.from(document.querySelectorAll('th'))
  .filter(cell => cell.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .map(cell => cell.textContent.trim())
"""
SCROLLING_BOXES_JS = """
() => Array.from(document.querySelectorAll('.prodops-table-wrap, .jp-OutputArea-output'))
  .filter(box => box.scrollWidth > box.clientWidth + 1).length
"""
# table cells whose words of up to 15 characters do not fit the cell's width: printed, they
# break inside the word ("Var/ian/t"); longer tokens (paths, hashes) may wrap anywhere
BROKEN_WORDS_JS = """
() => {
  const canvas = document.createElement('canvas').getContext('2d');
  const broken = [];
  for (const cell of document.querySelectorAll('th, td')) {
    const style = getComputedStyle(cell);
    canvas.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    for (const word of cell.textContent.split(/[\\s-]+/)) {  // a break after a hyphen is fine
      if (word.length && word.length <= 15 && canvas.measureText(word).width > room + 1) {
        broken.push(word);
      }
    }
  }
  return broken;
}
"""
# the appendix's tables (data quality, inputs, parameters) in a narrow window: their paths and
# hashes may break anywhere, so none needs a sideways scroll
SCROLLING_APPENDIX_TABLES_JS = """
() => Array.from(document.querySelectorAll('#data-quality ~ .prodops-table-wrap'))
  .filter(box => box.scrollWidth > box.clientWidth + 1)
  .map(box => box.previousElementSibling ? box.previousElementSibling.textContent.trim() : '?')
"""
NARROW_WINDOW_PX = 800
SUMMARY_TOP_JS = """
() => {
  const heading = Array.from(document.querySelectorAll('h2'))
    .find(h => h.textContent.replace('¶', '').trim() === 'Summary');
  return heading ? heading.getBoundingClientRect().top + window.scrollY : null;
}
"""


@dataclass(frozen=True)
class PageLayout:
    """Where a report's summary sits on a laptop screen, and how it prints."""

    html_path: Path
    summary_top_px: float | None  # on a 1280 x 800 viewport
    scrolling_appendix_tables: tuple[str, ...]  # the headings of appendix tables that scroll in an 800 px window
    overflowing_headers: tuple[str, ...]  # table header cells beyond an A4 page's printable width
    scrolling_boxes: int  # boxes that would print a scrollbar
    broken_words: tuple[str, ...]  # short words a table cell is too narrow to print whole
    pdf: Path


def check_layout(html_paths: list[Path], pdf_dir: Path) -> list[PageLayout]:
    """Open each report as a PM would, on screen and printed to A4 (a PDF is written too)."""
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    pdf_dir = Path(pdf_dir)
    pdf_dir.mkdir(parents=True, exist_ok=True)
    layouts = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            for html_path in html_paths:
                context = browser.new_context(offline=True, viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(Path(html_path).resolve().as_uri(), wait_until="load", timeout=PAGE_TIMEOUT_MS)
                summary_top = page.evaluate(SUMMARY_TOP_JS)
                page.set_viewport_size({"width": NARROW_WINDOW_PX, "height": 800})
                scrolling_appendix = page.evaluate(SCROLLING_APPENDIX_TABLES_JS)
                page.emulate_media(media="print")
                page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
                headers = page.evaluate(OVERFLOWING_HEADERS_JS)
                boxes = page.evaluate(SCROLLING_BOXES_JS)
                broken = page.evaluate(BROKEN_WORDS_JS)
                pdf = pdf_dir / f"{Path(html_path).stem}.pdf"
                page.pdf(path=str(pdf), format="A4")
                context.close()
                layouts.append(PageLayout(Path(html_path), summary_top, tuple(scrolling_appendix), tuple(headers), int(boxes), tuple(broken), pdf))
        finally:
            browser.close()
    return layouts
