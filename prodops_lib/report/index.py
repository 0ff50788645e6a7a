"""``index.html``: the page a PM opens first — one card per report, failures named.

Self-contained (inline CSS, no scripts) and escaped throughout: headlines and error messages
can carry text from data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from prodops_lib.display import safe_text
from prodops_lib.labels import count_of

if TYPE_CHECKING:
    from prodops_lib.report.bundle import Bundle
    from prodops_lib.report.run import ReportOutcome, RunResult

_STATUS = {
    "ok": ("Ready", "#1b7f4b", "#e8f5ee"),
    "failed": ("Failed", "#b03a2e", "#fdecea"),
    "timeout": ("Timed out", "#b03a2e", "#fdecea"),
}
_TONE_COLOURS = {"good": "#1b7f4b", "bad": "#b03a2e", "warning": "#8a6100", "neutral": "#34495e"}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;
background:#f6f7f9;color:#1f2933}
header{background:#1f2933;color:#fff;padding:24px 32px}
header h1{margin:0 0 4px;font-size:24px} header p{margin:0;color:#cbd2d9}
main{max-width:1100px;margin:0 auto;padding:24px 32px}
.period-headline{background:#fff;border-left:6px solid #0072B2;padding:14px 18px;margin-bottom:20px;
font-size:17px;border-radius:4px}
.summary{margin:0 0 18px;color:#52606d}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:16px}
.card{background:#fff;border-radius:6px;padding:16px 18px;box-shadow:0 1px 3px rgba(0,0,0,.08);
display:flex;flex-direction:column;gap:8px}
.card h2{font-size:17px;margin:0} .card .name{color:#7b8794;font-size:12px}
.badge{display:inline-block;font-size:12px;font-weight:600;padding:2px 8px;border-radius:10px}
.headline{font-size:14px;line-height:1.45}
.error{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;
background:#fdecea;padding:8px;border-radius:4px;overflow-wrap:anywhere}
.links a{margin-right:12px;font-size:13px;color:#0072B2}
.results{font-size:12px;color:#52606d} .results a{color:#52606d}
footer{color:#7b8794;font-size:12px;padding:16px 32px;text-align:center}
@media print{.card{break-inside:avoid}}
"""


def write_index(bundle: Bundle, result: RunResult, folder: Path) -> Path:
    """Write ``index.html`` into ``folder`` (the staging copy of the period's folder)."""
    failed = [o for o in result.outcomes if not o.ok]
    summary = (
        f"{count_of(len(result.outcomes), 'report')}; all ran successfully."
        if not failed
        else f"{count_of(len(result.outcomes), 'report')}; {len(failed)} failed: "
        + ", ".join(o.entry.name for o in failed) + "."
    )
    period_headline = _period_headline(bundle, result)
    cards = "\n".join(_card(outcome, folder) for outcome in result.outcomes)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{safe_text(bundle.title)} — {safe_text(result.period)}</title>
<style>{_CSS}</style></head>
<body>
<header><h1>{safe_text(bundle.title)}</h1><p>Period {safe_text(result.period)} · generated {generated}</p></header>
<main>
{period_headline}
<p class="summary">{safe_text(summary)} Parameters, input hashes and package versions: <a href="manifest.json">manifest.json</a>.</p>
<div class="cards">
{cards}
</div>
</main>
<footer>prodops kit · reports are self-contained HTML and work offline</footer>
</body></html>
"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _period_headline(bundle: Bundle, result: RunResult) -> str:
    lead = next((o for o in result.outcomes if o.entry.headline), None)
    if lead is None:
        return ""
    if lead.headline and lead.ok:
        return f'<div class="period-headline">{safe_text(lead.headline.get("headline", ""))}</div>'
    return (f'<div class="period-headline" style="border-color:#b03a2e">The period headline comes from '
            f'{safe_text(lead.entry.display_title)}, which did not complete.</div>')


def _card(outcome: ReportOutcome, folder: Path) -> str:
    entry = outcome.entry
    label, colour, background = _STATUS[outcome.status]
    parts = [
        f'<div class="card" id="report-{safe_text(entry.name)}" data-status="{safe_text(outcome.status)}">',
        f"<h2>{safe_text(entry.display_title)}</h2>",
        f'<div><span class="badge" style="color:{colour};background:{background}">{label}</span> '
        f'<span class="name">{safe_text(entry.name)} · {outcome.duration_seconds:.0f} s</span></div>',
    ]
    if outcome.carried_over is not None:
        parts.append('<div class="name">Kept from the previous run of this period (not re-run this time).</div>')
    if outcome.headline and outcome.headline.get("headline"):
        tone = _TONE_COLOURS.get(str(outcome.headline.get("tone")), _TONE_COLOURS["neutral"])
        parts.append(f'<div class="headline" style="border-left:3px solid {tone};padding-left:8px">'
                     f'{safe_text(outcome.headline["headline"])}</div>')
    if not outcome.ok:
        where = f"cell [{outcome.failed_cell}]" if outcome.failed_cell is not None else "the run"
        source = f"\n{outcome.failed_source}" if outcome.failed_source else ""
        parts.append(f'<div class="error">Failed in {safe_text(where)}: {safe_text(outcome.error)}{safe_text(source)}</div>')
    links = []
    if outcome.html_exported:
        links.append(f'<a href="{safe_text(entry.name)}.html">Open report</a>')
    if (folder / f"{entry.name}.ipynb").is_file():
        # a download: a browser shows an .ipynb as raw JSON; analysts open it in JupyterLab
        links.append(f'<a href="{safe_text(entry.name)}.ipynb" download>Download notebook (.ipynb)</a>')
    parts.append(f'<div class="links">{"".join(links)}</div>')
    results = sorted((folder / "results" / entry.name).glob("*"))
    if results:
        files = ", ".join(
            f'<a href="results/{safe_text(entry.name)}/{safe_text(file.name)}">{safe_text(file.name)}</a>'
            for file in results if file.is_file()
        )
        parts.append(f'<div class="results">Results: {files}</div>')
    parts.append("</div>")
    return "\n".join(parts)
