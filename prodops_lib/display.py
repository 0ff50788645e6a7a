"""Safe rendering for reports: escaped HTML, KPI cards, one chart theme, saved results.

Any text that comes from data (feedback quotes, work-item titles, theme names, headlines) is
customer or employee text: it is escaped here and nowhere else, so it can never reach a
report as markup. ``IPython.display.Markdown`` and ``DataFrame.style`` pass ``<script>``
through, so notebooks show data only through these helpers or plain DataFrame display.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from prodops_lib.io import CHECK_WARNINGS, DropLog, write_csv
from prodops_lib.labels import column_label, count_of
from prodops_lib.params import resolve_path
from prodops_lib.privacy import redact, redact_all

__all__ = [
    "PALETTE",
    "Html",
    "Kpi",
    "appendix",
    "bullets",
    "callout",
    "figure",
    "format_value",
    "heading",
    "kpi_cards",
    "paragraph",
    "quotes",
    "safe_text",
    "save_headline",
    "save_result",
    "table",
    "to_jsonable",
    "use_theme",
]

Tone = Literal["neutral", "good", "bad", "warning"]

# Colour-blind-safe categorical palette (Okabe & Ito 2008), used by every chart.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
_TONES = {
    "neutral": ("#f4f6f8", "#34495e"),
    "good": ("#e8f5ee", "#1b7f4b"),
    "bad": ("#fdecea", "#b03a2e"),
    "warning": ("#fff6e0", "#8a6100"),
}


class Html(str):
    """HTML text that notebooks display as HTML (its content is already escaped)."""

    def _repr_html_(self) -> str:
        return str(self)


def safe_text(text: object) -> str:
    """Text from data made safe for HTML (text or attribute context): personal data redacted
    (:func:`prodops_lib.privacy.redact`), then escaped; ``None``/NA become an empty string."""
    if text is None or text is pd.NA or (isinstance(text, float) and math.isnan(text)):
        return ""
    return html.escape(redact(str(text)), quote=True)


def use_theme() -> None:
    """The one chart theme: seaborn whitegrid, the palette above, PNG output at a readable size."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    mpl.rcParams.update({
        "figure.figsize": (8.0, 4.2),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "savefig.bbox": "tight",
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "svg.fonttype": "none",
    })
    try:  # inside a kernel: inline PNG, so exported reports embed images as data URIs
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # pragma: no cover - matplotlib-inline ships with ipykernel
        pass
    _register_chart_formatter()


PRINT_SCALE = 2  # charts are drawn at twice their screen resolution, so they stay sharp in print


def chart_alt(chart: Any) -> str:
    """Alt text for a chart: its title (the figure's, else its axes' titles), never "Figure"."""
    titles = [chart._suptitle.get_text()] if getattr(chart, "_suptitle", None) is not None else []
    titles += [axis.get_title() for axis in chart.get_axes()]
    text = " · ".join(dict.fromkeys(t.strip() for t in titles if t and t.strip()))
    return text or "chart"


def chart_png(chart: Any) -> tuple[bytes, int, int]:
    """A figure as PNG at :data:`PRINT_SCALE` times its screen size, with its screen width and
    height in pixels (what the page shows it at)."""
    import io as bytes_io

    buffer = bytes_io.BytesIO()
    dpi = float(chart.get_dpi()) * PRINT_SCALE
    chart.savefig(buffer, format="png", bbox_inches="tight", dpi=dpi)
    data = buffer.getvalue()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")  # the PNG header
    return data, round(width / PRINT_SCALE), round(height / PRINT_SCALE)


def _register_chart_formatter() -> None:
    """In a kernel, a figure a cell returns is shown sharp (2x) with its title as alt text."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib.figure import Figure

    def png(chart: Figure):
        data, width, height = chart_png(chart)
        return data, {"width": width, "height": height, "alt": chart_alt(chart)}

    shell.display_formatter.formatters["image/png"].for_type(Figure, png)


# --------------------------------------------------------------------------- formatting


def format_value(value: object, spec: str | Callable[[object], str] | None = None) -> str:
    """Readable text for a table cell: thousands separators, three significant digits for small
    numbers, ISO dates; ``spec`` is a format string (``"{:.1%}"``) or a function."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if callable(spec):
        return spec(value)
    if spec and not isinstance(value, str):  # a number format does not apply to text
        text = spec.format(value)
        # a value that rounds to zero reads as zero, neither "-0.0" nor "+0.0"
        rounds_to_zero = not any(digit in text for digit in "123456789") and "inf" not in text
        return text[1:] if text[:1] in "+-" and rounds_to_zero else text
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.strftime("%Y-%m-%d") if value == value.replace(hour=0, minute=0, second=0, microsecond=0) else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return f"{int(value):,}"
    if isinstance(value, float) or (hasattr(value, "dtype") and value.dtype.kind == "f"):
        number = float(value)
        if math.isinf(number):
            return "∞" if number > 0 else "−∞"
        if number == int(number) and abs(number) < 1e15:
            return f"{int(number):,}"
        if abs(number) >= 100:
            return f"{number:,.0f}"
        if abs(number) >= 1:
            return f"{number:,.2f}"
        return f"{number:.3g}"
    return str(value)


