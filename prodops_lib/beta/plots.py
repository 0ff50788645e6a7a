"""Charts of a beta: the event study (the pre-trend check and the effect after entry) and the
adoption curves. Each returns a matplotlib Figure; the theme is set by ``display.use_theme``."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from prodops_lib.charts import legend_outside

from .adoption import Adoption
from .impact import BetaImpact

__all__ = ["plot_adoption", "plot_event_study"]


def plot_event_study(impact: BetaImpact) -> Figure:
    """The difference between beta units and their comparison units in each period around
    entry, relative to the period just before entry, with its interval. Before entry (left of
    the dashed line) the points should sit on zero: that is the parallel-trends check."""
    frame = impact.event_study.coefficients
    figure = Figure(figsize=(8.0, 3.6), layout="constrained")
    axes = figure.subplots()
    before = frame["event_time"] < 0
    for part, colour, name in ((before, "0.45", "before entry (should be about 0)"), (~before, "C0", "after entry")):
        rows = frame[part]
        axes.errorbar(rows["event_time"], rows["effect"], yerr=[rows["effect"] - rows["ci_low"], rows["ci_high"] - rows["effect"]],
                      fmt="o", color=colour, capsize=3, label=name)
    axes.axhline(0, color="0.3", linewidth=0.8)
    axes.axvline(-0.5, color="0.5", linestyle="--", linewidth=0.8)
    axes.axhline(impact.adjusted.effect, color="C0", linestyle=":", linewidth=1, label="average effect after entry")
    axes.set_xlabel(f"{impact.frequency.capitalize()}s since entering the beta (−1: the reference {impact.frequency})")
    axes.set_ylabel(f"Difference in {impact.label}")
    axes.set_title(f"{impact.label.capitalize()}: beta units against comparable units, around entry")
    legend_outside(figure, below=True)
    return figure


def plot_adoption(adoption: Adoption) -> Figure:
    """Two panels: the share of beta units using the feature by week since entry, and the
    retention of those who activated by week since their first use."""
    figure = Figure(figsize=(8.0, 3.4), layout="constrained")
    usage, retention = figure.subplots(1, 2, sharey=True)
    usage.plot(adoption.by_week["weeks_since_entry"], adoption.by_week["using_share"], marker="o")
    usage.set_xlabel("Weeks since entering the beta")
    usage.set_ylabel("Share of units")
    usage.set_title("Beta units using it that week")
    retention.plot(adoption.retention["weeks_since_first_use"], adoption.retention["retained_share"], marker="s",
                   color="C1")
    retention.set_xlabel("Weeks since first use")
    retention.set_title("Of those who had used it, using it")
    usage.yaxis.set_major_formatter(PercentFormatter(1.0))
    usage.set_ylim(0, 1.05)
    figure.suptitle("Adoption of the beta feature")
    return figure
