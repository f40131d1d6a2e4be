"""What an operator sees of a Spark run: the command's progress and one line per error on
stderr, never the JVM's log (its start-up warnings, log4j's notices, Spark's WARN and ERROR
lines), which goes to the data dir's ``logs/spark.log``; ``pullstats --debug`` shows it as
Spark prints it. Each test runs the real ``pullstats`` command, which starts its own JVM
(PySpark in local mode): a scale-out run (marker ``scaleout``, CONTRIBUTING.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, cli_env, run_cli, write_spool
from tests.exports import golden
from tests.storage.conftest import S3Server, start_moto, stop

pyspark = pytest.importorskip(
    "pyspark",
    reason="PySpark comes with the spark extra: pip install -e '.[test,spark]'",
)

pytestmark = [pytest.mark.slow, pytest.mark.scaleout, pytest.mark.xdist_group("spark-output")]

SPARK = {"PULLSTATS_ENGINE": "spark", "PULLSTATS_SPARK_MASTER": "local[2]"}
#: the progress bars of ``process``, the lines it may print on stderr
BARS = ("compact spool", "classify days", "roll up periods")
#: what the JVM's log looks like, whichever line of it reached stderr
JVM_LOG = ("WARN", "INFO", "ERROR", "log4j", "setLogLevel", "\tat ", "Exception")


def _seed(data_dir: Path, **settings: str) -> None:
    """Three requests of one client on 5 January 2026 in the spool."""
    runtime = Runtime.open(catalog_settings(data_dir, **settings))
    try:
        write_spool(runtime, *golden.records()[:3])
    finally:
        runtime.close()


def _jvm_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(word in line for word in JVM_LOG)]


def _not_progress(stderr: str) -> list[str]:
    lines = (line.rsplit("\r", 1)[-1].strip() for line in stderr.splitlines())
    return [line for line in lines if line and not line.startswith(BARS)]


def test_process_on_spark_prints_its_progress_and_none_of_the_jvm_log(data_dir: Path) -> None:
    _seed(data_dir)
    result = run_cli(data_dir, "process", env=SPARK)
    assert result.returncode == 0, result.stderr
    assert "processed 3 spool lines: 3 new requests" in result.stdout
    assert _jvm_lines(result.stderr) == [], result.stderr
    assert _not_progress(result.stderr) == [], result.stderr
    # nothing is lost: the JVM's start-up and Spark's warnings are in the data dir's log
    log = (data_dir / "logs" / "spark.log").read_text(errors="replace")
    assert "WARN" in log


def test_a_damaged_lake_file_on_spark_is_one_warning_line_and_spark_errors_stay_in_the_log(
    data_dir: Path,
) -> None:
    """Process on DuckDB, then damage the day's request file, and ``process --rebuild`` that
    day on Spark: Spark's reading of it fails, the file is set aside (lake/damaged_files.py,
    which reads Spark's ``file:`` names) and the run carries on; the operator sees one warning
    line, and Spark's ERROR lines and stack traces of the failed task stay in the log."""
    _seed(data_dir)
    assert run_cli(data_dir, "process").returncode == 0
    (part,) = (data_dir / "lake" / "requests" / "day=2026-01-05").glob("*.parquet")
    part.write_bytes(b"PAR1 not a Parquet file at all PAR1")
    result = run_cli(data_dir, "process", "--rebuild", "--from", "2026-01-05", env=SPARK)
    assert result.returncode == 0, result.stderr
    (line,) = _not_progress(result.stderr)
    assert line.startswith(f"warning: damaged lake file {part} ("), result.stderr
    assert "Traceback" not in result.stderr and _jvm_lines(result.stderr) == []
    moved = data_dir / "lake" / "set-aside" / "damaged-files" / part.relative_to(data_dir / "lake")
    assert moved.read_bytes() == b"PAR1 not a Parquet file at all PAR1"
    log = (data_dir / "logs" / "spark.log").read_text(errors="replace")
    assert "ERROR" in log


def test_debug_shows_the_jvm_log_on_stderr(data_dir: Path) -> None:
    """``pullstats --debug``: the operator asks for everything, Spark's log as Spark prints it
    (an empty installation: the JVM starts, there is nothing to export)."""
    data_dir.mkdir()  # the jobs refuse a data dir that is not there
    result = run_cli(data_dir, "--debug", "export", env=SPARK)
    assert result.returncode == 0, result.stderr
    assert any("WARN" in line for line in result.stderr.splitlines()), result.stderr


#: the query a child runs on the session the jobs open: it fails (ANSI overflow), with a
#: query context, which PySpark's SQLQueryContextLogger prints with the Java stack trace
FAILING_QUERY = """
from pullstats.config import Settings
from pullstats.spark_engine import SparkEngine, spark_session

settings = Settings()
spark_session(settings)  # as process and export start it (cli/jobs.py: start_engine)
session = SparkEngine(settings).session()
session.conf.set("spark.sql.ansi.enabled", "true")
try:
    session.sql("SELECT 9223372036854775807 + id FROM range(2)").collect()
except Exception as error:
    print(type(error).__name__, getattr(error, "getCondition", lambda: None)())
"""


