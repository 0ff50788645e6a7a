"""The DuckDB path (files, SQL) gives the same analysis as the pandas path, to 1e-9."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prodops_lib.experiments import ExperimentSpec, MetricSpec, analyse_experiment
from prodops_lib.io import SQL

from .conftest import make_units


def messy_units() -> pd.DataFrame:
    """Missing values, a missing variant and unit id, units in two variants, zero denominators."""
    data = make_units(6000, seed=21, days=7)
    rng = np.random.default_rng(4)
    data.loc[rng.choice(len(data), 40, replace=False), "revenue"] = np.nan
    data.loc[rng.choice(len(data), 25, replace=False), "pre_revenue"] = np.nan
    data["orders"] = data["orders"].astype(float)
    data.loc[rng.choice(len(data), 30, replace=False), "orders"] = np.nan
    data.loc[rng.choice(len(data), 10, replace=False), "country"] = None
    data.loc[[3, 4], "variant"] = None
    data["user_id"] = data["user_id"].astype(float)
    data.loc[[5], "user_id"] = np.nan
    crossover = data.iloc[10:16].copy()
    crossover["variant"] = np.where(crossover["variant"] == "control", "B", "control")
    data = pd.concat([data, crossover], ignore_index=True)
    data["spend"] = data["revenue"] * data["converted"]
    return data


MESSY_SPEC = ExperimentSpec(
    name="messy", unit="user_id", timestamp_column="exposed_at", segments=["country"],
    expected_split={"control": 1 / 3, "B": 1 / 3, "C": 1 / 3}, mde=0.05,
    metrics=[
        MetricSpec("converted", kind="proportion", role="primary"),
        MetricSpec("revenue", covariate="pre_revenue", missing="drop", winsorize_upper=0.99),
        MetricSpec("spend", missing="zero", winsorize_lower=0.05, winsorize_upper=0.95, winsorize_scope="nonzero"),
        MetricSpec("orders_per_session", kind="ratio", numerator="orders", denominator="sessions",
                   covariate="pre_revenue", missing="zero", role="guardrail", non_inferiority_margin=0.1),
        MetricSpec("p90_revenue", kind="quantile", column="revenue", quantile=0.9, missing="drop"),
    ],
)


def assert_same_frames(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> None:
    left, right = left.sort_values(keys).reset_index(drop=True), right.sort_values(keys).reset_index(drop=True)
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right) > 0
    for column in left.columns:
        if pd.api.types.is_numeric_dtype(left[column]) and not pd.api.types.is_bool_dtype(left[column]):
            np.testing.assert_allclose(left[column].to_numpy(float), right[column].to_numpy(float), rtol=1e-9, atol=1e-12,
                                       err_msg=column)
        else:
            assert left[column].astype(str).tolist() == right[column].astype(str).tolist(), column


@pytest.fixture(scope="module")
def messy() -> pd.DataFrame:
    return messy_units()


@pytest.fixture(scope="module")
def from_frame(messy):
    return analyse_experiment(messy, MESSY_SPEC, random_state=3)


@pytest.fixture(scope="module")
def parquet_path(messy, tmp_path_factory):
    path = tmp_path_factory.mktemp("experiments") / "messy.parquet"
    messy.to_parquet(path, index=False)
    return path


def test_parquet_path_equals_pandas_path(from_frame, parquet_path):
    from_parquet = analyse_experiment(parquet_path, MESSY_SPEC, random_state=3)
    assert_same_frames(from_frame.to_frame(), from_parquet.to_frame(), ["metric", "variant"])
    assert_same_frames(from_frame.cumulative, from_parquet.cumulative, ["metric", "variant", "day"])
    assert_same_frames(from_frame.segments, from_parquet.segments, ["segment_column", "segment", "metric", "variant"])
    assert from_frame.units == from_parquet.units
    assert from_frame.drops[["reason", "rows"]].equals(from_parquet.drops[["reason", "rows"]])
    caps, caps_sql = from_frame.notes["winsorized"], from_parquet.notes["winsorized"]
    assert {k: v for k, v in from_frame.notes.items() if k != "winsorized"} == \
        {k: v for k, v in from_parquet.notes.items() if k != "winsorized"}
    for metric, cap in caps.items():  # numpy's and DuckDB's interpolation may differ in the last bit
        assert cap == pytest.approx(caps_sql[metric], rel=1e-12)
    assert from_frame.decision == from_parquet.decision


def test_messy_data_is_counted_not_silently_lost(from_frame):
    drops = dict(zip(from_frame.drops["reason"], from_frame.drops["rows"], strict=True))
    assert drops["missing variant"] == 2
    assert drops["missing unit id"] == 1
    assert drops["unit in more than one variant"] == 12  # 6 units, each on two rows
    assert drops["metric 'revenue': missing value"] > 40  # revenue or its covariate missing
    assert drops["metric 'orders_per_session': zero denominator"] > 0
    assert from_frame.notes["filled_with_zero"]["orders_per_session: orders"] > 0
    assert from_frame.notes["crossover_units"] == 6
    assert from_frame.notes["winsorized"]["revenue"]["units_capped"] > 0
    assert set(from_frame.drops.columns) == {"source", "reason", "rows"}


def test_csv_and_sql_paths_equal_pandas_path(from_frame, messy, tmp_path):
    csv = tmp_path / "messy.csv"
    messy.to_csv(csv, index=False)
    from_csv = analyse_experiment(csv, MESSY_SPEC, random_state=3)
    assert_same_frames(from_frame.to_frame(), from_csv.to_frame(), ["metric", "variant"])
    query = SQL(f"SELECT * FROM read_csv('{csv}') WHERE true", name="messy query")
    from_sql = analyse_experiment(query, MESSY_SPEC, random_state=3)
    assert_same_frames(from_frame.to_frame(), from_sql.to_frame(), ["metric", "variant"])
    assert set(from_sql.drops["source"]) == {"messy query"}


def test_integer_ids_bitmap_check_agrees_with_hash_check(tmp_path):
    data = make_units(5000, seed=8)
    duplicated = data.iloc[:3].assign(variant=lambda frame: np.where(frame["variant"] == "B", "C", "B"))
    data = pd.concat([data, duplicated], ignore_index=True)
    spec = ExperimentSpec(name="ids", unit="user_id", metrics=[MetricSpec("converted", kind="proportion", role="primary")])
    path = tmp_path / "ids.parquet"
    data.to_parquet(path, index=False)
    for result in (analyse_experiment(data, spec), analyse_experiment(path, spec)):
        assert result.notes["crossover_units"] == 3
        assert int(result.drops.loc[result.drops["reason"] == "unit in more than one variant", "rows"].iloc[0]) == 6


def test_distribution_is_the_same_from_files(from_frame, parquet_path):
    from_parquet = analyse_experiment(parquet_path, MESSY_SPEC, random_state=3)
    for metric in ("revenue", "converted", "orders_per_session"):
        left, right = from_frame.distribution(metric), from_parquet.distribution(metric)
        assert_same_frames(left, right, ["variant", "bin_low"])


def test_sql_on_the_callers_connection(from_frame, messy):
    import duckdb

    with duckdb.connect() as connection:
        connection.register("experiment_units", messy)
        result = analyse_experiment(SQL("SELECT * FROM experiment_units"), MESSY_SPEC, random_state=3, connection=connection)
        assert_same_frames(from_frame.to_frame(), result.to_frame(), ["metric", "variant"])
        assert_same_frames(from_frame.distribution("revenue"), result.distribution("revenue"), ["variant", "bin_low"])
