"""Apache Spark for ``process`` and ``export`` (``PULLSTATS_ENGINE=spark``): the pipeline's
steps (:mod:`pullstats.steps`) run on a SparkSession, translated from their one definition.

:class:`SparkEngine` is :class:`~pullstats.duckdb_engine.DuckDBEngine`'s counterpart: each
input of a step is bound as a temporary view (Parquet files of the lake, an Arrow table, a
DataFrame, or an empty relation of the declared schema), the step's functions are defined as
``CREATE TEMPORARY FUNCTION … RETURN`` of their SQL transpiled, the step's SQL is transpiled
from DuckDB's dialect by SQLGlot (raising on anything it cannot say) and its ``$name``
parameters are bound as Spark's named markers. Every call works in a session of its own
(``SparkSession.newSession``: one SparkContext, its own views and functions), so stages may
run steps from several threads. A :class:`~pullstats.steps.Transform` with ``partition_by``
runs with ``mapInArrow`` over partitions that hold each key whole, its rows in the
transform's ``order_by`` order.

A lake on object storage is read through hadoop-aws's ``s3a`` (:mod:`pullstats.spark_s3`),
which a session is asked for before any work; its credentials are set on the started session's
Hadoop configuration, never on the JVM's command line.

PySpark is imported only when a session is opened: nothing else pays for it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import shutil
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import pyarrow as pa

from pullstats.config import Settings
from pullstats.spark_log import jvm_output, not_started, pyspark_loggers_to
from pullstats.spark_s3 import missing_hadoop_aws, s3a_config, set_s3a_credentials, spark_path
from pullstats.steps import Function, Step, Transform

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "SparkEngine",
    "SparkUnavailable",
    "check_spark",
    "local_defaults",
    "spark_session",
    "submitted",
]

#: What :class:`SparkEngine` binds a step's input to: Parquet files (none: an empty relation
#: of the input's schema), an Arrow table, or a DataFrame of the same session.
SparkSource: TypeAlias = "Sequence[Path | str] | pa.Table | DataFrame"

#: Settings every session (and every session of a call) runs with: times in UTC like the
#: lake's; Arrow between the JVM and Python; ``string``/``binary`` rather than their large
#: variants, so collected tables have the types DuckDB gives.
_SESSION_SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.useLargeVarTypes": "false",
}

_MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|spark://\S+|yarn|k8s://\S+|mesos://\S+")


class SparkUnavailable(Exception):
    """Spark cannot run here as configured (the message names the setting)."""


def _missing_packages() -> list[str]:
    """Those of the spark extra's packages (PySpark, SQLGlot) this Python cannot import."""
    missing = []
    for name in ("pyspark", "sqlglot"):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def submitted() -> bool:
    """Whether this Python is the driver of a JVM that runs already (``spark-submit``'s, which
    names its gateway's port): what PySpark itself reads to connect rather than start one."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def check_spark(settings: Settings) -> None:
    """Fail early, with one line naming the setting, when Spark cannot start: no Java, a
    master that is not a Spark master URL, a standalone master nobody answers at, or an
    install without the spark extra (PySpark, SQLGlot). Under ``spark-submit`` its JVM runs,
    on its ``--master``: ``PULLSTATS_SPARK_MASTER`` and Java are not pullstats' to check."""
    if not submitted():
        _check_master(settings.spark_master)
    missing = _missing_packages()
    if missing:
        raise SparkUnavailable(
            f"PULLSTATS_ENGINE=spark: {' and '.join(missing)} not installed: "
            "pip install -c constraints.txt 'pullstats[spark]' (docs/spark.md)"
        )


def _check_master(master: str) -> None:
    """The JVM a command starts: its master (``PULLSTATS_SPARK_MASTER``) and its Java."""
    if not _MASTER.fullmatch(master):
        raise SparkUnavailable(
            f"PULLSTATS_SPARK_MASTER={master!r}: not a Spark master URL "
            "(local[*], local[N], spark://host:port, yarn, k8s://…)"
        )
    java_home = os.environ.get("JAVA_HOME")
    if java_home and not Path(java_home, "bin", "java").exists():  # Spark takes it before PATH
        raise SparkUnavailable(
            f"JAVA_HOME={java_home}: it has no bin/java, and Spark runs JAVA_HOME's java before "
            "PATH's: point it at a Java 17 or later, or unset it"
        )
    if not java_home and not shutil.which("java"):
        raise SparkUnavailable(
            "PULLSTATS_ENGINE=spark: Spark needs Java 17 or later, and neither JAVA_HOME nor "
            "PATH has a java"
        )
    if master.startswith("spark://"):
        for address in master.removeprefix("spark://").split(","):
            host, _, port = address.rpartition(":")
            if host.startswith("[") and host.endswith("]"):  # an IPv6 address: [::1]:7077
                host = host[1:-1]
            try:
                with socket.create_connection((host, int(port)), timeout=5):
                    pass
            except (OSError, ValueError):
                raise SparkUnavailable(
                    f"PULLSTATS_SPARK_MASTER={master!r}: no Spark master answers at {address}"
                ) from None


