"""The whole analysis in data-flow order, for notebooks and tests: load → prepare → embed →
cluster → describe → trends. Each step is also a public function of its own module."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from prodops_lib.display import Kpi
from prodops_lib.feedback.cluster import OTHER, Clustering, cluster_embeddings
from prodops_lib.feedback.config import FeedbackParams, ProductTheme, load_taxonomy
from prodops_lib.feedback.describe import UNMAPPED, ThemeDescription, describe_themes, map_issues
from prodops_lib.feedback.embed import Embeddings, embed_texts, make_embedder, unit_vectors
from prodops_lib.feedback.identity import IssueLineage, IssueRegistry, match_issues
from prodops_lib.feedback.levels import taxonomy_themes
from prodops_lib.feedback.prepare import (
    PreparedFeedback,
    load_feedback,
    prepare_feedback,
    require_enough_feedback,
    texts_needed_for_themes,
)
from prodops_lib.feedback.scores import LowScores, low_scores
from prodops_lib.feedback.trends import ThemeTrends, demand_by_theme, theme_trends
from prodops_lib.io import DropLog
from prodops_lib.labels import ratio_text
from prodops_lib.params import parse_period

__all__ = ["FeedbackAnalysis", "analyse_feedback", "group_feedback"]


@dataclass(frozen=True)
class FeedbackAnalysis:
    """Every result of one feedback report; ``issue_trends`` are the issues' (themes' and product
    themes' are computed from them on demand)."""

    period: str
    prepared: PreparedFeedback
    embeddings: Embeddings
    clustering: Clustering
    description: ThemeDescription
    issue_trends: ThemeTrends
    taxonomy: list[ProductTheme]
    settings: FeedbackParams
    lineage: IssueLineage

    @property
    def themes_follow_taxonomy(self) -> bool:
        """Whether the themes are the taxonomy's product themes (then only the issues outside
        them are grouped into themes of their own, and ``clustering.theme_quality`` is that step)."""
        return bool(self.taxonomy) and self.settings.clustering.n_themes is None

    @property
    def issues(self) -> pd.DataFrame:
        """The issues table with per-month counts (``items_YYYY-MM``)."""
        return _with_counts(self.description.issues, self.issue_trends, "issue_id")

    @property
    def themes(self) -> pd.DataFrame:
        """The themes table with per-month counts (``items_YYYY-MM``)."""
        return _with_counts(self.description.themes, self.theme_trends, "theme_id")

    @property
    def demand(self) -> pd.DataFrame:
        return demand_by_theme(self.description.items)

    def demand_this_month(self) -> pd.DataFrame:
        """The period's demand by product theme as the page shows it: each theme's share of the
        feedback on product themes first (the review's demand), then the counts behind it."""
        rows = self.demand[self.demand["month"] == self.period].sort_values("items", ascending=False)
        return rows[["product_theme", "product_item_share", "items", "product_customer_share", "customers",
                     "product_arr_share", "arr"]].reset_index(drop=True)

    @property
    def theme_trends(self) -> ThemeTrends:
        """Trends of the themes (all issues of a theme pooled)."""
        items = self.description.items
        return theme_trends(items.assign(label=items["theme"]), self.period, self.settings.trends, key="theme_id")

    @property
    def product_trends(self) -> ThemeTrends:
        """Trends of the product themes themselves (all themes mapped to one pooled)."""
        items = self.description.items
        names = sorted(set(items["product_theme"]))
        pooled = items.assign(product_theme_id=items["product_theme"].map({n: i for i, n in enumerate(names)}),
                              label=items["product_theme"])
        return theme_trends(pooled, self.period, self.settings.trends, key="product_theme_id")

    def trends_table(self) -> pd.DataFrame:
        """Issue-, theme- and product-theme-level changes in one table (``level`` says which)."""
        return pd.concat([trends.changes.rename(columns={trends.key: "group_id"}).assign(level=level)
                          for level, trends in (("issue", self.issue_trends), ("theme", self.theme_trends),
                                                ("product theme", self.product_trends))], ignore_index=True)

    def moved(self) -> pd.DataFrame:
        """The rows of :meth:`trends_table` that moved, as a PM reads them: one q-value each, the
        one its trend was judged by (growth for emerging and new, decline for fading), since the
        other is near 1 and says nothing."""
        table = self.trends_table()
        moving = table[table["trend"] != "steady"]
        q_value = moving["q_decline"].where(moving["trend"] == "fading", moving["q_growth"])
        return moving.assign(q_value=q_value)[[
            "level", "label", "product_theme", "trend", "count_this_period", "count_before", "share_this_period",
            "share_before", "share_ratio", "q_value"]]

    def items_table(self) -> pd.DataFrame:
        """Item → issue and theme, with the duplicates pointing at the item they repeat."""
        kept = self.description.items
        repeats = self.prepared.duplicates.merge(
            kept[["item_id", "issue_id", "label", "theme_id", "theme", "product_theme"]],
            left_on="duplicate_of", right_on="item_id", suffixes=("", "_kept")).drop(columns="item_id_kept")
        return pd.concat([kept.assign(duplicate_of=pd.NA), repeats], ignore_index=True)

    def this_month(self, level: str = "theme") -> pd.DataFrame:
        """Themes (or issues, ``level="issue"``) ranked by items in the period, with customers
        and revenue affected this month."""
        key = f"{level}_id"
        items = self.description.items
        current = items[items["month"] == self.period]
        rows = []
        for group_id, group in current.groupby(key):
            known = group.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
            rows.append({key: int(group_id), "items": len(group), "customers": len(known),
                         "arr": float(known["arr"].fillna(0).sum())})
        frame = pd.DataFrame(rows, columns=[key, "items", "customers", "arr"])
        frame["share"] = frame["items"] / max(len(current), 1)
        table = self.description.themes if level == "theme" else self.description.issues
        # an issue is shown by its stable key (I-0003); its number is only its rank in this run
        keys = ["issue_key"] if level == "issue" and "issue_key" in table.columns else []
        themes = ["theme"] if level == "issue" else []
        names = table.set_index(key)[["label", "product_theme", *keys, *themes]]
        return frame.join(names, on=key).sort_values(["items", key], ascending=[False, True]) \
            [[key, *keys, "label", *themes, "product_theme", "items", "share", "customers", "arr"]].reset_index(drop=True)

    def theme_tree(self, top_themes: int = 8, issues_per_theme: int = 5) -> pd.DataFrame:
        """Themes → issues for reading: the ``top_themes`` largest themes, each followed by its
        ``issues_per_theme`` largest issues (the rest pooled in one "more issues" row), with
        items, customers and revenue over the whole window."""
        issues = self.description.issues
        rows = []
        for theme in self.description.themes[lambda t: t["theme_id"] != OTHER].head(top_themes).itertuples():
            members = issues[issues["theme_id"] == theme.theme_id]
            if len(members) == 1:  # a theme of one issue is that issue: one row
                issue = members.iloc[0]
                rows.append({"theme": theme.label, "issue": issue["label"], "product_theme": issue["product_theme"],
                             "items": issue["n_items"], "customers": issue["n_customers"], "arr": issue["arr"],
                             "typical_quote": issue["typical_quote"]})
                continue
            rows.append({"theme": theme.label, "issue": f"All {len(members)} issues", "product_theme": theme.product_theme,
                         "items": theme.n_items, "customers": theme.n_customers, "arr": theme.arr,
                         "typical_quote": theme.typical_quote})
            for issue in members.head(issues_per_theme).itertuples():
                rows.append({"theme": "", "issue": issue.label, "product_theme": issue.product_theme,
                             "items": issue.n_items, "customers": issue.n_customers, "arr": issue.arr,
                             "typical_quote": issue.typical_quote})
            rest = members.iloc[issues_per_theme:]
            if len(rest):
                rows.append({"theme": "", "issue": f"{len(rest)} more issues", "product_theme": "",
                             "items": int(rest["n_items"].sum()), "customers": None, "arr": None,
                             "typical_quote": ""})
        return pd.DataFrame(rows, columns=["theme", "issue", "product_theme", "items", "customers", "arr",
                                           "typical_quote"])

    def low_scores(self, top: int = 8) -> LowScores:
        """The issues holding the feedback scored low (:mod:`prodops_lib.feedback.scores`)."""
        items = self.prepared.items.reset_index(drop=True).assign(issue_id=self.clustering.issue_ids)
        return low_scores(items, self.embeddings.vectors, self.description.issues, top=top)

    def other_summary(self) -> pd.DataFrame:
        """What went to "other" and why: one row per reason with groups and items."""
        groups = self.clustering.groups
        dropped = groups[groups["issue_id"] == OTHER]
        return (dropped.groupby("reason").agg(groups=("group", "size"), items=("size", "sum")).reset_index()
                .sort_values("items", ascending=False).reset_index(drop=True))

    def affected_customers(self, issue_ids: list[int], top: int = 10) -> pd.DataFrame:
        """The highest-revenue customers who raised any of ``issue_ids`` in the period."""
        items = self.prepared.items.assign(issue_id=self.clustering.issue_ids)
        hit = items[(items["month"] == self.period) & items["issue_id"].isin(issue_ids)].dropna(subset=["customer_id"])
        labels = self.description.issues.set_index("issue_id")["label"]
        rows = [{"customer": group["customer_name"].dropna().iloc[0] if group["customer_name"].notna().any() else customer,
                 "segment": group["segment"].dropna().iloc[0] if group["segment"].notna().any() else None,
                 "arr": float(group["arr"].max()) if group["arr"].notna().any() else 0.0,
                 "items": len(group), "issues": "; ".join(sorted({labels[i] for i in group["issue_id"]}))}
                for customer, group in hit.groupby("customer_id")]
        frame = pd.DataFrame(rows, columns=["customer", "segment", "arr", "items", "issues"])
        return frame.sort_values(["arr", "items"], ascending=False).head(top).reset_index(drop=True)

    def largest_product_theme(self) -> tuple[str, float] | None:
        """The product theme (not unmapped) with the most items in the period, and its share of
        the feedback on product themes (the review's demand share, so both pages say one number)."""
        demand = self.demand
        mapped = demand[(demand["month"] == self.period) & (demand["product_theme"] != UNMAPPED)]
        if mapped.empty:
            return None
        row = mapped.sort_values(["items", "product_theme"], ascending=[False, True]).iloc[0]
        return str(row["product_theme"]), float(row["product_item_share"])

    def headline(self) -> tuple[str, str]:
        """One sentence for the report card, and its tone."""
        largest = self.largest_product_theme()
        emerging = self.issue_trends.of_kind("emerging")
        first = (f"{largest[0]} leads the feedback on product themes in {self.period} ({largest[1]:.0%})" if largest
                 else f"No feedback in {self.period} maps to a product theme")
        if len(emerging):
            row = emerging.iloc[0]
            return first + f"; emerging: {row['label']} ({row['product_theme']}), {ratio_text(row['share_ratio'])} its earlier share.", "warning"
        return first + "; no issue is emerging.", "neutral"

    def kpis(self) -> list[Kpi]:
        current = self.prepared.items[self.prepared.items["month"] == self.period]
        emerging = self.issue_trends.of_kind("emerging")
        unmapped = self.description.items
        unmapped = unmapped[unmapped["month"] == self.period]["product_theme"].eq(UNMAPPED).mean()
        clustering = self.clustering
        return [Kpi("Feedback this month", f"{len(current):,}", f"{int(current['votes'].sum()):,} with repeats"),
                Kpi("Issues found", f"{clustering.n_issues}",
                    f"in {clustering.n_themes} themes; {clustering.n_other:,} items in other"),
                Kpi("Emerging issues", f"{len(emerging)}", "vs the previous months",
                    "warning" if len(emerging) else "neutral"),
                Kpi("Not in the taxonomy", f"{unmapped:.0%}", "of all feedback this month")]

    def to_frame(self) -> pd.DataFrame:
        return self.themes


