"""Speed and memory of the experiment analysis against the cheapest possible pass over the data.

    .venv/bin/python benchmarks/bench_experiments.py              # 10,000,000 units
    .venv/bin/python benchmarks/bench_experiments.py --units 200000
    .venv/bin/python benchmarks/bench_experiments.py --engine spark --units 1000000
    .venv/bin/python benchmarks/bench_experiments.py --sizes 1000000,10000000,100000000 --rounds 3 --repeat 2

Generates one experiment of ``--units`` units split over three variants (control, B, C), with a
conversion (0/1), a heavy-tailed revenue (log-normal spend of converters, Pareto tail) with a
pre-period covariate, and orders per session (a ratio metric; some units have no session).
The data is written as parquet to a temporary folder (``--data-dir`` to choose where: 100
million units take 1.2 GB), a million rows at a time (one row group each), so no more than a
million rows are ever in memory; each measurement runs in a fresh subprocess so peak memory
(``VmHWM``, the whole process: interpreter, imports, data) is its own:

* parquet path: ``analyse_experiment(path, spec)`` — SRM, all three metrics, CUPED, Holm
  correction, Bayesian view, power: the workload the issue names — against the *floor*: one
  DuckDB query computing the same sufficient statistics (counts, sums, squares, cross-products
  per variant);
* in-memory path: ``analyse_experiment(frame, spec)`` on a pandas frame already in memory,
  against one pandas ``groupby`` of the same counts, sums, squares and cross-products (left out
  above 20 million units: the frame alone would take gigabytes).

``--sizes`` measures the parquet path (full analysis, with the unit check, without the extreme
scan, and their floors) at each size in turn and prints one table, so the growth shows; the
figures for 1, 10 and 100 million units are in ``docs/scale.md``. ``--only
parquet-textids,parquet-winsorized,parquet-p90`` (with ``--sizes`` or ``--units``) measures
what memory bounds cost: the unit check on text ids (``'u' || user_id``, a ``GROUP BY`` that
spills to disk beyond DuckDB's memory limit), revenue winsorized at its 99th percentile and a
90th-percentile metric (exact order statistics read in two passes, :mod:`.order_statistics`).

Times are the best of ``--repeat`` runs inside each subprocess (the first run pays one-off
import and cache costs for both sides alike), over ``--rounds`` rounds in which analysis and
floor alternate (reported: best against best, the median of each round's ratio, and CPU
seconds, which other processes on the machine disturb less than wall time).

The parquet path is also timed with revenue adjusted for three covariates (``pre_revenue,
pre_sessions, pre_orders``: regression adjustment instead of CUPED) against the same floor with
revenue's CUPED sums replaced by the covariates' cross-products (``X'X``, ``X'y`` per variant);
target 1.3x. ``--only parquet-regression`` measures just that pair. The runs marked "without
extreme scan" leave out the search for single units that dominate a metric (:mod:`.extremes`:
the largest and smallest non-zero value per variant in the same pass, and a second read only
of variants where a unit might dominate), to show what that check costs.

Each path is also timed with the unit column declared, which adds the exact check for units
seen in several variants (bad input the analysis must count and drop). The floor never reads
the id column, and no exact check can skip it: proving that no id repeats needs every id. So
that run is set against a second floor, the same single DuckDB pass reading the id column too
(``bit_xor(user_id)`` per variant, the cheapest aggregate that needs every id; ``max`` would
come from parquet statistics). Targets (issue 17, "one machine first"): up to 100 million
units, each analysis at most 1.1x its floor and the parquet path under 1 GB peak (the DuckDB
settings that keep it there: ``duckdb_source.database_settings``).

``--engine spark`` times the same analysis on a local Spark session (``local[2]``, the kit's
own, see :mod:`prodops_lib.experiments.engines`) reading the parquet file, against a bare Spark
aggregation of the same sums (one ``groupBy(variant).agg`` of the floor's counts, sums, squares
and cross-products), and with the unit check against that aggregation plus a bare ``groupBy``
of the ids. It prints the queries the analysis issued: one pass per experiment, plus the unit
check. Spark runs in this process: one session, its start-up not timed, one warm-up run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ("control", "B", "C")


def generate(units: int, path: Path, seed: int = 20261) -> None:
    """Write the benchmark experiment to ``path`` (parquet), in chunks to bound memory."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    chunk = 1_000_000
    for start in range(0, units, chunk):
        size = min(chunk, units - start)
        variant = rng.integers(0, len(VARIANTS), size)
        pre_revenue = rng.lognormal(2.0, 1.0, size) * (rng.random(size) < 0.4)
        converted = (rng.random(size) < 0.10 + 0.004 * variant).astype(np.int8)
        pre_sessions = rng.poisson(2.0 + 0.2 * np.sqrt(pre_revenue), size).astype(np.int32)
        pre_orders = rng.binomial(pre_sessions, 0.3).astype(np.int32)
        spend = (0.6 * pre_revenue + 4.0 * pre_orders + rng.lognormal(3.0, 1.1, size) + 20.0 * rng.pareto(2.2, size))
        revenue = converted * spend * (1.0 + 0.01 * variant)
        sessions = rng.poisson(3.0, size).astype(np.int32)
        orders = rng.binomial(sessions, 0.04 + 0.002 * variant).astype(np.int32)
        table = pa.table({
            "user_id": np.arange(start, start + size, dtype=np.int64),
            "variant": pa.array(np.asarray(VARIANTS, dtype=object)[variant], type=pa.string()),
            "converted": converted, "revenue": revenue, "pre_revenue": pre_revenue,
            "orders": orders, "sessions": sessions, "pre_sessions": pre_sessions, "pre_orders": pre_orders,
        })
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


