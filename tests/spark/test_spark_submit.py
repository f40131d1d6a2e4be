"""Under ``spark-submit`` the session runs on its ``--master`` and its ``--conf``, whatever
``PULLSTATS_SPARK_MASTER`` says (docs/spark.md, ``spark_job.py``): the JVM is
``spark-submit``'s, running before pullstats, and the Python driver connects to it.

Each test runs the real ``spark-submit`` of the installed PySpark (its ``bin/``) on a probe
that opens the session as ``process`` does (:func:`spark_session`): a JVM's start, so a
scale-out run (marker ``scaleout``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env

pyspark = pytest.importorskip(
    "pyspark",
    reason="PySpark comes with the spark extra: pip install -e '.[test,spark]'",
)

pytestmark = [pytest.mark.slow, pytest.mark.scaleout, pytest.mark.xdist_group("spark-submit")]

#: what spark-submit runs: the session as the jobs open it, and what it runs on
PROBE = """
import json
from pullstats.config import Settings
from pullstats.spark_engine import spark_session

context = spark_session(Settings()).sparkContext
conf = dict(context.getConf().getAll())
keys = ("spark.ui.enabled", "spark.sql.shuffle.partitions", "spark.local.dir")
print(json.dumps({"master": context.master, **{key: conf.get(key) for key in keys}}))
context.stop()
"""


def _closed_port() -> int:
    """A port of this helper's range (19800-19899) that nobody listens at."""
    for port in range(19870, 19900):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.skip("every port of 19870-19899 answers")


@pytest.mark.parametrize("stale", [False, True], ids=["unset", "stale-standalone-master"])
def test_spark_submits_master_and_conf_win(data_dir: Path, tmp_path: Path, stale: bool) -> None:
    """Before, ``builder.master(PULLSTATS_SPARK_MASTER)`` replaced ``spark-submit``'s master
    (the probe said ``local[*]``: the check for it read a configuration that is empty until
    the gateway is up), the local defaults overrode its ``--conf``, and a stale
    ``spark://`` value of the variable refused the job before it started."""
    data_dir.mkdir()
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    home = Path(pyspark.__file__).parent
    env = cli_env(data_dir, {"SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable})
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    for name in ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "SPARK_CONF_DIR"):
        env.pop(name, None)
    if stale:
        env["PULLSTATS_SPARK_MASTER"] = f"spark://127.0.0.1:{_closed_port()}"
    command = [str(home / "bin" / "spark-submit"), "--master", "local[1]"]
    command += ["--conf", "spark.sql.shuffle.partitions=3", str(probe)]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    said = json.loads(result.stdout.strip().splitlines()[-1])
    assert said["master"] == "local[1]"
    assert said["spark.sql.shuffle.partitions"] == "3"  # its --conf, not the local default
    # a local master all the same: no UI, Spark's scratch in the data dir
    assert said["spark.ui.enabled"] == "false"
    assert said["spark.local.dir"] == os.fspath(data_dir / "tmp" / "spark")