def _with_counts(table: pd.DataFrame, trends: ThemeTrends, key: str) -> pd.DataFrame:
    wide = trends.counts_wide()
    joined = table.join(wide, on=key)
    return joined.fillna({c: 0 for c in wide.columns}).astype({c: int for c in wide.columns})


def _with_keys(description: ThemeDescription, lineage: IssueLineage) -> ThemeDescription:
    """The description with every issue's stable key and first month, and the names the
    lineage kept (a matched issue keeps last month's name)."""
    key_of = dict(enumerate(lineage.keys)) | {OTHER: ""}
    name_of = dict(enumerate(lineage.names))
    seen_of = dict(enumerate(lineage.first_seen)) | {OTHER: ""}

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.assign(issue_key=frame["issue_id"].map(key_of))
        frame["label"] = [name_of.get(i, label) for i, label in zip(frame["issue_id"], frame["label"], strict=True)]
        columns = list(frame.columns)
        columns.insert(columns.index("issue_id") + 1, columns.pop(columns.index("issue_key")))
        return frame[columns]

    # a theme named after its issues (one issue, or its two largest) follows their kept names
    renamed = {old: name_of[i] for i, old in zip(description.issues["issue_id"], description.issues["label"],
                                                 strict=True) if i in name_of and name_of[i] != old}

    def theme_name(label: str) -> str:
        return " · ".join(renamed.get(part, part) for part in label.split(" · "))

    def retitled(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame.assign(**{column: frame[column].map(theme_name)}) if renamed else frame

    issues = retitled(keyed(description.issues), "theme").assign(first_seen=lambda f: f["issue_id"].map(seen_of))
    return replace(description, issues=issues, items=retitled(keyed(description.items), "theme"),
                   themes=retitled(description.themes, "label"), by_source=retitled(description.by_source, "label"),
                   by_segment=retitled(description.by_segment, "label"),
                   quotes=description.quotes.assign(issue_key=description.quotes["issue_id"].map(key_of)))


def group_feedback(prepared: PreparedFeedback, settings: FeedbackParams
                   ) -> tuple[Embeddings, Clustering, list[ProductTheme], ThemeDescription]:
    """Embed the prepared texts, cluster them into issues and themes, map them to the product
    themes of ``settings.taxonomy`` and describe both levels (names, sizes, quotes). Callers
    check there are enough texts first (:func:`texts_needed_for_themes`)."""
    options = settings.clustering
    embedder = make_embedder(options.embedding, options.model, options.cache_dir, options.seed)
    embeddings = embed_texts(embedder, prepared.items["text"])
    taxonomy = load_taxonomy(settings.taxonomy) if settings.taxonomy else []
    taxonomy_vectors = embedder.embed([theme.description for theme in taxonomy]) if taxonomy else np.zeros((0, 1))
    clustering = cluster_embeddings(
        embeddings.vectors, n_issues=options.n_issues, n_themes=options.n_themes,
        neighbour_smoothing=options.neighbour_smoothing, selection_sample=options.selection_sample,
        min_issue_size=options.min_issue_size, incoherence_cutoff=options.incoherence_cutoff, seed=options.seed)
    mapping = map_issues(embeddings.vectors, clustering.issue_ids, clustering.theme_of_issue, taxonomy=taxonomy,
                         taxonomy_vectors=taxonomy_vectors, min_similarity=settings.mapping_min_similarity)
    if taxonomy and options.n_themes is None:  # the taxonomy's product themes are the themes (themes_follow_taxonomy)
        centred = unit_vectors(embeddings.vectors) - unit_vectors(embeddings.vectors).mean(axis=0)
        level = taxonomy_themes([mapping.product_of_issue[i] for i in range(clustering.n_issues)], centred,
                                clustering.issue_ids, UNMAPPED, seed=options.seed)
        clustering = replace(clustering, theme_of_issue=level.theme_of_issue, theme_quality=level.quality)
    description = describe_themes(prepared.items, embeddings.vectors, clustering.issue_ids, clustering.theme_of_issue,
                                  taxonomy=taxonomy, taxonomy_vectors=taxonomy_vectors,
                                  min_similarity=settings.mapping_min_similarity,
                                  quotes_per_issue=settings.quotes_per_issue, mapping=mapping)
    return embeddings, clustering, taxonomy, description


def analyse_feedback(settings: FeedbackParams, period: str, log: DropLog,
                     items: pd.DataFrame | None = None, previous: IssueRegistry | None = None) -> FeedbackAnalysis:
    """Run the analysis of ``settings`` for ``period``; ``items`` skips loading (tests);
    ``previous`` is last month's issue registry, whose keys and names carry over."""
    period = parse_period(period)
    if items is None:
        items = load_feedback(settings.sources, log, period=period, history_months=settings.history_months,
                              accounts=settings.accounts)
    prepared = prepare_feedback(items, settings.duplicates)
    options = settings.clustering
    require_enough_feedback(prepared, log, period=period, history_months=settings.history_months,
                            sources=settings.sources, minimum=texts_needed_for_themes(options))
    embeddings, clustering, taxonomy, description = group_feedback(prepared, settings)
    issue_names = description.issues.set_index("issue_id")["label"]
    lineage = match_issues(previous, period, prepared.items["item_id"], clustering.issue_ids, embeddings.vectors,
                           [issue_names[i] for i in range(clustering.n_issues)],
                           embedding="tfidf" if options.embedding == "tfidf" else options.model,
                           siblings=clustering.theme_of_issue)
    description = _with_keys(description, lineage)
    trends = theme_trends(description.items, period, settings.trends)
    return FeedbackAnalysis(period, prepared, embeddings, clustering, description, trends, taxonomy, settings, lineage)
