"""HTML export: code hidden, self-contained, titled, with a working table of contents.

The fixture notebooks in tests/fixtures/export are executed with papermill (as
``prodops report`` does) and exported; the HTML is then parsed with the
standard library's HTMLParser, independently of the BeautifulSoup pass inside
the exporter.
"""

from __future__ import annotations

import base64
import contextlib
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from prodops_lib.report.export import (
    CONTENT_SECURITY_POLICY,
    NotSelfContainedError,
    export_html,
    strip_ansi,
)

FIXTURES = Path(__file__).parent / "fixtures" / "export"
HOSTILE_SCRIPT = "<script>window.__prodops_injected=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__prodops_injected=1">'
REPORT_TITLE = "Signups & <Feedback> — October"
FAILING_MESSAGE = (
    "ValueError: column 'effort_hours' is missing "
    "<script>window.__prodops_injected=1</script>: add it to the input CSV"
)
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def execute_and_export(fixture_name: str, out_dir: Path, title: str) -> Path:
    """Run tests/fixtures/export/<fixture_name>.ipynb with papermill and export it to HTML."""
    executed = out_dir / f"{fixture_name}.ipynb"
    # The failing fixture raises on purpose; papermill still writes the executed notebook.
    with contextlib.suppress(papermill.PapermillExecutionError):
        papermill.execute_notebook(
            FIXTURES / f"{fixture_name}.ipynb",
            executed,
            kernel_name="python3",
            progress_bar=False,
            cwd=str(FIXTURES),
        )
    return export_html(executed, out_dir / f"{fixture_name}.html", title=title, resource_dir=FIXTURES)


