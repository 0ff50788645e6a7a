"""Exact order statistics in two passes (prodops_lib/experiments/order_statistics.py): the same
numbers as numpy's ``np.quantile`` (linear interpolation, its default) and DuckDB's
``quantile_cont``, which hold every value; closed-form values written out where they are
short. No query of the analysis holds every value of a column any more."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from prodops_lib.experiments import ExperimentSpec, MetricSpec, analyse_experiment
from prodops_lib.experiments import order_statistics as selection
from prodops_lib.experiments.aggregate_sql import collect_sql
from prodops_lib.experiments.duckdb_source import Runner, file_query, private_cursor
from prodops_lib.experiments.order_statistics import (
    Selection,
    interpolate,
    linear_quantile,
    select_ranks,
)


def _caps(values: np.ndarray, levels: list[float], where: str | None = None, extra: dict | None = None,
          base: str = "SELECT * FROM t"):
    """The linear-interpolation quantiles of ``values`` (rows of ``base`` over table ``t``) by
    the two-pass selection, with the number of queries it ran, and DuckDB's ``quantile_cont``
    of the same rows."""
    frame = pd.DataFrame({"v": values, **(extra or {})})
    with duckdb.connect() as connection:
        connection.register("t", frame)
        run = Runner(connection, "t")
        window = select_ranks(run, base, Selection(
            "v", lambda _, n: np.concatenate([linear_quantile(n, q) for q in levels]), where=where))[None]
        found = [interpolate(window, q) for q in levels]
        condition = f" WHERE {where}" if where else ""
        reference = connection.execute(f"SELECT quantile_cont(v, {levels}) FROM ({base}){condition}").fetchall()[0][0]
    return found, reference, run.queries


def test_closed_form_values():
    # 1..10: h = 9 · 0.99 = 8.91 → 9 + 0.91 · (10 - 9) = 9.91; h = 9 · 0.25 = 2.25 → 3.25; the median 5.5
    found, reference, _ = _caps(np.arange(1.0, 11.0), [0.99, 0.25, 0.5])
    assert found == pytest.approx([9.91, 3.25, 5.5], rel=1e-15)
    assert found == reference
    # one value: every quantile is it; two values 3 and -1: the 30th percentile is -1 + 0.3 · 4 = 0.2
    assert _caps(np.array([3.0]), [0.01, 0.99])[0] == [3.0, 3.0]
    assert _caps(np.array([3.0, -1.0]), [0.3])[0] == pytest.approx([0.2], rel=1e-15)
    # all equal: one bin, one distinct value read; all zero: zero's bin is known, nothing read
    found, _, queries = _caps(np.full(1000, 7.25), [0.01, 0.99])
    assert found == [7.25, 7.25] and queries == 2
    found, _, queries = _caps(np.zeros(1000), [0.01, 0.99])
    assert found == [0.0, 0.0] and queries == 1


SHAPES = {
    "heavy tail (lognormal σ = 2)": lambda rng: rng.lognormal(3, 2, 50_000),
    "ties (rounded lognormal)": lambda rng: np.round(rng.lognormal(1, 1, 50_000)),
    "mostly zeros, Pareto tail, negatives": lambda rng: np.concatenate(
        [np.zeros(45_000), rng.pareto(1.1, 4_000) * 1e6, -rng.pareto(1.1, 1_000)]),
    "packed in a narrow range": lambda rng: 1000 + rng.random(50_000) * 1e-6,
    "extremes of the double range": lambda rng: np.concatenate(
        [rng.normal(size=1000), [np.inf, -np.inf, 1e308, -1e308, 5e-324, -5e-324]]),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_equal_to_numpy_and_duckdb(shape):
    values = SHAPES[shape](np.random.default_rng(7))
    levels = [0.0, 0.001, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0]
    found, reference, _ = _caps(values, levels)
    assert found == pytest.approx(reference, rel=1e-12)
    finite = np.isfinite(values).all()
    if finite:  # numpy's interpolation between an infinity and a number is NaN, DuckDB's the infinity
        assert found == pytest.approx(np.quantile(values, levels).tolist(), rel=1e-12)


def test_rows_that_do_not_count_and_nan_are_left_out_as_the_where_says():
    rng = np.random.default_rng(3)
    values = rng.lognormal(2, 1.5, 20_000)
    values[::7] = np.nan  # NULL once registered in DuckDB: left out
    keep = rng.random(20_000) < 0.6
    found, reference, _ = _caps(values, [0.05, 0.95], where="keep", extra={"keep": keep})
    expected = np.quantile(values[keep & ~np.isnan(values)], [0.05, 0.95])
    assert found == pytest.approx(expected.tolist(), rel=1e-12) and found == pytest.approx(reference, rel=1e-12)
    # NaN as a value (the SQL path's first reading, before it reads NaN as missing): the engines order it
    # above every number, so the top quantile is NaN, as quantile_cont's
    nan = "SELECT CASE WHEN v IS NULL THEN CAST('NaN' AS DOUBLE) ELSE v END AS v FROM t"
    found, reference, _ = _caps(values, [0.5, 1.0], base=nan)
    assert np.isnan(found[1]) and np.isnan(reference[1]) and found[0] == reference[0]


def test_separate_reads_and_the_fallback_give_the_same_values(monkeypatch):
    """Ranks far apart are read in one query per range when the bins between are many; a read
    that does not match the histogram falls back to reading the group whole: same numbers."""
    values = np.random.default_rng(11).lognormal(0, 1, 40_000)
    levels = [0.01, 0.99]
    expected = np.quantile(values, levels).tolist()
    monkeypatch.setattr(selection, "FETCH_LIMIT", 10)
    found, _, queries = _caps(values, levels)
    assert found == pytest.approx(expected, rel=1e-12) and queries == 2  # one histogram, one read of both ranges
    # bounds too narrow by a factor: fewer values read than the histogram counted, so the group is read whole
    bounds = selection._bounds
    monkeypatch.setattr(selection, "_bounds", lambda keys: tuple(b * (1 + 0.01 * np.sign(b)) for b in bounds(keys)))
    found, _, queries = _caps(values, levels)
    assert found == pytest.approx(expected, rel=1e-12) and queries == 3


def test_groups_read_their_own_ranks():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"g": rng.choice(["control", "B", "C"], 30_000),
                          "v": np.where(rng.random(30_000) < 0.85, 0.0, rng.lognormal(3, 1, 30_000))})
    wanted = {"control": np.array([1, 25_000 // 3, 9_000, 9_900]), "B": np.array([8_950, 9_000, 9_100]),
              "C": np.array([5])}
    with duckdb.connect() as connection:
        connection.register("t", frame)
        windows = select_ranks(Runner(connection, "t"), "SELECT * FROM t",
                               Selection("v", lambda group, _: wanted[group], group="g"))
    for group, ranks in wanted.items():
        ordered = np.sort(frame.loc[frame["g"] == group, "v"].to_numpy())
        assert windows[group].n == len(ordered)
        assert windows[group].at(ranks).tolist() == ordered[ranks - 1].tolist()


def test_winsorization_caps_lower_upper_and_nonzero_scope_match_the_frame_path(tmp_path):
    rng = np.random.default_rng(2)
    size = 6000
    units = pd.DataFrame({
        "user_id": np.arange(size), "variant": rng.choice(["control", "B"], size),
        "spend": np.where(rng.random(size) < 0.7, 0.0, rng.lognormal(3, 1.4, size) - 5),
        "sessions": rng.poisson(3, size).astype(float),
    })
    units.loc[units.index[::50], "spend"] = np.nan
    spec = ExperimentSpec(name="caps", unit="user_id", control="control", metrics=[
        MetricSpec("spend", role="primary", missing="drop", winsorize_lower=0.02, winsorize_upper=0.98, winsorize_scope="nonzero"),
        MetricSpec("spend_per_session", kind="ratio", numerator="spend", denominator="sessions", missing="drop",
                   winsorize_upper=0.95),
    ])
    path = tmp_path / "caps.parquet"
    units.to_parquet(path, index=False)
    from_frame, from_file = analyse_experiment(units, spec), analyse_experiment(path, spec)
    spend = units["spend"].dropna()
    nonzero = spend[spend != 0].to_numpy()
    ratio = units.dropna(subset=["spend"]).query("sessions != 0")
    reference = {"spend": np.quantile(nonzero, [0.02, 0.98]).tolist(), "spend_per_session": [
        -np.inf, float(np.quantile((ratio["spend"]).to_numpy(), 0.95))]}
    for metric, (low, high) in reference.items():
        caps = from_file.notes["winsorized"][metric]
        assert [caps["lower"], caps["upper"]] == pytest.approx([low, high], rel=1e-12)
        assert caps == pytest.approx(from_frame.notes["winsorized"][metric], rel=1e-12)


def test_no_query_holds_every_value(tmp_path):
    """Caps and quantile metrics read through the histogram: no exact percentile aggregate
    (which cannot spill) runs any more."""
    units = pd.DataFrame({"variant": np.repeat(["control", "B"], 500), "revenue": np.arange(1000.0) % 37})
    path = tmp_path / "units.parquet"
    units.to_parquet(path, index=False)
    spec = ExperimentSpec(name="q", control="control", metrics=[
        MetricSpec("revenue", role="primary", winsorize_upper=0.99),
        MetricSpec("p90_revenue", kind="quantile", column="revenue", quantile=0.9)])
    seen = []

    class Recording(Runner):
        def prepare(self, sql: str, native: bool = False) -> str:
            seen.append(sql)
            return super().prepare(sql, native)

    collect_sql("", spec, runner=Recording(private_cursor(), "units", file_query(path)))
    assert seen and not any("quantile" in sql.lower() or "percentile" in sql.lower() for sql in seen)
