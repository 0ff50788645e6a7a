"""Where customers score low: the issues that hold the unhappy feedback.

Issues group feedback by what it is about, not by how customers feel: on review data most of
it is praise, and a complaint about one feature sits in the issue about that feature among
five-star reviews of it. When the feedback carries a score, this view counts, per issue, the
items scored low — 1 or 2 stars of 5, or 0–6 on the 0–10 likelihood-to-recommend scale (NPS
*detractors*, Reichheld 2003) — ranks the issues by that count, and quotes the low-scored
items themselves, chosen to cover each issue's complaints
(:func:`prodops_lib.feedback.naming.coverage_quotes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.feedback.cluster import OTHER
from prodops_lib.feedback.describe import cite, cut_quote, quotes_of
from prodops_lib.feedback.naming import coverage_quotes

__all__ = ["DETRACTOR_NPS", "LOW_RATING", "LowScores", "low_scores"]

LOW_RATING = 2.0  # stars, of 5
DETRACTOR_NPS = 6.0  # of 0–10

_READABLE = {"issue": "Issue", "theme": "Theme", "scored": "Items with a score", "low": "Scored low",
             "low_share": "Share scored low", "avg_rating": "Average stars", "avg_nps": "Average NPS score"}
_COLUMNS = ["issue_id", "issue", "theme", "scored", "low", "low_share", "avg_rating", "avg_nps"]


@dataclass(frozen=True)
class LowScores:
    """``issues``: per issue with at least one low score (most first), ``scored`` items with a
    score, ``low`` of them scored low, their share, and the average rating and NPS score;
    ``quotes``: low-scored items per issue (``issue_id, rank, item_id, text, cite``);
    ``scored_items``/``low_items``: over the whole window."""

    issues: pd.DataFrame
    quotes: pd.DataFrame
    scored_items: int
    low_items: int

    def to_frame(self) -> pd.DataFrame:
        return self.issues.copy()

    def sentence(self) -> str:
        """One sentence for the page: how much feedback is scored low, or what to map."""
        if not self.scored_items:
            return ("No feedback in this window has a star rating or an NPS score; map a source's "
                    "columns.rating or columns.nps to see which issues hold the unhappy feedback.")
        return (f"{self.low_items:,} of the {self.scored_items:,} items with a score "
                f"({self.low_items / self.scored_items:.0%}) are scored low (1–2 stars of 5, or 0–6 of 10), "
                f"in {len(self.issues)} issues; the issues holding most of them come first.")

    def readable(self) -> pd.DataFrame:
        """The issues table as a reader sees it: plain column names, scores not given left out."""
        table = self.issues.drop(columns="issue_id").rename(columns=_READABLE)
        return table.dropna(axis="columns", how="all")

    def quotes_for(self, issue_id: int) -> list[tuple[str, str]]:
        return quotes_of(self.quotes, issue_id)


def is_low(items: pd.DataFrame) -> pd.Series:
    """True where an item is scored low (rating ≤ 2 of 5, or NPS ≤ 6 of 10)."""
    return items["rating"].le(LOW_RATING) | items["nps"].le(DETRACTOR_NPS)


def low_scores(items: pd.DataFrame, vectors: np.ndarray, issues: pd.DataFrame, *, top: int = 8,
               quotes_per_issue: int = 3) -> LowScores:
    """The low-score view of ``items`` (prepared feedback with ``issue_id``, ``rating`` and
    ``nps``, in the order of ``vectors``); ``issues`` names them (``issue_id, label, theme``).
    Quotes come for the ``top`` issues with the most low scores."""
    scored = items["rating"].notna() | items["nps"].notna()
    low = is_low(items)
    rows = []
    for issue_id, group in items[scored].groupby("issue_id"):
        count = int(low[group.index].sum())
        if count:
            rows.append({"issue_id": int(issue_id), "scored": len(group), "low": count, "low_share": count / len(group),
                         "avg_rating": group["rating"].mean(), "avg_nps": group["nps"].mean()})
    names = issues.set_index("issue_id")[["label", "theme"]].rename(columns={"label": "issue"})
    table = pd.DataFrame(rows, columns=["issue_id", "scored", "low", "low_share", "avg_rating", "avg_nps"])
    table = table.join(names, on="issue_id").assign(other=lambda t: t["issue_id"] == OTHER)
    table = table.sort_values(["other", "low", "low_share", "issue_id"],  # other last, as in every table
                              ascending=[True, False, False, True])[_COLUMNS]
    quote_rows = []
    for issue_id in table["issue_id"][table["issue_id"] != OTHER].head(top):
        positions = np.flatnonzero((items["issue_id"] == issue_id).to_numpy() & low.to_numpy())
        members = items.iloc[positions]
        for rank, chosen in enumerate(coverage_quotes(vectors[positions], members["text"].tolist(), quotes_per_issue)):
            row = members.iloc[chosen]
            score = (f"{row['rating']:g} of 5 stars" if pd.notna(row["rating"]) else f"NPS {row['nps']:g}")
            quote_rows.append({"issue_id": int(issue_id), "rank": rank + 1, "item_id": row["item_id"],
                               "text": cut_quote(row["text"]), "cite": cite(row, score)})
    return LowScores(table.reset_index(drop=True),
                     pd.DataFrame(quote_rows, columns=["issue_id", "rank", "item_id", "text", "cite"]),
                     int(scored.sum()), int((low & scored).sum()))