class ParsedPage(HTMLParser):
    """Flat list of elements with attributes, their text, and their ancestors."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.parents: list[tuple[int, ...]] = []
        self._open: list[int] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self.texts.append("")
        self.parents.append(tuple(self._open))
        if tag not in VOID_TAGS:
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag: str) -> None:
        for position in range(len(self._open) - 1, -1, -1):
            if self.elements[self._open[position]][0] == tag:
                del self._open[position:]
                return

    def handle_data(self, data: str) -> None:
        for index in self._open:
            self.texts[index] += data

    def indices(self, tag: str, **attrs: str) -> list[int]:
        return [
            index
            for index, (name, element_attrs) in enumerate(self.elements)
            if name == tag and all(element_attrs.get(key) == value for key, value in attrs.items())
        ]

    def text(self, index: int) -> str:
        return " ".join(self.texts[index].split())

    def with_class(self, css_class: str) -> list[int]:
        return [
            index
            for index, (_, attrs) in enumerate(self.elements)
            if css_class in (attrs.get("class") or "").split()
        ]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out_dir = tmp_path_factory.mktemp("export")
    return {
        "report": execute_and_export("report", out_dir, REPORT_TITLE).read_text(encoding="utf-8"),
        "failing": execute_and_export("failing", out_dir, "Failing").read_text(encoding="utf-8"),
    }


@pytest.mark.slow
def test_report_shows_no_code(exported: dict[str, str]) -> None:
    page = ParsedPage(exported["report"])
    body_text = page.text(page.indices("body")[0])
    fixture = nbformat.read(FIXTURES / "report.ipynb", as_version=4)
    source_lines = [
        line.strip()
        for cell in fixture.cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line.strip()) > 12
    ]
    assert len(source_lines) >= 10
    assert [line for line in source_lines if line in body_text] == []
    for css_class in ("jp-InputArea-editor", "jp-InputPrompt", "jp-OutputPrompt", "highlight"):
        assert page.with_class(css_class) == []
    for index in page.with_class("jp-CodeCell"):
        assert "jp-mod-noInput" in (page.elements[index][1]["class"] or "").split()
    # Only the four code cells with something to show remain: chart, table, print, HTML.
    assert len(page.with_class("jp-CodeCell")) == 4


@pytest.mark.slow
@pytest.mark.parametrize("name", ["report", "failing"])
def test_report_loads_nothing_from_outside_the_file(exported: dict[str, str], name: str) -> None:
    page = ParsedPage(exported[name])
    tags = [tag for tag, _ in page.elements]
    assert "script" not in tags
    assert "link" not in tags
    assert "iframe" not in tags
    sources = [attrs["src"] for _, attrs in page.elements if "src" in attrs]
    assert all((source or "").startswith("data:") for source in sources)
    remote_prefixes = ("http:", "https:", "//")
    remote_attributes = [
        (tag, value)
        for tag, attrs in page.elements
        if tag != "a"  # a link is followed only when clicked; it loads nothing
        for value in attrs.values()
        if (value or "").strip().lower().startswith(remote_prefixes)
    ]
    assert remote_attributes == []
    (csp,) = page.indices("meta", **{"http-equiv": "Content-Security-Policy"})
    assert page.elements[csp][1]["content"] == CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY


@pytest.mark.slow
def test_page_title_is_the_given_title_escaped(exported: dict[str, str]) -> None:
    page = ParsedPage(exported["report"])
    (title_index,) = page.indices("title")
    assert page.text(title_index) == REPORT_TITLE
    assert "<title>Signups &amp; &lt;Feedback&gt; — October</title>" in exported["report"]


@pytest.mark.slow
def test_table_of_contents_links_to_every_heading_after_the_title(exported: dict[str, str]) -> None:
    page = ParsedPage(exported["report"])
    (nav,) = page.indices("nav", id="prodops-toc")
    links = [index for index in page.indices("a") if nav in page.parents[index]]
    assert [page.text(index) for index in links] == [
        "Weekly signups",
        "Feedback with hostile text",
        "Raw comments table",
        "Heading from an HTML output",
        "Appendix",
    ]
    ids = [attrs["id"] for _, attrs in page.elements if "id" in attrs]
    assert len(ids) == len(set(ids))
    headings = {attrs.get("id"): index for index, (tag, attrs) in enumerate(page.elements) if tag in {"h1", "h2", "h3"}}
    for index in links:
        target = page.elements[index][1]["href"]
        assert target is not None and target.startswith("#")
        assert target[1:] in headings, f"TOC link {target} has no heading"
        assert headings[target[1:]] > nav  # listed headings follow the nav
    # The notebook's own title (first markdown cell) sits above the nav.
    (title_heading,) = page.indices("h1")
    assert page.text(title_heading).startswith("Export fixture report") and title_heading < nav


@pytest.mark.slow
def test_images_are_inline_data_uris(exported: dict[str, str]) -> None:
    page = ParsedPage(exported["report"])
    sources = [page.elements[index][1]["src"] or "" for index in page.indices("img")]
    assert len(sources) == 2  # the markdown badge and the matplotlib chart
    prefix = "data:image/png;base64,"
    assert all(source.startswith(prefix) for source in sources)
    decoded = [base64.b64decode(source[len(prefix):]) for source in sources]
    assert all(data.startswith(b"\x89PNG\r\n\x1a\n") for data in decoded)
    assert decoded[0] == (FIXTURES / "badge.png").read_bytes()


@pytest.mark.slow
def test_stderr_is_hidden(exported: dict[str, str]) -> None:
    html = exported["report"]
    assert "fixture warning that readers must not see" not in html
    assert "fixture stderr line that readers must not see" not in html
    assert "UserWarning" not in html
    assert "application/vnd.jupyter.stderr" not in html


@pytest.mark.slow
def test_hostile_text_is_escaped_and_shown_literally(exported: dict[str, str]) -> None:
    html = exported["report"]
    assert "<script>window.__prodops_injected" not in html
    assert "<img src=x" not in html
    assert html.count("&lt;script&gt;window.__prodops_injected=1&lt;/script&gt;") == 2  # table + print
    page = ParsedPage(html)
    assert [attrs for _, attrs in page.elements if any(key.startswith("on") for key in attrs)] == []
    body_text = page.texts[page.indices("body")[0]]
    assert HOSTILE_SCRIPT in body_text
    assert HOSTILE_IMG in body_text
    assert f"printed {HOSTILE_SCRIPT}" in body_text


@pytest.mark.slow
def test_error_is_one_plain_line_with_a_banner(exported: dict[str, str]) -> None:
    html = exported["failing"]
    page = ParsedPage(html)
    (error,) = page.with_class("prodops-error")
    assert page.texts[error].strip() == FAILING_MESSAGE
    assert page.elements[error][1]["id"] == "first-error"
    (banner,) = page.with_class("prodops-failure")
    assert FAILING_MESSAGE in page.text(banner)
    assert page.indices("a", href="#first-error") != []
    for noise in ("Traceback", "\x1b", "[0;31m", "Cell In[", "papermill", "not executed"):
        assert noise not in html
    assert "<script>window.__prodops_injected" not in html
    assert "loaded 3 rows" in html


def test_strip_ansi_removes_colour_and_hyperlink_codes() -> None:
    coloured = "\x1b[0;31mValueError\x1b[0m: bad \x1b[1;32mvalue\x1b[0m"
    hyperlink = "\x1b]8;;file:///tmp/x.py\x1b\\x.py\x1b]8;;\x1b\\ line 3"
    assert strip_ansi(coloured) == "ValueError: bad value"
    assert strip_ansi(hyperlink) == "x.py line 3"


def _write_notebook(path: Path, cells: list) -> Path:
    nbformat.write(new_notebook(cells=cells, metadata={"language_info": {"name": "python"}}), path)
    return path


def _html_output(html: str, **extra: str):
    return new_code_cell(
        "display()", outputs=[new_output("display_data", data={"text/html": html, **extra})]
    )


@pytest.mark.parametrize(
    ("cell", "reported"),
    [
        (new_markdown_cell("# T\n\n![chart](https://example.com/chart.png)"), "https://example.com/chart.png"),
        (new_markdown_cell("# T\n\n![chart](missing.png)"), "missing.png"),
        (_html_output('<script src="https://cdn.example.com/require.js"></script>'), "cdn.example.com"),
        (_html_output('<link rel="stylesheet" href="//fonts.example.com/a.css">'), "fonts.example.com"),
        (_html_output('<div style="background: url(https://example.com/bg.png)">x</div>'), "style="),
        (_html_output("<style>@import url('https://example.com/a.css');</style>"), "@import"),
    ],
)
def test_remote_resources_are_refused_and_nothing_is_written(
    tmp_path: Path, cell: nbformat.NotebookNode, reported: str
) -> None:
    notebook = _write_notebook(tmp_path / "remote.ipynb", [cell])
    html_path = tmp_path / "remote.html"
    with pytest.raises(NotSelfContainedError, match="outside the file") as raised:
        export_html(notebook, html_path, title="Remote")
    assert reported in str(raised.value)
    assert "\n" not in str(raised.value)
    assert not html_path.exists()


def test_javascript_and_widget_outputs_fall_back_to_text(tmp_path: Path) -> None:
    outputs = [
        new_output("display_data", data={"application/javascript": "window.x = 1", "text/plain": "JS fallback"}),
        new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2},
                "text/plain": "Widget fallback",
            },
        ),
    ]
    notebook = _write_notebook(tmp_path / "js.ipynb", [new_code_cell("x", outputs=outputs)])
    html = export_html(notebook, tmp_path / "js.html", title="JS").read_text(encoding="utf-8")
    assert "JS fallback" in html and "Widget fallback" in html
    assert "<script" not in html and "window.x" not in html


def test_duplicate_and_html_headings_get_unique_ids_and_a_title_is_added(tmp_path: Path) -> None:
    cells = [
        new_markdown_cell("## Method\n\nfirst"),
        _html_output("<h3>Method</h3>"),
        new_markdown_cell("## Method\n\nsecond"),
    ]
    notebook = _write_notebook(tmp_path / "dupes.ipynb", cells)
    page = ParsedPage(export_html(notebook, tmp_path / "dupes.html", title="No h1 here").read_text(encoding="utf-8"))
    (title_heading,) = page.indices("h1")
    assert page.text(title_heading) == "No h1 here"
    (nav,) = page.indices("nav", id="prodops-toc")
    targets = [page.elements[index][1]["href"] for index in page.indices("a") if nav in page.parents[index]]
    assert targets == ["#Method", "#method", "#method-2"]
    heading_ids = [attrs.get("id") for tag, attrs in page.elements if tag in {"h2", "h3"}]
    assert heading_ids == ["Method", "method", "method-2"]


def test_no_headings_means_no_empty_nav(tmp_path: Path) -> None:
    notebook = _write_notebook(tmp_path / "plain.ipynb", [new_markdown_cell("Just a paragraph.")])
    html = export_html(notebook, tmp_path / "plain.html", title="Plain").read_text(encoding="utf-8")
    assert 'id="prodops-toc"' not in html
    assert "<h1" in html and "Plain</h1>" in html


def test_bad_arguments_name_the_argument(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"executed_notebook .* does not exist"):
        export_html(tmp_path / "absent.ipynb", tmp_path / "x.html", title="X")
    notebook = _write_notebook(tmp_path / "ok.ipynb", [new_markdown_cell("# T")])
    with pytest.raises(ValueError, match="title must be a non-empty string"):
        export_html(notebook, tmp_path / "x.html", title="  ")