def table(
    frame: pd.DataFrame,
    *,
    formats: Mapping[str, str | Callable[[object], str]] | None = None,
    max_rows: int = 50,
    caption: str | None = None,
    index: bool = False,
    muted: bool = False,
    level: float = 0.95,
) -> Html:
    """An escaped HTML table; at most ``max_rows`` rows, with a note of how many were left out.
    Headers are the PM labels of :mod:`prodops_lib.labels` (``formats`` use the column names).
    ``muted`` greys the cells: figures shown for the record but not to be acted on; ``level``
    is the confidence level the interval columns are labelled with."""
    formats = dict(formats or {})
    td = _TD + ("color:#8a8f98;" if muted else "")
    shown = frame.reset_index() if index else frame
    head = "".join(f'<th style="{_TH}">{safe_text(column_label(column, level))}</th>' for column in shown.columns)
    body = []
    for row in shown.head(max_rows).itertuples(index=False):
        cells = []
        for column, value in zip(shown.columns, row, strict=True):
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            align = "right" if numeric else "left"
            text = format_value(value, formats.get(column))
            # printed, a cell keeps its words whole; only a long token (a path, a hash) may break anywhere
            long = ' class="prodops-long"' if any(len(token) > _LONG_TOKEN for token in text.split()) else ""
            cells.append(f'<td{long} style="{td}text-align:{align}">{safe_text(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if len(shown) > max_rows:
        note = f'<p style="color:#666;font-size:90%">Showing {max_rows:,} of {len(shown):,} rows; the full table is in results/.</p>'
    cap = f'<caption style="text-align:left;font-weight:600;padding:4px 0">{safe_text(caption)}</caption>' if caption else ""
    return Html(  # wide tables scroll inside their own box instead of overflowing the page
        f'<div class="prodops-table-wrap" style="overflow-x:auto;max-width:100%">'
        f'<table class="prodops-table" style="border-collapse:collapse;font-size:13px;margin:6px 0">{cap}'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{note}"
    )


_LONG_TOKEN = 15
# 6 px between columns: ten columns of figures fit an 800 px window
_TH = "border-bottom:2px solid #ccd;padding:4px 6px;text-align:left;background:#f4f6f8;"
_TD = "border-bottom:1px solid #eee;padding:4px 6px;"


@dataclass(frozen=True)
class Kpi:
    """One headline figure: a label, its value as text, an optional detail line and a tone."""

    label: str
    value: str
    detail: str | None = None
    tone: Tone = "neutral"


def kpi_cards(cards: Sequence[Kpi]) -> Html:
    """A row of KPI cards (escaped)."""
    items = []
    for card in cards:
        background, colour = _TONES[card.tone]
        detail = f'<div style="font-size:12px;color:#555;margin-top:2px">{safe_text(card.detail)}</div>' if card.detail else ""
        items.append(
            f'<div class="prodops-kpi" style="background:{background};border-left:4px solid {colour};'
            f'padding:10px 14px;min-width:150px;flex:1;border-radius:4px">'
            f'<div style="font-size:12px;color:#555;text-transform:uppercase;letter-spacing:.04em">{safe_text(card.label)}</div>'
            f'<div style="font-size:22px;font-weight:700;color:{colour}">{safe_text(card.value)}</div>{detail}</div>'
        )
    return Html(f'<div class="prodops-kpis" style="display:flex;gap:10px;flex-wrap:wrap;margin:8px 0">{"".join(items)}</div>')


def callout(text: str, tone: Tone = "warning", title: str | None = None) -> Html:
    """A highlighted box for a warning or the decision (escaped)."""
    background, colour = _TONES[tone]
    strong = f"<strong>{safe_text(title)}</strong> " if title else ""
    return Html(
        f'<div class="prodops-callout prodops-{tone}" style="background:{background};border-left:4px solid {colour};'
        f'padding:10px 14px;margin:8px 0;border-radius:4px">{strong}{safe_text(text)}</div>'
    )


def paragraph(text: str) -> Html:
    """A paragraph of generated prose (escaped)."""
    return Html(f"<p>{safe_text(text)}</p>")


def bullets(items: Iterable[str], muted: bool = False) -> Html:
    """A bulleted list (escaped); ``muted`` greys it, as :func:`table` does."""
    style = ' style="color:#8a8f98"' if muted else ""
    return Html(f"<ul{style}>" + "".join(f"<li>{safe_text(item)}</li>" for item in items) + "</ul>")


def heading(text: str, level: int = 2) -> Html:
    """A heading whose text comes from data, with an id so the report's contents can link it."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "section"
    return Html(f'<h{level} id="{safe_text(slug)}">{safe_text(text)}</h{level}>')


def quotes(items: Iterable[tuple[str, str | None]]) -> Html:
    """Customer quotes as block quotes, each with its source line (escaped)."""
    blocks = []
    for text, source in items:
        cite = f'<footer style="color:#666;font-size:12px">— {safe_text(source)}</footer>' if source else ""
        blocks.append(
            '<blockquote style="border-left:3px solid #ccd;margin:6px 0;padding:4px 12px;color:#333">'
            f"<div style=\"white-space:pre-wrap\">{safe_text(text)}</div>{cite}</blockquote>"
        )
    return Html("".join(blocks))


def figure(chart: Any, alt: str | None = None) -> Html:
    """A matplotlib Figure as an inline PNG (a data URI, so the report stays self-contained),
    sharp in print, with ``alt`` (default: the chart's title) for blocks that mix text and
    charts; a cell that only shows a chart just returns it."""
    import base64

    data, width, height = chart_png(chart)
    encoded = base64.b64encode(data).decode("ascii")
    return Html(f'<img src="data:image/png;base64,{encoded}" alt="{safe_text(alt or chart_alt(chart))}" '
                f'width="{width}" height="{height}" style="max-width:100%;height:auto">')


# --------------------------------------------------------------------------- saving


def to_jsonable(value: Any) -> Any:
    """Plain JSON values from dataclasses, numpy scalars, timestamps, paths and NaN (→ null)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        items = sorted(value, key=str) if isinstance(value, set) else value
        return [to_jsonable(v) for v in items]
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict("records")]
    if isinstance(value, pd.Series | pd.Index) or type(value).__name__ == "ndarray":
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.Timedelta | dt.timedelta):
        return pd.Timedelta(value).isoformat()
    if type(value).__name__ == "datetime64":
        return pd.Timestamp(value).isoformat()
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_result(data: pd.DataFrame | Mapping[str, Any] | Any, name: str, results_dir: str | Path) -> None:
    """Save a table behind a chart (``name.csv``; a meaningful index is kept as columns) or a
    summary object (``name.json``) into ``results_dir``, with personal data in text redacted.
    Returns nothing, so a notebook cell that ends with it shows nothing."""
    folder = resolve_path(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"save_result: name {name!r} must be letters, digits, '_', '-' or '.' (it becomes a file name)")
    if isinstance(data, pd.DataFrame):
        default_index = isinstance(data.index, pd.RangeIndex) and data.index.name is None
        write_csv(data if default_index else data.reset_index(), folder / f"{name}.csv")
    else:
        text = json.dumps(redact_all(to_jsonable(data)), indent=2, ensure_ascii=False)
        (folder / f"{name}.json").write_text(text + "\n", encoding="utf-8")