def local_defaults(master: str, settings: Settings) -> dict[str, str]:
    """What a session on a local master runs with here (on a cluster's master, nothing): no
    UI, Spark's scratch files in the data dir's ``tmp/spark``, 8 shuffle partitions."""
    if master != "local" and not master.startswith("local["):
        return {}
    scratch = settings.paths.tmp / "spark"
    scratch.mkdir(parents=True, exist_ok=True)
    return {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.local.dir": str(scratch),
        "spark.sql.shuffle.partitions": "8",
    }


_lock = threading.Lock()
_session: SparkSession | None = None


def spark_session(settings: Settings, *, show_jvm_log: bool = False) -> SparkSession:
    """The process's SparkSession: one a caller started, or one on ``spark-submit``'s JVM and
    its ``--master``, or on ``PULLSTATS_SPARK_MASTER``; on a local master with
    :func:`local_defaults` (under ``spark-submit``, those its ``--conf`` leaves unset).

    A JVM started here writes to the data dir's ``logs/spark.log``, never to the command's
    stderr (:mod:`pullstats.spark_log`); ``show_jvm_log`` (``pullstats --debug``) leaves its
    output, Spark's own, on stderr. ``spark-submit``'s JVM logs as its operator set it up,
    turned down to ERROR once the session exists."""
    if _missing_packages():
        check_spark(settings)  # the settings' own faults first, then the missing packages
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    global _session
    with _lock:
        if _session is not None and _session.sparkContext._jsc is not None:
            return _session  # the context this process started, still running
        active = SparkSession.getActiveSession()
        if active is not None:
            _session = active
            return active
        check_spark(settings)
        builder = SparkSession.builder.appName("pullstats")
        # spark-submit's JVM runs on its --master (and its --conf): connected to, it says them
        started_here = not submitted()
        if started_here:
            master, given = settings.spark_master, None
            builder = builder.master(master)
        else:
            SparkContext._ensure_initialized()  # connects to spark-submit's gateway
            given = SparkConf()  # spark-submit's configuration, its --master included
            master = given.get("spark.master") or ""
        for key, value in local_defaults(master, settings).items():
            if given is None or not given.contains(key):  # spark-submit's --conf wins
                builder = builder.config(key, value)
        # no credential here: this configuration is the JVM's command line (set_s3a_credentials)
        for key, value in {**_SESSION_SQL_CONF, **s3a_config()}.items():
            builder = builder.config(key, value)
        log = settings.paths.spark_log
        to_log, start = started_here and not show_jvm_log, 0
        try:
            with jvm_output(log) if to_log else contextlib.nullcontext(0) as start:
                session = builder.getOrCreate()
        except Exception as error:  # the JVM did not start: say which setting, not a trace
            said = not_started(error, master, log if to_log else None, start, started_here)
            raise SparkUnavailable(said) from None
        if to_log:  # PySpark's own loggers print a failed query's Java stack trace
            pyspark_loggers_to(log)
        set_s3a_credentials(session)  # before any read, on the context's Hadoop configuration
        if not started_here and not show_jvm_log:
            session.sparkContext.setLogLevel("ERROR")
        if (settings.lake_url or "").startswith("s3://"):  # its first read, minutes from now
            missing = missing_hadoop_aws(session, submitted=not started_here)
            if missing:
                raise SparkUnavailable(missing)
        _session = session
        return session


