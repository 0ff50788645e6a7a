"""Shared pieces of the sample-data generator: the theme taxonomy, hostile text, writers.

The three analyses (experiments, allocation, feedback) meet in the monthly review only
through the product themes, so the taxonomy lives here once.  Hostile and personal text
is planted the same way in every file that carries free text, so a report that shows
any of it can be checked for escaping (``window.__prodops_injected`` must stay undefined)
and for redaction (the counts of rows with e-mails and phone numbers are known).
"""

from __future__ import annotations

import csv
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE_MONTHS: tuple[str, ...] = ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
REPORT_PERIOD = "2026-10"
UNCLASSIFIED = "Unclassified"


@dataclass(frozen=True)
class Theme:
    """One theme of the taxonomy, with the Jira label/component that carry it."""

    name: str
    category: str  # "roadmap", "ktlo" or "tech_debt"
    keywords: tuple[str, ...]
    label: str
    component: str
    project: str


THEMES: tuple[Theme, ...] = (
    Theme("Onboarding", "roadmap",
          ("onboarding", "signup", "setup wizard", "getting started", "invite teammates"),
          "onboarding", "Signup", "APP"),
    Theme("Billing & invoicing", "roadmap",
          ("invoice", "billing", "charged", "payment", "subscription", "refund"),
          "billing", "Payments", "PAY"),
    Theme("Reporting & dashboards", "roadmap",
          ("report", "dashboard", "export", "chart", "analytics", "KPI"),
          "reporting", "Dashboards", "APP"),
    Theme("Integrations", "roadmap",
          ("integration", "Slack", "API", "webhook", "sync", "Salesforce"),
          "integrations", "API", "PLAT"),
    Theme("Performance & reliability", "roadmap",
          ("slow", "outage", "timeout", "latency", "crash", "downtime"),
          "performance", "Infrastructure", "PLAT"),
    Theme("Mobile app", "roadmap",
          ("mobile app", "iOS", "Android", "phone", "push notification", "tablet"),
          "mobile", "iOS", "MOB"),
    Theme("Search", "roadmap",
          ("search", "search results", "find", "filter", "relevance"),
          "search", "Search", "APP"),
    Theme("Permissions & admin", "roadmap",
          ("permissions", "roles", "SSO", "admin", "audit log", "SCIM"),
          "permissions", "Admin console", "APP"),
    Theme("Maintenance (KTLO)", "ktlo",
          ("on-call", "incident", "postmortem", "bug fix", "alerts"),
          "ktlo", "Operations", "PLAT"),
    Theme("Tech debt", "tech_debt",
          ("refactor", "upgrade", "deprecated", "cleanup", "migration"),
          "tech-debt", "Core", "PLAT"),
)
PRODUCT_THEMES: tuple[str, ...] = tuple(t.name for t in THEMES if t.category == "roadmap")
THEME_BY_NAME: dict[str, Theme] = {t.name: t for t in THEMES}
UNDER_SERVED = "Reporting & dashboards"
OVER_SERVED = "Mobile app"
EMERGING = "Integrations"
FADING = "Onboarding"

# The global every hostile snippet tries to set; the browser test asserts it stays undefined.
INJECTED_GLOBAL = "window.__prodops_injected"


@dataclass(frozen=True)
class Snippet:
    """A piece of hostile or personal text and what it contains."""

    text: str
    kinds: frozenset[str]


def _snippet(text: str, *kinds: str) -> Snippet:
    return Snippet(text, frozenset(kinds))


HOSTILE_SNIPPETS: tuple[Snippet, ...] = (
    _snippet("<script>window.__prodops_injected=1</script>", "script", "html"),
    _snippet('<img src=x onerror="window.__prodops_injected=1">', "html"),
    _snippet('"><svg onload=window.__prodops_injected=1>', "html"),
    _snippet("see [the details](javascript:window.__prodops_injected=1)", "javascript_link"),
    _snippet('<a href="javascript:window.__prodops_injected=1">click here</a>',
             "javascript_link", "html"),
    _snippet("**bold** <b>x</b> _really_ `code` # not a heading", "markup", "html"),
    _snippet("contact jane.doe@example.com for access", "email"),
    _snippet("call me on +1 415-555-0134", "phone"),
    _snippet("our office line is (020) 7946 0958", "phone"),
    _snippet("card 4111 1111 1111 1111 was charged", "card"),
    _snippet("reset link https://app.example.com/reset?token=abc123def456ghi789jkl0", "token_url"),
    _snippet("ping @jdoe_ops or @maria.k", "handle"),
    _snippet("caf\u00e9 vs cafe\u0301\u00a0\u00a0zero\u200bwidth \U0001f525\U0001f621 "
             "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627", "unicode"),
    _snippet("email jane.doe@example.com or text +1 415-555-0134", "email", "phone"),
)


