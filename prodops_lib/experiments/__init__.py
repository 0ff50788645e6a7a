"""Experiments: trustworthy A/B and fake-door test analysis.

Data flows top to bottom through the modules: :mod:`.spec` (what the experiment is) →
:mod:`.aggregate` / :mod:`.aggregate_frame` / :mod:`.aggregate_sql` (sufficient statistics,
drops counted) → :mod:`.srm`, :mod:`.inference`, :mod:`.bayes`, :mod:`.corrections`,
:mod:`.sequential`, :mod:`.power`, :mod:`.quantiles` (the statistics) → :mod:`.effects`,
:mod:`.segments` (the tables) → :mod:`.decision` → :mod:`.analysis` (one call) →
:mod:`.plots` (charts). :mod:`.fake_door` covers click-through tests. :mod:`.priors` learns the
Bayesian view's prior per metric from past experiments (:mod:`.ledger`, :mod:`.program`) when an
experiment asks for ``prior: learned``.

The plotting functions are imported on first use, so analysing does not load matplotlib.
"""

from __future__ import annotations

from .aggregate import moments_from_aggregates
from .analysis import ExperimentAnalysis, analyse_aggregates, analyse_experiment
from .corrections import adjust_p_values
from .decision import Decision
from .effects import RESULT_COLUMN_DESCRIPTIONS, RESULT_COLUMNS
from .fake_door import FakeDoorAnalysis, analyse_fake_door, fake_door_test
from .power import (
    PowerPlan,
    SamplePower,
    minimum_detectable_effect,
    plan_experiment,
    power_curve,
    required_sample_size,
    statistical_power,
)
from .spec import ExperimentSpec, MetricSpec
from .srm import SrmResult, srm_test

_PLOTS = ("plot_cumulative", "plot_distribution", "plot_effect_by_exposure_day", "plot_fake_door", "plot_forest",
          "plot_power_curve")

__all__ = [
    "RESULT_COLUMNS",
    "RESULT_COLUMN_DESCRIPTIONS",
    "Decision",
    "ExperimentAnalysis",
    "ExperimentSpec",
    "FakeDoorAnalysis",
    "MetricSpec",
    "PowerPlan",
    "SamplePower",
    "SrmResult",
    "adjust_p_values",
    "analyse_aggregates",
    "analyse_experiment",
    "analyse_fake_door",
    "fake_door_test",
    "minimum_detectable_effect",
    "moments_from_aggregates",
    "plan_experiment",
    "power_curve",
    "required_sample_size",
    "srm_test",
    "statistical_power",
    *_PLOTS,
]


def __getattr__(name: str):
    if name in _PLOTS:
        from . import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
