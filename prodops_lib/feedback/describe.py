"""Describe issues and themes: readable names, sizes, customers, ARR, channels, scores, a typical
quote and quotes that cover each issue, and the nearest product theme of the taxonomy.

**Labels: class-based TF-IDF** (c-TF-IDF, Grootendorst 2022, the weighting BERTopic uses).
All texts of a theme form one document. For term t and theme c,

    W(t, c) = tf(t, c) · log(1 + A / f(t))

where tf(t, c) is t's count in c divided by c's total term count, f(t) is t's count over all
themes and A the average total term count per theme. The ``top_terms`` column lists the theme's three heaviest
terms (a word already inside a chosen two-word term is skipped).

**Taxonomy mapping.** Each product theme is embedded from its name and seed phrases; an issue
maps to the product theme whose vector has the highest cosine with the issue's centre, if it
reaches ``min_similarity``; otherwise (a small issue's centre sits further from every broad
description) to its theme's product theme, found the same way from the theme's centre, if
that is also the issue's nearest; else to ``unmapped``. Demand is counted from the issues' mapping: a theme can hold issues of two
neighbouring product themes, and mapping it whole would move one's demand into the other. A
theme shows the product theme of most of its items (``product_theme_share``). The "other"
bucket is always unmapped.

**Names and quotes** (:mod:`prodops_lib.feedback.naming`): each issue's label is a short
phrase from its own texts ("Card hasn't arrived"), kept distinct from the other issues of its
theme. A theme is named by its product theme when it is the only theme mapped there (with
most of its items), else by a phrase from its texts if enough of them use it, else by its two
largest issues (:func:`_theme_names`); the typical quote is the cosine medoid; an issue's quotes cover the
whole issue (one from each part of a k-means split of it, near-repeats skipped), already
redacted at preparation. ``top_terms`` keeps each issue's c-TF-IDF terms for analysts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.feedback.cluster import OTHER, theme_of_items
from prodops_lib.feedback.config import ProductTheme
from prodops_lib.feedback.embed import unit_vectors
from prodops_lib.feedback.naming import (
    NAME_SAMPLE,
    coverage_quotes,
    group_names,
    name_coverage,
    spread_sample,
    typical_quote,
)

__all__ = [
    "OTHER_LABEL",
    "UNMAPPED",
    "IssueMapping",
    "ThemeDescription",
    "cite",
    "class_tfidf",
    "cut_quote",
    "describe_themes",
    "map_issues",
    "map_to_taxonomy",
    "quotes_of",
    "theme_labels",
]

UNMAPPED = "unmapped"
OTHER_LABEL = "Other (small or incoherent groups)"
_EXTRA_STOP = {"email", "phone", "card", "url", "handle", "hi", "hello", "hey", "thanks", "thank",
               "please", "team", "customer", "mentioned", "asked", "notes", "update", "stars", "star"}
QUOTE_CHARS = 320
THEME_NAME_COVERAGE = 0.15


def class_tfidf(documents: list[str], *, ngram_range: tuple[int, int] = (1, 2),
                stop_words: str | list[str] | None = "english") -> tuple[np.ndarray, np.ndarray]:
    """The c-TF-IDF matrix (classes × terms) of one document per class, and the terms.

    W(t, c) = tf(t, c) · log(1 + A / f(t)); see the module docstring."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    if stop_words == "english":
        stop_words = sorted(ENGLISH_STOP_WORDS | _EXTRA_STOP)
    vectorizer = CountVectorizer(ngram_range=ngram_range, stop_words=stop_words, lowercase=True,
                                 token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b")
    try:
        counts = vectorizer.fit_transform(documents).toarray().astype(float)
    except ValueError:  # no term survived the stop words
        return np.zeros((len(documents), 0)), np.array([], dtype=object)
    totals = counts.sum(axis=1, keepdims=True)
    tf = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    average_total = totals.mean()
    term_frequency = counts.sum(axis=0)
    weights = tf * np.log(1.0 + average_total / term_frequency)
    return weights, vectorizer.get_feature_names_out()


def theme_labels(weights: np.ndarray, terms: np.ndarray, n_terms: int = 3) -> list[str]:
    """A short label per class: its heaviest terms, skipping words inside a chosen bigram."""
    labels = []
    for row in weights:
        chosen: list[str] = []
        for index in np.argsort(-row, kind="stable"):
            if row[index] <= 0 or len(chosen) == n_terms:
                break
            term = str(terms[index])
            words = set(term.split())
            if any(words <= set(c.split()) or set(c.split()) <= words for c in chosen):
                continue
            chosen.append(term)
        labels.append(" / ".join(chosen) if chosen else "(no distinctive terms)")
    return labels


def map_to_taxonomy(centres: np.ndarray, theme_vectors: np.ndarray, names: list[str],
                    min_similarity: float) -> tuple[list[str], np.ndarray]:
    """Nearest product theme (cosine) of each unit centre, or ``unmapped`` below the bar."""
    if not len(names):
        return [UNMAPPED] * len(centres), np.full(len(centres), np.nan)
    similarity = centres @ theme_vectors.T
    best = similarity.argmax(axis=1)
    score = similarity[np.arange(len(centres)), best]
    return [names[b] if s >= min_similarity else UNMAPPED for b, s in zip(best, score, strict=True)], score


@dataclass(frozen=True)
class ThemeDescription:
    """Both levels with everything the report shows. ``themes``: one row per theme and
    ``issues``: one row per issue (other last in both); ``items``: item → issue and theme;
    ``by_source``/``by_segment``: tidy shares per theme; ``quotes``: per issue."""

    themes: pd.DataFrame
    issues: pd.DataFrame
    items: pd.DataFrame
    by_source: pd.DataFrame
    by_segment: pd.DataFrame
    quotes: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.issues.copy()

    def quotes_for(self, issue_id: int) -> list[tuple[str, str]]:
        return quotes_of(self.quotes, issue_id)


def quotes_of(quotes: pd.DataFrame, issue_id: int) -> list[tuple[str, str]]:
    """An issue's quotes (``issue_id, text, cite`` rows) as (text, source) pairs for display."""
    rows = quotes[quotes["issue_id"] == issue_id]
    return list(zip(rows["text"], rows["cite"], strict=True))


def cut_quote(text: str) -> str:
    """A quote of at most ``QUOTE_CHARS`` characters."""
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1] + "…"


