"""The same experiments on Spark (local mode, and through a Spark Connect server) and on
Postgres give the DuckDB path's results to 1e-9: every metric kind, CUPED and regression
covariates, winsorization, maturity, segments, the daily series, planted unit crossovers and a
planted extreme unit. The engines are real: Spark from pyspark on Java 17 (the Connect server
is pyspark's own, started with ``spark-submit``), Postgres from Debian's server binaries
(``.ci/run`` installs Java and Postgres), each started once per session. The reference is the DuckDB path, itself pinned to the
pandas path (test_paths.py) and to published values (test_statistics.py)."""

from __future__ import annotations

import glob
import os
import pickle
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from prodops_lib.experiments import ExperimentSpec, MetricSpec, analyse_experiment
from prodops_lib.experiments.aggregate_sql import collect_sql
from prodops_lib.experiments.duckdb_source import Runner, file_query, private_cursor
from prodops_lib.experiments.engines import (
    DIALECTS,
    EngineSource,
    compile_sql,
    open_runner,
    spark_session,
)
from prodops_lib.experiments.report import method_block
from prodops_lib.io import InputError

from .test_paths import MESSY_SPEC, assert_same_frames, messy_units
from .test_regression import units_with_covariates

# pyspark 4.3 on pandas 3: its own deprecation warnings, about its own code
pytestmark = [pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

WITH_EXTREMES = ExperimentSpec(
    name="covariates", unit="user_id", timestamp_column="exposed_at", segments=["platform", "country"],
    metrics=[
        MetricSpec("converted", kind="proportion", role="primary", covariates=["pre_revenue"],
                   categorical_covariates=["platform"]),
        MetricSpec("revenue", covariates=["pre_revenue", "pre_sessions"], categorical_covariates=["country"]),
        MetricSpec("orders_per_session", kind="ratio", numerator="orders", denominator="sessions",
                   covariates=["pre_sessions"]),
        MetricSpec("converted_mature", column="converted", kind="proportion", maturity_days=3),
        MetricSpec("gift_spend", missing="zero"),  # one unit holds most of B's total: flagged and capped
        MetricSpec("median_revenue", kind="quantile", column="revenue", quantile=0.5),
    ],
)


def covariate_units() -> pd.DataFrame:
    units = units_with_covariates(4000)
    rng = np.random.default_rng(5)
    units["gift_spend"] = np.where(rng.random(len(units)) < 0.2, rng.lognormal(2, 1, len(units)), np.nan)
    units.loc[units.index[units["variant"] == "B"][3], "gift_spend"] = 1e7
    crossover = units.iloc[20:23].copy()  # three units also seen in another variant
    crossover["variant"] = np.where(crossover["variant"] == "control", "C", "control")
    return pd.concat([units, crossover], ignore_index=True)


CASES = {"messy": (messy_units, MESSY_SPEC), "covariates": (covariate_units, WITH_EXTREMES)}


def _write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    # microseconds: Spark reads no nanosecond timestamps
    frame.to_parquet(path, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
    return path


@pytest.fixture(scope="module")
def data_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="prodops-engines-"))
    folder.chmod(0o755)
    for name, (make, _) in CASES.items():
        _write_parquet(make(), folder / f"{name}.parquet")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def on_duckdb(data_dir) -> dict:
    return {name: analyse_experiment(data_dir / f"{name}.parquet", spec, random_state=3)
            for name, (_, spec) in CASES.items()}


def assert_same_analysis(expected, found) -> None:
    assert_same_frames(expected.to_frame(), found.to_frame(), ["metric", "variant"])
    assert_same_frames(expected.cumulative, found.cumulative, ["metric", "variant", "day"])
    assert_same_frames(expected.segments, found.segments, ["segment_column", "segment", "metric", "variant"])
    assert found.units == expected.units
    assert found.drops[["reason", "rows"]].to_dict("records") == expected.drops[["reason", "rows"]].to_dict("records")
    apart = ("winsorized", "extreme_units", "dialect")  # compared below; the engine's own name
    notes = {key: value for key, value in found.notes.items() if key not in apart}
    assert notes == {key: value for key, value in expected.notes.items() if key not in apart}
    for metric, caps in expected.notes["winsorized"].items():  # the same order statistics, interpolated in Python
        assert found.notes["winsorized"][metric] == pytest.approx(caps, rel=1e-12)
    for unit, reference in zip(found.notes.get("extreme_units", []), expected.notes.get("extreme_units", []),
                               strict=True):
        for key, value in reference.items():
            assert unit[key] == (value if isinstance(value, str) else pytest.approx(value, rel=1e-9)), key
    assert found.decision == expected.decision


