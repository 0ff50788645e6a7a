"""The extreme-unit check inside the collectors' single pass flags exactly what the old
separate scan flagged, on the frame and the DuckDB path alike, and reads nothing more unless
a unit may dominate.

``reference_flags`` is the old implementation (``extremes._largest`` before the check moved
into the pass): its own DuckDB query with an exact median and a ``row_number()`` window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prodops_lib.experiments import ExperimentSpec, MetricSpec, aggregate_sql, analyse_experiment
from prodops_lib.experiments.aggregate_frame import collect_frame
from prodops_lib.experiments.aggregate_sql import collect_sql
from prodops_lib.experiments.duckdb_source import Runner, file_query, private_cursor, quote_name
from prodops_lib.experiments.extremes import (
    DOMINANT_SHARE,
    FLOAT_LIMIT,
    MIN_UNITS,
    TIMES_MEDIAN,
    extreme_unit,
    may_be_extreme,
)


def reference_flags(path, spec: ExperimentSpec) -> list[tuple]:
    """The old scan, verbatim in its rules: every row with a variant and a finite value."""
    metrics = [m for m in spec.metrics if m.kind in ("mean", "ratio") and not m.winsorized]
    query = file_query(str(path))
    unit = f"CAST({quote_name(spec.unit)} AS VARCHAR)" if spec.unit else "'row ' || CAST(__row AS VARCHAR)"
    source = f"(SELECT *, row_number() OVER () AS __row FROM ({query}))" if not spec.unit else f"({query})"
    columns = []
    for metric in metrics:
        value = f"TRY_CAST({quote_name(metric.value_column)} AS DOUBLE)"
        valid = f"{value} IS NOT NULL AND isfinite({value})"
        columns += [f"arg_max({unit}, abs({value})) FILTER (WHERE {valid})",
                    f"max_by({value}, abs({value})) FILTER (WHERE {valid})",
                    f"sum(abs({value})) FILTER (WHERE {valid})",
                    f"median(abs({value})) FILTER (WHERE {valid} AND {value} <> 0)",
                    f"count(*) FILTER (WHERE {valid})",
                    f"var_pop({value}) FILTER (WHERE {valid})", f"avg({value}) FILTER (WHERE {valid})"]
    cursor = private_cursor()
    rows = cursor.execute(f"SELECT CAST({quote_name(spec.variant_column)} AS VARCHAR), {', '.join(columns)} FROM {source} "
                          f"WHERE {quote_name(spec.variant_column)} IS NOT NULL GROUP BY 1 ORDER BY 1").fetchall()
    flagged = []
    for row in rows:
        for index, metric in enumerate(metrics):
            unit_id, largest, total, median, count, variance, mean = row[1 + 7 * index: 8 + 7 * index]
            if largest is not None and (found := extreme_unit(metric.name, row[0], unit_id, largest, count, total, median,
                                                              variance, mean)):
                flagged.append(found)
    return _keys(flagged)


def _keys(units) -> list[tuple]:
    return sorted((u.metric, u.variant, u.unit, u.value, round(u.times_median, 6), round(u.share, 9),
                   None if u.variance_share != u.variance_share else round(u.variance_share, 9)) for u in units)


def _experiment(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "user_id": np.arange(100, 100 + n), "variant": rng.choice(["control", "B", "C"], n),
        "converted": rng.integers(0, 2, n),
        "revenue": np.where(rng.random(n) < 0.3, rng.lognormal(3, 1, n), 0.0),
        "orders": rng.poisson(1.0, n), "sessions": rng.poisson(3.0, n) + 1,
    })


def _dominant_revenue(data):  # the share rule: one B unit holds most of B's revenue
    data.loc[data.index[data["variant"] == "B"][3], "revenue"] = 1e9
    return data


def _tiny_median(data):  # only the median rule: most of C's payers pay a hundredth of a cent
    payers = data.index[(data["variant"] == "C") & (data["revenue"] > 0)]
    data.loc[payers[: int(0.6 * len(payers))], "revenue"] = 1e-4
    return data


def _refund(data):  # negative values: one control unit refunds more than the arm earns
    data.loc[data.index[data["variant"] == "control"][7], "revenue"] = -5e7
    return data


def _tie(data):  # two B units share the largest value; both paths name the first
    b = data.index[data["variant"] == "B"]
    data.loc[b, "orders"] = 0
    data.loc[b[[4, 9]], "orders"] = 1000
    return data


def _near_float_limit(data):
    data.loc[data.index[data["variant"] == "control"][0], "revenue"] = 1e200
    return data


def _whale(data):  # the variance rule (Cookie Cats shape): below the share and median rules
    b = data.index[data["variant"] == "B"]
    data.loc[b[11], "orders"] = 400
    return data


CASES = {
    "clean": (lambda data: data, []),
    "dominant revenue": (_dominant_revenue, [("revenue", "B")]),
    "tiny median": (_tiny_median, [("revenue", "C")]),
    "refund": (_refund, [("revenue", "control")]),
    "tie": (_tie, [("orders_per_session", "B")]),
    "near the float limit": (_near_float_limit, [("revenue", "control")]),
    "whale": (_whale, [("orders_per_session", "B")]),
}


@pytest.mark.parametrize("unit", ["user_id", None])
@pytest.mark.parametrize("case", list(CASES))
def test_the_flags_are_the_old_scans_on_both_paths(case, unit, tmp_path):
    change, expected = CASES[case]
    data = change(_experiment(3000, seed=7))
    spec = ExperimentSpec(name="t", unit=unit, control="control", metrics=[
        MetricSpec("converted", kind="proportion", role="primary"), MetricSpec("revenue"),
        MetricSpec("orders_per_session", kind="ratio", numerator="orders", denominator="sessions")])
    path, text = tmp_path / "data.parquet", tmp_path / "data.csv"
    data.to_parquet(path, index=False)
    data.to_csv(text, index=False)
    reference = reference_flags(path, spec)
    assert [key[:2] for key in reference] == expected
    # parquet: bounds from the footer's statistics before the pass; CSV: the pass's own aggregates
    assert _keys(collect_sql(file_query(path), spec).extreme_units) == reference
    assert _keys(collect_sql(file_query(text), spec).extreme_units) == reference
    assert _keys(collect_frame(data, spec).extreme_units) == reference


def test_pinned_numbers_of_the_median_and_variance_rules(tmp_path):
    """Closed forms: C's 0.6·k payers at 1e-4 put the median of its non-zero values at 1e-4,
    so its largest payer is 10⁴ × its revenue times the median; B's whale of 400 orders
    holds (400 - x̄)² / Σ(x - x̄)² of B's variance, computed here with numpy."""
    data = _whale(_tiny_median(_experiment(3000, seed=7)))
    spec = ExperimentSpec(name="t", unit="user_id", control="control", metrics=[
        MetricSpec("converted", kind="proportion", role="primary"), MetricSpec("revenue"),
        MetricSpec("orders_per_session", kind="ratio", numerator="orders", denominator="sessions")])
    path = tmp_path / "data.parquet"
    data.to_parquet(path, index=False)
    variance_flag, median_flag = sorted(collect_sql(file_query(path), spec).extreme_units, key=lambda u: u.metric)
    c = data.loc[data["variant"] == "C", "revenue"].to_numpy()
    assert np.median(c[c != 0]) == 1e-4
    assert median_flag.times_median == pytest.approx(c.max() / 1e-4, rel=1e-12)
    assert median_flag.times_median >= TIMES_MEDIAN and median_flag.share < DOMINANT_SHARE
    b = data.loc[data["variant"] == "B", "orders"].to_numpy(float)
    assert variance_flag.value == 400 and variance_flag.share < DOMINANT_SHARE
    assert variance_flag.variance_share == pytest.approx((400 - b.mean()) ** 2 / ((b - b.mean()) ** 2).sum(), rel=1e-9)
    assert variance_flag.variance_share >= DOMINANT_SHARE


