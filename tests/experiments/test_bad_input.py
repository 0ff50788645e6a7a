"""Every kind of bad input gets a one-line error naming the thing, or a counted drop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prodops_lib.experiments import ExperimentSpec, MetricSpec, analyse_experiment
from prodops_lib.io import SQL, InputError

from .conftest import make_spec, make_units


@pytest.fixture(params=["frame", "parquet"])
def analyse(request, tmp_path):
    """Run the analysis on a frame, or on the same data written to parquet (DuckDB path)."""

    def run(data: pd.DataFrame, spec: ExperimentSpec):
        if request.param == "frame":
            return analyse_experiment(data, spec)
        path = tmp_path / "data.parquet"
        data.to_parquet(path, index=False)
        return analyse_experiment(path, spec)

    return run


def fails(run, data, spec, pattern):
    with pytest.raises(InputError, match=pattern) as error:
        run(data, spec)
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return make_units(3000, seed=2)


def test_unknown_control(analyse, small):
    message = fails(analyse, small, make_spec(control="ctrl"), "control 'ctrl' not found in column 'variant'")
    assert "'control'" in message and "'B'" in message  # lists what was found


def test_variant_in_expected_split_without_units(analyse, small):
    split = {"control": 0.25, "B": 0.25, "C": 0.25, "D": 0.25}
    fails(analyse, small, make_spec(expected_split=split), "variant 'D' in expected_split has no units")


def test_variant_missing_from_expected_split(analyse, small):
    fails(analyse, small, make_spec(expected_split={"control": 0.5, "B": 0.5}), "variant 'C' in column 'variant' is not in expected_split")


def test_only_the_control(analyse, small):
    fails(analyse, small[small["variant"] == "control"], make_spec(), "has only one variant")


def test_missing_metric_and_covariate_columns(analyse, small):
    fails(analyse, small.drop(columns=["revenue"]), make_spec(), "metric 'revenue' column 'revenue' is not a column")
    fails(analyse, small.drop(columns=["pre_revenue"]), make_spec(), "metric 'revenue' covariate 'pre_revenue' is not a column")
    fails(analyse, small.drop(columns=["sessions"]), make_spec(), "metric 'orders_per_session' denominator 'sessions'")
    fails(analyse, small, make_spec(segments=["region"]), r"segments\[0\] 'region' is not a column")


def test_non_numeric_values(analyse, small):
    data = small.assign(revenue=small["revenue"].round(2).astype(str))
    data.loc[17, "revenue"] = "n/a"
    fails(analyse, data, make_spec(), "metric 'revenue': column 'revenue' is not numeric \\(value 'n/a'")


def test_missing_values_are_an_error_by_default(analyse, small):
    data = small.copy()
    data.loc[[1, 2, 3], "revenue"] = np.nan
    fails(analyse, data, make_spec(), "metric 'revenue': column 'revenue' has 3 missing value\\(s\\); set missing: drop")


def test_missing_values_dropped_or_filled_are_counted(analyse, small):
    data = small.copy()
    data.loc[[1, 2, 3], "revenue"] = np.nan
    spec = make_spec(metrics=[MetricSpec("converted", kind="proportion", role="primary"),
                              MetricSpec("revenue", missing="drop"), MetricSpec("revenue_zero", column="revenue", missing="zero")])
    result = analyse(data, spec)
    drops = dict(zip(result.drops["reason"], result.drops["rows"], strict=True))
    assert drops == {"metric 'revenue': missing value": 3}
    assert result.notes["filled_with_zero"] == {"revenue_zero: revenue": 3}
    table = result.to_frame()

    def units(metric: str) -> int:
        rows = table[table["metric"] == metric]
        return int(rows["n_control"].iloc[0] + rows["n_variant"].sum())

    assert units("revenue") == len(data) - 3
    assert units("revenue_zero") == len(data)


def test_zero_denominators_are_dropped_and_counted(analyse, small):
    result = analyse(small, make_spec())
    zero = int((small["sessions"] == 0).sum())
    assert zero > 0
    drops = dict(zip(result.drops["reason"], result.drops["rows"], strict=True))
    assert drops["metric 'orders_per_session': zero denominator"] == zero
    ratio = result.to_frame().query("metric == 'orders_per_session'")
    assert int(ratio["n_control"].iloc[0] + ratio["n_variant"].sum()) == len(small) - zero


def test_fewer_than_two_units_in_a_variant(analyse, small):
    data = pd.concat([small[small["variant"] != "C"], small[small["variant"] == "C"].iloc[:1]])
    fails(analyse, data, make_spec(), "variant 'C' has 1 unit\\(s\\) with a value after drops; each variant needs at least 2")


def test_units_in_two_variants_are_dropped_and_raise_an_alarm(analyse, small):
    moved = small.iloc[:100].assign(variant=lambda frame: np.where(frame["variant"] == "B", "C", "B"))
    result = analyse(pd.concat([small, moved], ignore_index=True), make_spec())
    assert result.notes["crossover_units"] == 100
    assert "seen in more than one variant" in result.notes["crossover_alarm"]
    assert result.decision.verdict == "investigate"
    assert result.summary["headline"].startswith("This result cannot be trusted")


def test_a_unit_with_two_rows_in_one_variant(analyse, small):
    data = pd.concat([small, small.iloc[[7]]], ignore_index=True)
    fails(analyse, data, make_spec(), "unit column 'user_id' has 1 unit\\(s\\) with several rows in one variant")


def test_proportion_with_values_other_than_zero_and_one(analyse, small):
    data = small.copy()
    data.loc[9, "converted"] = 2
    fails(analyse, data, make_spec(), "metric 'converted' \\(kind 'proportion'\\) needs 0/1 values in column 'converted', found 2")


def test_fractional_value_in_a_float_proportion_column(analyse, small):
    data = small.assign(converted=small["converted"].astype(float))
    data.loc[11, "converted"] = 0.5
    fails(analyse, data, make_spec(), "needs 0/1 values in column 'converted', found 0.5")


def test_infinite_values(analyse, small):
    data = small.copy()
    data.loc[4, "revenue"] = np.inf
    fails(analyse, data, make_spec(), "metric 'revenue': column 'revenue' has infinite values")


def test_missing_variants_are_counted_as_drops(analyse, small):
    data = small.copy()
    data.loc[[0, 1], "variant"] = None
    result = analyse(data, make_spec())
    assert dict(zip(result.drops["reason"], result.drops["rows"], strict=True)) == {
        "missing variant": 2, "metric 'orders_per_session': zero denominator": int((data["sessions"][2:] == 0).sum())}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"expected_split": {"control": 0.5, "B": 0.4}}, "expected_split sums to 0.9; the shares must sum to 1"),
        ({"expected_split": {"B": 0.5, "C": 0.5}}, "control 'control' is not in expected_split"),
        ({"alpha": 1.5}, "alpha must be between 0 and 1"),
        ({"correction": "sidak"}, "correction 'sidak' is not one of"),
        ({"metrics": [MetricSpec("a")]}, "exactly one metric needs role 'primary' \\(found 0\\)"),
        ({"metrics": []}, "metrics is empty"),
    ],
)
def test_spec_errors_name_the_field(settings, message):
    with pytest.raises(ValueError, match=message) as error:
        make_spec(**settings)
    assert "\n" not in str(error.value)


def test_source_errors():
    spec = make_spec()
    with pytest.raises(InputError, match="file not found"):
        analyse_experiment("no/such/file.parquet", spec)
    with pytest.raises(ValueError, match="source must be a DataFrame"):
        analyse_experiment(42, spec)
    with pytest.raises(InputError, match="bad query: the query failed: "):
        analyse_experiment(SQL("SELEC nonsense", name="bad query"), spec)


def test_unknown_file_type(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    with pytest.raises(InputError, match=r"unknown file type '\.xlsx'"):
        analyse_experiment(path, make_spec())


def test_a_categorical_variant_without_units(small):
    data = small.assign(variant=pd.Categorical(small["variant"], categories=["control", "B", "C", "D"]))
    fails(analyse_experiment, data, make_spec(), r"variant 'D' \(a category of column 'variant'\) has no units; .*remove_unused_categories")
    tidy = data.assign(variant=data["variant"].cat.remove_unused_categories())
    assert list(analyse_experiment(tidy, make_spec()).units) == ["control", "B", "C"]


def test_a_column_name_used_twice(small):
    data = pd.concat([small, small[["revenue"]]], axis=1)
    fails(analyse_experiment, data, make_spec(), "metric 'revenue' column 'revenue' names 2 columns; rename the duplicates")


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_nan_in_a_file_is_a_missing_value_as_in_a_frame(kind, small, tmp_path):
    """DuckDB reads "NaN" in a CSV, and NaN in a parquet float column, as a number; one of
    them used to turn a variant's sums into NaN and the metric into a flat zero effect."""
    import duckdb

    data = small.copy()
    data.loc[data.index[::40], "revenue"] = np.nan
    spec = make_spec(metrics=[
        MetricSpec("revenue", covariate="pre_revenue", missing="drop", role="primary"),
        MetricSpec("revenue_capped", column="revenue", missing="drop", winsorize_upper=0.99),
        MetricSpec("revenue_median", column="revenue", kind="quantile", quantile=0.5, missing="drop"),
    ])
    path = tmp_path / "data.csv"
    data.to_csv(path, index=False, na_rep="NaN")
    if kind == "parquet":  # written by DuckDB, which keeps NaN as a float NaN (pandas would write a null)
        duckdb.sql(f"COPY (SELECT * FROM read_csv('{path}')) TO '{tmp_path / 'data.parquet'}' (FORMAT parquet)")
        path = tmp_path / "data.parquet"
        assert duckdb.sql(f"SELECT count(*) FROM '{path}' WHERE isnan(revenue)").fetchall()[0][0] > 0
    from_file, from_frame = analyse_experiment(path, spec), analyse_experiment(data, spec)
    numeric = ["n_control", "n_variant", "mean_control", "mean_variant", "abs_effect", "p_value"]
    np.testing.assert_allclose(from_file.to_frame()[numeric].to_numpy(float),
                               from_frame.to_frame()[numeric].to_numpy(float), rtol=1e-9)
    assert dict(zip(from_file.drops["reason"], from_file.drops["rows"], strict=True))["metric 'revenue': missing value"] \
        == int(data["revenue"].isna().sum())


def test_a_planned_categorical_variant_without_units(small):
    data = small.assign(variant=pd.Categorical(small["variant"], categories=["control", "B", "C", "D"]))
    split = {"control": 0.25, "B": 0.25, "C": 0.25, "D": 0.25}
    fails(analyse_experiment, data, make_spec(expected_split=split), "variant 'D' in expected_split has no units")
