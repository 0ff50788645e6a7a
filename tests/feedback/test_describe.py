"""describe_themes: how themes and issues are named from their texts, mapping and sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from prodops_lib.feedback.cluster import OTHER
from prodops_lib.feedback.config import ProductTheme
from prodops_lib.feedback.describe import describe_themes
from prodops_lib.feedback.levels import group_issues

# issue → (theme, its texts); issue 0 is the larger of the two issues of theme 0; theme 2 has
# eight issues with no word in common, the largest (issue 3) holding 7 of its 49 texts
ISSUES = {
    0: (0, [f"the csv export is slow for {n} rows" for n in ("big", "many", "huge", "all", "wide", "long", "old", "new")]),
    1: (0, [f"export misses the {c} column" for c in ("owner", "status", "date", "team", "tag", "note")]),
    2: (1, [f"dark mode please for {w}" for w in ("night", "evenings", "my eyes", "late work", "the office", "travel")]),
    3: (2, [f"invoices arrive {w}" for w in ("late", "twice", "blank", "empty", "wrong", "unsigned", "garbled")]),
    4: (2, [f"cannot reset {w} password" for w in ("my", "our", "the admin", "a user", "the team", "an old")]),
    **{7 + n: (2, [f"{word} {m}" for m in ("one", "two", "three", "four", "five", "six")])
       for n, word in enumerate(["calendar sync", "webhook retries", "tablet layout", "audit trail", "sso login",
                                 "api quota"])},
    5: (3, ["five stars"] * 6),
    6: (4, ["five stars"] * 6),
}


def _inputs():
    directions = np.eye(16)  # 0–4: themes; 5–14: issues
    texts, issue_ids, vectors = [], [], []
    for issue, (theme, member_texts) in sorted(ISSUES.items()):
        for n, text in enumerate(member_texts):
            texts.append(text)
            issue_ids.append(issue)
            # a theme's issues share its direction; each issue and item leans a little its own way
            vectors.append(directions[theme] + 0.3 * directions[5 + issue % 10] + 0.01 * n * directions[15])
    items = pd.DataFrame({"item_id": [f"i{n}" for n in range(len(texts))], "source": "survey", "text": texts,
                          "month": "2026-10", "customer_id": pd.NA, "arr": np.nan, "votes": 1, "rating": np.nan,
                          "nps": np.nan, "segment": pd.NA})
    theme_of_issue = np.array([ISSUES[i][0] for i in range(len(ISSUES))])
    taxonomy = [ProductTheme("Data export", "data export csv")]
    return items, np.array(vectors), np.array(issue_ids), theme_of_issue, taxonomy, directions[:1]


def test_a_theme_is_named_by_its_product_theme_its_one_issue_or_its_two_largest_issues():
    items, vectors, issue_ids, theme_of_issue, taxonomy, taxonomy_vectors = _inputs()
    description = describe_themes(items, vectors, issue_ids, theme_of_issue, taxonomy=taxonomy,
                                  taxonomy_vectors=taxonomy_vectors, min_similarity=0.5)
    themes = description.themes.set_index("theme_id")["label"]
    issues = description.issues.set_index("issue_id")["label"]
    assert themes[0] == "Data export"  # the only theme mapped there, with all its items
    assert themes[1] == issues[2]  # a theme of one issue is that issue
    # unmapped, and no phrase is in 15% of its texts (7 of 49 at most): its two largest issues
    assert themes[2] == f"{issues[3]} · {issues[4]}"
    assert OTHER not in themes.index


def test_issues_of_different_themes_never_share_a_name():
    items, vectors, issue_ids, theme_of_issue, taxonomy, taxonomy_vectors = _inputs()
    issues = describe_themes(items, vectors, issue_ids, theme_of_issue, taxonomy=taxonomy,
                             taxonomy_vectors=taxonomy_vectors, min_similarity=0.5).issues
    names = issues.set_index("issue_id")["label"]
    assert names.str.lower().is_unique, names.tolist()
    assert names[5] == "Five stars" and names[6] == "Five stars (2)"  # same phrase, other theme: numbered


def test_few_issues_are_their_own_themes():
    centred = np.repeat(np.eye(8), 5, axis=0)
    level = group_issues(centred, np.repeat(np.arange(8), 5))
    assert level.theme_of_issue.tolist() == list(range(8)) and level.quality.empty  # 8 < 2 × 5
    assert group_issues(np.repeat(np.eye(12), 5, axis=0), np.repeat(np.arange(12), 5)).n_themes <= 12