def cite(item: pd.Series, *prefix: str) -> str:
    """Where a quote comes from: ``prefix`` parts, then the item's channel, month and segment."""
    channel = str(item["source"]).replace("_", " ")  # a channel key as a reader says it: "app reviews"
    parts = (*prefix, channel, item["month"], item.get("segment"))
    return " · ".join(str(part) for part in parts
                      if part is not None and part is not pd.NA and str(part) not in ("", "nan", "<NA>"))


def _customers(frame: pd.DataFrame) -> tuple[int, float]:
    known = frame.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
    return len(known), float(known["arr"].fillna(0).sum())


def _ordered(ids: np.ndarray) -> list[int]:
    """Group ids in report order: 0, 1, … then other."""
    present = set(int(i) for i in ids)
    return sorted(present - {OTHER}) + ([OTHER] if OTHER in present else [])


def _numbered(names: dict[int, str], issue_ids: np.ndarray) -> dict[int, str]:
    """Names are distinct within a theme; across themes two issues may share one ("Five stars"),
    and every table lists them side by side, so the smaller gets a number ("Five stars (2)")."""
    sizes = np.bincount(issue_ids[issue_ids != OTHER], minlength=max(names, default=0) + 1)
    times: dict[str, int] = {}
    numbered = dict(names)
    for issue in sorted((i for i in names if i != OTHER), key=lambda i: (-sizes[i], i)):
        key = names[issue].lower()
        times[key] = times.get(key, 0) + 1
        if times[key] > 1:
            numbered[issue] = f"{names[issue]} ({times[key]})"
    return numbered


def _theme_names(texts: list[str], issue_ids: np.ndarray, theme_ids: np.ndarray, theme_of_issue: np.ndarray,
                 issue_names: dict[int, str], product_of: dict[int, str], product_share: dict[int, float],
                 ) -> dict[int, str]:
    """A theme of one issue has that issue's name; a theme that is the only one mapped to its
    product theme, with most of its items there, has the product theme's name (the taxonomy
    names categories better than any phrase); otherwise a phrase from its own texts when at
    least ``THEME_NAME_COVERAGE`` of them use it, else its two largest issues' names ("Best
    app · Easy to use"): a phrase in fewer texts is one issue's words, not the theme's."""
    names = dict(zip(np.unique(theme_ids).tolist(), group_names(texts, theme_ids), strict=True))
    sizes = np.bincount(issue_ids[issue_ids != OTHER], minlength=len(theme_of_issue))
    products = [product_of[t] for t in names if t != OTHER]
    for theme in names:
        if theme == OTHER:
            continue
        members = sorted(np.flatnonzero(theme_of_issue == theme).tolist(), key=lambda i: (-sizes[i], i))
        product = product_of[theme]
        if len(members) == 1:
            names[theme] = issue_names[members[0]]
        elif product != UNMAPPED and products.count(product) == 1 and product_share[theme] > 0.5:
            names[theme] = product
        elif name_coverage([t for t, keep in zip(texts, theme_ids == theme, strict=True) if keep],
                           names[theme]) < THEME_NAME_COVERAGE:
            names[theme] = " · ".join(issue_names[i] for i in members[:2])
    return names


