"""Export an executed notebook to a code-hidden, self-contained HTML report.

Product managers open these reports from a shared drive, often offline, so the
page must carry everything it shows: no code cells, images inline as data:
URIs, inline CSS only, no script or stylesheet from a CDN. nbconvert's ``lab``
template links require.js, MathJax, Mermaid and the widget manager from CDNs;
the ``prodops`` template (``templates/prodops``) replaces every such block and
adds a Content Security Policy (``CONTENT_SECURITY_POLICY``) so that even an
unescaped ``<script>`` in an output cannot run and nothing outside the file
can load. papermill's report mode does not hide code in nbconvert's HTML, so
inputs are removed here with ``exclude_input``.

What readers see of each cell's outputs:

* stderr streams (warnings, progress bars) are dropped;
* an error is one line, ``ValueError: message``, without ANSI colour codes,
  instead of the full traceback;
* code cells left with no output are dropped, and code-cell metadata
  (papermill's execution timings) is cleared.

After rendering, a table of contents of the h1-h3 headings (markdown headings
and headings inside HTML outputs alike) is written into the page, and the page
is checked: anything that would load a resource from outside the file raises
``NotSelfContainedError`` and nothing is written.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import nbformat
from bs4 import BeautifulSoup, Tag
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ClearMetadataPreprocessor, Preprocessor
from traitlets.config import Config

from prodops_lib.labels import count_of

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "prodops"

CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
"""No scripts at all; images and fonts only from data: URIs; inline CSS allowed."""

# Outputs a browser can show without scripts, best first. JavaScript and
# widget views are left out so their text/plain fallback is shown instead.
DISPLAY_PRIORITY = [
    "text/html",
    "text/markdown",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/plain",
]

_ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CSS_REMOTE = re.compile(r"""@import|url\(\s*(?!['"]?\s*(?:data:|#))""", re.IGNORECASE)
_RESOURCE_ATTRIBUTES = ("src", "srcset", "poster", "data", "background")
_TOC_LEVELS = {"h1": 1, "h2": 2, "h3": 3}
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
FIRST_ERROR_ID = "first-error"


class NotSelfContainedError(ValueError):
    """The report would load something from outside its own file."""


def strip_ansi(text: str) -> str:
    """Remove ANSI colour and cursor escape sequences (as in IPython tracebacks)."""
    return _ANSI_ESCAPE.sub("", text)


class ReportOutputsPreprocessor(Preprocessor):
    """Keep what a report reader needs from each code cell's outputs.

    Drops stderr streams, reduces each error to ``ename: evalue`` without ANSI
    codes, and drops code cells that are left with no output. papermill's
    error banner cells (which point at hidden ``In [n]`` prompts) are replaced
    by ``resources["prodops"]["failure"]``, the first error's one-line message,
    which the template shows at the top of the page.
    """

    def preprocess(self, nb: nbformat.NotebookNode, resources: dict[str, Any]):
        kept_cells = []
        errors: list[str] = []
        for cell in nb.cells:
            if PAPERMILL_ERROR_TAG in cell.metadata.get("tags", []):
                continue
            if cell.cell_type == "code":
                cell.outputs = [
                    _short_error(output) if output.output_type == "error" else output
                    for output in cell.outputs
                    if not (output.output_type == "stream" and output.get("name") == "stderr")
                ]
                errors += [o.traceback[0] for o in cell.outputs if o.output_type == "error"]
                if not cell.outputs:
                    continue
            kept_cells.append(cell)
        nb.cells = kept_cells
        resources.setdefault("prodops", {})["failure"] = errors[0] if errors else ""
        return nb, resources


def _short_error(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    name = strip_ansi(output.get("ename", "Error"))
    message = strip_ansi(output.get("evalue", "")).strip()
    output.traceback = [f"{name}: {message}" if message else name]
    return output


def report_exporter() -> HTMLExporter:
    """An HTMLExporter configured for prodops reports (code hidden, self-contained)."""
    config = Config()
    config.NbConvertBase.display_data_priority = DISPLAY_PRIORITY
    exporter = HTMLExporter(
        config=config,
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        # nbconvert's embed_images breaks inline HTML in markdown (jupyter/nbconvert#2020),
        # so local images are embedded after rendering by embed_local_images().
        embed_images=False,
        sanitize_html=False,  # bleach would strip tables and headings; the CSP blocks scripts
    )
    exporter.register_preprocessor(
        ClearMetadataPreprocessor(preserve_cell_metadata_mask={"tags"}), enabled=True
    )
    exporter.register_preprocessor(ReportOutputsPreprocessor(), enabled=True)
    return exporter


def export_html(
    executed_notebook: Path,
    html_path: Path,
    *,
    title: str,
    resource_dir: Path | None = None,
) -> Path:
    """Write ``executed_notebook`` as a code-hidden, self-contained HTML report.

    ``title`` becomes the page title (and a visible heading when the notebook
    does not open with a markdown h1). Markdown images given as local paths are
    embedded; relative paths resolve against ``resource_dir`` (default: the
    notebook's folder; pass the source notebook's folder when exporting a copy
    executed elsewhere). Returns ``html_path``.

    Raises ``ValueError`` for a missing notebook or blank title, and
    ``NotSelfContainedError`` when the page would load anything from outside
    the file (for example a remote image in markdown); no file is written then.
    """
    executed_notebook = Path(executed_notebook)
    html_path = Path(html_path)
    if not executed_notebook.is_file():
        raise ValueError(
            f"executed_notebook {str(executed_notebook)!r} does not exist: pass the path papermill wrote"
        )
    if not isinstance(title, str) or not title.strip():
        raise ValueError("title must be a non-empty string: pass the report's display name")
    notebook = nbformat.read(executed_notebook, as_version=4)
    resources = {
        "metadata": {
            "name": executed_notebook.stem,
            "path": str(resource_dir if resource_dir is not None else executed_notebook.parent),
        },
        "prodops": {
            "title": title.strip(),
            "content_security_policy": CONTENT_SECURITY_POLICY,
            "first_error_id": FIRST_ERROR_ID,
        },
    }
    rendered, _ = report_exporter().from_notebook_node(notebook, resources=resources)
    page = BeautifulSoup(rendered, features="html.parser")
    embed_local_images(page, resource_dir if resource_dir is not None else executed_notebook.parent)
    add_table_of_contents(page, title=title.strip())
    first_error = page.find("div", class_="prodops-error")
    if isinstance(first_error, Tag):
        first_error["id"] = FIRST_ERROR_ID
    remote = find_remote_resources(page)
    if remote:
        raise NotSelfContainedError(
            f"report {html_path.name!r} would load {count_of(len(remote), 'resource')} from outside the file, "
            f"first {remote[0]}: embed images (markdown attachment or a local file path) and do not "
            "link scripts, stylesheets or fonts"
        )
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(str(page), encoding="utf-8")
    return html_path


def embed_local_images(page: BeautifulSoup, resource_dir: Path) -> None:
    """Replace ``<img src="relative/path.png">`` by a data: URI of that file.

    Only image files inside ``resource_dir`` are embedded (as nbconvert's own
    ``embed_images`` does); anything else is left for ``find_remote_resources``
    to report.
    """
    base = Path(resource_dir).resolve()
    for image in page.find_all("img", src=True):
        source = str(image["src"]).strip()
        parts = urlsplit(source)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        image_file = (base / unquote(parts.path)).resolve()
        mime_type, _ = mimetypes.guess_type(image_file.name)
        if not image_file.is_relative_to(base) or not image_file.is_file():
            continue
        if mime_type is None or not mime_type.startswith("image/"):
            continue
        encoded = base64.b64encode(image_file.read_bytes()).decode("ascii")
        image["src"] = f"data:{mime_type};base64,{encoded}"


def add_table_of_contents(page: BeautifulSoup, *, title: str) -> None:
    """Fill the template's ``nav#prodops-toc`` with links to the h1-h3 headings below it,
    folded in a ``<details>`` so the report's summary is the first thing on screen.

    The nav goes right after the notebook's opening markdown cell that holds
    an h1 (the title and summary; only markdown cells, such as papermill's
    error banner, may precede it); otherwise a visible ``title`` heading is
    added at the top and the nav follows it. Headings without an id
    (e.g. inside HTML outputs) or with an id used earlier get a unique one, so
    every link lands on its heading.
    """
    nav = page.find("nav", id="prodops-toc")
    main = page.find("main")
    if not isinstance(nav, Tag) or not isinstance(main, Tag):
        raise ValueError("rendered page has no <main> or nav#prodops-toc: the prodops template is damaged")
    title_cell = _opening_title_cell(main)
    if title_cell is not None:
        title_cell.insert_after(nav.extract())
    else:
        heading = page.new_tag("h1", attrs={"class": "prodops-title"})
        heading.string = title
        nav.insert_before(heading)

    taken_ids = {str(element["id"]) for element in page.find_all(id=True)}
    linked_ids: set[str] = set()
    entries = []
    for heading in nav.find_all_next(list(_TOC_LEVELS)):
        text = _heading_text(heading)
        if not text:
            continue
        anchor = str(heading.get("id") or "")
        if not anchor or anchor in linked_ids:
            anchor = _unique_id(_slug(text), taken_ids)
            heading["id"] = anchor
            for link in heading.find_all("a", class_="anchor-link"):
                link["href"] = f"#{anchor}"
        taken_ids.add(anchor)
        linked_ids.add(anchor)
        entries.append((_TOC_LEVELS[heading.name], text, anchor))

    if not entries:
        nav.decompose()
        return
    # collapsed: the summary stays above the fold, the contents one click away
    folder = page.new_tag("details")
    label = page.new_tag("summary", attrs={"class": "prodops-toc-title"})
    label.string = f"Contents ({len(entries)} sections)"
    items = page.new_tag("ul")
    top_level = min(level for level, _, _ in entries)
    for level, text, anchor in entries:
        item = page.new_tag("li", attrs={"class": f"toc-depth-{level - top_level}"})
        link = page.new_tag("a", href=f"#{anchor}")
        link.string = text
        item.append(link)
        items.append(item)
    folder.extend([label, items])
    nav.append(folder)


def _opening_title_cell(main: Tag) -> Tag | None:
    for cell in main.find_all("div", class_="jp-Cell", recursive=False):
        if "jp-MarkdownCell" not in cell["class"]:
            return None
        if cell.find("h1"):
            return cell
    return None


def _heading_text(heading: Tag) -> str:
    """Visible text of a heading without nbconvert's ``¶`` anchor link."""
    parts = [
        str(text)
        for text in heading.find_all(string=True)
        if not any(
            parent.name == "a" and "anchor-link" in (parent.get("class") or [])
            for parent in text.parents
        )
    ]
    return " ".join("".join(parts).split())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _unique_id(base: str, taken: set[str]) -> str:
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def find_remote_resources(page: BeautifulSoup) -> list[str]:
    """Describe every resource the page would load from outside itself.

    Only ``data:`` URIs (and ``#fragment`` references inside SVG) are
    self-contained; anything else in a loading attribute (``src``, ``srcset``,
    ``poster``, ``<object data>``, ``<link href>``, SVG ``<image>``/``<use>``
    ``href``) or in CSS (``url(...)``, ``@import``) is reported as
    ``<tag attribute='value'>``. Ordinary ``<a href>`` links are not loads.
    """
    found = []
    for element in page.find_all(True):
        attributes = list(_RESOURCE_ATTRIBUTES)
        if element.name in {"link", "image", "use", "feimage", "script"}:
            attributes += ["href", "xlink:href"]
        for attribute in attributes:
            value = element.get(attribute)
            if isinstance(value, list):
                value = " ".join(value)
            if value is not None and not _is_embedded(value):
                found.append(f"<{element.name} {attribute}={value[:80]!r}>")
        style = element.get("style")
        if style and _CSS_REMOTE.search(str(style)):
            found.append(f"<{element.name} style={str(style)[:80]!r}>")
        if element.name == "style" and _CSS_REMOTE.search(element.get_text()):
            found.append(f"<style> {_CSS_REMOTE.search(element.get_text()).group(0)!r}")
    return found


def _is_embedded(url: str) -> bool:
    stripped = url.strip().lower()
    return stripped.startswith(("data:", "#"))
