"""The AWS credentials of a lake on S3 never reach the command line of the JVM a ``pullstats``
command starts for Spark: PySpark starts it as ``spark-submit --conf KEY=VALUE …`` for its
configuration, and every local user reads ``/proc/<pid>/cmdline``. They are on the session's
Hadoop configuration instead, which the reads of the lake use.

The session is opened in a child Python, as ``process`` and ``export`` open theirs
(``SparkEngine.session()``), so that its JVM is started by it and for it (a JVM another test
of this worker started would carry another command line); the test reads the JVM's command
line from ``/proc`` itself, as another user would, while it runs. hadoop-aws need not be
here: nothing is read (without it, the session is refused with the hadoop-aws line, after
the credentials were set, and the JVM still runs). A scale-out run (marker ``scaleout``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env

pytest.importorskip(
    "pyspark",
    reason="PySpark comes with the spark extra: pip install -e '.[test,spark]'",
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.scaleout,
    pytest.mark.xdist_group("spark-credentials"),
]

KEY_ID = "AKIAPULLSTATSKEYID42"
SECRET = "pullstats/Secret+Key/wJalrXUtnFEMI/K7MDENG"
TOKEN = "FwoGZXIvYXdzEPullstatsSessionToken//////////wEaDA"
ENDPOINT = "http://127.0.0.1:18900"  # never asked: nothing is read
S3 = {
    "PULLSTATS_ENGINE": "spark",
    "PULLSTATS_SPARK_MASTER": "local[1]",
    "PULLSTATS_LAKE_URL": "s3://pullstats-lake/lake",
    "AWS_ENDPOINT_URL": ENDPOINT,
    "AWS_REGION": "eu-central-1",
    "AWS_ACCESS_KEY_ID": KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET,
    "AWS_SESSION_TOKEN": TOKEN,
}
#: the line of a Spark without hadoop-aws, as here: the session is refused after it started
NO_HADOOP_AWS = (
    "PULLSTATS_ENGINE=spark: this Spark cannot read the lake on S3: its classpath has no "
    "hadoop-aws (org.apache.hadoop.fs.s3a.S3AFileSystem); add the line 'spark.jars.packages "
    "org.apache.hadoop:hadoop-aws:3.5.0' to spark-defaults.conf in SPARK_CONF_DIR (docs/spark.md)"
)
HADOOP_KEYS = ("fs.s3a.access.key", "fs.s3a.secret.key", "fs.s3a.session.token")

#: the child: opens the engine's session the way the jobs do, says its JVM's pid, waits for
#: the test to read that JVM's command line, then reports what the JVM holds
CHILD = """
import json, sys
from pyspark.sql import SparkSession
from pullstats.config import Settings
from pullstats.spark_engine import SparkEngine, SparkUnavailable

refused = None
try:
    session = SparkEngine(Settings()).session()
except SparkUnavailable as error:  # no hadoop-aws here: the JVM is up, the check said so
    refused, session = str(error), SparkSession.getActiveSession()
context = session.sparkContext
jvm = context._jvm
print(jvm.ProcessHandle.current().pid(), flush=True)
sys.stdin.readline()
keys = sys.argv[1:]
properties = jvm.java.lang.System.getProperties()
report = {
    "refused": refused,
    "spark_conf": [list(item) for item in context.getConf().getAll()],
    "sql_conf": sorted(session.conf.getAll.items()),
    "system_properties": [
        [str(name), str(properties.getProperty(name))]
        for name in properties.stringPropertyNames()
    ],
    "hadoop": {key: context._jsc.hadoopConfiguration().get(key) for key in keys},
    "query_hadoop": {
        key: session._jsparkSession.sessionState().newHadoopConf().get(key) for key in keys
    },
}
print(json.dumps(report), flush=True)
context.stop()
"""


def _secrets_in(text: str) -> list[str]:
    return [name for name, value in (("secret", SECRET), ("token", TOKEN)) if value in text]


def test_s3_credentials_are_not_on_the_jvms_command_line(data_dir: Path) -> None:
    data_dir.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *HADOOP_KEYS],
        env=cli_env(data_dir, S3),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        said = child.stdout.readline()
        assert said.strip().isdigit(), said + child.communicate(timeout=120)[1]
        # what every local user can read, while the JVM runs
        cmdline = Path(f"/proc/{int(said)}/cmdline").read_bytes().decode().split("\0")
        stdout, stderr = child.communicate("\n", timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    # it is the JVM PySpark started, with its configuration on its command line
    assert "org.apache.spark.deploy.SparkSubmit" in cmdline, cmdline
    assert f"spark.hadoop.fs.s3a.endpoint={ENDPOINT}" in cmdline, cmdline
    assert _secrets_in(" ".join(cmdline)) == []
    assert KEY_ID not in " ".join(cmdline)

    report = json.loads(stdout)
    assert report["refused"] in (None, NO_HADOOP_AWS), report["refused"]
    assert _secrets_in(json.dumps(report["spark_conf"])) == []
    assert _secrets_in(json.dumps(report["sql_conf"])) == []
    assert _secrets_in(json.dumps(report["system_properties"])) == []
    assert KEY_ID not in json.dumps(report["system_properties"])
    # where they are: the context's Hadoop configuration, and so every query's (a reading
    # session's, broadcast to the executors)
    expected = dict(zip(HADOOP_KEYS, (KEY_ID, SECRET, TOKEN), strict=True))
    assert report["hadoop"] == expected
    assert report["query_hadoop"] == expected
    conf = dict(report["spark_conf"])
    assert conf["spark.hadoop.fs.s3a.aws.credentials.provider"] == (
        "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
    )
    # nor does the JVM's log hold them (its start-up, and the refusal without hadoop-aws)
    log = (data_dir / "logs" / "spark.log").read_text(errors="replace")
    assert "starts Spark's JVM" in log
    assert _secrets_in(log) == [] and _secrets_in(stderr) == []
