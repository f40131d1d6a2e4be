"""Spark's reading of a lake on object storage (``PULLSTATS_LAKE_URL=s3://…``): through the
``s3a`` connector of hadoop-aws, which PySpark does not ship.

:func:`s3a_config` turns the standard AWS settings into Spark's ``fs.s3a`` configuration, but
for the credentials: :func:`s3a_credentials` are set on the running session's Hadoop
configuration (:func:`set_s3a_credentials`), never in the Spark configuration, which PySpark
hands to the JVM it starts as ``--conf`` arguments: every local user reads those in
``/proc/<pid>/cmdline`` for as long as the JVM runs. :func:`spark_path` turns a lake location
into the path Spark reads. :func:`missing_hadoop_aws` asks
a running session, before any work, whether its JVM can load the connector at all: without
it every read of the lake fails, after compaction and the first day's classification have
run. :func:`no_hadoop_aws` is what to do about it, which depends on who started the JVM: a
``pullstats`` command (Spark's ``spark-defaults.conf``) or ``spark-submit`` (``--packages``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "S3A_CLASS",
    "missing_hadoop_aws",
    "no_hadoop_aws",
    "s3a_config",
    "s3a_credentials",
    "set_s3a_credentials",
    "spark_path",
]

#: hadoop-aws's file system for ``s3a://`` paths: the class a JVM without it cannot find.
S3A_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"


def s3a_config(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``spark.hadoop.fs.s3a.*`` configuration for the standard AWS settings in
    ``environ`` (default: the process environment): ``AWS_ENDPOINT_URL_S3`` or else
    ``AWS_ENDPOINT_URL`` (an S3-compatible server: path-style access, TLS as its scheme
    says), ``AWS_REGION`` or ``AWS_DEFAULT_REGION``, and with ``AWS_ACCESS_KEY_ID`` and
    ``AWS_SECRET_ACCESS_KEY`` the provider that reads them (with ``AWS_SESSION_TOKEN``:
    temporary credentials). Without keys, hadoop-aws's own chain finds credentials (instance
    profile, web identity).

    No credential is in it, not even the key id: it becomes the JVM's command line
    (:func:`s3a_credentials` has them)."""
    env = os.environ if environ is None else environ
    prefix = "spark.hadoop.fs.s3a."
    config = {prefix + "impl": S3A_CLASS}
    # botocore's order (s3_store.ENDPOINT_VARIABLES): DuckDB's reads and Spark's go to one server
    endpoint = (env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or "").strip()
    if endpoint:
        config[prefix + "endpoint"] = endpoint
        config[prefix + "path.style.access"] = "true"
        config[prefix + "connection.ssl.enabled"] = str(endpoint.startswith("https://")).lower()
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        config[prefix + "endpoint.region"] = region
    credentials = s3a_credentials(env)
    if credentials:
        temporary = "fs.s3a.session.token" in credentials
        provider = "Temporary" if temporary else "Simple"
        config[prefix + "aws.credentials.provider"] = (
            f"org.apache.hadoop.fs.s3a.{provider}AWSCredentialsProvider"
        )
    return config


def s3a_credentials(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Hadoop ``fs.s3a.*`` credentials of the standard AWS settings in ``environ``
    (default: the process environment): ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``
    (both, or nothing), and ``AWS_SESSION_TOKEN``. Holds secrets: never log it, never put it
    in a Spark configuration (:func:`set_s3a_credentials` says why)."""
    env = os.environ if environ is None else environ
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not (key and secret):
        return {}
    credentials = {"fs.s3a.access.key": key, "fs.s3a.secret.key": secret}
    token = env.get("AWS_SESSION_TOKEN")
    if token:
        credentials["fs.s3a.session.token"] = token
    return credentials


def set_s3a_credentials(session: SparkSession, environ: Mapping[str, str] | None = None) -> None:
    """Set :func:`s3a_credentials` on ``session``'s SparkContext's Hadoop configuration, once
    the JVM runs.

    Not as ``spark.hadoop.fs.s3a.*`` in the Spark configuration: PySpark starts its JVM with
    ``spark-submit --conf KEY=VALUE`` for each entry, so the secret would be in the JVM's
    ``/proc/<pid>/cmdline`` (readable by every local user) and in its system properties for
    as long as it runs. Set here, they are strings in the driver's memory only.

    Every session of the context reads them, and so do executors on other machines: each
    query's Hadoop configuration is a fresh copy of this one
    (``SessionState.newHadoopConf()``, what every ``SparkSession.newSession()`` shares), and
    a file scan broadcasts it to its tasks (``FileSourceScanExec`` gives
    ``newHadoopConfWithOptions`` to ``ParquetFileFormat.buildReaderWithPartitionValues``,
    which broadcasts it as a ``SerializableConfiguration``; file writes send theirs in the
    job's description). S3A reads them when its file system is first made, at the first read,
    after this."""
    configuration = session.sparkContext._jsc.hadoopConfiguration()
    for key, value in s3a_credentials(environ).items():
        configuration.set(key, value)


def spark_path(location: Path | str) -> str:
    """A lake location as Spark reads it: ``s3://`` through the s3a connector."""
    text = str(location)
    if text.startswith("s3://"):
        return "s3a://" + text.removeprefix("s3://")
    return text


def no_hadoop_aws(hadoop: str | None = None, *, submitted: bool | None = None) -> str:
    """The line for a Spark without hadoop-aws, asked to read the lake on S3: what to add, and
    where, for a JVM a ``pullstats`` command started (``spark.jars.packages`` in
    ``spark-defaults.conf``: the command has no ``--packages``) or for ``spark-submit``'s
    (``submitted``; default: whether this process runs under it). ``hadoop``: the version of
    the Hadoop in that Spark, which hadoop-aws's must equal."""
    if submitted is None:
        submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit names its JVM's port
    package = f"org.apache.hadoop:hadoop-aws:{hadoop or '<its Hadoop version>'}"
    if submitted:
        advice = f"start spark-submit with --packages {package}"
    else:
        where = "spark-defaults.conf in SPARK_CONF_DIR"
        advice = f"add the line 'spark.jars.packages {package}' to {where}"
    return (
        "PULLSTATS_ENGINE=spark: this Spark cannot read the lake on S3: its classpath has no "
        f"hadoop-aws ({S3A_CLASS}); {advice} (docs/spark.md)"
    )


def missing_hadoop_aws(session: SparkSession, *, submitted: bool) -> str | None:
    """:func:`no_hadoop_aws`'s line if ``session``'s JVM cannot load the ``s3a`` file system,
    asked as a read of an ``s3a://`` path asks Hadoop (its configuration's ``fs.s3a.impl``,
    or the file systems on the classpath); nothing when it can. Loads a class, reaches no
    server."""
    jvm = session.sparkContext._jvm
    assert jvm is not None  # a running context's
    configuration = session.sparkContext._jsc.hadoopConfiguration()
    try:
        jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass("s3a", configuration)
    except Exception as error:
        if type(error).__name__ != "Py4JJavaError":  # the JVM's answer, not Py4J's own failure
            raise
        hadoop = str(jvm.org.apache.hadoop.util.VersionInfo.getVersion())
        return no_hadoop_aws(hadoop, submitted=submitted)
    return None