class SparkEngine:
    """Runs :class:`~pullstats.steps.Step` queries and :class:`~pullstats.steps.Transform`\\ s
    on Spark (:func:`spark_session`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def session(self) -> SparkSession:
        """A session of its own on the process's SparkContext: views and functions of one
        call never meet another's."""
        session = spark_session(self.settings).newSession()
        for key, value in _SESSION_SQL_CONF.items():
            session.conf.set(key, value)
        return session

    def dataframe(
        self,
        step: Step,
        inputs: Mapping[str, SparkSource],
        params: Mapping[str, object] | None = None,
        *,
        session: SparkSession | None = None,
        **options: object,
    ) -> DataFrame:
        """``step``'s result as a DataFrame of ``session`` (default: a new one)."""
        return self._frame(step, inputs, params, session, options)

    def _frame(
        self,
        step: Step,
        inputs: Mapping[str, SparkSource],
        params: Mapping[str, object] | None,
        session: SparkSession | None,
        options: Mapping[str, object],
    ) -> DataFrame:
        from pyspark.sql import functions as F

        session = session or self.session()
        self.bind(session, step, inputs)
        define(session, step.functions)
        sql = transpile(step.sql(**options))
        wanted = markers(sql)
        given = dict(params or {})
        if wanted != set(given):
            missing, unused = sorted(wanted - set(given)), sorted(set(given) - wanted)
            raise ValueError(f"parameters missing {missing}, not used {unused}")
        args = {
            name: F.array(*map(F.lit, value)) if isinstance(value, list | tuple) else value
            for name, value in given.items()
        }
        return session.sql(sql, args=args)

    def arrow(
        self,
        step: Step,
        inputs: Mapping[str, SparkSource],
        params: Mapping[str, object] | None = None,
        **options: object,
    ) -> pa.Table:
        """``step``'s whole result, collected into the driver."""
        return collect(self._frame(step, inputs, params, None, options))

    def bind(self, session: SparkSession, step: Step, inputs: Mapping[str, SparkSource]) -> None:
        """Bind every input of ``step`` (each must be given) as a temporary view."""
        from pyspark.sql import DataFrame
        from pyspark.sql import functions as F

        names = {item.name for item in step.inputs}
        if set(inputs) != names:
            raise ValueError(f"step {step.name} reads {sorted(names)}, given {sorted(inputs)}")
        for item in step.inputs:
            source = inputs[item.name]
            if isinstance(source, DataFrame):
                frame = source
            elif isinstance(source, pa.Table):
                # by name, as a SQL engine reads a table: a step's rows may come in another order
                frame = session.createDataFrame(source.select(item.schema.names).cast(item.schema))
            elif source:
                frame = session.read.parquet(*(spark_path(path) for path in source))
                if item.filename:
                    frame = frame.withColumn("filename", F.input_file_name())
            else:
                schema = item.schema
                if item.filename:
                    schema = schema.append(pa.field("filename", pa.string()))
                frame = session.createDataFrame(schema.empty_table())
            frame.createOrReplaceTempView(item.name)

    def transform(self, transform: Transform, frame: DataFrame) -> DataFrame:
        """``transform`` over ``frame`` (its one input): the rows of one ``partition_by`` key
        meet in one call, sorted by the key and then the transform's ``order_by``; each Spark
        partition is one call, so the function sees whole keys, each in order, as
        :class:`~pullstats.duckdb_engine.DuckDBEngine`'s caller gives them."""
        function = load(transform.function)
        keys = list(transform.partition_by)
        if keys:
            frame = frame.repartition(*keys).sortWithinPartitions(*keys, *transform.order_by)
        empty = pa.Table.from_batches([], collect_schema(frame))
        output = function(empty)
        from pyspark.sql.pandas.types import from_arrow_schema

        schema = from_arrow_schema(output.schema, prefer_timestamp_ntz=True)
        return frame.mapInArrow(_PartitionCall(function, output.schema), schema)


class _PartitionCall:
    """What ``mapInArrow`` runs on an executor: the function over the partition's rows."""

    def __init__(self, function: Callable[[pa.Table], pa.Table], schema: pa.Schema) -> None:
        self.function = function
        self.schema = schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        held = list(batches)
        if not held or sum(batch.num_rows for batch in held) == 0:
            return
        result = self.function(pa.Table.from_batches(held)).cast(self.schema)
        yield from result.to_batches()


def load(name: str) -> Callable[[pa.Table], pa.Table]:
    """A transform's ``module:attribute`` function."""
    module, _, attribute = name.partition(":")
    function: Callable[[pa.Table], pa.Table] = getattr(importlib.import_module(module), attribute)
    return function


def collect(frame: DataFrame) -> pa.Table:
    """``frame``'s rows in the driver, as Arrow."""
    table: pa.Table = frame.toArrow()
    return table


def collect_schema(frame: DataFrame) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    schema: pa.Schema = to_arrow_schema(frame.schema, timezone="UTC", prefers_large_types=False)
    return schema


def define(session: SparkSession, functions: Sequence[Function]) -> None:
    """Define ``functions`` (text in, text out) as temporary SQL functions of ``session``."""
    for function in functions:
        body = transpile(f"SELECT {function.sql()}").removeprefix("SELECT ")
        arguments = ", ".join(f"{name} STRING" for name in function.parameters)
        session.sql(
            f"CREATE OR REPLACE TEMPORARY FUNCTION {function.name}({arguments}) "
            f"RETURNS STRING RETURN {body}"
        )


def transpile(sql: str) -> str:
    """DuckDB SQL as Spark SQL (SQLGlot; anything it cannot express raises)."""
    import sqlglot
    from sqlglot import ErrorLevel

    (text,) = sqlglot.transpile(
        sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
    )
    return text


def markers(sql: str) -> set[str]:
    """The named parameter markers (``:name``) of Spark SQL ``sql``."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="spark")
    return {marker.name for marker in tree.find_all(exp.Placeholder)}
