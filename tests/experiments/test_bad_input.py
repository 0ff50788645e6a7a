"""Every kind of bad input gets a one-line error naming the thing, or a counted drop."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from prodops_lib.experiments import ExperimentSpec, MetricSpec, analyse_experiment
from prodops_lib.io import SQL, InputError

from .conftest import make_spec, make_units


@pytest.fixture(params=["frame", "parquet", "csv"])
def analyse(request, tmp_path):
    """Run the analysis on a frame, or on the same data written to parquet or CSV (DuckDB path;
    on parquet the footer's statistics stand in for some counts of the main pass)."""

    def run(data: pd.DataFrame, spec: ExperimentSpec):
        if request.param == "frame":
            return analyse_experiment(data, spec)
        path = tmp_path / f"data.{request.param}"
        data.to_parquet(path, index=False) if request.param == "parquet" else data.to_csv(path, index=False)
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
    fails(analyse, data, make_spec(), "metric 'revenue': column 'revenue' has 3 missing values; set missing: drop")


def test_missing_values_in_several_metrics_name_the_first_metrics_column(analyse, small):
    """The SQL path counts the rows missing any value of the ``missing: error`` metrics in one
    aggregate, then counts each column; the message is the frame path's: the first metric in
    the spec, its columns in order (value, then covariate), with that column's own count."""
    data = small.copy()
    data.loc[[5, 6], "orders"] = np.nan  # the third metric
    data.loc[[1, 2, 3, 4], "pre_revenue"] = np.nan  # the second metric's covariate
    data.loc[[9], "revenue"] = np.nan  # the second metric's value
    fails(analyse, data, make_spec(), "metric 'revenue': column 'revenue' has 1 missing value; set missing: drop")
    data.loc[[9], "revenue"] = 1.0
    fails(analyse, data, make_spec(), "metric 'revenue': column 'pre_revenue' has 4 missing values; set missing: drop")


@pytest.mark.parametrize(("change", "expected"), [
    (lambda data: data.assign(converted=data["converted"].where(data.index != 3, 2)),
     "metric 'converted' .kind 'proportion'. needs 0/1 values in column 'converted', found 2"),
    (lambda data: data.assign(revenue=data["revenue"].where(data.index != 4, np.inf)),
     "metric 'revenue': column 'revenue' has infinite values"),
])
def test_an_earlier_metrics_error_comes_before_a_later_metrics_missing_values(analyse, small, change, expected):
    """The metrics are checked in the spec's order on every path: the first metric's bad value
    is named even though the third metric's column misses values."""
    data = change(small.copy())
    data.loc[[5, 6], "orders"] = np.nan
    fails(analyse, data, make_spec(), expected)


def _parquet_with_nan(data: pd.DataFrame, path) -> None:
    """Written as pyarrow writes NaN (not null) values: left out of the float columns' minimum
    and maximum, which DuckDB's optimizer then trusts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({name: pa.array(data[name].to_numpy(), from_pandas=False) for name in data.columns}), path)


def test_nan_in_a_parquet_file_is_a_missing_value_as_on_the_frame_path(small, tmp_path):
    data = small.copy()
    data.loc[[1, 2, 3], "revenue"] = np.nan
    path = tmp_path / "nan.parquet"
    _parquet_with_nan(data, path)
    import duckdb
    import pyarrow.parquet as pq

    assert np.isnan(pq.read_table(path).column("revenue").to_numpy()).sum() == 3  # NaN, not null
    # what DuckDB's optimizer makes of it: the footer says there is no NaN, so the test is folded to false
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}') WHERE isnan(revenue)").fetchall() == [(0,)]
    for source in (data, path):
        fails(analyse_experiment, source, make_spec(),
              "metric 'revenue': column 'revenue' has 3 missing values; set missing: drop")
    metrics = [MetricSpec("converted", kind="proportion", role="primary"), MetricSpec("revenue", missing="zero")]
    filled = [analyse_experiment(source, make_spec(metrics=metrics)) for source in (data, path)]
    assert [analysis.notes["filled_with_zero"] for analysis in filled] == [{"revenue: revenue": 3}] * 2
    assert filled[1].results["abs_effect"].to_numpy() == pytest.approx(filled[0].results["abs_effect"].to_numpy(),
                                                                        rel=1e-9)


def test_the_footer_statistics_serve_the_columns_they_cover(small, tmp_path):
    """A covariate with a missing value (never folded from the footer) leaves the other columns'
    statistics in use."""
    from prodops_lib.experiments.duckdb_source import Runner, file_query, private_cursor

    data = small.copy()
    data.loc[[1], "pre_revenue"] = np.nan
    path = tmp_path / "one_missing.parquet"
    data.to_parquet(path, index=False)
    found = Runner(private_cursor(), "x", file_query(path)).statistics(["pre_revenue", "revenue", "orders"])
    assert set(found) == {"revenue", "orders"}
    assert found["revenue"] == (data["revenue"].min(), data["revenue"].max(), 0)
    assert found["orders"] == (data["orders"].min(), data["orders"].max(), 0)


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
    fails(analyse, data, make_spec(), "variant 'C' has 1 unit with a value after drops; each variant needs at least 2")


def test_units_in_two_variants_are_dropped_and_raise_an_alarm(analyse, small):
    moved = small.iloc[:100].assign(variant=lambda frame: np.where(frame["variant"] == "B", "C", "B"))
    result = analyse(pd.concat([small, moved], ignore_index=True), make_spec())
    assert result.notes["crossover_units"] == 100
    assert "seen in more than one variant" in result.notes["crossover_alarm"]
    assert result.decision.verdict == "investigate"
    assert result.summary["headline"].startswith("This result cannot be trusted")


def test_a_unit_with_two_rows_in_one_variant(analyse, small):
    data = pd.concat([small, small.iloc[[7]]], ignore_index=True)
    fails(analyse, data, make_spec(), "unit column 'user_id' has 1 unit with several rows in one variant")


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


def test_one_unit_that_dominates_a_mean_is_named_and_the_effect_shown_capped(analyse, small):
    # revenue truth: C is +1.0 over control (50.0), B +0.0; one B unit gets 10⁹
    data = small.copy()
    victim = int(data.index[data["variant"] == "B"][0])
    data.loc[victim, "revenue"] = 1e9
    spec = make_spec(metrics=[MetricSpec("converted", kind="proportion", role="primary"), MetricSpec("revenue")])
    result = analyse(data, spec)
    [flag] = result.notes["extreme_units"]
    assert flag["metric"] == "revenue" and flag["variant"] == "B"
    assert flag["unit"] == str(data.loc[victim, "user_id"]) and flag["value"] == 1e9
    assert flag["share"] > 0.99
    b = data[data["variant"] == "B"]["revenue"].mean() / data[data["variant"] == "control"]["revenue"].mean() - 1
    assert flag["effect"]["B"] == pytest.approx(b, rel=1e-6)  # the mean as given: about +2,500,000%
    assert abs(flag["effect_capped"]["B"]) < 0.02  # capped, B's true effect of 0 comes back
    assert flag["effect_capped"]["C"] == pytest.approx(1.0 / 50.0, abs=0.02)
    from prodops_lib.experiments.report import extreme_notes

    [sentence] = extreme_notes(result)
    assert sentence.startswith(f"One unit dominates revenue: unit {flag['unit']} in B has revenue = 1e+09, ")
    assert "B: +1,9" in sentence or "B: +2" in sentence
    assert "as measured, " in sentence and "with values capped at the 1% and 99% quantiles" in sentence


def test_heavy_tails_and_zero_inflated_revenue_are_not_flagged(analyse):
    rng = np.random.default_rng(3)
    n = 4000
    data = pd.DataFrame({"user_id": np.arange(n), "variant": rng.choice(["control", "B"], n),
                         "converted": rng.integers(0, 2, n)})
    # 95% pay nothing; payers' spend is log-normal with a long tail (max ≈ 50× the median payer)
    data["revenue"] = np.where(rng.random(n) < 0.05, rng.lognormal(3, 1, n), 0.0)
    spec = ExperimentSpec(name="t", unit="user_id", metrics=[MetricSpec("converted", kind="proportion", role="primary"),
                                                            MetricSpec("revenue")])
    assert "extreme_units" not in analyse(data, spec).notes


def test_a_value_near_the_float_limit_is_flagged(analyse, small):
    data = small.copy()
    data.loc[int(data.index[data["variant"] == "control"][0]), "revenue"] = 1e200
    flags = analyse(data, make_spec()).notes["extreme_units"]
    assert [(f["variant"], f["value"]) for f in flags] == [("control", 1e200)]


def test_exposures_after_the_end_date_and_unreadable_ones_are_said_on_the_page(tmp_path, small):
    from prodops_lib.experiments.report import over_time, timestamp_notes

    data = small.copy()
    data["exposed_at"] = data["exposed_at"].dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object)
    data.loc[data.index[:5], "exposed_at"] = "2031-01-01T00:00:00"
    data.loc[data.index[5:8], "exposed_at"] = "not a time"
    path = tmp_path / "units.csv"
    data.to_csv(path, index=False)
    spec = make_spec(timestamp_column="exposed_at", end_date=dt.date(2026, 9, 30))
    result = analyse_experiment(path, spec)
    assert timestamp_notes(result) == [
        "3 units have no readable exposure time in 'exposed_at' (empty, or not a date and time): they count in the "
        "effect, not in the chart over time.",
        "5 units were first exposed after end_date 2026-09-30 (latest 2031-01-01): check the export's clock and time "
        "zone, or whether these rows belong to this experiment."]
    # none readable: the page says so, never "no timestamp was given"
    data["exposed_at"] = "yesterday"
    data.to_csv(path, index=False)
    page = str(over_time(analyse_experiment(path, spec)))
    assert "No value of the exposure column &#x27;exposed_at&#x27; could be read as a date and time" in page
    assert "No exposure timestamp was given" not in page


def test_a_borderline_sample_ratio_is_said_on_the_page_even_when_it_does_not_block():
    from prodops_lib.experiments import analyse_aggregates
    from prodops_lib.experiments.report import decision_block

    frame = pd.DataFrame({"variant": ["control", "B"], "n": [5000, 5280], "sum": [500, 560]})
    spec = ExperimentSpec(name="t", metrics=[MetricSpec("converted", kind="proportion", role="primary")])
    result = analyse_aggregates(frame, spec)
    # reference: scipy.stats.chisquare([5000, 5280]) -> statistic 7.626, p = 0.005753
    assert result.srm.p_value == pytest.approx(0.005753, abs=2e-6)
    assert not result.srm.mismatch and result.srm.borderline
    page = str(decision_block(result))
    assert "Sample ratio</div>" in page or "Sample ratio" in page
    assert "borderline" in page
    assert "Units split close to a mismatch (sample ratio check p = 0.0058, below 0.01 though above the 0.001 alarm)" in page


def test_variant_labels_that_differ_only_in_case_are_named_on_the_page(small):
    from prodops_lib.experiments.report import decision_block

    data = small.copy()
    data.loc[data.index[:40][data["variant"].iloc[:40] == "B"], "variant"] = "b "
    spec = make_spec(expected_split=None)
    result = analyse_experiment(data, spec)
    page = str(decision_block(result))
    assert "Variants &#x27;B&#x27; and &#x27;b &#x27; differ only in case or spacing and are analysed as two arms" in page


@pytest.mark.parametrize(("content", "message"), [
    (b"", r"units\.csv: the file is empty \(0 bytes\); export it again$"),
    (b"user_id,variant,converted\n", r"units\.csv: has a header but no data rows$"),
    ("user_id,variant,converted\n1,control,1\n2,B,0\n3,Bé,1\n".encode("latin-1"),
     r"units\.csv: not valid utf-8 text \(byte 0xe9 at offset 47\); re-save it as UTF-8 or set encoding: latin-1"),
])
def test_unit_level_csv_files_get_the_loaders_messages(tmp_path, content, message):
    path = tmp_path / "units.csv"
    path.write_bytes(content)
    spec = ExperimentSpec(name="t", unit="user_id", metrics=[MetricSpec("converted", kind="proportion", role="primary")])
    with pytest.raises(InputError, match=message):
        analyse_experiment(path, spec)


def test_zero_denominators_everywhere_name_the_drop(analyse):
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"user_id": range(400), "variant": rng.choice(["control", "B"], 400),
                         "converted": rng.integers(0, 2, 400), "orders": rng.integers(0, 3, 400), "sessions": 0})
    spec = ExperimentSpec(name="t", unit="user_id", metrics=[
        MetricSpec("converted", kind="proportion", role="primary"),
        MetricSpec("ops", kind="ratio", numerator="orders", denominator="sessions")])
    fails(analyse, data, spec, r"metric 'ops': variant 'control' has 0 units with a value after drops "
                               r"\(zero denominator: 400 rows dropped in all variants\); each variant needs at least 2$")


def test_a_caveat_reaches_the_headline_the_tone_and_the_review_summary(small):
    from prodops_lib.experiments.report import decision_tone, headline, review_summary

    data = small.copy()
    data.loc[int(data.index[data["variant"] == "B"][0]), "revenue"] = 1e9
    result = analyse_experiment(data, make_spec(metrics=[MetricSpec("revenue", role="primary")]))
    assert headline(result).endswith(" Check first: one unit dominates revenue.")
    assert decision_tone(result) != "good"
    summary = review_summary(result)
    assert summary["caveats"] == ["one unit dominates revenue"]
    assert summary["rel_effect_capped"] is not None and abs(summary["rel_effect_capped"]) < 0.05


def test_the_over_time_section_never_blames_readable_timestamps():
    from prodops_lib.experiments.report import over_time

    rng = np.random.default_rng(0)
    data = pd.DataFrame({"user_id": range(400), "variant": rng.choice(["control", "B"], 400),
                         "seconds": rng.exponential(10, 400), "seen": "2026-10-01T10:00:00"})
    spec = ExperimentSpec(name="t", unit="user_id", timestamp_column="seen",
                          metrics=[MetricSpec("seconds", kind="quantile", quantile=0.5, role="primary")])
    page = str(over_time(analyse_experiment(data, spec)))
    assert "could be read" not in page and "this experiment&#x27;s primary metric is not one" in page


def test_an_investigate_report_greys_its_effects_and_says_they_are_not_trustworthy():
    from matplotlib.colors import to_hex

    from prodops_lib.experiments.plots import plot_forest
    from prodops_lib.experiments.report import results_block

    data = make_units(6000, seed=4, shares={"control": 0.6, "B": 0.4})  # planned 50/50: a broken split
    result = analyse_experiment(data, make_spec(expected_split={"control": 0.5, "B": 0.5}))
    assert result.decision.verdict == "investigate"
    assert "not trustworthy until the split between variants is explained" in str(results_block(result))
    chart = plot_forest(result)
    colours = {to_hex(line.get_color()) for line in chart.axes[0].lines if line.get_marker() == "o"}
    assert colours == {"#a6a6a6"}  # every effect grey, none blue or red
    assert chart.axes[0].get_title().endswith("(not trustworthy until the split is explained)")
