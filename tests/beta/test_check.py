"""``prodops check`` on a beta: what it reads and the warnings that predict a thin report."""

from __future__ import annotations

import dataclasses

from prodops_lib import params
from prodops_lib.beta import report
from prodops_lib.beta.check import check_beta

from ..conftest import ROOT


def _settings() -> report.BetaReport:
    return params.load(ROOT / "parameters" / "beta_release.yaml", report.BetaReport)


def test_the_sample_beta_checks_clean_with_its_counts(truth: dict) -> None:
    check = check_beta(_settings())
    assert check.warnings == []
    assert check.lines[2].startswith(f"1,200 units, {truth['beta_units']} beta units entering 2026-07-27 to 2026-08-23")
    dropped = truth["feedback"]["dropped"]
    assert check.lines[3] == (f"data/sample/beta/feedback.csv: {truth['feedback']['items']} rows read, 10 dropped "
                              f"(empty text: {dropped['empty text']}; not from a beta unit: {dropped['not from a beta unit']}; "
                              f"before the unit entered the beta: {dropped['before the unit entered the beta']})")
    assert check.lines[4] == "102 feedback texts from 70 beta units after entry, to group into issues"
    assert check.months[0] == "2026-06" and check.months[-1] == "2026-10"


def test_warnings_for_a_short_panel_and_unscored_feedback() -> None:
    settings = _settings()
    source = settings.feedback.sources[0]
    unscored = dataclasses.replace(source, columns=dataclasses.replace(source.columns, rating=None))
    changed = dataclasses.replace(settings, pre_periods=6, matching_periods=4,
                                  feedback=dataclasses.replace(settings.feedback, sources=[unscored]))
    warnings = check_beta(changed).warnings
    assert warnings[0].startswith("the panel has 8 weeks before the first entry; the window and the matching need 10")
    assert warnings[1].startswith("no rating or nps column mapped in feedback")
    assert check_beta(dataclasses.replace(settings, feedback=None)).warnings == [
        "no feedback: block, so blocking issues will not be checked"]
