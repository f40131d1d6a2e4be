"""Spark's reading of a lake on object storage (``PULLSTATS_LAKE_URL=s3://…``): through the
``s3a`` connector of hadoop-aws, which PySpark does not ship.

:func:`s3a_config` turns the standard AWS settings into Spark's ``fs.s3a`` configuration, and
:func:`spark_path` a lake location into the path Spark reads. :func:`missing_hadoop_aws` asks
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

__all__ = ["S3A_CLASS", "missing_hadoop_aws", "no_hadoop_aws", "s3a_config", "spark_path"]

#: hadoop-aws's file system for ``s3a://`` paths: the class a JVM without it cannot find.
S3A_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"


def s3a_config(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``spark.hadoop.fs.s3a.*`` configuration for the standard AWS settings in
    ``environ`` (default: the process environment): ``AWS_ENDPOINT_URL`` (an S3-compatible
    server: path-style access, TLS as its scheme says), ``AWS_ACCESS_KEY_ID`` and
    ``AWS_SECRET_ACCESS_KEY`` (with ``AWS_SESSION_TOKEN``: temporary credentials),
    ``AWS_REGION`` or ``AWS_DEFAULT_REGION``. Without keys, hadoop-aws's own chain finds
    credentials (instance profile, web identity). Holds secrets: never log it."""
    env = os.environ if environ is None else environ
    prefix = "spark.hadoop.fs.s3a."
    config = {prefix + "impl": S3A_CLASS}
    endpoint = env.get("AWS_ENDPOINT_URL", "").strip()
    if endpoint:
        config[prefix + "endpoint"] = endpoint
        config[prefix + "path.style.access"] = "true"
        config[prefix + "connection.ssl.enabled"] = str(endpoint.startswith("https://")).lower()
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        config[prefix + "endpoint.region"] = region
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        config[prefix + "access.key"] = key
        config[prefix + "secret.key"] = secret
        token = env.get("AWS_SESSION_TOKEN")
        if token:
            config[prefix + "session.token"] = token
            provider = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        else:
            provider = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        config[prefix + "aws.credentials.provider"] = provider
    return config


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