def test_the_planted_problems_are_there(on_duckdb):
    """The cases exercise what they claim: crossovers dropped, caps applied, a unit flagged."""
    messy, covariates = on_duckdb["messy"], on_duckdb["covariates"]
    assert messy.notes["crossover_units"] == 6 and covariates.notes["crossover_units"] == 3
    assert messy.notes["winsorized"]["spend"]["units_capped"] > 0
    assert [(u["metric"], u["variant"], u["value"]) for u in covariates.notes["extreme_units"]] == \
        [("gift_spend", "B", 1e7)]
    assert any(reason.startswith("units exposed") or "mature" in reason for reason in covariates.drops["reason"])


class _Recording(Runner):
    """The DuckDB runner, keeping every portable query it is given."""

    seen: ClassVar[list[str]] = []

    def prepare(self, sql: str, native: bool = False) -> str:
        if not native and self.query is not None:
            self.seen.append(sql)
        return super().prepare(sql, native)


@pytest.mark.parametrize("case", list(CASES))
def test_every_query_compiles_to_every_dialect(case, data_dir):
    _, spec = CASES[case]
    _Recording.seen = []
    runner = _Recording(private_cursor(), case, file_query(data_dir / f"{case}.parquet"))
    collect_sql("", spec, runner=runner)
    assert any("GROUPING SETS" in sql for sql in _Recording.seen)
    for sql in _Recording.seen:
        for dialect in DIALECTS:
            assert compile_sql(sql, dialect)
    main = next(sql for sql in _Recording.seen if "GROUPING SETS" in sql and "__rows" in sql)
    postgres = compile_sql(main, "postgres")
    assert "AS DOUBLE PRECISION" in postgres and "FILTER(WHERE" in postgres
    assert "CAST(CAST(" in postgres  # a boolean becomes a float through an integer
    assert "COUNTIF(" in compile_sql(main, "bigquery")  # no FILTER clause there


# --- Spark ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def spark():
    if shutil.which("java") is None:
        pytest.skip("no Java: Spark local mode needs Java 17 (.ci/run installs Debian's openjdk-17-jre-headless)")
    session = spark_session()  # the kit's own local session: local[2], scratch in a temporary folder, no UI
    yield session
    session.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_spark_gives_the_duckdb_results(case, spark, data_dir, on_duckdb):
    _, spec = CASES[case]
    found = analyse_experiment(EngineSource("spark", str(data_dir / f"{case}.parquet")), spec, random_state=3)
    assert_same_analysis(on_duckdb[case], found)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")  # stopped after this module: an idle server still takes a quarter of a core
