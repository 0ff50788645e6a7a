"""Where the sufficient-statistics query runs: DuckDB (embedded, the default), Spark, or a SQL
warehouse reached through SQLAlchemy.

:mod:`.aggregate_sql` writes its queries once, in DuckDB's dialect (the kit's reading
dialect), over a placeholder table :data:`SOURCE`. SQLGlot parses each query and writes it in
the engine's dialect (:func:`compile_sql`); the runner then puts the real source where the
placeholder stands (a file reader, a temporary Spark view, a table name or a subquery). Only
the per-variant sums come back: the units stay where they are.

Credentials never pass through parameter files: a warehouse's SQLAlchemy URL is read from the
environment variable the parameters name, and a Spark cluster from ``spark_remote`` or
``SPARK_REMOTE`` (the URL is never printed).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from ..io import InputError
from ..labels import engine_name

__all__ = ["DIALECTS", "ENGINES", "SOURCE", "EngineSource", "compile_sql", "describe_source", "open_runner",
           "running_sessions", "spark_session", "stop_sessions"]

SOURCE = "__prodops_source"  # the placeholder table every query of .aggregate_sql reads
ENGINES = ("duckdb", "spark", "sql")
DIALECTS = ("duckdb", "spark", "postgres", "trino", "bigquery", "snowflake", "databricks")
_PLACEHOLDER = re.compile(rf"\b{SOURCE}\b")


@functools.lru_cache(maxsize=512)
def compile_sql(sql: str, dialect: str) -> str:
    """``sql`` (DuckDB's dialect) written in ``dialect`` by SQLGlot. Booleans cast to a float
    go through an integer first: Postgres and BigQuery cast a boolean only to an integer."""
    import sqlglot
    from sqlglot import exp

    def numeric_booleans(node: exp.Expression) -> exp.Expression:
        if (isinstance(node, exp.Cast) and not node.to.is_type(*exp.DataType.INTEGER_TYPES)
                and isinstance(node.this.unnest(), exp.Predicate | exp.Connector | exp.Not)):
            return exp.cast(exp.cast(node.this, exp.DataType.Type.INT), node.to)
        return node

    tree = sqlglot.parse_one(sql, read="duckdb")
    if dialect != "duckdb":
        tree = tree.transform(numeric_booleans)
    return tree.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)


@dataclass(frozen=True)
class EngineSource:
    """Unit-level data that stays in an engine: ``engine`` ``spark`` (``source``: a table name,
    a Spark SQL query or a parquet path; ``spark_remote``: a cluster or Spark Connect URL, else
    ``SPARK_REMOTE``, else a local session) or ``sql`` (``source``: a table name or a query in the
    warehouse's dialect; ``connection``: the environment variable holding the SQLAlchemy URL)."""

    engine: str
    source: str
    spark_remote: str | None = None
    connection: str | None = None
    name: str = ""  # the label in messages and the drop log; empty: "<engine> source"

    @property
    def reads(self) -> str:
        """What ``source`` is: a ``table`` name, ``parquet`` files (Spark: a path or folder) or a ``query``."""
        text = self.source.strip()
        if self.engine == "spark":
            if re.fullmatch(r"[\w.`]+", text) and not text.endswith(".parquet"):
                return "table"
            return "parquet" if text.rstrip("/").endswith(".parquet") or os.path.isdir(text) else "query"
        return "table" if re.fullmatch(r'[\w."`$]+', text) else "query"


def describe_source(source: EngineSource, dialect: str) -> str:
    """The source as messages, the check and the report's appendix name it: ``Postgres table
    analytics.units``, ``Spark query``, ``Spark parquet files /lake/exposures``."""
    where = engine_name(dialect)
    if source.reads == "query":
        return f"{where} query"
    return f"{where} {'table' if source.reads == 'table' else 'parquet files'} {source.source.strip()}"


def open_runner(source: EngineSource):
    """A runner for ``source`` on its engine (one-line errors for a missing extra or variable)."""
    if source.engine == "spark":
        return SparkRunner(spark_session(source.spark_remote), source, source.name or describe_source(source, "spark"))
    if source.engine == "sql":
        engine = _warehouse(source.connection)
        return WarehouseRunner(engine, source, source.name or describe_source(source, _dialect(engine)))
    raise InputError(f"engine {source.engine!r} is not one of {', '.join(ENGINES)}")


def _dialect(engine) -> str:
    """SQLGlot's name of a SQLAlchemy engine's dialect."""
    return {"postgresql": "postgres", "mssql": "tsql"}.get(engine.dialect.name, engine.dialect.name)


def _missing_extra(extra: str, package: str) -> InputError:
    return InputError(f"engine needs {package}: install prodops-kit[{extra}]")


_SESSIONS: dict = {}


def spark_session(remote: str | None = None):
    """A SparkSession: at ``remote`` (or ``SPARK_REMOTE``; ``sc://`` URLs use Spark Connect), or a
    local one on two cores with its warehouse and scratch space in a temporary folder, the UI off
    and few shuffle partitions (the result is a few rows)."""
    import warnings

    # pyspark's note about its own support of pandas 3, printed on every start, says nothing to a reader
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise _missing_extra("spark", "pyspark") from None
    remote = remote or os.environ.get("SPARK_REMOTE")
    key = remote or "local"
    if key not in _SESSIONS or SparkSession.getActiveSession() is None:  # none yet, or stopped since
        builder = SparkSession.builder.appName("prodops-kit")
        if remote and remote.startswith("sc://"):
            builder = builder.remote(remote)
        else:
            import tempfile

            scratch = tempfile.mkdtemp(prefix="prodops-spark-")
            # the JVM's own log (start-up notes, warnings about the host name) would interleave with
            # the kit's output and bury its one-line errors: errors only, and no stage progress bars
            logging_file = os.path.join(scratch, "log4j2.properties")
            with open(logging_file, "w", encoding="utf-8") as out:
                out.write(_SPARK_LOGGING)
            builder = (builder.master(remote or "local[2]").config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{logging_file}")
                       .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
                       .config("spark.local.dir", scratch).config("spark.sql.shuffle.partitions", "4")
                       .config("spark.sql.session.timeZone", "UTC")
                       .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
        try:
            _SESSIONS[key] = builder.getOrCreate()
        except Exception as error:  # pyspark's own errors: no JVM, a refused URL, a session of the other kind
            raise InputError(f"Spark session at {remote or 'local[2]'} could not start: {_one_line(error)}") from None
        if not remote:  # failures come back as one-line errors; the JVM's stack traces would bury them
            _SESSIONS[key].sparkContext.setLogLevel("FATAL")
            import logging

            logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    return _SESSIONS[key]


_SPARK_LOGGING = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
# pyspark's gateway sets the level a shell announces ("Setting default log level to WARN") from its own
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


def running_sessions() -> set[str]:
    """The Spark sessions this process started (by master or remote URL)."""
    return set(_SESSIONS)


def stop_sessions(keep: set[str] = frozenset()) -> None:
    """Stop the Spark sessions this process started, except those in ``keep``: a local one
    holds a JVM and its memory, which ``prodops report`` would otherwise keep through the runs
    of its notebooks (each kernel starts its own)."""
    for key in set(_SESSIONS) - set(keep):
        session = _SESSIONS.pop(key)
        with contextlib.suppress(Exception):  # already stopped, or its server gone: nothing is left to free
            session.stop()


def _warehouse(variable: str | None):
    """A SQLAlchemy engine from the URL in environment variable ``variable``."""
    if not variable:
        raise InputError("engine 'sql' needs connection: the name of an environment variable holding a SQLAlchemy URL")
    url = os.environ.get(variable)
    if not url:
        raise InputError(f"connection: environment variable {variable!r} is not set; export the warehouse's "
                         "SQLAlchemy URL in it (e.g. postgresql+psycopg://user@host/db)")
    try:
        import sqlalchemy
    except ImportError:
        raise _missing_extra("warehouse", "sqlalchemy") from None
    try:
        engine = sqlalchemy.create_engine(url)
    except Exception as error:  # the URL itself is never shown: it may hold a password, its scheme cannot
        scheme = url.split("://", 1)[0] if "://" in url else None
        raise InputError(f"connection: the URL in {variable!r} was not accepted: {_url_fix(scheme, error)}") from None
    if "@" in (engine.url.host or ""):  # SQLAlchemy split a password at its first @: the rest would show as the host
        raise InputError(f"connection: the URL in {variable!r} has an @ in its user name or password; write it "
                         "as %40 there")
    return engine


def _without_secret(text: str, password: str | None) -> str:
    """``text`` with ``password`` masked: a driver's message names the host and user, and
    should never hold the password, but a message is not ours to trust."""
    return text.replace(password, "***") if password else text


# the SQLAlchemy dialect package of each warehouse the docs name (docs/scale.md)
_DIALECT_PACKAGES = {"trino": "trino", "snowflake": "snowflake-sqlalchemy", "bigquery": "sqlalchemy-bigquery",
                     "databricks": "databricks-sqlalchemy", "redshift": "sqlalchemy-redshift"}


def _url_fix(scheme: str | None, error: Exception) -> str:
    """What to change when SQLAlchemy refuses a URL, from its scheme (``dialect+driver``)."""
    import sqlalchemy.exc

    dialect = scheme.split("+", 1)[0] if scheme else None
    if dialect == "postgres":
        return "SQLAlchemy names Postgres postgresql; start the URL with postgresql+psycopg://"
    if isinstance(error, sqlalchemy.exc.NoSuchModuleError):  # before ArgumentError, its base class
        package = _DIALECT_PACKAGES.get(dialect)
        return (f"no SQLAlchemy dialect {scheme!r} is installed; install {package}" if package else
                f"no SQLAlchemy dialect {scheme!r} is installed; install the warehouse's SQLAlchemy dialect package")
    if scheme is None or isinstance(error, sqlalchemy.exc.ArgumentError):
        return "it is not a SQLAlchemy URL; write it as dialect+driver://user@host/database"
    if isinstance(error, ImportError):
        return (f"its driver ({error.name or scheme}) is not installed; install it, or name an installed driver "
                f"after the dialect ({dialect}+driver://)")
    if isinstance(error, ValueError):  # SQLAlchemy's own reading of the parts: a port that is not a number
        return f"a part of it is not valid ({_one_line(error)}); check the port and the other parts"
    return type(error).__name__


def _one_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


_SPARK_TYPES = {"tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER", "bigint": "BIGINT",
                "float": "FLOAT", "double": "DOUBLE", "boolean": "BOOLEAN", "string": "VARCHAR"}


class SparkRunner:
    """Runs the collector's queries on a SparkSession; the source becomes a temporary view."""

    dialect = "spark"

    def __init__(self, spark, source: EngineSource, label: str) -> None:
        self.spark, self.source, self.queries = spark, label, 0
        self.view = f"prodops_source_{uuid.uuid4().hex}"
        read = {"table": spark.table, "parquet": spark.read.parquet, "query": spark.sql}[source.reads]
        try:
            frame = read(source.source.strip())
            frame.createOrReplaceTempView(self.view)
        except Exception as error:
            raise InputError(f"{label}: Spark could not read the source: {_one_line(error)}") from None
        self.schema = frame.schema

    def prepare(self, sql: str) -> str:
        return _PLACEHOLDER.sub(self.view, compile_sql(sql, self.dialect))

    def _run(self, sql: str):
        self.queries += 1
        try:
            return self.spark.sql(self.prepare(sql))
        except Exception as error:
            raise InputError(f"{self.source}: the query failed: {_one_line(error)}") from None

    def all(self, sql: str) -> list[tuple]:
        return [tuple(row) for row in self._run(sql).collect()]

    def frame(self, sql: str) -> pd.DataFrame:
        return self._run(sql).toPandas()

    def columns(self) -> dict[str, str]:
        """Column names and their types, named as DuckDB names them."""
        return {field.name: _SPARK_TYPES.get(field.dataType.simpleString(), field.dataType.simpleString().upper())
                for field in self.schema.fields}

    def statistics(self, columns: list[str]) -> None:
        """None: Spark reads every row for a column's minimum and maximum (see :meth:`.Runner.statistics`)."""
        return None

    def close(self) -> None:
        self.spark.catalog.dropTempView(self.view)


def _generic_type(kind) -> str:
    """A SQLAlchemy column type named as DuckDB names it (only what the checks ask: number or not)."""
    import sqlalchemy

    for generic, name in ((sqlalchemy.Boolean, "BOOLEAN"), (sqlalchemy.Integer, "BIGINT"), (sqlalchemy.Float, "DOUBLE"),
                          (sqlalchemy.Numeric, "DECIMAL"), (sqlalchemy.DateTime, "TIMESTAMP"), (sqlalchemy.Date, "DATE"),
                          (sqlalchemy.String, "VARCHAR")):
        if isinstance(kind, generic):
            return name
    return "UNKNOWN"


# Postgres type OIDs (pg_type), named as DuckDB names them; other drivers' codes read as unknown
_PG_TYPES = {16: "BOOLEAN", 20: "BIGINT", 21: "SMALLINT", 23: "INTEGER", 700: "FLOAT", 701: "DOUBLE",
             1700: "DECIMAL", 25: "VARCHAR", 1043: "VARCHAR", 1082: "DATE", 1114: "TIMESTAMP", 1184: "TIMESTAMP"}


class WarehouseRunner:
    """Runs the collector's queries through a SQLAlchemy engine, in the engine's dialect."""

    def __init__(self, engine, source: EngineSource, label: str) -> None:
        self.engine, self.source, self.queries = engine, label, 0
        self.dialect = _dialect(engine)
        text = source.source.strip()
        self.is_table = source.reads == "table"
        self.table = text if self.is_table else f"({text.rstrip(';')}) AS {SOURCE}"

    def prepare(self, sql: str) -> str:
        return _PLACEHOLDER.sub(lambda _: self.table, compile_sql(sql, self.dialect))

    def _run(self, sql: str) -> tuple[list[tuple], list[str], list]:
        self.queries += 1
        password = self.engine.url.password
        try:
            connection = self.engine.connect()
        except Exception as error:
            said = _without_secret(_one_line(error), password)
            raise InputError(f"{self.source}: could not connect to the warehouse: {said}") from None
        try:
            # the DB-API cursor itself: a query without parameters goes as written, so a % in
            # the source's text is not taken for a placeholder
            cursor = connection.connection.cursor()
            try:
                cursor.execute(self.prepare(sql))
                description = cursor.description
                rows = [tuple(row) for row in cursor.fetchall()]
            finally:
                cursor.close()
            return rows, [d[0] for d in description], [d[1] for d in description]
        except Exception as error:
            raise InputError(f"{self.source}: the query failed: {_without_secret(_one_line(error), password)}") from None
        finally:
            connection.close()

    def all(self, sql: str) -> list[tuple]:
        return self._run(sql)[0]

    def frame(self, sql: str) -> pd.DataFrame:
        rows, names, _ = self._run(sql)
        frame = pd.DataFrame(rows, columns=names, dtype=object)
        for name in names:  # numbers as numbers: NUMERIC sums arrive as Decimal, NULLs as None
            present = frame[name].dropna()
            if len(present) and all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in present):
                frame[name] = pd.to_numeric(frame[name].map(lambda v: float(v) if isinstance(v, Decimal) else v))
            elif not len(present):
                frame[name] = frame[name].astype(float)
        return frame

    def columns(self) -> dict[str, str]:
        """Column names and their types, named as DuckDB names them: a table's from the
        warehouse's catalog (SQLAlchemy's inspector, any dialect), a query's from Postgres'
        type codes; UNKNOWN otherwise (a text column is then found by its values)."""
        _, names, codes = self._run(f"SELECT * FROM {SOURCE} LIMIT 0")
        self.queries -= 1  # reads no rows
        types = {name: _PG_TYPES.get(code, "UNKNOWN") if self.dialect == "postgres" else "UNKNOWN"
                 for name, code in zip(names, codes, strict=True)}
        if self.is_table and "UNKNOWN" in types.values():
            types.update({name: kind for name, kind in self._catalog_types().items()
                          if types.get(name) == "UNKNOWN"})
        return types

    def _catalog_types(self) -> dict[str, str]:
        import sqlalchemy

        schema, _, table = self.table.rpartition(".")
        try:
            found = sqlalchemy.inspect(self.engine).get_columns(table.strip('"`'), schema=schema.strip('"`') or None)
        except Exception:  # no catalog to read (a view, no rights): the values will tell
            return {}
        return {column["name"]: _generic_type(column["type"]) for column in found}

    def statistics(self, columns: list[str]) -> None:
        """None: whether a warehouse answers a minimum from metadata is its own affair, and
        asking could cost a scan (see :meth:`.Runner.statistics`)."""
        return None

    def close(self) -> None:
        self.engine.dispose()