REGRESSION_COVARIATES = ["pre_revenue", "pre_sessions", "pre_orders"]


def spec(check_units: bool = True, regression: bool = False, winsorized: bool = False, quantile: bool = False):
    """The benchmark experiment; ``check_units=False`` leaves out the unit column (and so the
    check for units seen in several variants), to show what that check costs; ``regression``
    adjusts revenue for three covariates instead of CUPED on one. ``winsorized`` caps revenue
    at its 99th percentile and ``quantile`` adds its 90th percentile as a metric: exact order
    statistics, read through a histogram."""
    from prodops_lib.experiments import ExperimentSpec, MetricSpec

    revenue = (MetricSpec("revenue", covariates=REGRESSION_COVARIATES) if regression
               else MetricSpec("revenue", covariate="pre_revenue", winsorize_upper=0.99 if winsorized else None))
    return ExperimentSpec(
        name="benchmark", unit="user_id" if check_units else None, control="control",
        metrics=[
            MetricSpec("converted", kind="proportion", role="primary"),
            revenue,
            MetricSpec("orders_per_session", kind="ratio", numerator="orders", denominator="sessions"),
            *([MetricSpec("p90_revenue", kind="quantile", column="revenue", quantile=0.9)] if quantile else []),
        ],
    )


FLOOR_SQL = """
SELECT variant, count(*) AS n,
  sum(converted::DOUBLE) AS c, sum(converted::DOUBLE * converted) AS c2,
  sum(revenue) AS r, sum(revenue * revenue) AS r2, sum(pre_revenue) AS x, sum(pre_revenue * pre_revenue) AS x2,
  sum(revenue * pre_revenue) AS rx,
  sum(orders::DOUBLE) AS o, sum(orders::DOUBLE * orders) AS o2, sum(sessions::DOUBLE) AS s,
  sum(sessions::DOUBLE * sessions) AS s2, sum(orders::DOUBLE * sessions) AS os{ids}
FROM read_parquet('{path}') GROUP BY variant
"""


def regression_floor_sql() -> str:
    """The floor with revenue's CUPED sums replaced by the cross-products of three covariates:
    Σx_j, Σx_j·x_k and Σrevenue·x_j (X'X and X'y per variant)."""
    names = REGRESSION_COVARIATES
    sums = [f"sum({a}::DOUBLE) AS s_{a}" for a in names]
    sums += [f"sum({a}::DOUBLE * {b}) AS s_{a}_{b}" for i, a in enumerate(names) for b in names[i:]]
    sums += [f"sum(revenue * {a}) AS s_revenue_{a}" for a in names]
    cuped = ("sum(pre_revenue) AS x, sum(pre_revenue * pre_revenue) AS x2,\n"
             "  sum(revenue * pre_revenue) AS rx,\n")
    assert cuped in FLOOR_SQL
    return FLOOR_SQL.replace(cuped, ", ".join(sums) + ",\n")


def pandas_floor(frame):
    """One groupby of counts, sums, squares and cross-products."""
    columns = frame[["converted", "revenue", "pre_revenue", "orders", "sessions"]].astype("float64")
    products = columns.assign(
        n=1.0, converted2=columns["converted"] ** 2, revenue2=columns["revenue"] ** 2,
        pre_revenue2=columns["pre_revenue"] ** 2, revenue_pre=columns["revenue"] * columns["pre_revenue"],
        orders2=columns["orders"] ** 2, sessions2=columns["sessions"] ** 2,
        orders_sessions=columns["orders"] * columns["sessions"],
    )
    return products.groupby(frame["variant"]).sum()


