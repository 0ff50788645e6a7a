"""Customer feedback themes, in data-flow order: ``prepare`` (read, clean, redact, fold
duplicates into votes) → ``embed`` (sentence embeddings with a disk cache, or TF-IDF) →
``cluster`` (automatic k, weak groups to "other") → ``describe`` (labels, sizes, customers,
ARR, quotes, taxonomy mapping) → ``trends`` (monthly counts, emerging and fading themes)
→ ``plots``. ``pipeline.analyse_feedback`` runs them all."""

from prodops_lib.feedback.config import FeedbackParams, load_taxonomy
from prodops_lib.feedback.pipeline import FeedbackAnalysis, analyse_feedback

__all__ = ["FeedbackAnalysis", "FeedbackParams", "analyse_feedback", "load_taxonomy"]
