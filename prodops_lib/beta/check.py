"""``prodops check`` for a beta release: what the report will read, without running it.

It reads the units, the panel and the feedback the way the report does (no grouping, no
model), and warns about what would make the report stop or its numbers thin: too few periods
before the first entry for the comparison window and the matching, too few feedback texts to
group, feedback without a score.
"""

from __future__ import annotations

import pandas as pd

from prodops_lib.check import InputCheck, describe_drops
from prodops_lib.feedback.prepare import prepare_feedback, texts_needed_for_themes
from prodops_lib.io import DropLog
from prodops_lib.labels import count_of

from .feedback import is_scored, load_beta_feedback
from .inputs import load_beta
from .report import BetaReport

__all__ = ["check_beta"]


def check_beta(report: BetaReport, period: str | None = None) -> InputCheck:
    """Units, panel and feedback of ``report``, read as the report reads them."""
    del period  # a beta is analysed over its whole panel
    check, log = InputCheck(), DropLog()
    panel = load_beta(report.units, report.panel, report.panel_columns, frequency=report.frequency, log=log)
    for source in (report.units, report.panel):
        check.lines.append(f"{source}: {describe_drops(log, str(source))}")
    entries = panel.units.loc[panel.units["in_beta"], "entry_date"]
    periods = panel.panel["period"]
    check.lines.append(f"{count_of(len(panel.units), 'unit')}, {count_of(panel.beta_units, 'beta unit')} entering "
                       f"{entries.min():%Y-%m-%d} to {entries.max():%Y-%m-%d}; panel {periods.min():%Y-%m-%d} to "
                       f"{periods.max():%Y-%m-%d}, one row per unit and {report.frequency}")
    check.months = sorted(pd.to_datetime(periods).dt.strftime("%Y-%m").unique())
    before = int(panel.units.loc[panel.units["in_beta"], "entry_index"].min())
    needed = report.pre_periods + report.matching_periods
    if before < needed:
        check.warnings.append(f"the panel has {count_of(before, report.frequency)} before the first entry; the window "
                              f"and the matching need {needed} (pre_periods + matching_periods): the first cohorts are "
                              "left out, or lower those settings")
    if report.feedback is None:
        check.warnings.append("no feedback: block, so blocking issues will not be checked")
        return check
    items = load_beta_feedback(report.feedback, panel, log)
    texts = prepare_feedback(items, report.feedback.duplicates).n_items  # repeats folded, as the report counts
    for source in report.feedback.sources:
        check.lines.append(f"{source.path}: {describe_drops(log, source.name)}")
    check.lines.append(f"{count_of(texts, 'feedback text')} from {count_of(items['customer_id'].nunique(), 'beta unit')}"
                       " after entry, to group into issues")
    minimum = texts_needed_for_themes(report.feedback.clustering)
    if texts < minimum:
        check.warnings.append(f"only {count_of(texts, 'feedback text')} from beta units after entry; grouping "
                              f"needs {minimum}, so blocking issues will not be checked")
    if not is_scored(report.feedback):
        check.warnings.append("no rating or nps column mapped in feedback: praise cannot be told from complaints, so a "
                              "widely shared compliment would block general availability")
    return check
