"""The Spark engine's settings: the s3a configuration pullstats generates from the AWS settings,
the one-line refusals of settings Spark cannot run with, and whose log4j2 configuration the JVM
takes (no JVM is started here)."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from pullstats.config import Settings
from pullstats.spark_engine import SparkUnavailable, check_spark, local_defaults
from pullstats.spark_log import (
    CONFIGURATION,
    java_error,
    jvm_output,
    last_words,
    not_started,
    own_configuration,
)
from pullstats.spark_s3 import no_hadoop_aws, s3a_config, s3a_credentials, spark_path
from tests.cli_fork import run_pullstats_command
from tests.conftest import cli_env, free_port, require_e2e_mark

S3A = "spark.hadoop.fs.s3a."


def test_an_s3_compatible_endpoint_with_keys() -> None:
    """The keys are Hadoop's, set on the running session (spark_s3.set_s3a_credentials): the
    Spark configuration is the JVM's command line (tests/spark/test_spark_credentials.py)."""
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
        "AWS_REGION": "eu-central-1",
        "AWS_PROFILE": "other",  # anything else is not read
    }
    assert s3a_config(env) == {
        S3A + "impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        S3A + "endpoint": "http://127.0.0.1:9000",
        S3A + "path.style.access": "true",
        S3A + "connection.ssl.enabled": "false",
        S3A + "endpoint.region": "eu-central-1",
        S3A + "aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
    }
    assert s3a_credentials(env) == {
        "fs.s3a.access.key": "AKIDEXAMPLE",
        "fs.s3a.secret.key": "wJalrXUtnFEMI/K7MDENG",
    }


def test_temporary_credentials_and_the_default_region() -> None:
    env = {
        "AWS_ENDPOINT_URL": "https://s3.example.net",
        "AWS_ACCESS_KEY_ID": "ASIA1",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
        "AWS_DEFAULT_REGION": "us-east-2",
    }
    config = s3a_config(env)
    assert config[S3A + "connection.ssl.enabled"] == "true"
    assert s3a_credentials(env) == {
        "fs.s3a.access.key": "ASIA1",
        "fs.s3a.secret.key": "secret",
        "fs.s3a.session.token": "token",
    }
    assert not any(value in {"ASIA1", "secret", "token"} for value in config.values())
    assert config[S3A + "endpoint.region"] == "us-east-2"
    # botocore takes AWS_ENDPOINT_URL_S3 first: Spark read the lake at the other address
    both = {**env, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}
    assert s3a_config(both)[S3A + "endpoint"] == "http://127.0.0.1:9000"
    assert s3a_config(both)[S3A + "connection.ssl.enabled"] == "false"
    assert config[S3A + "aws.credentials.provider"] == (
        "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
    )


def test_without_settings_hadoop_aws_finds_credentials_itself() -> None:
    # AWS itself, an instance profile or web identity: only the file system is named
    assert s3a_config({}) == {S3A + "impl": "org.apache.hadoop.fs.s3a.S3AFileSystem"}
    # a key without its secret is no credential
    assert s3a_config({"AWS_ACCESS_KEY_ID": "AKID"}) == s3a_config({})
    assert s3a_credentials({"AWS_ACCESS_KEY_ID": "AKID"}) == s3a_credentials({}) == {}


def test_the_lake_on_s3_is_read_through_s3a() -> None:
    assert spark_path("s3://bucket/prefix/lake/actions") == "s3a://bucket/prefix/lake/actions"
    assert spark_path(Path("lake/x.parquet")) == "lake/x.parquet"


