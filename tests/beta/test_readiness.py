"""The readiness rules, in order, on the sample beta with altered feedback and adoption."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from prodops_lib.beta import (
    BetaFeedback,
    decide_readiness,
    estimate_impact,
    load_beta,
    measure_adoption,
)

from ..conftest import ROOT

SAMPLE = ROOT / "data" / "sample" / "beta"


@pytest.fixture(scope="module")
def parts():
    beta = load_beta(SAMPLE / "units.csv", SAMPLE / "panel.csv", ["sessions", "feature_uses"])
    return estimate_impact(beta, "sessions", post_periods=6), measure_adoption(beta, "feature_uses")


def _feedback(*issues: tuple[str, int, bool]) -> BetaFeedback:
    """Grouped feedback with ``(issue, beta units, blocks)`` rows, on 242 beta units."""
    frame = pd.DataFrame({"issue_id": range(len(issues)), "issue": [i[0] for i in issues],
                          "beta_units": [i[1] for i in issues], "praise": False, "blocks": [i[2] for i in issues]})
    frame["share_of_beta_units"] = frame["beta_units"] / 242
    return BetaFeedback(frame, pd.DataFrame(), pd.DataFrame(), beta_units=242, units_writing=40, texts=60,
                        texts_needed=10, scored=True, blocking_share=0.10)


def test_a_blocking_issue_means_fix_first_and_is_named(parts) -> None:
    impact, adoption = parts
    readiness = decide_readiness(impact, adoption, _feedback(("Exports fail", 25, True), ("Slow", 3, False)))
    assert readiness.verdict == "fix first"
    assert readiness.headline == "Fix first: 10% of beta units raised 'Exports fail', which blocks general availability."
    assert readiness.reasons[-2:] == [
        "Feedback: 'Exports fail' raised by 25 beta units (10%), which blocks general availability.",
        "Feedback: 'Slow' raised by 3 beta units (1%)."]


def test_issues_below_the_share_name_the_largest_three_and_do_not_block(parts) -> None:
    impact, adoption = parts
    feedback = _feedback(("A", 20, False), ("B", 9, False), ("C", 5, False), ("D", 2, False))
    readiness = decide_readiness(impact, adoption, feedback)
    assert readiness.verdict == "go to general availability"
    assert [reason[:14] for reason in readiness.reasons[-3:]] == ["Feedback: 'A' ", "Feedback: 'B' ", "Feedback: 'C' "]


def test_low_activation_extends_the_beta(parts) -> None:
    impact, adoption = parts
    readiness = decide_readiness(impact, adoption, None, min_activation=0.8)
    assert readiness.verdict == "extend the beta"
    assert "only 70% of beta units activated the feature (169 of 242), below the 80%" in readiness.headline
    assert "No feedback source was given: blocking issues were not checked." in readiness.reasons


def test_doubtful_parallel_trends_extend_the_beta(parts) -> None:
    impact, adoption = parts
    doubtful = dataclasses.replace(impact, parallel_trends_doubtful=True)
    assert decide_readiness(doubtful, adoption).verdict == "extend the beta"


def test_an_interval_including_zero_extends_the_beta_and_a_loss_fixes_first(parts) -> None:
    impact, adoption = parts
    flat = dataclasses.replace(impact, adjusted=dataclasses.replace(impact.adjusted, ci_low=-0.1))
    assert decide_readiness(flat, adoption).headline.startswith("Extend the beta: no clear effect on sessions")
    worse = dataclasses.replace(impact, direction="decrease")  # fewer sessions would be good: this is a loss
    assert decide_readiness(worse, adoption).verdict == "fix first"
