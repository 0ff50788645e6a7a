"""Customer feedback issues and themes, in data-flow order: ``prepare`` (read, clean, redact,
fold duplicates into votes) → ``embed`` (sentence embeddings with a disk cache, or TF-IDF) →
``cluster`` (issues as many as the data holds, small issues split out, mixed groups to
"other"; ``levels`` groups issues into 5–15 themes) → ``describe`` (names, sizes, customers,
revenue, quotes, taxonomy mapping) → ``identity`` (keys and names kept from last month) →
``trends`` (monthly counts, emerging and fading issues) → ``plots``.
``pipeline.analyse_feedback`` runs them all."""

from prodops_lib.feedback.config import FeedbackParams, feedback_intro, load_taxonomy
from prodops_lib.feedback.identity import IssueRegistry
from prodops_lib.feedback.pipeline import FeedbackAnalysis, analyse_feedback

__all__ = ["FeedbackAnalysis", "FeedbackParams", "IssueRegistry", "analyse_feedback", "feedback_intro", "load_taxonomy"]
