"""The low-score view: which issues hold the feedback customers scored low."""

from __future__ import annotations

import numpy as np
import pandas as pd

from prodops_lib.feedback.cluster import OTHER
from prodops_lib.feedback.scores import low_scores

COMPLAINTS = ["the editor crashes when I save", "lost an hour of edits to a freeze",
              "undo wipes the whole document", "typing lags badly in long files"]


def _items() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Issue 0: ten five-star reviews of a feature and four one-star complaints about it;
    issue 1: NPS only, three detractors (0, 5, 6) and two promoters; issue 2: no score at all;
    other: one two-star item."""
    rows = ([(0, "love the editor", 5.0, np.nan)] * 10 + [(0, text, 1.0, np.nan) for text in COMPLAINTS]
            + [(1, f"exports are slow {i}", np.nan, nps) for i, nps in enumerate([0.0, 5.0, 6.0, 9.0, 10.0])]
            + [(2, "how do I invite people", np.nan, np.nan)] * 3 + [(OTHER, "meh", 2.0, np.nan)])
    items = pd.DataFrame(rows, columns=["issue_id", "text", "rating", "nps"]).assign(
        item_id=lambda f: [f"i{n}" for n in range(len(f))], source="app store", month="2026-10", segment=None)
    vectors = np.random.default_rng(0).standard_normal((len(items), 8))
    issues = pd.DataFrame({"issue_id": [0, 1, 2, OTHER], "label": ["Editor", "Exports", "Invites", "Other"],
                           "theme": ["Editing", "Data", "Team", "Other"]})
    return items, vectors, issues


def test_low_scores_are_counted_per_issue_with_other_last():
    result = low_scores(*_items())
    table = result.issues.set_index("issue")
    assert list(result.issues["issue"]) == ["Editor", "Exports", "Other"]  # most low scores first; no score, no row
    assert table.loc["Editor", ["scored", "low"]].tolist() == [14, 4]
    assert table.loc["Editor", "low_share"] == 4 / 14
    assert table.loc["Editor", "avg_rating"] == (10 * 5 + 4 * 1) / 14
    assert table.loc["Exports", ["scored", "low"]].tolist() == [5, 3]  # 0–6 are detractors
    assert table.loc["Exports", "avg_nps"] == (0 + 5 + 6 + 9 + 10) / 5
    assert (result.scored_items, result.low_items) == (20, 8)
    assert "8 of the 20 items with a score (40%) are scored low" in result.sentence()
    assert list(result.readable().columns) == ["Issue", "Theme", "Items with a score", "Scored low", "Share scored low",
                                               "Average stars", "Average NPS score"]


def test_quotes_come_only_from_the_low_scored_items():
    result = low_scores(*_items())
    editor = result.quotes_for(0)
    assert len(editor) == 3 and all(text in COMPLAINTS for text, _ in editor)
    assert all(cite.startswith("1 of 5 stars · app store · 2026-10") for _, cite in editor)
    assert {cite.split(" · ")[0] for _, cite in result.quotes_for(1)} <= {"NPS 0", "NPS 5", "NPS 6"}
    assert result.quotes_for(OTHER) == []


def test_without_scores_the_sentence_says_what_to_map():
    items, vectors, issues = _items()
    result = low_scores(items.assign(rating=np.nan, nps=np.nan), vectors, issues)
    assert result.issues.empty and result.quotes.empty
    assert "map a source's columns.rating or columns.nps" in result.sentence()