def worker(mode: str, path: Path, repeat: int) -> dict:
    """Run one measurement in this (fresh) process and report time and peak memory."""
    source, _, variant = mode.partition("-")
    if variant in ("floor", "idfloor", "regfloor") and source == "parquet":
        import duckdb

        connection = duckdb.connect()
        template = regression_floor_sql() if variant == "regfloor" else FLOOR_SQL
        query = template.format(path=path, ids=", bit_xor(user_id) AS ids" if variant == "idfloor" else "")
        task = lambda: connection.execute(query).fetchall()  # noqa: E731
    else:
        data = path
        if source == "memory":
            import pandas as pd

            data = pd.read_parquet(path)
        if variant == "floor":
            task = lambda: pandas_floor(data)  # noqa: E731
        else:
            from prodops_lib.experiments import analyse_experiment

            if variant.endswith("bare"):  # the scan for extreme units is timed apart: analysis and statistics alone
                from prodops_lib.experiments import aggregate_frame, aggregate_sql

                for collector in (aggregate_frame, aggregate_sql):
                    collector.checks_extremes = lambda metric: False
            if variant == "textids":  # ids that are not integers: the unit check groups them, spilling to disk
                from prodops_lib.io import SQL

                data = SQL(f"SELECT 'u' || user_id AS user_id, * EXCLUDE (user_id) FROM read_parquet('{path}')")
            experiment = spec(check_units=variant in ("analysis", "textids"), regression=variant.startswith("regression"),
                              winsorized=variant == "winsorized", quantile=variant == "p90")
            task = lambda: analyse_experiment(data, experiment)  # noqa: E731
    times, cpu_times = [], []
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        task()
        times.append(time.perf_counter() - start)
        cpu_times.append(_cpu_seconds() - cpu_start)
    return {"mode": mode, "seconds": min(times), "cpu_seconds": min(cpu_times), "peak_mb": _peak_mb()}


