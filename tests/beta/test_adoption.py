"""Activation, usage and retention on a panel small enough to count by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prodops_lib.beta import align, measure_adoption

START = pd.Timestamp("2026-03-02")


def _panel(frequency_days: int, uses: dict[str, list[int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    units = pd.DataFrame({"unit": ["a", "b", "c", "x"], "in_beta": [True, True, True, False],
                          "entry_date": [START, START, START, pd.NaT]})
    rows = [{"unit": unit, "period": START + pd.Timedelta(days=frequency_days * i), "feature_uses": value}
            for unit, values in uses.items() for i, value in enumerate(values)]
    return units, pd.DataFrame(rows)


def test_weekly_activation_usage_and_retention_by_hand() -> None:
    units, panel = _panel(7, {"a": [2, 0, 1], "b": [0, 3, 0], "c": [0, 0, 0], "x": [0, 0, 0]})
    adoption = measure_adoption(align(units, panel, ["feature_uses"]), "feature_uses")
    assert (adoption.activated_units, adoption.beta_units) == (2, 3)  # a and b used it, c never did
    assert adoption.activation_share == pytest.approx(2 / 3)
    by_week = adoption.by_week.set_index("weeks_since_entry")
    assert by_week["mean_uses"].tolist() == pytest.approx([2 / 3, 1.0, 1 / 3])
    assert by_week["using_share"].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    # since first use: a (week 0) used it at lags 0, 2 and not 1; b (week 1) at lag 0, not 1
    retention = adoption.retention.set_index("weeks_since_first_use")
    assert retention["units"].tolist() == [2, 2, 1]
    assert retention["retained_share"].tolist() == pytest.approx([1.0, 0.0, 1.0])
    assert adoption.retention_after(2) == 1.0 and np.isnan(adoption.retention_after(3))


def test_a_daily_panel_is_summed_to_weeks_since_entry() -> None:
    days = 14
    units, panel = _panel(1, {"a": [1] + [0] * (days - 1), "b": [0] * 7 + [1] * 7, "c": [0] * days, "x": [0] * days})
    adoption = measure_adoption(align(units, panel, ["feature_uses"], frequency="day"), "feature_uses")
    by_week = adoption.by_week.set_index("weeks_since_entry")
    assert by_week["mean_uses"].tolist() == pytest.approx([1 / 3, 7 / 3])
    assert np.isclose(adoption.retention_after(1), 0.0)  # a stopped after its first week, b has no week 2


def test_a_partial_last_week_of_a_daily_panel_is_left_out() -> None:
    # 10 days after entry: week 1 has 3 days, and the uses in them must not read as a drop
    units, panel = _panel(1, {"a": [1] * 10, "b": [2] * 10, "c": [0] * 10, "x": [0] * 10})
    adoption = measure_adoption(align(units, panel, ["feature_uses"], frequency="day"), "feature_uses")
    assert adoption.by_week["weeks_since_entry"].tolist() == [0]
    assert adoption.by_week["mean_uses"].tolist() == pytest.approx([(7 + 14 + 0) / 3])