def test_a_failed_query_leaves_stderr_to_the_command(data_dir: Path) -> None:
    """Before, PySpark's own logger printed the failure on stderr, as some 20 KB of JSON with
    the whole Java stack trace, beside the command's one error line; it goes to the log."""
    data_dir.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", FAILING_QUERY],
        env=cli_env(data_dir, SPARK),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["ArithmeticException", "ARITHMETIC_OVERFLOW"]
    assert result.stderr == ""
    log = (data_dir / "logs" / "spark.log").read_text(errors="replace")
    (logged,) = [line for line in log.splitlines() if '"SQLQueryContextLogger"' in line]
    assert "ARITHMETIC_OVERFLOW" in logged


@pytest.mark.parametrize(
    ("memory", "why"),
    [("1k", "Too small maximum heap"), ("12x", "Invalid maximum heap size: -Xmx12x")],
)
def test_a_jvm_that_does_not_start_says_why_in_the_error_line(
    data_dir: Path, tmp_path: Path, memory: str, why: str
) -> None:
    """Its own words go to the log, and the last of them into the one line: here a driver
    memory the JVM cannot start with, from the operator's ``spark-defaults.conf``, which the
    line names. Before, a memory that is no size was quoted by the Java launcher's last
    line (``Error: A fatal exception has occurred. Program will exit.``), and the line blamed
    ``PULLSTATS_SPARK_MASTER``, here a local one."""
    conf = tmp_path / "spark-conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(f"spark.driver.memory {memory}\n")
    data_dir.mkdir()  # the jobs refuse a data dir that is not there
    result = run_cli(data_dir, "export", env={**SPARK, "SPARK_CONF_DIR": str(conf)})
    assert result.returncode == 1
    log = data_dir / "logs" / "spark.log"
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "error: PULLSTATS_ENGINE=spark: Spark's JVM did not start (its settings: "
        f"{conf / 'spark-defaults.conf'} in SPARK_CONF_DIR): "
    ), line
    said, _, where = line.partition(" Its JVM said: ")[2].rpartition(" (all of it: ")
    assert where == f"{log})"
    assert said in log.read_text().splitlines()  # HotSpot's own words
    assert said == why


def test_a_master_spark_refuses_is_its_exception_in_one_line(data_dir: Path) -> None:
    """Before, the line held Py4J's "An error occurred while calling …", the Java stack frames
    and, as what the JVM said, its last WARN line (``Stopping a MetricsSystem that is not
    running``)."""
    data_dir.mkdir()  # the jobs refuse a data dir that is not there
    result = run_cli(data_dir, "export", env={**SPARK, "PULLSTATS_SPARK_MASTER": "local[0]"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: PULLSTATS_SPARK_MASTER='local[0]': Spark did not start: "
        "org.apache.spark.SparkException: Asked to run locally with 0 threads "
        f"(the JVM's log: {data_dir / 'logs' / 'spark.log'})"
    ]


def test_a_lake_on_s3_without_hadoop_aws_is_refused_before_any_work(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PySpark ships no hadoop-aws, and ``pullstats process`` has no ``--packages``: the line
    says where Spark takes it from for the JVM the command starts (spark-defaults.conf),
    with the version of the Hadoop it runs, as soon as the JVM is up. Before, compaction ran
    and the first read of the lake failed, advising ``--packages``."""
    moto, endpoint = start_moto(tmp_path / "moto.log")
    try:
        server = S3Server(endpoint, tmp_path / "moto.log")
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        bucket = server.bucket()
        lake = {"PULLSTATS_LAKE_URL": f"s3://{bucket}/lake"}
        _seed(data_dir, lake_url=lake["PULLSTATS_LAKE_URL"])
        (jar,) = (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")
        hadoop = jar.stem.removeprefix("hadoop-client-api-")  # hadoop-aws's must be the same
        result = run_cli(data_dir, "process", env={**SPARK, **server.env(), **lake})
        assert result.returncode == 1
        assert _not_progress(result.stderr) == [
            "error: PULLSTATS_ENGINE=spark: this Spark cannot read the lake on S3: its "
            "classpath has no hadoop-aws (org.apache.hadoop.fs.s3a.S3AFileSystem); add the "
            f"line 'spark.jars.packages org.apache.hadoop:hadoop-aws:{hadoop}' to "
            "spark-defaults.conf in SPARK_CONF_DIR (docs/spark.md)"
        ], result.stderr
        compacted = [key for key in server.keys(bucket) if "/requests/" in key]
        assert compacted == []  # the spool waits for a Spark that can read what it writes
    finally:
        stop(moto)