def inject_hostile(texts: list[str], rng: np.random.Generator,
                   eligible: Sequence[int] | None = None) -> tuple[list[str], dict[str, int]]:
    """Append a hostile/personal snippet to about 1% of ``texts`` (at least one of each kind).

    Returns the new texts and, per kind, how many rows carry it (``rows_with_<kind>``),
    plus ``rows_with_hostile_text`` for all of them.
    """
    candidates = np.arange(len(texts)) if eligible is None else np.asarray(eligible)
    n_rows = max(len(HOSTILE_SNIPPETS), round(0.01 * len(texts)))
    chosen = np.sort(rng.choice(candidates, size=n_rows, replace=False))
    order = rng.permutation(n_rows)
    out = list(texts)
    kinds_count: dict[str, int] = {}
    for slot, row in zip(order, chosen, strict=True):
        snippet = HOSTILE_SNIPPETS[slot % len(HOSTILE_SNIPPETS)]
        base = out[row].rstrip()
        out[row] = f"{base} {snippet.text}" if slot % 2 else f"{snippet.text} {base}"
        for kind in snippet.kinds:
            kinds_count[kind] = kinds_count.get(kind, 0) + 1
    counts = {f"rows_with_{kind}": kinds_count.get(kind, 0)
              for kind in sorted({k for s in HOSTILE_SNIPPETS for k in s.kinds})}
    counts["rows_with_hostile_text"] = n_rows
    return out, counts


def pick(options: Sequence[str], rng: np.random.Generator) -> str:
    """One of ``options``, uniformly at random."""
    return options[int(rng.integers(len(options)))]


def fill(template: str, slots: dict[str, tuple[str, ...]], rng: np.random.Generator) -> str:
    """Fill each ``{slot}`` in ``template`` with a random choice from ``slots``."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return template.format(**{name: pick(slots[name], rng) for name in names})


def add_typo(text: str, rng: np.random.Generator) -> str:
    """Swap two adjacent letters inside one longer word (a realistic typing slip)."""
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long_words:
        return text
    i = long_words[int(rng.integers(len(long_words)))]
    w = words[i]
    j = int(rng.integers(1, len(w) - 2))
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def largest_remainder(shares: dict[str, float], total: int) -> dict[str, int]:
    """Integer counts summing to ``total`` whose proportions are closest to ``shares``."""
    names = list(shares)
    raw = np.array([shares[n] for n in names], dtype=float)
    raw = raw / raw.sum() * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return dict(zip(names, (int(c) for c in counts), strict=True))


def month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First instant of ``month`` and first instant of the next month."""
    start = pd.Timestamp(f"{month}-01")
    return start, start + pd.offsets.MonthBegin(1)


def random_times(rng: np.random.Generator, start: pd.Timestamp, end: pd.Timestamp,
                 size: int) -> pd.DatetimeIndex:
    """``size`` uniform timestamps in [start, end), to the second."""
    span = int((end - start).total_seconds())
    return pd.DatetimeIndex(start + pd.to_timedelta(rng.integers(0, span, size), unit="s"))


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame as UTF-8 CSV with stable float formatting and ``\\n`` line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g", encoding="utf-8")
    return path


def write_rows(header: Sequence[str], rows: Sequence[Sequence[object]], path: Path) -> Path:
    """Write rows with the csv module (for headers pandas cannot hold, like repeated names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_text(text: str, path: Path) -> Path:
    """Write text as UTF-8 with ``\\n`` line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return path


def write_json(payload: object, path: Path) -> Path:
    """Write JSON with sorted-free, indented, ASCII-escaped output and a final newline."""
    return write_text(json.dumps(payload, indent=2, ensure_ascii=True) + "\n", path)


def rounded(value: float, digits: int = 6) -> float:
    """A float rounded for truth.json (stable text, enough precision for the tests)."""
    return float(round(float(value), digits))
