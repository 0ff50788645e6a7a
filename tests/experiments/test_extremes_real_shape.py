"""One unit that dominates a mean, in the shape of the public Cookie Cats test.

The Cookie Cats mobile-game test (90,189 players; gate_30: 44,700, gate_40: 45,489) is not in
../shared/data, so its shape is synthesised: game rounds from a gamma distribution with a median
of 17 and a mean of about 51 in both arms (no effect), and one gate_30 player with 49,854 rounds,
as in the public data; gate_30 then has the published median 17, mean ≈ 52.5 and standard
deviation ≈ 256 (more players with 0 rounds than the real 4.4%). That player is 2% of gate_30's
rounds and under 3,000 times the median, below both older rules, but holds most of gate_30's
variance and alone moves the difference in mean rounds by about 2 points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prodops_lib.experiments import ExperimentSpec, MetricSpec, analyse_experiment
from prodops_lib.experiments.extremes import DOMINANT_SHARE, TIMES_MEDIAN
from prodops_lib.experiments.report import extreme_notes, results_block

WHALE_ROUNDS = 49_854
SPEC = ExperimentSpec(name="cookie_cats", unit="userid", variant_column="version", control="gate_30",
                      metrics=[MetricSpec("retention_7", kind="proportion", role="primary"),
                               MetricSpec("retention_1", kind="proportion"),
                               MetricSpec("sum_gamerounds")])


@pytest.fixture(scope="module")
def cookie_cats() -> pd.DataFrame:
    rng = np.random.default_rng(30)
    version = np.array(["gate_30"] * 44_700 + ["gate_40"] * 45_489)
    rounds = np.floor(rng.gamma(0.37, 51.3 / 0.37, version.size))  # median ≈ 17, mean ≈ 51, no arm effect
    whale = int(np.flatnonzero(version == "gate_30")[123])
    rounds[whale] = WHALE_ROUNDS
    playing = np.minimum(rounds / 60, 1)
    return pd.DataFrame({"userid": rng.permutation(10_000_000)[: version.size] + 116, "version": version,
                         "sum_gamerounds": rounds.astype(int),
                         "retention_1": (rng.random(version.size) < 0.2 + 0.5 * playing).astype(int),
                         "retention_7": (rng.random(version.size) < 0.05 + 0.3 * playing).astype(int)})


def test_the_whale_is_below_the_share_and_median_rules_but_holds_most_of_its_arms_variance(cookie_cats):
    gate_30 = cookie_cats.loc[cookie_cats["version"] == "gate_30", "sum_gamerounds"].to_numpy(float)
    # as published for gate_30: median 17, mean 52.5, standard deviation 256.7
    assert np.median(gate_30) == 17 and gate_30.mean() == pytest.approx(52.5, abs=1) and gate_30.std() == pytest.approx(256, abs=10)
    assert WHALE_ROUNDS / gate_30.sum() < 0.05 < DOMINANT_SHARE
    assert WHALE_ROUNDS / np.median(gate_30[gate_30 > 0]) < 3000 < TIMES_MEDIAN  # the rule reads non-zero units
    variance_share = (WHALE_ROUNDS - gate_30.mean()) ** 2 / ((gate_30 - gate_30.mean()) ** 2).sum()
    assert variance_share > 0.8


@pytest.mark.parametrize("reading", ["frame", "parquet"])
def test_the_page_names_the_whale_and_shows_the_effect_with_and_without_capping(cookie_cats, reading, tmp_path):
    source = cookie_cats
    if reading == "parquet":
        source = tmp_path / "cookie_cats.parquet"
        cookie_cats.to_parquet(source, index=False)
    analysis = analyse_experiment(source, SPEC)
    [flag] = analysis.notes["extreme_units"]
    whale_id = cookie_cats.loc[cookie_cats["sum_gamerounds"] == WHALE_ROUNDS, "userid"].iloc[0]
    assert (flag["metric"], flag["variant"], flag["unit"], flag["value"]) == ("sum_gamerounds", "gate_30", str(whale_id),
                                                                             WHALE_ROUNDS)
    rounds = cookie_cats.groupby("version")["sum_gamerounds"]
    gate_30 = cookie_cats.loc[cookie_cats["version"] == "gate_30", "sum_gamerounds"].to_numpy(float)
    assert flag["variance_share"] == pytest.approx((WHALE_ROUNDS - gate_30.mean()) ** 2 / ((gate_30 - gate_30.mean()) ** 2).sum(),
                                                   rel=1e-9)
    measured = rounds.mean()["gate_40"] / rounds.mean()["gate_30"] - 1
    without_whale = rounds.mean()["gate_40"] / gate_30[gate_30 != WHALE_ROUNDS].mean() - 1
    assert flag["effect"]["gate_40"] == pytest.approx(measured, rel=1e-9)
    assert measured - without_whale < -0.015  # the whale alone moves the lift by about 2 points
    assert flag["effect_capped"]["gate_40"] == pytest.approx(without_whale, abs=0.01)
    [sentence] = extreme_notes(analysis)
    assert sentence.startswith(f"One unit dominates sum gamerounds: unit {whale_id} in gate_30 has sum_gamerounds = 49,854, ")
    assert "% of gate_30's total and 8" in sentence and "% of its variance." in sentence
    assert f"gate_40: {measured:+.1%} as measured, {flag['effect_capped']['gate_40']:+.1%} with values capped" in sentence
    assert "One unit dominates sum gamerounds" in str(results_block(analysis))
