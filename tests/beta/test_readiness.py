"""The readiness rules, in order, on the sample beta with altered feedback and adoption."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from prodops_lib.beta import decide_readiness, estimate_impact, load_beta, measure_adoption

from ..conftest import ROOT

SAMPLE = ROOT / "data" / "sample" / "beta"


@pytest.fixture(scope="module")
def parts():
    beta = load_beta(SAMPLE / "units.csv", SAMPLE / "panel.csv", ["sessions", "feature_uses"])
    return estimate_impact(beta, "sessions", post_periods=6), measure_adoption(beta, "feature_uses")


def test_a_theme_raised_by_a_tenth_of_beta_units_means_fix_first(parts) -> None:
    impact, adoption = parts
    themes = pd.DataFrame({"theme": ["Exports fail", "Slow"], "beta_units": [25, 3], "blocking": [False, False]})
    readiness = decide_readiness(impact, adoption, themes)
    assert readiness.verdict == "fix first"
    assert readiness.headline == "Fix first: 10% of beta units raised 'Exports fail', which blocks general availability."


def test_a_theme_marked_blocking_means_fix_first_whatever_its_share(parts) -> None:
    impact, adoption = parts
    themes = pd.DataFrame({"theme": ["Data loss"], "beta_units": [1], "blocking": [True]})
    assert decide_readiness(impact, adoption, themes).verdict == "fix first"


def test_low_activation_extends_the_beta(parts) -> None:
    impact, adoption = parts
    readiness = decide_readiness(impact, adoption, None, min_activation=0.8)
    assert readiness.verdict == "extend the beta"
    assert "only 70% of beta units activated the feature (169 of 242), below the 80%" in readiness.headline
    assert "No feedback themes were given: blocking issues were not checked." in readiness.reasons


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