def test_the_engine_settings_default_to_duckdb_and_local_spark(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert (settings.engine, settings.spark_master) == ("duckdb", "local[*]")
    with pytest.raises(ValidationError, match="engine"):
        Settings(data_dir=tmp_path, engine="flink")


@pytest.mark.parametrize("master", ["bogus", "local[x]", "spark//host:7077", ""])
def test_a_master_that_is_no_spark_url_is_refused(tmp_path: Path, master: str) -> None:
    with pytest.raises(SparkUnavailable, match=r"^PULLSTATS_SPARK_MASTER=.*not a Spark master"):
        check_spark(Settings(data_dir=tmp_path, engine="spark", spark_master=master))


def test_a_java_home_without_java_is_named_not_the_master(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # spark-class runs $JAVA_HOME/bin/java whatever PATH holds: the master was blamed for it
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(SparkUnavailable) as refused:
        check_spark(Settings(data_dir=tmp_path, engine="spark"))
    assert str(refused.value) == (
        f"JAVA_HOME={tmp_path / 'no-jdk'}: it has no bin/java, and Spark runs JAVA_HOME's java "
        "before PATH's: point it at a Java 17 or later, or unset it"
    )


def test_a_standalone_master_nobody_answers_at_is_refused(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(SparkUnavailable, match=f"no Spark master answers at 127.0.0.1:{port}"):
        check_spark(Settings(data_dir=tmp_path, spark_master=f"spark://127.0.0.1:{port}"))


def _passes_the_check(settings: Settings) -> None:
    """``settings``' master passes the check: with the spark extra, nothing is refused; without
    it (the README's run), the check goes past the master on to the missing package."""
    if importlib.util.find_spec("pyspark") is None:
        with pytest.raises(SparkUnavailable, match=r"^PULLSTATS_ENGINE=spark: pyspark not"):
            check_spark(settings)
    else:
        check_spark(settings)


def test_a_listening_master_passes_the_check(tmp_path: Path) -> None:
    """Without the spark extra (the README's run) the check goes past the master on to the
    missing package, which it names."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        settings = Settings(data_dir=tmp_path, spark_master=f"spark://127.0.0.1:{port}")
        _passes_the_check(settings)


def test_a_listening_ipv6_master_passes_the_check(tmp_path: Path) -> None:
    """Before, ``[::1]`` was asked for with its brackets, which no resolver knows: refused."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with socket.socket(socket.AF_INET6) as listener:
        try:
            listener.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback here")
        listener.listen()
        port = listener.getsockname()[1]
        settings = Settings(data_dir=tmp_path, spark_master=f"spark://[::1]:{port}")
        _passes_the_check(settings)
    with pytest.raises(SparkUnavailable, match=rf"no Spark master answers at \[::1\]:{port}$"):
        check_spark(settings)  # nobody listens any more


def test_under_spark_submit_its_master_is_not_pullstats_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """spark-submit's JVM runs on its --master: a stale variable refused a valid job."""
    stale = Settings(data_dir=tmp_path, spark_master=f"spark://127.0.0.1:{free_port()}")
    with pytest.raises(SparkUnavailable, match="no Spark master answers"):
        check_spark(stale)
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "40123")  # spark-submit's JVM
    if importlib.util.find_spec("pyspark") is not None:
        check_spark(stale)


def test_the_local_defaults_are_for_a_local_master_only(tmp_path: Path) -> None:
    """Chosen by the master the session runs on: before, by ``PULLSTATS_SPARK_MASTER``, so
    that a job spark-submit ran on a cluster had the UI off and local scratch files."""
    settings = Settings(data_dir=tmp_path)
    for master in ("spark://10.0.0.9:7077", "yarn", "k8s://https://10.0.0.9:6443"):
        assert local_defaults(master, settings) == {}
    for master in ("local", "local[1]", "local[*]", "local[2,3]"):
        assert local_defaults(master, settings) == {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.local.dir": str(tmp_path / "tmp" / "spark"),
            "spark.sql.shuffle.partitions": "8",
        }
    assert (tmp_path / "tmp" / "spark").is_dir()


def _run(data_dir: Path, command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    require_e2e_mark("the pullstats command")
    return run_pullstats_command([command], cli_env(data_dir, env), None)


def test_process_with_an_unreachable_master_is_one_line(data_dir: Path) -> None:
    data_dir.mkdir()  # the jobs refuse a data dir that is not there
    master = f"spark://127.0.0.1:{free_port()}"
    result = _run(
        data_dir, "process", {"PULLSTATS_ENGINE": "spark", "PULLSTATS_SPARK_MASTER": master}
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "PULLSTATS_SPARK_MASTER=" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_export_without_java_is_one_line(data_dir: Path) -> None:
    data_dir.mkdir()  # the jobs refuse a data dir that is not there
    # the venv's bin: no java there
    env = {"PULLSTATS_ENGINE": "spark", "PATH": os.path.dirname(sys.executable), "JAVA_HOME": ""}
    result = _run(data_dir, "export", env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: PULLSTATS_ENGINE=spark: Spark needs Java 17 or later, and neither JAVA_HOME "
        "nor PATH has a java"
    ]


class _NotInstalled:
    """A meta-path finder that makes PySpark unimportable, as an install without the spark
    extra has it."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pyspark" or name.startswith("pyspark."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_without_the_spark_extra_the_refusal_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in sys.modules if n == "pyspark" or n.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NotInstalled(), *sys.meta_path])
    with pytest.raises(SparkUnavailable) as refused:
        check_spark(Settings(data_dir=tmp_path, engine="spark"))
    assert str(refused.value) == (
        "PULLSTATS_ENGINE=spark: pyspark not installed: "
        "pip install -c constraints.txt 'pullstats[spark]' (docs/spark.md)"
    )


def test_an_operators_log4j2_configuration_wins_over_ours(tmp_path: Path) -> None:
    assert CONFIGURATION.is_file()  # package data: what the JVM is pointed at otherwise
    assert not own_configuration({})
    assert own_configuration({"LOG4J_CONFIGURATION_FILE": "log4j2.xml"})
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "log4j2.properties.template").write_text("")  # Spark's template is no configuration
    assert not own_configuration({"SPARK_CONF_DIR": str(conf)})
    assert not own_configuration({"SPARK_HOME": str(tmp_path)})
    (conf / "log4j2.properties").write_text("rootLogger.level = info\n")
    assert own_configuration({"SPARK_CONF_DIR": str(conf)})
    assert own_configuration({"SPARK_HOME": str(tmp_path)})


def test_a_jvm_that_did_not_start_is_quoted_by_its_last_line(tmp_path: Path) -> None:
    log = tmp_path / "spark.log"
    before = "an earlier run's last line\n"
    log.write_text(
        before + "Error: LinkageError occurred while loading main class org.apache.spark.X\n"
        "\tjava.lang.UnsupportedClassVersionError: org/apache/spark/X has been compiled by a "
        "more recent version of the Java Runtime\n\tat java.base/java.lang.ClassLoader.define1"
        "(Native Method)\n\t... 4 more\n\n"
    )
    assert last_words(log, len(before)) == (
        "java.lang.UnsupportedClassVersionError: org/apache/spark/X has been compiled by a more "
        "recent version of the Java Runtime"
    )
    assert last_words(log, log.stat().st_size) == ""  # this start wrote nothing
    # Spark's warnings as it stops, the launcher's notice: no reason; an error is
    log.write_text(
        "WARNING: Using incubator modules: jdk.incubator.vector\n"
        "2026-12-06 12:59:07.593Z ERROR SparkContext: Error initializing SparkContext.\n"
        "org.apache.spark.SparkException: Asked to run locally with 0 threads\n"
        "\tat org.apache.spark.SparkContext$.createTaskScheduler(SparkContext.scala:3333)\n"
        "2026-12-06 12:59:07.737Z WARN MetricsSystem: Stopping a MetricsSystem that is not "
        "running\n"
        "26/12/06 12:59:08 INFO ShutdownHookManager: Shutdown hook called\n"
    )
    said = "org.apache.spark.SparkException: Asked to run locally with 0 threads"
    assert last_words(log, 0) == said
    log.write_text("WARNING: Using incubator modules: jdk.incubator.vector\n")
    assert last_words(log, 0) == ""
    assert last_words(tmp_path / "none.log", 0) == ""


JVM_NOT_CREATED = (
    "WARNING: Using incubator modules: jdk.incubator.vector\n"
    "Invalid maximum heap size: -Xmx12x\n"
    "Error: Could not create the Java Virtual Machine.\n"
    "Error: A fatal exception has occurred. Program will exit.\n"
)


def test_the_java_launchers_trailer_is_no_reason(tmp_path: Path) -> None:
    """Before, the launcher's last line was quoted, the same for every reason."""
    log = tmp_path / "spark.log"
    log.write_text(JVM_NOT_CREATED)
    assert last_words(log, 0) == "Invalid maximum heap size: -Xmx12x"


class GatewayExited(Exception):
    """PySpark's, when the JVM it started exits before it answers."""


def test_a_jvm_that_did_not_start_names_the_settings_that_may_be_at_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a local master (it does not stop the JVM before it answers); the master that is
    not local, and the spark-defaults.conf the JVM read. Before, the line began with
    ``PULLSTATS_SPARK_MASTER='local[*]'``, whatever the cause."""
    for name in ("SPARK_CONF_DIR", "SPARK_HOME"):
        monkeypatch.delenv(name, raising=False)
    log = tmp_path / "spark.log"
    log.write_text(JVM_NOT_CREATED)
    error = GatewayExited("[JAVA_GATEWAY_EXITED] Java gateway process exited before sending  its")
    tail = (
        ": [JAVA_GATEWAY_EXITED] Java gateway process exited before sending its Its JVM said: "
        f"Invalid maximum heap size: -Xmx12x (all of it: {log})"
    )
    head = "PULLSTATS_ENGINE=spark: Spark's JVM did not start"
    assert not_started(error, "local[*]", log, 0, True) == head + tail
    conf = tmp_path / "conf"
    conf.mkdir()
    monkeypatch.setenv("SPARK_CONF_DIR", str(conf))
    assert not_started(error, "local[*]", log, 0, True) == head + tail  # it has no defaults
    (conf / "spark-defaults.conf").write_text("spark.driver.memory 12x\n")
    where = f"{conf / 'spark-defaults.conf'} in SPARK_CONF_DIR"
    assert not_started(error, "local[*]", log, 0, True) == f"{head} (its settings: {where})" + tail
    assert not_started(error, "yarn", log, 0, True) == (
        f"{head} (its settings: PULLSTATS_SPARK_MASTER='yarn'; {where})" + tail
    )
    assert not_started(error, "local[2]", None, 0, True) == (  # --debug: no log of ours
        f"{head} (its settings: {where}): [JAVA_GATEWAY_EXITED] Java gateway process exited "
        "before sending its"
    )
    refused = Py4JJavaError(
        "An error occurred while calling None.org.apache.spark.api.java.JavaSparkContext.\n"
        ": org.apache.spark.SparkException: Could not parse Master URL: 'spark://h:x'"
    )
    assert not_started(refused, "spark://h:x", None, 0, False) == (
        "spark-submit --master 'spark://h:x': Spark did not start: "
        "org.apache.spark.SparkException: Could not parse Master URL: 'spark://h:x'"
    )


def test_a_process_started_for_spark_writes_to_the_log_only(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What :func:`jvm_output` gives the JVM, shown with a shell in its place: the log as its
    stdout and stderr, our log4j2 configuration in its environment; ours back afterwards."""
    for name in ("LOG4J_CONFIGURATION_FILE", "SPARK_CONF_DIR", "SPARK_HOME"):
        monkeypatch.delenv(name, raising=False)
    log = tmp_path / "logs" / "spark.log"
    script = 'echo "out"; echo "err: $LOG4J_CONFIGURATION_FILE" >&2; echo "at x.y(Z.java:1)" >&2'
    with jvm_output(log) as start:
        subprocess.run(["sh", "-c", script], check=True)
    print("the command's own line")
    assert capfd.readouterr() == ("the command's own line\n", "")
    assert "LOG4J_CONFIGURATION_FILE" not in os.environ
    header, *written = log.read_text().splitlines()
    assert header.startswith("--- ") and header.endswith(" starts Spark's JVM")
    assert written == ["out", f"err: {CONFIGURATION}", "at x.y(Z.java:1)"]
    assert last_words(log, start) == f"err: {CONFIGURATION}"


class Py4JJavaError(Exception):
    """Py4J's (its name is what tells it apart): its text is the JVM's whole stack trace."""


def test_a_java_exception_is_said_in_its_own_words() -> None:
    frames = "".join(f"\n\tat io.fabric8.Frame{n}.call(Frame.java:{n})" for n in range(40))
    error = Py4JJavaError(
        "An error occurred while calling None.org.apache.spark.api.java.JavaSparkContext.\n"
        ": io.fabric8.kubernetes.client.KubernetesClientException: An error has occurred."
        + frames
        + "\nCaused by: java.io.IOException: Connection refused: /127.0.0.1:42779"
        + frames
        + "\n\t... 20 more\nCaused by: java.net.ConnectException: Connection refused"
        + frames
    )
    assert java_error(error) == (
        "io.fabric8.kubernetes.client.KubernetesClientException: An error has occurred. "
        "Caused by: java.net.ConnectException: Connection refused"
    )
    alone = Py4JJavaError(
        "An error occurred while calling None.org.apache.spark.api.java.JavaSparkContext.\n"
        ": org.apache.spark.SparkException: Asked to run locally with 0 threads" + frames
    )
    said = java_error(alone)
    assert said == "org.apache.spark.SparkException: Asked to run locally with 0 threads"
    assert java_error(RuntimeError("[JAVA_GATEWAY_EXITED] Java gateway process exited")) == ""


def test_where_hadoop_aws_comes_from_depends_on_who_started_spark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``pullstats process`` has no ``--packages``: the JVM it starts reads Spark's
    ``spark-defaults.conf``; ``spark-submit`` takes ``--packages``."""
    head = (
        "PULLSTATS_ENGINE=spark: this Spark cannot read the lake on S3: its classpath has no "
        "hadoop-aws (org.apache.hadoop.fs.s3a.S3AFileSystem); "
    )
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    assert no_hadoop_aws("3.5.0") == head + (
        "add the line 'spark.jars.packages org.apache.hadoop:hadoop-aws:3.5.0' to "
        "spark-defaults.conf in SPARK_CONF_DIR (docs/spark.md)"
    )
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "40123")  # spark-submit's JVM
    assert no_hadoop_aws() == head + (
        "start spark-submit with --packages org.apache.hadoop:hadoop-aws:<its Hadoop version> "
        "(docs/spark.md)"
    )
