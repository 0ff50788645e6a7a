"""The whole analysis in data-flow order, for notebooks and tests: load → prepare → embed →
cluster → describe → trends. Each step is also a public function of its own module."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.display import Kpi
from prodops_lib.feedback.cluster import Clustering, cluster_embeddings
from prodops_lib.feedback.config import FeedbackParams, ProductTheme, load_taxonomy
from prodops_lib.feedback.describe import UNMAPPED, ThemeDescription, describe_themes
from prodops_lib.feedback.embed import Embeddings, embed_texts, make_embedder
from prodops_lib.feedback.prepare import (
    PreparedFeedback,
    load_feedback,
    prepare_feedback,
    require_enough_feedback,
    texts_needed_for_themes,
)
from prodops_lib.feedback.trends import ThemeTrends, demand_by_theme, theme_trends
from prodops_lib.io import DropLog
from prodops_lib.params import parse_period

__all__ = ["FeedbackAnalysis", "analyse_feedback"]


@dataclass(frozen=True)
class FeedbackAnalysis:
    """Every result of one feedback report."""

    period: str
    prepared: PreparedFeedback
    embeddings: Embeddings
    clustering: Clustering
    description: ThemeDescription
    trends: ThemeTrends
    taxonomy: list[ProductTheme]
    settings: FeedbackParams

    @property
    def themes(self) -> pd.DataFrame:
        """The themes table with per-month counts (``items_YYYY-MM``)."""
        wide = self.trends.counts_wide()
        table = self.description.themes.join(wide, on="theme_id")
        return table.fillna({c: 0 for c in wide.columns}).astype({c: int for c in wide.columns})

    @property
    def demand(self) -> pd.DataFrame:
        return demand_by_theme(self.description.items)

    @property
    def product_trends(self) -> ThemeTrends:
        """Trends of the product themes themselves (all clusters mapped to one theme pooled)."""
        items = self.description.items
        names = sorted(set(items["product_theme"]))
        pooled = items.assign(theme_id=items["product_theme"].map({n: i for i, n in enumerate(names)}),
                              label=items["product_theme"])
        return theme_trends(pooled, self.period, self.settings.trends)

    def trends_table(self) -> pd.DataFrame:
        """Theme-level and product-theme-level changes in one table (``level`` says which)."""
        return pd.concat([self.trends.changes.assign(level="theme"),
                          self.product_trends.changes.assign(level="product theme")], ignore_index=True)

    def items_table(self) -> pd.DataFrame:
        """Item → theme, with the duplicates pointing at the item they repeat."""
        repeats = self.prepared.duplicates.merge(
            self.description.items[["item_id", "theme_id", "label", "product_theme"]],
            left_on="duplicate_of", right_on="item_id", suffixes=("", "_kept")).drop(columns="item_id_kept")
        return pd.concat([self.description.items.assign(duplicate_of=pd.NA), repeats], ignore_index=True)

    def this_month(self) -> pd.DataFrame:
        """Themes ranked by items in the period, with customers and ARR affected this month."""
        items = self.prepared.items.assign(theme_id=self.clustering.labels)
        current = items[items["month"] == self.period]
        rows = []
        for theme, group in current.groupby("theme_id"):
            known = group.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
            rows.append({"theme_id": int(theme), "items": len(group), "customers": len(known),
                         "arr": float(known["arr"].fillna(0).sum())})
        frame = pd.DataFrame(rows, columns=["theme_id", "items", "customers", "arr"])
        frame["share"] = frame["items"] / max(len(current), 1)
        names = self.description.themes.set_index("theme_id")[["label", "product_theme"]]
        return frame.join(names, on="theme_id").sort_values(["items", "theme_id"], ascending=[False, True]) \
            [["theme_id", "label", "product_theme", "items", "share", "customers", "arr"]].reset_index(drop=True)

    def affected_customers(self, theme_ids: list[int], top: int = 10) -> pd.DataFrame:
        """The highest-ARR customers who raised any of ``theme_ids`` in the period."""
        items = self.prepared.items.assign(theme_id=self.clustering.labels)
        hit = items[(items["month"] == self.period) & items["theme_id"].isin(theme_ids)].dropna(subset=["customer_id"])
        labels = self.description.themes.set_index("theme_id")["label"]
        rows = [{"customer": group["customer_name"].dropna().iloc[0] if group["customer_name"].notna().any() else customer,
                 "segment": group["segment"].dropna().iloc[0] if group["segment"].notna().any() else None,
                 "arr": float(group["arr"].max()) if group["arr"].notna().any() else 0.0,
                 "items": len(group), "themes": "; ".join(sorted({labels[t] for t in group["theme_id"]}))}
                for customer, group in hit.groupby("customer_id")]
        frame = pd.DataFrame(rows, columns=["customer", "segment", "arr", "items", "themes"])
        return frame.sort_values(["arr", "items"], ascending=False).head(top).reset_index(drop=True)

    def largest_product_theme(self) -> tuple[str, float] | None:
        """The product theme (not unmapped) with the most items in the period, and its share."""
        demand = self.demand
        mapped = demand[(demand["month"] == self.period) & (demand["product_theme"] != UNMAPPED)]
        if mapped.empty:
            return None
        row = mapped.sort_values(["items", "product_theme"], ascending=[False, True]).iloc[0]
        return str(row["product_theme"]), float(row["item_share"])

    def headline(self) -> tuple[str, str]:
        """One sentence for the report card, and its tone."""
        largest = self.largest_product_theme()
        emerging = self.trends.of_kind("emerging")
        first = (f"Most feedback in {self.period} is about {largest[0]} ({largest[1]:.0%})" if largest
                 else f"No feedback in {self.period} maps to a product theme")
        if len(emerging):
            row = emerging.iloc[0]
            return first + f"; emerging: {row['label']} ({row['product_theme']}), {row['share_ratio']:.1f}× its earlier share.", "warning"
        return first + "; no theme is emerging.", "neutral"

    def kpis(self) -> list[Kpi]:
        current = self.prepared.items[self.prepared.items["month"] == self.period]
        emerging = self.trends.of_kind("emerging")
        unmapped = self.description.items
        unmapped = unmapped[unmapped["month"] == self.period]["product_theme"].eq("unmapped").mean()
        return [Kpi("Feedback this month", f"{len(current):,}", f"{int(current['votes'].sum()):,} with repeats"),
                Kpi("Themes found", f"{self.clustering.n_themes}",
                    f"{'chosen automatically' if self.clustering.automatic else 'fixed'}; {self.clustering.n_other:,} items in other"),
                Kpi("Emerging themes", f"{len(emerging)}", "vs the previous months",
                    "warning" if len(emerging) else "neutral"),
                Kpi("Not in the taxonomy", f"{unmapped:.0%}", "of this month's feedback")]

    def to_frame(self) -> pd.DataFrame:
        return self.themes


def analyse_feedback(settings: FeedbackParams, period: str, log: DropLog,
                     items: pd.DataFrame | None = None) -> FeedbackAnalysis:
    """Run the analysis of ``settings`` for ``period``; ``items`` skips loading (tests)."""
    period = parse_period(period)
    if items is None:
        items = load_feedback(settings.sources, log, period=period, history_months=settings.history_months,
                              accounts=settings.accounts)
    prepared = prepare_feedback(items, settings.duplicates)
    options = settings.clustering
    require_enough_feedback(prepared, log, period=period, history_months=settings.history_months,
                            sources=settings.sources, minimum=texts_needed_for_themes(options))
    embedder = make_embedder(options.embedding, options.model, options.cache_dir, options.seed)
    embeddings = embed_texts(embedder, prepared.items["text"])
    taxonomy = load_taxonomy(settings.taxonomy)
    taxonomy_vectors = embedder.embed([theme.description for theme in taxonomy]) if taxonomy else np.zeros((0, 1))
    clustering = cluster_embeddings(
        embeddings.vectors, n_themes=options.n_themes, k_min=options.k_min, k_max=options.k_max,
        k_candidates=options.k_candidates, neighbour_smoothing=options.neighbour_smoothing,
        selection_sample=options.selection_sample, min_theme_size=options.min_theme_size,
        incoherence_cutoff=options.incoherence_cutoff, seed=options.seed)
    description = describe_themes(prepared.items, embeddings.vectors, clustering.labels, taxonomy=taxonomy,
                                  taxonomy_vectors=taxonomy_vectors,
                                  min_similarity=settings.mapping_min_similarity,
                                  quotes_per_theme=settings.quotes_per_theme)
    trends = theme_trends(description.items, period, settings.trends)
    return FeedbackAnalysis(period, prepared, embeddings, clustering, description, trends, taxonomy, settings)
