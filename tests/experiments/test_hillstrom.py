"""Real data: the MineThatData e-mail test (Hillstrom 2008), 64,000 customers in three arms.

The analysis of visit, conversion and spend for each e-mail arm against "No E-Mail" agrees
with an independent computation here (scipy, statsmodels, pandas) and with the published
arm averages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from prodops_lib.experiments import ExperimentSpec, MetricSpec, analyse_experiment

HILLSTROM = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ab" / "hillstrom.csv"
CONTROL = "No E-Mail"
ARMS = ["Mens E-Mail", "Womens E-Mail"]

SPEC = ExperimentSpec(
    name="hillstrom", variant_column="segment", control=CONTROL,
    expected_split={CONTROL: 1 / 3, "Mens E-Mail": 1 / 3, "Womens E-Mail": 1 / 3},
    metrics=[
        MetricSpec("visit", kind="proportion", role="primary"),
        MetricSpec("conversion", kind="proportion"),
        MetricSpec("spend"),
        MetricSpec("spend_cuped", column="spend", covariate="history"),
    ],
)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    if not HILLSTROM.is_file():
        pytest.skip(f"the Hillstrom dataset is not beside the checkout ({HILLSTROM})")
    return pd.read_csv(HILLSTROM)


@pytest.fixture(scope="module")
def analysis(data):
    return analyse_experiment(data, SPEC)


def result(analysis, metric: str, arm: str) -> pd.Series:
    table = analysis.to_frame()
    return table[(table["metric"] == metric) & (table["variant"] == arm)].iloc[0]


def test_split_is_as_designed(data, analysis):
    assert len(data) == 64_000
    assert analysis.units == data["segment"].value_counts().reindex([CONTROL, *ARMS]).to_dict()
    # scipy.stats.chisquare of the three arm sizes
    assert analysis.srm.p_value == pytest.approx(stats.chisquare(list(analysis.units.values())).pvalue, rel=1e-9)
    assert not analysis.srm.mismatch


def test_published_arm_averages(analysis):
    # Hillstrom (2008), MineThatData E-Mail Analytics Challenge: visit 18.3% / 15.1% / 10.6%,
    # conversion 1.25% / 0.88% / 0.57%, spend per customer $1.42 / $1.08 / $0.65
    mens, womens = result(analysis, "visit", "Mens E-Mail"), result(analysis, "visit", "Womens E-Mail")
    assert (mens["mean_variant"], womens["mean_variant"], mens["mean_control"]) == pytest.approx((0.183, 0.151, 0.106), abs=6e-4)
    conversion = [result(analysis, "conversion", arm)["mean_variant"] for arm in ARMS]
    assert conversion == pytest.approx([0.0125, 0.0088], abs=6e-5)
    spend = result(analysis, "spend", "Mens E-Mail")
    assert (spend["mean_variant"], spend["mean_control"]) == pytest.approx((1.42, 0.65), abs=6e-3)


@pytest.mark.parametrize("arm", ARMS)
@pytest.mark.parametrize("metric", ["visit", "conversion"])
def test_proportions_agree_with_statsmodels(data, analysis, metric, arm):
    treated, control = data.loc[data["segment"] == arm, metric], data.loc[data["segment"] == CONTROL, metric]
    row = result(analysis, metric, arm)
    _, p_value = proportions_ztest([treated.sum(), control.sum()], [len(treated), len(control)])
    low, high = confint_proportions_2indep(treated.sum(), len(treated), control.sum(), len(control), method="wald")
    assert row["p_value"] == pytest.approx(p_value, rel=1e-9, abs=1e-300)
    assert (row["abs_ci_low"], row["abs_ci_high"]) == pytest.approx((low, high), rel=1e-9)
    assert row["abs_effect"] == pytest.approx(treated.mean() - control.mean(), rel=1e-12)
    assert row["significant"]


@pytest.mark.parametrize("arm", ARMS)
def test_spend_agrees_with_welch(data, analysis, arm):
    treated, control = data.loc[data["segment"] == arm, "spend"], data.loc[data["segment"] == CONTROL, "spend"]
    welch = stats.ttest_ind(treated, control, equal_var=False)
    row = result(analysis, "spend", arm)
    assert row["p_value"] == pytest.approx(welch.pvalue, rel=1e-8)
    interval = welch.confidence_interval(1 - SPEC.alpha)
    assert (row["abs_ci_low"], row["abs_ci_high"]) == pytest.approx((interval.low, interval.high), rel=1e-9)


@pytest.mark.parametrize("arm", ARMS)
def test_spend_with_history_as_cuped_covariate_agrees_with_regression(data, analysis, arm):
    pair = data[data["segment"].isin([arm, CONTROL])]
    design = np.column_stack([np.ones(len(pair)), (pair["segment"] == arm).astype(float), pair["history"]])
    ols = sm.OLS(pair["spend"].to_numpy(), design).fit()
    row = result(analysis, "spend_cuped", arm)
    assert row["abs_effect"] == pytest.approx(ols.params[1], rel=1e-9)
    # history explains little of spend here: the reduction is small but positive, ≈ ρ²(spend, history)
    rho_squared = pair.groupby("segment")[["spend", "history"]].corr().xs("spend", level=1)["history"].pow(2).mean()
    assert row["cuped_variance_reduction"] == pytest.approx(rho_squared, abs=0.002)


def test_the_method_says_history_barely_predicts_spend(analysis):
    from prodops_lib.experiments.report import method_block

    # ρ² of about 0.0004 (above): the page must not suggest a narrower interval, and says what the decision says
    assert ("For spend cuped the pre-experiment value did not reduce the noise (the variance), so the interval is "
            "about as wide as without it.") in str(method_block(analysis))


def test_file_path_gives_the_same_answer(analysis):
    from_file = analyse_experiment(HILLSTROM, SPEC)
    numeric = analysis.to_frame().select_dtypes("number").columns
    np.testing.assert_allclose(from_file.to_frame()[numeric].to_numpy(float), analysis.to_frame()[numeric].to_numpy(float),
                               rtol=1e-9, atol=1e-15)


def test_decision_ships_the_mens_email(analysis):
    assert analysis.decision.verdict == "ship" and analysis.decision.variant == "Mens E-Mail"