def _count_queries(monkeypatch) -> list[str]:
    queries = []
    execute, batches = Runner.execute, Runner.batches
    monkeypatch.setattr(Runner, "execute", lambda self, sql, *native: queries.append(sql) or execute(self, sql, *native))
    monkeypatch.setattr(Runner, "batches",
                        lambda self, sql, rows, **native: queries.append(sql) or batches(self, sql, rows, **native))
    return queries


@pytest.mark.parametrize("unit", ["user_id", None])
@pytest.mark.parametrize(("kind", "added"), [("csv", (0, 1)), ("parquet", (1, 3))])
def test_the_queries_the_check_adds_in_the_common_case_and_when_a_unit_may_dominate(kind, added, unit, monkeypatch,
                                                                                      tmp_path):
    """CSV: the pass's own largest and smallest values clear every variant of the clean data,
    and one exact read finds the dominated one. Parquet: the pass leaves them out; one filtered
    read of revenue shows no non-zero value near 0 (integer orders need none), and the footer's
    largest clears the clean data. In the dominated data the file's 1e9 clears no variant: one
    read of each variant's largest and smallest, then the exact read of B."""
    spec = ExperimentSpec(name="t", unit=unit, control="control", metrics=[
        MetricSpec("converted", kind="proportion", role="primary"), MetricSpec("revenue"),
        MetricSpec("orders_per_session", kind="ratio", numerator="orders", denominator="sessions")])
    clean, dominated = tmp_path / f"clean.{kind}", tmp_path / f"dominated.{kind}"
    # 10,000 units: at 3,000 the file's largest revenue could hold half of a variant's variance on its own
    for path, data in ((clean, _experiment(10_000, seed=7)), (dominated, _dominant_revenue(_experiment(10_000, seed=7)))):
        data.to_csv(path, index=False) if kind == "csv" else data.to_parquet(path, index=False)
    queries = _count_queries(monkeypatch)

    def count(path) -> int:
        queries.clear()
        collect_sql(file_query(path), spec)
        return len(queries)

    with_check = count(clean), count(dominated)
    monkeypatch.setattr(aggregate_sql, "checks_extremes", lambda metric: False)
    without_check = count(clean), count(dominated)
    assert with_check == (without_check[0] + added[0], without_check[1] + added[1])
    # and the whole analysis: no query beyond the collector's when nothing is flagged
    queries.clear()
    assert "extreme_units" not in analyse_experiment(clean, spec).notes
    assert len(queries) == without_check[0]


