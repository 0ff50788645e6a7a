"""Describe themes: a label from distinctive terms, sizes, customers, ARR, channels, scores,
representative quotes, and the nearest product theme of the taxonomy.

**Labels: class-based TF-IDF** (c-TF-IDF, Grootendorst 2022, the weighting BERTopic uses).
All texts of a theme form one document. For term t and theme c,

    W(t, c) = tf(t, c) · log(1 + A / f(t))

where tf(t, c) is t's count in c divided by c's total term count, f(t) is t's count over all
themes and A the average total term count per theme. The ``top_terms`` column lists the theme's three heaviest
terms (a word already inside a chosen two-word term is skipped).

**Taxonomy mapping.** Each product theme is embedded from its name and seed phrases; a theme
maps to the product theme whose vector has the highest cosine with the theme's centre, if it
reaches ``min_similarity``, else to ``unmapped``. The "other" bucket is always unmapped.

**Names and quotes** (:mod:`prodops_lib.feedback.naming`): each theme's label is a short
phrase from its own texts ("Card hasn't arrived"), kept distinct from its siblings' names;
its typical quote is the cosine medoid; its quotes cover the whole group (one from each part
of a k-means split of the group, near-repeats skipped), already redacted at preparation.
``top_terms`` keeps the c-TF-IDF terms for analysts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.feedback.cluster import OTHER
from prodops_lib.feedback.config import ProductTheme
from prodops_lib.feedback.embed import unit_vectors
from prodops_lib.feedback.naming import coverage_quotes, group_names, typical_quote

__all__ = ["OTHER_LABEL", "UNMAPPED", "ThemeDescription", "class_tfidf", "describe_themes",
           "map_to_taxonomy", "theme_labels"]

UNMAPPED = "unmapped"
OTHER_LABEL = "Other (small or incoherent groups)"
_EXTRA_STOP = {"email", "phone", "card", "url", "handle", "hi", "hello", "hey", "thanks", "thank",
               "please", "team", "customer", "mentioned", "asked", "notes", "update", "stars", "star"}
QUOTE_CHARS = 320


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
    """Themes with everything the report shows. ``themes``: one row per theme (other last);
    ``items``: item → theme; ``by_source``/``by_segment``: tidy shares; ``quotes``."""

    themes: pd.DataFrame
    items: pd.DataFrame
    by_source: pd.DataFrame
    by_segment: pd.DataFrame
    quotes: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.themes.copy()

    def quotes_for(self, theme_id: int) -> list[tuple[str, str]]:
        rows = self.quotes[self.quotes["theme_id"] == theme_id]
        return list(zip(rows["text"], rows["cite"], strict=True))




def _cut(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1] + "…"


def _customers(frame: pd.DataFrame) -> tuple[int, float]:
    known = frame.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
    return len(known), float(known["arr"].fillna(0).sum())


def describe_themes(
    items: pd.DataFrame,
    vectors: np.ndarray,
    labels: np.ndarray,
    *,
    taxonomy: list[ProductTheme],
    taxonomy_vectors: np.ndarray,
    min_similarity: float = 0.3,
    quotes_per_theme: int = 4,
) -> ThemeDescription:
    """Describe every theme of ``labels`` (−1 = other) over ``items`` (prepared feedback, in
    the order of ``vectors``)."""
    if len(items) != len(vectors) or len(items) != len(labels):
        raise ValueError(f"items, vectors and labels: lengths differ ({len(items)}, {len(vectors)}, {len(labels)}); "
                         "pass the vectors and labels computed from these items")
    items = items.reset_index(drop=True).assign(theme_id=np.asarray(labels, dtype=int))
    theme_ids = sorted(set(items["theme_id"]) - {OTHER}) + ([OTHER] if (items["theme_id"] == OTHER).any() else [])
    documents = [" ".join(items.loc[items["theme_id"] == t, "text"]) for t in theme_ids]
    weights, terms = class_tfidf(documents)
    top_terms = theme_labels(weights, terms) if len(terms) else ["(no distinctive terms)"] * len(theme_ids)
    names = group_names(items["text"].tolist(), items["theme_id"].to_numpy())  # in sorted-id order
    names = dict(zip(sorted(set(items["theme_id"])), names, strict=True))
    vectors = unit_vectors(np.asarray(vectors, dtype=np.float32))
    centres = unit_vectors(np.vstack([vectors[items["theme_id"].to_numpy() == t].mean(axis=0) for t in theme_ids]))
    mapped, score = map_to_taxonomy(centres, unit_vectors(np.asarray(taxonomy_vectors, dtype=np.float32)),
                                    [t.name for t in taxonomy], min_similarity)
    total = len(items)
    rows, quote_rows = [], []
    for position, theme in enumerate(theme_ids):
        member_mask = items["theme_id"].to_numpy() == theme
        members = items[member_mask]
        customers, arr = _customers(members)
        is_other = theme == OTHER
        rows.append({
            "theme_id": int(theme), "label": OTHER_LABEL if is_other else names[theme],
            "product_theme": UNMAPPED if is_other else mapped[position],
            "mapping_similarity": float(score[position]), "n_items": len(members),
            "votes": int(members["votes"].sum()), "n_customers": customers, "arr": arr,
            "share": len(members) / total, "avg_rating": members["rating"].mean(),
            "avg_nps_score": members["nps"].mean(), "top_terms": top_terms[position],
            "typical_quote": _cut(members["text"].iloc[typical_quote(vectors[member_mask])]),
        })
        chosen_quotes = coverage_quotes(vectors[member_mask], members["text"].tolist(), quotes_per_theme)
        for rank, chosen in enumerate(chosen_quotes):
            row = members.iloc[chosen]
            text = _cut(row["text"])
            cite = " · ".join(str(part) for part in (row["source"], row["month"], row.get("segment"))
                              if part is not None and part is not pd.NA and str(part) not in ("", "nan", "<NA>"))
            quote_rows.append({"theme_id": int(theme), "rank": rank + 1, "item_id": row["item_id"],
                               "text": text, "cite": cite})
    themes = pd.DataFrame(rows)
    label_of = themes.set_index("theme_id")["label"]
    product_of = themes.set_index("theme_id")["product_theme"]
    assigned = items.assign(label=items["theme_id"].map(label_of), product_theme=items["theme_id"].map(product_of))
    item_table = assigned[["item_id", "source", "month", "customer_id", "arr", "votes", "theme_id",
                           "label", "product_theme"]].copy()
    return ThemeDescription(themes, item_table, _shares(assigned, "source"), _shares(assigned, "segment"),
                            pd.DataFrame(quote_rows, columns=["theme_id", "rank", "item_id", "text", "cite"]))


def _shares(items: pd.DataFrame, column: str) -> pd.DataFrame:
    values = items[column].astype("string").fillna("unknown")
    counts = items.assign(**{column: values}).groupby(["theme_id", "label", column]).size().rename("items")
    frame = counts.reset_index()
    frame["share_of_theme"] = frame["items"] / frame.groupby("theme_id")["items"].transform("sum")
    return frame