def _measures(members: pd.DataFrame, vectors: np.ndarray, total: int) -> dict:
    """What both levels report for one group of items."""
    customers, arr = _customers(members)
    return {"n_items": len(members), "votes": int(members["votes"].sum()), "n_customers": customers, "arr": arr,
            "share": len(members) / total, "avg_rating": members["rating"].mean(),
            "avg_nps_score": members["nps"].mean(),
            "typical_quote": cut_quote(members["text"].iloc[typical_quote(vectors)])}


@dataclass(frozen=True)
class IssueMapping:
    """Each issue's product theme (``unmapped`` below the bar) and the cosine of its centre to
    its nearest product theme (NaN without a taxonomy)."""

    product_of_issue: dict[int, str]
    similarity: dict[int, float]


def map_issues(vectors: np.ndarray, issue_ids: np.ndarray, theme_of_issue: np.ndarray, *,
               taxonomy: list[ProductTheme], taxonomy_vectors: np.ndarray, min_similarity: float) -> IssueMapping:
    """The product theme of every issue (see the module docstring): an issue maps on its own
    when its centre is close enough to a product theme; a small issue's centre sits further
    from every broad description, so one that is not close enough still maps when its nearest
    product theme is its theme's (found the same way). Issues map one by one because a theme
    can span two neighbouring product themes, and mapping it whole would move one's demand into
    the other."""
    issue_ids = np.asarray(issue_ids, dtype=int)
    theme_of_issue = np.asarray(theme_of_issue, dtype=int)
    vectors = unit_vectors(np.asarray(vectors, dtype=np.float32))
    theme_ids = theme_of_items(issue_ids, theme_of_issue)
    issue_order, theme_order = _ordered(issue_ids), _ordered(theme_ids)
    product_names = [t.name for t in taxonomy]
    product_vectors = unit_vectors(np.asarray(taxonomy_vectors, dtype=np.float32))
    centres = unit_vectors(np.vstack([vectors[issue_ids == i].mean(axis=0) for i in issue_order]))
    mapped, score = map_to_taxonomy(centres, product_vectors, product_names, min_similarity)
    theme_centres = unit_vectors(np.vstack([vectors[theme_ids == t].mean(axis=0) for t in theme_order]))
    theme_mapped = dict(zip(theme_order, map_to_taxonomy(theme_centres, product_vectors, product_names,
                                                         min_similarity)[0], strict=True))
    nearest = map_to_taxonomy(centres, product_vectors, product_names, -1.0)[0]  # without the bar
    product_of_issue = {i: (UNMAPPED if i == OTHER else m if m != UNMAPPED
                            else theme_mapped[int(theme_of_issue[i])] if near == theme_mapped[int(theme_of_issue[i])]
                            else UNMAPPED)
                        for i, m, near in zip(issue_order, mapped, nearest, strict=True)}
    return IssueMapping(product_of_issue, dict(zip(issue_order, score.tolist(), strict=True)))