def _peak_mb() -> float:
    """This process's peak resident memory. Linux's ``ru_maxrss`` survives ``exec``: a worker
    would report at least its parent's size at the fork (the parent that generated the data);
    ``VmHWM`` belongs to the worker's own address space."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time of this process, all threads: steadier than wall time when other processes
    share the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(mode: str, path: Path, repeat: int) -> dict:
    command = [sys.executable, __file__, "--worker", mode, "--data", str(path), "--repeat", str(repeat)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def spark_floor(session, path: Path, ids: bool):
    """The bare Spark aggregation of the floor's sums, from the parquet path as the analysis
    starts (and, with ``ids``, the cheapest exact repeat check: the ids grouped, the repeated
    ones counted)."""
    from pyspark.sql import functions as F

    frame = session.read.parquet(str(path))
    d = {name: F.col(name).cast("double") for name in ("converted", "revenue", "pre_revenue", "orders", "sessions")}
    sums = [F.count(F.lit(1)), F.sum(d["converted"]), F.sum(d["converted"] * d["converted"]), F.sum(d["revenue"]),
            F.sum(d["revenue"] * d["revenue"]), F.sum(d["pre_revenue"]), F.sum(d["pre_revenue"] * d["pre_revenue"]),
            F.sum(d["revenue"] * d["pre_revenue"]), F.sum(d["orders"]), F.sum(d["orders"] * d["orders"]),
            F.sum(d["sessions"]), F.sum(d["sessions"] * d["sessions"]), F.sum(d["orders"] * d["sessions"])]
    frame.groupBy("variant").agg(*sums).collect()
    if ids:
        frame.groupBy("user_id").count().filter("count > 1").count()


def spark_main(path: Path, runs: int) -> None:
    """The analysis on Spark against bare Spark aggregations, ``runs`` times each in turn (so
    load from other processes hits both sides alike; the best is kept); prints times, ratios
    and the queries the analysis issued."""
    from prodops_lib.experiments import analyse_experiment, engines

    session = engines.spark_session()
    issued: list[str] = []
    run = engines.SparkRunner._run
    engines.SparkRunner._run = lambda self, sql: issued.append(sql) or run(self, sql)
    tasks = {  # label: (task, the floor it is set against)
        "bare aggregation of the sums": (lambda: spark_floor(session, path, ids=False), None),
        "bare aggregation + id groupBy": (lambda: spark_floor(session, path, ids=True), None),
        "full analysis": (lambda: analyse_experiment(engines.EngineSource("spark", str(path)), spec(False)),
                          "bare aggregation of the sums"),
        "full analysis + unit check": (lambda: analyse_experiment(engines.EngineSource("spark", str(path)), spec(True)),
                                       "bare aggregation + id groupBy"),
    }
    times: dict[str, list[float]] = {label: [] for label in tasks}
    queries = {}
    for label, (task, _) in tasks.items():  # warm-up: the JVM compiles the code paths on first use
        issued.clear()
        task()
        queries[label] = len(issued)
    for _ in range(runs):
        for label, (task, _) in tasks.items():
            start = time.perf_counter()
            task()
            times[label].append(time.perf_counter() - start)
    print(f"{'spark run':<34} {'seconds':>8} {'x bare':>7} {'queries':>8}")
    for label, (_, floor) in tasks.items():
        best = min(times[label])
        ratio = best / min(times[floor]) if floor else 1.0
        print(f"{label:<34} {best:>8.3f} {ratio:>7.2f} {queries[label] if floor else '-':>8}")
    print("x bare: best against best (the unit check against the aggregation plus the id groupBy); target <= 1.20 x; "
          "queries: Spark SQL queries the analysis issued")
    session.stop()


# (run, the floor it is set against, label); floors last, so each ratio's floor ran in the same round
RUNS = [
    ("parquet-nounits", "parquet-floor", "full analysis"),
    ("parquet-analysis", "parquet-idfloor", "full analysis + unit check"),
    ("parquet-idfloor", "parquet-floor", "floor reading the ids too"),
    ("parquet-floor", "parquet-floor", "floor"),
    ("parquet-nounitsbare", "parquet-floor", "... without extreme scan"),
    ("parquet-regression", "parquet-regfloor", "regression adj. (3 cov.)"),
    ("parquet-regressionbare", "parquet-regfloor", "... without extreme scan"),
    ("parquet-regfloor", "parquet-floor", "floor + 3 covariates' X'X"),
    ("parquet-textids", "parquet-idfloor", "unit check on text ids"),
    ("parquet-winsorized", "parquet-floor", "revenue winsorized (p99)"),
    ("parquet-p90", "parquet-floor", "+ p90 of revenue"),
    ("memory-nounits", "memory-floor", "full analysis"),
    ("memory-analysis", "memory-floor", "full analysis + unit check"),
    ("memory-floor", "memory-floor", "floor"),
]
SIZE_RUNS = ["parquet-nounits", "parquet-analysis", "parquet-nounitsbare"]  # --sizes: the parquet path, growing
# memory more than speed (exact quantiles, a unit check that spills): measured when asked for with --only
MEMORY_RUNS = ["parquet-textids", "parquet-winsorized", "parquet-p90"]
IN_MEMORY_UNITS = 20_000_000  # beyond this the in-memory runs are left out: pandas would hold every row


def with_floors(wanted: set[str]) -> list[tuple[str, str, str]]:
    """The runs asked for, their floors, and the floors' floors, in :data:`RUNS` order."""
    while (more := {floor for mode, floor, _ in RUNS if mode in wanted} - wanted):
        wanted |= more
    return [row for row in RUNS if row[0] in wanted]


def measure_rounds(rows: list[tuple[str, str, str]], path: Path, rounds: int, repeat: int) -> dict[str, list[dict]]:
    """Each run once per round, in fresh subprocesses, analysis and floors alternating."""
    runs: dict[str, list[dict]] = {mode: [] for mode, _, _ in rows}
    for _ in range(rounds):
        for mode in runs:
            runs[mode].append(measure(mode, path, repeat))
    return runs


