"""Beta releases: a feature given to units that opted in (or were picked), so not randomised.

Data flows top to bottom: :mod:`inputs` (units and a metric panel, aligned on a period index)
→ :mod:`adoption` (activation, usage and retention since entry) → :mod:`stack` (a window per
entry cohort with comparison units matched on the pre-period, never already in the beta) →
:mod:`did` (the difference-in-differences and the event study, cluster-robust by unit) →
:mod:`impact` (beside the naive beta-vs-rest difference, in plain words); :mod:`feedback` (what
beta users raised, grouped by the feedback pipeline) → :mod:`readiness` (go to general
availability, fix first, or extend the beta).
"""

from .adoption import Adoption, measure_adoption
from .did import DidEstimate, EventStudy, average_effect, difference_in_differences, event_study
from .feedback import BetaFeedback, beta_feedback
from .impact import BetaImpact, NaiveComparison, estimate_impact, naive_comparison
from .inputs import BetaPanel, align, load_beta
from .plots import plot_adoption, plot_event_study
from .readiness import Readiness, decide_readiness
from .stack import Stack, stack_cohorts

__all__ = [
    "Adoption", "BetaFeedback", "BetaImpact", "BetaPanel", "DidEstimate", "EventStudy", "NaiveComparison", "Readiness",
    "Stack", "align", "average_effect", "beta_feedback", "decide_readiness", "difference_in_differences",
    "estimate_impact", "event_study", "load_beta", "measure_adoption", "naive_comparison", "plot_adoption",
    "plot_event_study", "stack_cohorts",
]