def spark_connect_url():
    """A Spark Connect server on a free local port (pyspark's own server class, two cores,
    scratch in a temporary folder), as a cluster's would be reached: by an ``sc://`` URL."""
    if shutil.which("java") is None:
        pytest.skip("no Java: the Spark Connect server needs Java 17 (.ci/run installs Debian's openjdk-17-jre-headless)")
    import pyspark

    home, port = Path(pyspark.__file__).parent, _free_port()
    scratch = tempfile.mkdtemp(prefix="prodops-connect-")
    settings = {"spark.connect.grpc.binding.port": port, "spark.ui.enabled": "false",
                "spark.sql.warehouse.dir": f"{scratch}/warehouse", "spark.local.dir": scratch,
                "spark.sql.session.timeZone": "UTC", "spark.sql.shuffle.partitions": 4}
    with open(Path(scratch) / "server.log", "w") as log:
        server = subprocess.Popen(
            [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
             "--master", "local[2]", *[part for key, value in settings.items() for part in ("--conf", f"{key}={value}")],
             "spark-internal"],
            env={**os.environ, "SPARK_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                socket.create_connection(("localhost", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Spark Connect server did not start: "
                                       + (Path(scratch) / "server.log").read_text()[-2000:]) from None
                time.sleep(0.5)
        yield f"sc://localhost:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(scratch, ignore_errors=True)


_CONNECT_CLIENT = """
import pickle, sys
from prodops_lib.experiments import analyse_experiment
from prodops_lib.experiments.engines import EngineSource, open_runner
from tests.experiments.test_engines import CASES
case, path, url, out = sys.argv[1:]
source = EngineSource("spark", path, spark_remote=url)
runner = open_runner(source)
kind = type(runner.spark).__module__
runner.close()
with open(out, "wb") as file:
    pickle.dump((kind, analyse_experiment(source, CASES[case][1], random_state=3)), file)
"""


@pytest.mark.parametrize("case", list(CASES))
def test_spark_connect_gives_the_duckdb_results(case, spark_connect_url, data_dir, on_duckdb, tmp_path):
    """The same analysis through a Spark Connect URL (the ``spark_remote`` parameter; the
    ``SPARK_REMOTE`` variable names the same): the session is a Connect client, not a JVM. In
    a process of its own: pyspark refuses a Connect session beside this process's local one."""
    out = tmp_path / "analysis.pickle"
    subprocess.run([sys.executable, "-c", _CONNECT_CLIENT, case, str(data_dir / f"{case}.parquet"), spark_connect_url,
                    str(out)], check=True, cwd=Path(__file__).parents[2])
    kind, found = pickle.loads(out.read_bytes())
    assert kind.startswith("pyspark.sql.connect")
    assert_same_analysis(on_duckdb[case], found)


def test_a_local_session_prints_nothing_of_its_own(tmp_path):
    """The JVM's start-up notes, warnings and stage progress bars would interleave with the kit's
    output (``prodops check`` and ``report`` print to the same terminal): none is printed."""
    script = ("from prodops_lib.experiments.engines import spark_session\n"
              "print(spark_session().range(0, 2_000_000).selectExpr('id % 3 AS v').groupBy('v').count().count())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3\n"
    printed = [line for line in done.stderr.splitlines() if line.strip()]
    # the java launcher's own note about Spark's vector module is the one line left
    assert [line for line in printed if "incubator modules" not in line] == []


def test_prodops_check_on_spark_prints_only_its_findings_and_stops_its_session(data_dir, tmp_path):
    """``prodops check`` on a bundle whose experiment runs on Spark: the check's lines, no JVM
    output among them, and no session left running for the reports that follow."""
    parameters = tmp_path / "ab_spark.yaml"
    parameters.write_text(f"source: {data_dir / 'messy.parquet'}\nengine: spark\nexperiment:\n  name: messy\n"
                          "  unit: user_id\n  metrics: [{name: converted, kind: proportion, role: primary}]\n")
    bundle = tmp_path / "bundle.yaml"
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "ab_test.ipynb"
    bundle.write_text(f"reports:\n  - {{name: ab, notebook: {notebook}, parameters: {parameters}}}\n")
    script = ("from prodops_lib.report import cli\nfrom prodops_lib.experiments.engines import running_sessions\n"
              f"code = cli.main(['check', '--bundle', {str(bundle)!r}])\nprint('left running:', running_sessions(), code)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.stdout.splitlines()[:2] == [f"ab ({parameters}): 1 warning", f"  Spark parquet files {data_dir / 'messy.parquet'}: {len(messy_units()):,} rows"]
    assert done.stdout.splitlines()[-1] == "left running: set() 0"
    assert [line for line in done.stderr.splitlines() if line.strip() and "incubator modules" not in line] == []


def test_a_connect_session_beside_a_local_one_is_a_one_line_error(spark, spark_connect_url):
    with pytest.raises(InputError, match=r"^Spark session at sc://localhost:\d+ could not start: .*regular Spark session"):
        spark_session(spark_connect_url)


def test_spark_reads_a_table_and_a_query(spark, data_dir, on_duckdb):
    spark.read.parquet(str(data_dir / "messy.parquet")).createOrReplaceTempView("messy_units")
    spec = ExperimentSpec(name="small", unit="user_id", metrics=MESSY_SPEC.metrics[:2])
    from_table = analyse_experiment(EngineSource("spark", "messy_units"), spec)
    from_query = analyse_experiment(EngineSource("spark", "SELECT * FROM messy_units WHERE sessions >= 0"), spec)
    reference = analyse_experiment(data_dir / "messy.parquet", spec)
    assert_same_frames(reference.to_frame(), from_table.to_frame(), ["metric", "variant"])
    assert_same_frames(reference.to_frame(), from_query.to_frame(), ["metric", "variant"])
    with pytest.raises(InputError, match="Spark could not read the source"):
        analyse_experiment(EngineSource("spark", "no_such_table"), spec)
    assert "stayed on Spark" in str(method_block(from_table))


def test_prodops_check_on_spark_finds_what_the_check_of_the_file_finds(spark, data_dir):
    """The same queries as on the file, compiled for Spark: rows, variants and units, exposure
    dates, the sample ratio test and the warnings; a missing column stops it as the report would."""
    from prodops_lib.experiments.check import check_experiment
    from prodops_lib.experiments.report import ExperimentReport

    on_file = check_experiment(ExperimentReport(source=str(data_dir / "messy.parquet"), experiment=MESSY_SPEC))
    on_spark = check_experiment(ExperimentReport(source=str(data_dir / "messy.parquet"), experiment=MESSY_SPEC,
                                                 engine="spark"))
    assert on_spark.tables["variants found"].equals(on_file.tables["variants found"])
    assert on_spark.lines[0] == f"Spark parquet files {data_dir / 'messy.parquet'}: {len(messy_units()):,} rows"
    assert on_spark.lines[2:] == on_file.lines[1:] and on_spark.warnings == on_file.warnings
    wrong = ExperimentSpec(name="t", variant_column="segmnt", metrics=MESSY_SPEC.metrics[:1])
    with pytest.raises(InputError, match=r"^Spark parquet files .*messy.parquet: variant_column 'segmnt' is not a column \(columns: user_id"):
        check_experiment(ExperimentReport(source=str(data_dir / "messy.parquet"), experiment=wrong, engine="spark"))


# --- Postgres -------------------------------------------------------------------------------

_PG_VARIABLE = "PRODOPS_TEST_POSTGRES_URL"


def _postgres_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if found:
        return Path(found[0]).parent
    return Path(shutil.which("pg_ctl")).parent if shutil.which("pg_ctl") else None


def _server_user() -> str | None:
    """Postgres refuses to run as root: as root, the server runs as ``postgres`` (or ``nobody``)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name).pw_name
        except KeyError:
            continue
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run the Postgres server as")


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway Postgres server on a unix socket in a temporary folder (trust login)."""
    binaries = _postgres_binaries()
    if binaries is None:
        pytest.skip("no Postgres server binaries (pg_ctl, initdb); .ci/run installs Debian's postgresql")
    user = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="prodops-pg-"))
    folder.chmod(0o755)
    as_user = ["runuser", "-u", user, "--"] if user else []
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data, socket = folder / "data", folder
    run = lambda *command: subprocess.run([*as_user, *map(str, command)], check=True, capture_output=True,  # noqa: E731
                                         cwd=folder, timeout=120)
    run(binaries / "initdb", "-D", data, "-U", "prodops", "--auth=trust", "-E", "UTF8", "--no-locale")
    run(binaries / "pg_ctl", "-D", data, "-l", folder / "server.log", "-w", "-o",
        f"-k {socket} -c listen_addresses='' -F -c fsync=off", "start")
    url = f"postgresql+psycopg://prodops@/postgres?host={socket}"
    os.environ[_PG_VARIABLE] = url
    yield url
    os.environ.pop(_PG_VARIABLE, None)
    run(binaries / "pg_ctl", "-D", data, "-m", "immediate", "stop")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_tables(postgres_url, data_dir):
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres_url)
    for name in CASES:
        pd.read_parquet(data_dir / f"{name}.parquet").to_sql(name, engine, index=False, if_exists="replace")
    engine.dispose()
    return list(CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_postgres_gives_the_duckdb_results(case, postgres_tables, on_duckdb):
    _, spec = CASES[case]
    found = analyse_experiment(EngineSource("sql", case, connection=_PG_VARIABLE), spec, random_state=3)
    assert_same_analysis(on_duckdb[case], found)
    method = str(method_block(found))
    assert found.notes["dialect"] == "postgres"
    assert "stayed in Postgres" in method and "exact order statistics read in Postgres" in method
    assert _PG_VARIABLE not in method and "postgresql" not in method  # never the URL, nor where it is kept


def test_postgres_reads_a_query(postgres_tables, on_duckdb, data_dir):
    spec = ExperimentSpec(name="small", unit="user_id", metrics=MESSY_SPEC.metrics[:2])
    # a % in the query's text reaches Postgres as written (psycopg would read it as a placeholder)
    source = EngineSource("sql", "SELECT * FROM messy WHERE sessions >= 0 OR country LIKE '%x%';",
                          connection=_PG_VARIABLE)
    found = analyse_experiment(source, spec)
    assert_same_frames(analyse_experiment(data_dir / "messy.parquet", spec).to_frame(), found.to_frame(),
                       ["metric", "variant"])
    assert set(found.drops["source"]) == {"Postgres query"}
    # the unit check (two queries: ids repeat here), the cap of revenue (its histogram, then the values
    # of the bin holding its rank), one pass
    runner = open_runner(source)
    collect_sql("", spec, runner=runner)
    assert runner.queries == 5
    runner = open_runner(EngineSource("sql", "SELECT * FROM covariates WHERE user_id NOT IN (SELECT user_id FROM "
                                      "covariates GROUP BY 1 HAVING count(*) > 1)", connection=_PG_VARIABLE))
    clean = ExperimentSpec(name="clean", unit="user_id", metrics=[
        MetricSpec("converted", kind="proportion", role="primary"), MetricSpec("revenue", covariate="pre_revenue")])
    collect_sql("", clean, runner=runner)
    assert runner.queries == 2  # no repeated ids: the unit check and one pass


def test_a_missing_connection_variable_is_a_one_line_error(monkeypatch):
    monkeypatch.delenv("PRODOPS_NO_SUCH_URL", raising=False)
    with pytest.raises(InputError, match="environment variable 'PRODOPS_NO_SUCH_URL' is not set"):
        analyse_experiment(EngineSource("sql", "t", connection="PRODOPS_NO_SUCH_URL"), MESSY_SPEC)


# --- parameters -----------------------------------------------------------------------------


def _parameters(tmp_path: Path, lines: str) -> Path:
    path = tmp_path / "ab_engine.yaml"
    path.write_text(lines + "experiment:\n  name: t\n  metrics: [{name: converted, kind: proportion, role: primary}]\n")
    return path


def test_engine_parameters_are_read_and_a_url_in_a_parameter_file_is_refused(tmp_path):
    from prodops_lib.experiments.report import ExperimentReport
    from prodops_lib.params import ParameterError, load

    report = load(_parameters(tmp_path, "source: analytics.units\nengine: sql\nconnection: WAREHOUSE_URL\n"),
                  ExperimentReport)
    assert report.engine_source() == EngineSource("sql", "analytics.units", None, "WAREHOUSE_URL")
    assert load(_parameters(tmp_path, "source: data/x.parquet\n"), ExperimentReport).engine_source() is None
    with pytest.raises(ParameterError, match="connection must name an environment variable"):
        load(_parameters(tmp_path, "source: t\nengine: sql\nconnection: postgresql://me:secret@host/db\n"),
             ExperimentReport)
    with pytest.raises(ParameterError, match="engine 'hive' must be one of duckdb, spark, sql"):
        load(_parameters(tmp_path, "source: t\nengine: hive\n"), ExperimentReport)


def test_a_missing_extra_says_which_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # as if pyspark were not installed
    monkeypatch.setattr("prodops_lib.experiments.engines._SESSIONS", {})
    with pytest.raises(InputError, match=r"install prodops-kit\[spark\]"):
        analyse_experiment(EngineSource("spark", "t"), MESSY_SPEC)


def test_prodops_check_on_postgres_finds_what_the_check_of_the_file_finds(postgres_tables, data_dir):
    from prodops_lib.experiments.check import check_experiment
    from prodops_lib.experiments.report import ExperimentReport

    def check(spec, source="messy"):
        return check_experiment(ExperimentReport(source=source, experiment=spec, engine="sql", connection=_PG_VARIABLE))

    on_file = check_experiment(ExperimentReport(source=str(data_dir / "messy.parquet"), experiment=MESSY_SPEC))
    on_postgres = check(MESSY_SPEC)
    assert on_postgres.tables["variants found"].equals(on_file.tables["variants found"])
    assert on_postgres.lines[:2] == [f"Postgres table messy: {len(messy_units()):,} rows",
                                     "  read where it lives: only counts and per-variant sums come back"]
    assert on_postgres.lines[2:] == on_file.lines[1:] and on_postgres.warnings == on_file.warnings
    # the mistakes a new user makes stop the check with the report's own line
    with pytest.raises(InputError, match=r"^Postgres table messy: variant_column 'segmnt' is not a column \(columns: user_id"):
        check(ExperimentSpec(name="t", variant_column="segmnt", metrics=MESSY_SPEC.metrics[:1]))
    with pytest.raises(InputError, match=r"^Postgres table messy: metric 'converted' column 'convertd' is not a column"):
        check(ExperimentSpec(name="t", metrics=[MetricSpec("converted", column="convertd", kind="proportion",
                                                          role="primary")]))
    text_metric = ExperimentSpec(name="t", metrics=[MetricSpec("spend", column="country", role="primary")])
    with pytest.raises(InputError, match=r"^Postgres table messy: metric 'spend': column 'country' is not numeric "
                                         r"\(invalid input syntax for type double precision: \"\w+\"\); clean the column"):
        check(text_metric)
    with pytest.raises(InputError, match=r"^Postgres table messy: metric 'spend': column 'country' is not numeric"):
        analyse_experiment(EngineSource("sql", "messy", connection=_PG_VARIABLE), text_metric)
    wrong_control = check(ExperimentSpec(name="t", control="Control", metrics=MESSY_SPEC.metrics[:1]))
    assert any(warning.startswith("control 'Control' is not among the variants found") for warning in wrong_control.warnings)


def test_a_refused_url_says_what_to_write(monkeypatch):
    from prodops_lib.experiments.engines import _warehouse

    expected = {
        "postgres://analyst:s3cret@host/db": "SQLAlchemy names Postgres postgresql; start the URL with postgresql+psycopg://",
        "snowflake://analyst:s3cret@account/db": "no SQLAlchemy dialect 'snowflake' is installed; install snowflake-sqlalchemy",
        "analyst:s3cret@host": "it is not a SQLAlchemy URL; write it as dialect+driver://user@host/database",
    }
    for url, fix in expected.items():
        monkeypatch.setenv("PRODOPS_TEST_URL", url)
        with pytest.raises(InputError) as raised:
            _warehouse("PRODOPS_TEST_URL")
        assert str(raised.value) == f"connection: the URL in 'PRODOPS_TEST_URL' was not accepted: {fix}"


def test_an_at_sign_in_a_password_is_caught_before_it_can_show_as_a_host(monkeypatch):
    from prodops_lib.experiments.engines import _warehouse

    monkeypatch.setenv("PRODOPS_TEST_URL", "postgresql+psycopg://analyst:p@ss@nohost.invalid/db")
    with pytest.raises(InputError) as raised:
        _warehouse("PRODOPS_TEST_URL")
    assert str(raised.value) == ("connection: the URL in 'PRODOPS_TEST_URL' has an @ in its user name or password; "
                                 "write it as %40 there")
    monkeypatch.setenv("PRODOPS_TEST_URL", "postgresql+psycopg://analyst:pw@host:54x32/db")
    with pytest.raises(InputError, match=r"was not accepted: a part of it is not valid \(invalid literal for int\(\) "
                                         r"with base 10: '54x32'\); check the port"):
        _warehouse("PRODOPS_TEST_URL")


def test_a_driver_message_never_shows_the_password(postgres_url, monkeypatch):
    """Whatever a driver says, the password is masked (here the server refuses the user, and
    the query's own failure names no password; both pass through the mask)."""
    from prodops_lib.experiments.engines import _without_secret

    assert _without_secret('failed for "analyst" with password s3cr3t', "s3cr3t") == 'failed for "analyst" with password ***'
    assert _without_secret("no password here", None) == "no password here"
    socket_folder = postgres_url.split("host=")[1]
    monkeypatch.setenv("PRODOPS_TEST_URL", f"postgresql+psycopg://nobody:s3cr3t@/postgres?host={socket_folder}")
    with pytest.raises(InputError) as raised:
        analyse_experiment(EngineSource("sql", "messy", connection="PRODOPS_TEST_URL"), MESSY_SPEC)
    assert str(raised.value).startswith("Postgres table messy: could not connect to the warehouse: ")
    assert "s3cr3t" not in str(raised.value)


def test_a_failure_that_is_not_a_cast_is_not_called_a_text_column():
    from prodops_lib.experiments.aggregate_sql import check_numeric

    class TimingOut:
        source = "Postgres table t"

        def all(self, sql):
            raise InputError("Postgres table t: the query failed: canceling statement due to statement timeout")

    with pytest.raises(InputError, match=r"^Postgres table t: the query failed: canceling statement due to statement "
                                         r"timeout$"):
        check_numeric(TimingOut(), "t", "revenue", "VARCHAR", MetricSpec("revenue", role="primary"), "Postgres table t")


def test_a_table_s_column_types_come_from_the_catalog(postgres_tables):
    runner = open_runner(EngineSource("sql", "messy", connection=_PG_VARIABLE))
    try:
        catalog, described = runner._catalog_types(), runner.columns()
    finally:
        runner.close()
    # pandas wrote these columns: the catalog (SQLAlchemy's inspector, any dialect) and Postgres' type codes agree
    assert catalog["revenue"] == described["revenue"] == "DOUBLE"
    assert catalog["converted"] == described["converted"] == "BIGINT"
    assert catalog["variant"] == described["variant"] == "VARCHAR"
    assert catalog["exposed_at"] == described["exposed_at"] == "TIMESTAMP"


def test_a_server_that_cannot_be_reached_is_a_connection_error_not_a_query_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PRODOPS_TEST_URL", f"postgresql+psycopg://analyst:s3cret@/db?host={tmp_path}")
    with pytest.raises(InputError, match=r"^Postgres table t: could not connect to the warehouse: .*connection") as raised:
        analyse_experiment(EngineSource("sql", "t", connection="PRODOPS_TEST_URL"), MESSY_SPEC)
    assert "s3cret" not in str(raised.value)


def test_the_report_pages_blocks_render_from_a_warehouse(postgres_tables, postgres_url, tmp_path):
    """What notebooks/ab_test.ipynb calls, on a parameter file with engine: sql; the page
    names the variable, never the URL."""
    from prodops_lib import display
    from prodops_lib.experiments import plot_forest, report
    from prodops_lib.io import DropLog
    from prodops_lib.params import load

    path = tmp_path / "ab_warehouse.yaml"
    path.write_text(f"source: messy\nengine: sql\nconnection: {_PG_VARIABLE}\nexperiment:\n"
                    "  name: messy\n  unit: user_id\n  timestamp_column: exposed_at\n  segments: [country]\n"
                    "  metrics:\n    - {name: converted, kind: proportion, role: primary}\n"
                    "    - {name: revenue, covariate: pre_revenue, missing: drop}\n")
    settings, log = load(path, report.ExperimentReport), DropLog()
    analysis = report.run_experiment_report(settings, log)
    blocks = [report.decision_block(analysis), report.results_block(analysis), report.over_time(analysis),
              report.novelty_block(analysis), report.distribution_chart(analysis, tmp_path),
              report.power_block(analysis), report.segments_block(analysis), report.method_block(analysis),
              display.appendix(log, settings, tmp_path)]
    plot_forest(analysis)
    page = "".join(str(block) for block in blocks)
    assert "stayed in Postgres" in page and _PG_VARIABLE in page
    assert postgres_url not in page and "prodops@" not in page
    # the table by name, with the rows a file of the same units has (units and whole rows dropped)
    [source] = [entry for entry in log.inputs if entry["kind"] == "data"]
    assert (source["source"], source["rows"]) == ("Postgres table messy", len(messy_units()))
    assert set(log.to_frame()["source"]) == {"Postgres table messy"}
