"""The whole analysis in data-flow order, for notebooks and tests: load → prepare → embed →
cluster → describe → trends. Each step is also a public function of its own module."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodops_lib.feedback.cluster import Clustering, cluster_embeddings
from prodops_lib.feedback.config import FeedbackParams, ProductTheme, load_taxonomy
from prodops_lib.feedback.describe import ThemeDescription, describe_themes
from prodops_lib.feedback.embed import Embeddings, embed_texts, make_embedder
from prodops_lib.feedback.prepare import PreparedFeedback, load_feedback, prepare_feedback
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

    @property
    def themes(self) -> pd.DataFrame:
        """The themes table with per-month counts (``items_YYYY-MM``)."""
        wide = self.trends.counts_wide()
        table = self.description.themes.join(wide, on="theme_id")
        return table.fillna({c: 0 for c in wide.columns}).astype({c: int for c in wide.columns})

    @property
    def demand(self) -> pd.DataFrame:
        return demand_by_theme(self.description.items)

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
    return FeedbackAnalysis(period, prepared, embeddings, clustering, description, trends, taxonomy)