@pytest.mark.parametrize(("kind", "added"), [("csv", 1), ("parquet", 3)])
def test_a_whale_in_one_variant_reads_only_the_values_that_could_fire_in_the_others(kind, added, monkeypatch,
                                                                                     tmp_path):
    """B's whale (400 orders) is the file's largest, so the footer clears no variant. Orders are
    integers, so their smallest needs no read; the next read asks each variant only for values
    above the largest its own sums allow (``_largest_allowed``), which control and C have none
    of, and the exact read is B's alone. Parquet: the near-0 read of revenue, that read, the
    exact one; CSV: the exact read only."""
    spec = ExperimentSpec(name="t", unit="user_id", control="control", metrics=[
        MetricSpec("converted", kind="proportion", role="primary"), MetricSpec("revenue"),
        MetricSpec("orders_per_session", kind="ratio", numerator="orders", denominator="sessions")])
    data, path = _whale(_experiment(10_000, seed=7)), tmp_path / f"whale.{kind}"
    data.to_csv(path, index=False) if kind == "csv" else data.to_parquet(path, index=False)
    queries = _count_queries(monkeypatch)
    flagged = collect_sql(file_query(path), spec).extreme_units
    assert [(unit.metric, unit.variant, unit.value) for unit in flagged] == [("orders_per_session", "B", 400.0)]
    with_check = list(queries)
    queries.clear()
    monkeypatch.setattr(aggregate_sql, "checks_extremes", lambda metric: False)
    collect_sql(file_query(path), spec)
    assert len(with_check) == len(queries) + added
    # the read of the values above each variant's allowed largest: one, for orders
    assert sum("FILTER" in query and ") > '" in query for query in with_check) == (kind == "parquet")