def save_headline(text: str, results_dir: str | Path, *, status: Tone = "neutral") -> None:
    """The short summary the report index shows on this report's card (``headline.json``)."""
    save_result({"headline": str(text), "tone": status}, "headline", results_dir)


def appendix(log: DropLog, parameters: Any, results_dir: str | Path) -> Html:
    """The data-quality and parameters appendix, with the warnings ``prodops check`` found for
    this report when the runner saved any (``check_warnings.json``); also saves ``data_quality.csv``,
    ``inputs.json`` (with every parameter file read) and ``parameters.json`` for the manifest
    and for analysts."""
    log.record_parameter_files()
    log.save(results_dir)
    save_result(parameters, "parameters", results_dir)
    quality = log.to_frame()
    dropped = int(quality["rows_dropped"].sum()) if len(quality) else 0
    data = sum(entry["kind"] == "data" for entry in log.inputs)
    read = f"{count_of(data, 'data input')} and {count_of(len(log.inputs) - data, 'parameter file')} read"
    summary = (f"{read}; {count_of(dropped, 'row')} dropped in total, each with its reason below." if dropped
               else f"{read}; no rows were dropped.")
    inputs = pd.DataFrame(log.inputs, columns=["source", "kind", "path", "sha256", "rows"])
    inputs["sha256"] = inputs["sha256"].map(lambda digest: digest[:16] + "…" if isinstance(digest, str) else "—")
    flat = pd.json_normalize(to_jsonable(parameters), sep=".") if parameters else pd.DataFrame()
    parameter_rows = pd.DataFrame(
        {"parameter": flat.columns, "value": [json.dumps(to_jsonable(v), ensure_ascii=False) if not isinstance(v, str) else v for v in flat.iloc[0]]}
        if len(flat) else {"parameter": [], "value": []}
    )
    checked = resolve_path(results_dir) / CHECK_WARNINGS
    found = json.loads(checked.read_text(encoding="utf-8")) if checked.is_file() else []
    check_note = callout("; ".join(found), tone="warning", title="Input check") if found else ""
    return Html(
        '<h3 id="data-quality">Data quality</h3>' + check_note + paragraph(summary)
        + table(quality, max_rows=200)
        + '<h3 id="inputs">Inputs</h3>' + table(inputs, max_rows=200)
        + '<h3 id="parameters">Parameters</h3>' + table(parameter_rows, max_rows=200)
    )
