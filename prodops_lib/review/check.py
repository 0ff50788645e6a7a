"""``prodops check`` for the monthly review: its parameters, its taxonomy, and whether the
reports it reads are in the bundle and name their themes as the taxonomy does. Demand and
supply meet on theme names, so a rule's theme spelled differently from the taxonomy's would
show up as a theme with effort and no demand; the check names it (:mod:`prodops_lib.check`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from prodops_lib.check import InputCheck
from prodops_lib.params import load, load_taxonomy

from .spec import ReviewParams

__all__ = ["check_review"]


def check_review(settings: ReviewParams, reports: Mapping[str, tuple[str, Path | None]]) -> InputCheck:
    """``reports``: the bundle's reports the review can read from, name → (notebook file name,
    parameter file)."""
    check = InputCheck()
    taxonomy = load_taxonomy(settings.taxonomy)
    check.lines.append(f"taxonomy: {settings.taxonomy} ({len(taxonomy.product_themes)} product themes, "
                       f"{len(taxonomy.allocation_only_themes)} engineering-only)")
    sources = settings.sources
    named = [("sources.allocation", sources.allocation), ("sources.feedback", sources.feedback),
             *((f"sources.experiments[{i}]", name) for i, name in enumerate(sources.experiments))]
    read = [name for _, name in named if name]
    check.lines.append("reads the saved results of: " + (", ".join(read) or "no report"))
    for setting, name in named:
        if name and name not in reports:
            check.warnings.append(f"{setting} names {name!r}, which is not a report of this bundle; the review "
                                  "will show it as missing (reports: " + ", ".join(reports) + ")")
    known = set(taxonomy.all_themes)
    for setting, name, themes in _themes_used(settings, reports):
        unknown = [theme for theme in themes if theme and theme not in known]
        if unknown:
            one = len(unknown) == 1
            check.warnings.append(f"{setting} ({name}) uses {'a theme' if one else 'themes'} the taxonomy does not list: "
                                  + ", ".join(map(repr, unknown)) + f"; rename {'it' if one else 'them'} as in the "
                                  f"taxonomy, or the review cannot set {'its' if one else 'their'} demand against "
                                  f"{'its' if one else 'their'} effort")
    return check


def _themes_used(settings: ReviewParams, reports: Mapping[str, tuple[str, Path | None]]):
    """(setting, report, theme names) of the allocation rules and the experiments."""
    from prodops_lib.allocation.config import AllocationParams
    from prodops_lib.allocation.inputs import load_rules
    from prodops_lib.beta.report import BetaReport
    from prodops_lib.experiments.report import ExperimentReport, FakeDoorReport

    allocation = settings.sources.allocation
    if allocation and allocation in reports and reports[allocation][1]:
        rules = load_rules(load(reports[allocation][1], AllocationParams).rules)
        yield "theme rules", allocation, list(dict.fromkeys(rule.theme for rule in rules.rules))
    for name in settings.sources.experiments:
        notebook, parameters = reports.get(name, ("", None))
        if parameters is None:
            continue
        if notebook in ("fake_door.ipynb", "beta_release.ipynb"):  # parameters with the theme at the top
            theme = load(parameters, FakeDoorReport if notebook == "fake_door.ipynb" else BetaReport).theme
        else:
            theme = load(parameters, ExperimentReport).experiment.theme
        yield "experiment theme", name, [theme]