def test_a_few_refunds_near_zero_do_not_send_the_variants_to_a_full_read(monkeypatch, tmp_path):
    """Three refunds of a tenth of a cent in a file whose largest revenue is about 700: non-zero
    values within 2 · largest / 10⁶ of 0, but far fewer than half of any variant's payers, so
    no median can be that small and the near-0 read (one count) is the only read added."""
    spec = ExperimentSpec(name="t", unit="user_id", control="control", metrics=[MetricSpec("revenue", role="primary")])
    data = _experiment(10_000, seed=7)
    data.loc[data.index[:3], "revenue"] = -0.001
    assert 2 * data["revenue"].abs().max() / TIMES_MEDIAN >= 0.001
    path = tmp_path / "refunds.parquet"
    data.to_parquet(path, index=False)
    assert reference_flags(path, spec) == []
    queries = _count_queries(monkeypatch)
    assert collect_sql(file_query(path), spec).extreme_units == []
    with_check = len(queries)
    queries.clear()
    monkeypatch.setattr(aggregate_sql, "checks_extremes", lambda metric: False)
    collect_sql(file_query(path), spec)
    assert with_check == len(queries) + 1


def test_the_median_floor_is_a_lower_bound_of_the_median():
    """Whenever ``_median_floor`` gives the limit, the median non-zero |y| (numpy) is above it:
    random variants with a share of values near 0, over a column whose largest is the
    variant's or larger."""
    rng = np.random.default_rng(5)
    given = 0
    for _ in range(3000):
        size = int(rng.integers(2, 400))
        values = rng.lognormal(rng.normal(0, 2), rng.uniform(0.1, 3), size) * rng.choice([-1, 1], size)
        values[rng.random(size) < rng.uniform(0, 0.7)] = 0.0
        largest = np.abs(values).max() * rng.choice([1.0, 1.0, rng.uniform(1, 100)])
        if largest == 0:
            continue
        limit = 2 * largest / TIMES_MEDIAN
        tiny = rng.integers(0, max(2, size // 2))  # near-0 values, in place of some of the others
        values[rng.permutation(size)[:tiny]] = rng.uniform(1e-12, 1, tiny) * limit
        near_zero = int(np.count_nonzero((values != 0) & (np.abs(values) <= limit))) + int(rng.integers(0, 3))
        floor = aggregate_sql._median_floor((largest, limit, near_zero), values.sum(), (values**2).sum())
        if floor == floor:  # not NaN: claimed
            given += 1
            assert np.median(np.abs(values[values != 0])) > floor
    assert given > 50  # the cases where it claims anything: about 90 of the 3,000


def test_the_largest_allowed_is_the_edge_of_the_rules():
    """Just below ``_largest_allowed`` no rule can fire; just above it one may."""
    rng = np.random.default_rng(11)
    n = rng.integers(1, 10_000, 300).astype(float)
    mean = rng.normal(0, 50, 300)
    spread = rng.lognormal(8, 3, 300)
    sum_y, sum_y2 = n * mean, spread + n * mean**2
    smallest = np.where(rng.random(300) < 0.5, 1.0, rng.lognormal(-3, 2, 300))
    for k in range(300):
        allowed = aggregate_sql._largest_allowed(n[k:k + 1], sum_y[k:k + 1], sum_y2[k:k + 1], 1e300, smallest[k])[0]
        args = (n[k:k + 1], sum_y[k:k + 1], sum_y2[k:k + 1])
        assert not may_be_extreme(*args, np.array([allowed]), smallest[k:k + 1])[0]
        assert may_be_extreme(*args, np.array([np.nextafter(allowed, np.inf)]), smallest[k:k + 1])[0]


def test_the_bounds_never_rule_out_a_flag():
    """``may_be_extreme`` False must prove that ``extreme_unit`` flags nothing: checked on
    2,000 random variants built to sit near every threshold (few units, negatives, zeros,
    tiny and huge values, ties, constants)."""
    rng = np.random.default_rng(11)
    checked = fired = 0
    for _ in range(2000):
        n = int(rng.choice([1, 5, MIN_UNITS - 1, MIN_UNITS, 21, 50, 400]))
        shape = rng.integers(0, 6)
        if shape == 0:
            y = rng.lognormal(0, rng.uniform(0.1, 4), n)
        elif shape == 1:
            y = np.where(rng.random(n) < rng.uniform(0.05, 0.9), rng.lognormal(3, 2, n), 0.0)
        elif shape == 2:
            y = rng.normal(rng.uniform(-5, 5), rng.uniform(0.01, 10), n)
        elif shape == 3:
            y = np.full(n, rng.uniform(-3, 3))
        elif shape == 4:
            y = np.where(rng.random(n) < 0.5, 10.0 ** rng.uniform(-9, -4, n), rng.lognormal(2, 1, n))
        else:
            y = rng.integers(-3, 4, n).astype(float)
        if rng.random() < 0.5:  # one planted unit, from ordinary to dominating
            y[rng.integers(n)] = rng.choice([-1, 1]) * 10.0 ** rng.uniform(0, 12)
        if rng.random() < 0.02:
            y[0] = FLOAT_LIMIT * 10
        size = np.abs(y)
        top = int(np.argmax(size))
        flagged = extreme_unit("m", "v", "u", y[top], n, size.sum(), np.median(size[size > 0]) if size.any() else None,
                               np.var(y), y.mean()) is not None
        maybe = may_be_extreme([n], [y.sum()], [(y * y).sum()], [size.max()],
                               [size[size > 0].min() if size.any() else np.nan])[0]
        checked += not maybe
        fired += flagged
        assert maybe or not flagged
    assert checked > 500 and fired > 300  # both sides of the proof are exercised


def test_a_unit_dropped_from_the_metric_is_not_flagged_as_the_old_scan_did(tmp_path):
    """A numerator of 10⁹ over no sessions is dropped from the ratio (zero denominator), so it
    cannot move the mean: the old scan, reading every row, flagged it; the pass does not, on
    either path. A unit that counts, with the same value, is flagged by all three."""
    spec = ExperimentSpec(name="t", unit="user_id", control="control", metrics=[
        MetricSpec("converted", kind="proportion", role="primary"),
        MetricSpec("orders_per_session", kind="ratio", numerator="orders", denominator="sessions")])
    for sessions, flags in ((0, []), (1, [("orders_per_session", "B")])):
        data = _experiment(3000, seed=7)
        victim = data.index[data["variant"] == "B"][5]
        data.loc[victim, ["orders", "sessions"]] = [10**9, sessions]
        path = tmp_path / f"data{sessions}.parquet"
        data.to_parquet(path, index=False)
        assert [key[:2] for key in reference_flags(path, spec)] == [("orders_per_session", "B")]
        assert [key[:2] for key in _keys(collect_sql(file_query(path), spec).extreme_units)] == flags
        assert [key[:2] for key in _keys(collect_frame(data, spec).extreme_units)] == flags


@pytest.mark.parametrize("case", ["clean", "dominant revenue", "tiny median", "whale"])
def test_days_segments_and_missing_values_give_the_same_flags_on_both_paths(case, tmp_path):
    """With a timestamp the pass groups by variant and day (the largest and smallest values are
    combined over days), with segments it adds grouping sets, and ``missing: drop`` leaves units
    out of the metric: the SQL path still flags what the frame path flags, and what the old
    scan flagged (the missing values are not the flagged units)."""
    change, expected = CASES[case]
    data = change(_experiment(3000, seed=7))
    rng = np.random.default_rng(5)
    data["exposed_at"] = pd.Timestamp("2026-10-01") + pd.to_timedelta(rng.integers(0, 14, len(data)), unit="D")
    data["platform"] = rng.choice(["ios", "web"], len(data))
    quiet = data.index[(data["revenue"] < 10) & (data["orders"] < 3)][::50]
    data.loc[quiet, "revenue"] = np.nan
    spec = ExperimentSpec(name="t", unit="user_id", control="control", timestamp_column="exposed_at", segments=["platform"],
                          metrics=[MetricSpec("converted", kind="proportion", role="primary"),
                                   MetricSpec("revenue", missing="drop"),
                                   MetricSpec("orders_per_session", kind="ratio", numerator="orders", denominator="sessions")])
    path = tmp_path / "data.parquet"
    data.to_parquet(path, index=False)
    from_sql, from_frame = collect_sql(file_query(path), spec).extreme_units, collect_frame(data, spec).extreme_units
    assert _keys(from_sql) == _keys(from_frame)
    assert [key[:2] for key in _keys(from_sql)] == expected
    assert [key[:4] for key in _keys(from_sql)] == [key[:4] for key in reference_flags(path, spec)]