def describe_themes(
    items: pd.DataFrame,
    vectors: np.ndarray,
    issue_ids: np.ndarray,
    theme_of_issue: np.ndarray,
    *,
    taxonomy: list[ProductTheme],
    taxonomy_vectors: np.ndarray,
    min_similarity: float = 0.3,
    quotes_per_issue: int = 4,
    mapping: IssueMapping | None = None,
) -> ThemeDescription:
    """Describe every issue of ``issue_ids`` (−1 = other) and every theme of ``theme_of_issue``
    over ``items`` (prepared feedback, in the order of ``vectors``). ``mapping`` is the issues'
    product themes when already made (:func:`map_issues`; the themes may have been drawn from
    it), else they are mapped here."""
    if len(items) != len(vectors) or len(items) != len(issue_ids):
        raise ValueError(f"items, vectors and issue_ids: lengths differ ({len(items)}, {len(vectors)}, {len(issue_ids)}); "
                         "pass the vectors and issue ids computed from these items")
    issue_ids = np.asarray(issue_ids, dtype=int)
    theme_of_issue = np.asarray(theme_of_issue, dtype=int)
    theme_ids = theme_of_items(issue_ids, theme_of_issue)
    items = items.reset_index(drop=True).assign(issue_id=issue_ids, theme_id=theme_ids)
    vectors = unit_vectors(np.asarray(vectors, dtype=np.float32))
    texts = items["text"].tolist()
    issue_order, theme_order = _ordered(issue_ids), _ordered(theme_ids)
    # names come in np.unique order; an issue's siblings are the issues of its theme
    unique_issues = np.unique(issue_ids)
    issue_names = dict(zip(unique_issues.tolist(), group_names(
        texts, issue_ids, siblings=np.array([theme_of_issue[i] if i != OTHER else OTHER for i in unique_issues])),
        strict=True))
    issue_names = _numbered(issue_names, issue_ids)
    # term weights are shares of a group's text: a spread sample of a large issue gives them too
    documents = [" ".join(items["text"].iloc[spread_sample(np.flatnonzero(issue_ids == i), NAME_SAMPLE)])
                 for i in issue_order]
    weights, terms = class_tfidf(documents)
    top_terms = theme_labels(weights, terms) if len(terms) else ["(no distinctive terms)"] * len(issue_order)
    mapping = mapping or map_issues(vectors, issue_ids, theme_of_issue, taxonomy=taxonomy,
                                    taxonomy_vectors=taxonomy_vectors, min_similarity=min_similarity)
    product_of_issue = {i: UNMAPPED if i == OTHER else mapping.product_of_issue[i] for i in issue_order}
    similarity_of_issue = {i: mapping.similarity.get(i, np.nan) for i in issue_order}
    item_products = pd.Series([product_of_issue[i] for i in issue_ids])
    product_of = {t: (UNMAPPED if t == OTHER else item_products[theme_ids == t].value_counts().index[0])
                  for t in theme_order}
    product_share = {t: float((item_products[theme_ids == t] == product_of[t]).mean()) for t in theme_order}
    theme_names = _theme_names(texts, issue_ids, theme_ids, theme_of_issue, issue_names, product_of, product_share)
    issue_names[OTHER] = theme_names[OTHER] = OTHER_LABEL
    total = len(items)
    theme_rows = []
    for theme in theme_order:
        mask = theme_ids == theme
        theme_rows.append({"theme_id": theme, "label": theme_names[theme], "product_theme": product_of[theme],
                           "product_theme_share": product_share[theme],
                           "n_issues": len(set(issue_ids[mask]) - {OTHER}),
                           **_measures(items[mask], vectors[mask], total)})
    issue_rows, quote_rows = [], []
    for position, issue in enumerate(issue_order):
        mask = issue_ids == issue
        members = items[mask]
        theme = OTHER if issue == OTHER else int(theme_of_issue[issue])
        issue_rows.append({"issue_id": issue, "theme_id": theme, "label": issue_names[issue],
                           "theme": theme_names[theme], "product_theme": product_of_issue[issue],
                           "mapping_similarity": similarity_of_issue[issue],
                           **_measures(members, vectors[mask], total), "top_terms": top_terms[position]})
        for rank, chosen in enumerate(coverage_quotes(vectors[mask], members["text"].tolist(), quotes_per_issue)):
            row = members.iloc[chosen]
            quote_rows.append({"issue_id": issue, "theme_id": theme, "rank": rank + 1, "item_id": row["item_id"],
                               "text": cut_quote(row["text"]), "cite": cite(row)})
    themes, issues = pd.DataFrame(theme_rows), pd.DataFrame(issue_rows)
    assigned = items.assign(label=items["issue_id"].map(issue_names), theme=items["theme_id"].map(theme_names),
                            product_theme=item_products.to_numpy())
    item_table = assigned[["item_id", "source", "month", "customer_id", "arr", "votes", "issue_id", "label",
                           "theme_id", "theme", "product_theme"]].copy()
    return ThemeDescription(themes, issues, item_table, _shares(assigned, "source"), _shares(assigned, "segment"),
                            pd.DataFrame(quote_rows, columns=["issue_id", "theme_id", "rank", "item_id", "text", "cite"]))


def _shares(items: pd.DataFrame, column: str) -> pd.DataFrame:
    """Items per theme and value of ``column``, and each value's share of the theme."""
    values = items[column].astype("string").fillna("unknown")
    counts = items.assign(**{column: values}).groupby(["theme_id", "theme", column]).size().rename("items")
    frame = counts.reset_index().rename(columns={"theme": "label"})
    frame["share_of_theme"] = frame["items"] / frame.groupby("theme_id")["items"].transform("sum")
    return frame