def ratios(runs: dict[str, list[dict]], mode: str, floor_mode: str) -> dict:
    """A run against its floor: best against best, the median of each round's ratio (the same
    round's floor ran within seconds, under the same load from other processes) and CPU
    seconds, best against best."""
    results, floor = runs[mode], runs[floor_mode]
    per_round = sorted(result["seconds"] / base["seconds"] for result, base in zip(results, floor, strict=True))
    best = min(r["seconds"] for r in results)
    floor_best = min(r["seconds"] for r in floor)
    return {"seconds": best, "floor_seconds": floor_best, "x": best / floor_best,
            "median_x": per_round[len(per_round) // 2],
            "cpu_x": min(r["cpu_seconds"] for r in results) / min(r["cpu_seconds"] for r in floor),
            "peak_mb": max(r["peak_mb"] for r in results), "floor_peak_mb": max(r["peak_mb"] for r in floor)}


LEGEND = ("x: best against best; median x: the median over rounds of each round's ratio; "
          "cpu x: CPU seconds of all threads, best against best")
TARGETS = ("targets: each analysis <= 1.10 x the floor it is set against (regression adjustment: 1.30 x); "
           "parquet path peak < 1,000 MB")


def print_units(runs: dict[str, list[dict]], rows: list[tuple[str, str, str]]) -> None:
    """The detailed table of one size."""
    print(f"{'path':<10} {'run':<28} {'seconds':>8} {'against':<26} {'x':>6} {'median x':>9} {'cpu x':>6} "
          f"{'peak MB':>8}")
    labels = {mode: label for mode, _, label in rows}
    for mode, floor_mode, label in rows:
        figures = ratios(runs, mode, floor_mode)
        against = labels[floor_mode] if floor_mode != mode else ""
        print(f"{'parquet' if mode.startswith('parquet') else 'in-memory':<10} {label:<28} {figures['seconds']:>8.3f} "
              f"{against:<26} {figures['x']:>6.2f} {figures['median_x']:>9.2f} {figures['cpu_x']:>6.2f} "
              f"{figures['peak_mb']:>8.0f}")
    if "parquet-analysis" in runs and "parquet-floor" in runs:
        plain = ratios(runs, "parquet-analysis", "parquet-floor")["x"]
        print(f"parquet full analysis + unit check against the floor that never reads the ids: {plain:.2f} x")
    print(LEGEND)
    print(TARGETS)


def print_sizes(measured: list[tuple[int, dict[str, list[dict]]]], rows: list[tuple[str, str, str]]) -> None:
    """One table over the sizes: each parquet run against its floor, so the growth shows."""
    print(f"{'units':>12} {'run':<28} {'seconds':>8} {'floor s':>8} {'x':>6} {'median x':>9} {'cpu x':>6} "
          f"{'peak MB':>8} {'floor MB':>9}")
    for units, runs in measured:
        for mode, floor_mode, label in rows:
            if mode not in SIZE_RUNS + MEMORY_RUNS:
                continue
            figures = ratios(runs, mode, floor_mode)
            print(f"{units:>12,} {label:<28} "
                  f"{figures['seconds']:>8.2f} {figures['floor_seconds']:>8.2f} {figures['x']:>6.2f} "
                  f"{figures['median_x']:>9.2f} {figures['cpu_x']:>6.2f} {figures['peak_mb']:>8.0f} "
                  f"{figures['floor_peak_mb']:>9.0f}")
    print("the unit-check runs are set against the floor reading the ids too; the others against the floor")
    print(LEGEND)
    print(TARGETS)


def write_experiment(units: int, folder: Path) -> Path:
    path = folder / f"experiment_{units}.parquet"
    start = time.perf_counter()
    generate(units, path)
    print(f"{units:,} units, {len(VARIANTS)} variants: written in {time.perf_counter() - start:.1f} s "
          f"({path.stat().st_size / 1e6:.0f} MB parquet)", flush=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000_000, help="units in the experiment (default 10,000,000)")
    parser.add_argument("--sizes", help="comma-separated unit counts (e.g. 1000000,10000000,100000000): the parquet "
                                        "path at each, in one table")
    parser.add_argument("--repeat", type=int, default=3, help="runs per subprocess; the best is kept")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of fresh subprocesses, analysis and floor alternating (best kept), so load "
                             "from other processes on the machine hits both sides alike")
    parser.add_argument("--only", help="comma-separated runs to measure (e.g. parquet-regression); their floors are added")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                        help="spark: the analysis on a local Spark session against bare Spark aggregations")
    parser.add_argument("--data-dir", type=Path,
                        help="where to write the parquet files (default: a temporary folder, removed after; "
                             "100M units take 1.2 GB)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.repeat)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_experiments_", dir=args.data_dir) as folder:
        if args.sizes:
            rows = with_floors(set(args.only.split(",")) if args.only else set(SIZE_RUNS))
            measured = []
            for units in (int(size) for size in args.sizes.split(",")):
                path = write_experiment(units, Path(folder))
                measured.append((units, measure_rounds(rows, path, args.rounds, args.repeat)))
                path.unlink()  # one size's file on disk at a time
            print_sizes(measured, rows)
            return 0
        path = write_experiment(args.units, Path(folder))
        if args.engine == "spark":
            spark_main(path, args.repeat * args.rounds)
            return 0
        rows = with_floors(set(args.only.split(","))) if args.only else [row for row in RUNS if row[0] not in MEMORY_RUNS]
        if args.units > IN_MEMORY_UNITS:
            rows = [row for row in rows if not row[0].startswith("memory")]
            print(f"in-memory runs left out above {IN_MEMORY_UNITS:,} units: pandas would hold every row")
        print_units(measure_rounds(rows, path, args.rounds, args.repeat), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
