"""Where the JVM of a Spark run writes (``PULLSTATS_ENGINE=spark``): the data dir's
``logs/spark.log``, not the command's stderr.

A ``pullstats`` command prints its progress and one line per error. The JVM it starts for Spark
writes much more, from its first instant: the Java launcher's notices (``WARNING: Using incubator
modules``), log4j's and Spark's start-up lines, Spark's WARN lines, and for a failed task ERROR
lines with whole stack traces, beside the one line the command prints for the same failure. No
log level keeps the first out (they are not log4j's), and ERROR keeps the last in; so the JVM
gets the log file as its stdout and stderr from its start (:func:`jvm_output`), and everything it
and its Python workers write lands there, in order, kept for whoever looks into a failure. Its
log4j2 configuration is ours (``spark_log4j2.properties``: WARN and above, dated in UTC) unless
the operator has their own. PySpark's own Python loggers, which print a failed query's error
with its Java stack trace, write there too (:func:`pyspark_loggers_to`). ``pullstats --debug``
leaves it all on stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "CONFIGURATION",
    "LOG4J_VARIABLE",
    "java_error",
    "jvm_output",
    "last_words",
    "not_started",
    "own_configuration",
    "pyspark_loggers_to",
    "spark_defaults",
]

#: Our log4j2 configuration for the JVM (package data).
CONFIGURATION = Path(__file__).with_name("spark_log4j2.properties")
#: log4j2's own variable for its configuration file (a ``-Dlog4j2.configurationFile`` wins)
LOG4J_VARIABLE = "LOG4J_CONFIGURATION_FILE"
#: What of its configuration log4j2 finds in Spark's conf dir (Spark's documented place).
_CONF_DIR_FILES = ("log4j2.properties", "log4j2.xml", "log4j2.yaml", "log4j2.yml", "log4j2.json")
#: A log beyond this size at a JVM's start becomes ``spark.log.1`` (the one older log kept).
ROTATE_BYTES = 10 * 2**20


def _conf_dir(environ: Mapping[str, str]) -> str:
    """Spark's conf dir: ``SPARK_CONF_DIR``, default ``$SPARK_HOME/conf`` (or none)."""
    return environ.get("SPARK_CONF_DIR") or (
        str(Path(environ["SPARK_HOME"], "conf")) if environ.get("SPARK_HOME") else ""
    )


def own_configuration(environ: Mapping[str, str]) -> bool:
    """Whether the operator configured log4j2 for Spark: ``LOG4J_CONFIGURATION_FILE``, or a
    log4j2 file in ``SPARK_CONF_DIR`` (default ``$SPARK_HOME/conf``)."""
    if environ.get(LOG4J_VARIABLE):
        return True
    conf_dir = _conf_dir(environ)
    return bool(conf_dir) and any(Path(conf_dir, name).is_file() for name in _CONF_DIR_FILES)


def spark_defaults(environ: Mapping[str, str]) -> Path | None:
    """The ``spark-defaults.conf`` the JVM a command starts reads (its driver's memory and
    options among them), if there is one."""
    conf_dir = _conf_dir(environ)
    path = Path(conf_dir, "spark-defaults.conf") if conf_dir else None
    return path if path is not None and path.is_file() else None


@contextlib.contextmanager
def jvm_output(log: Path) -> Iterator[int]:
    """Inside, a process started (the JVM, through PySpark's launcher) inherits ``log`` as its
    stdout and stderr, and our log4j2 configuration unless :func:`own_configuration`. Yields
    the log's size before: where this start's lines begin (:func:`last_words`).

    The process's own descriptors 1 and 2 point at the log meanwhile: call it before any
    output of the command (``cli.jobs.start_engine`` does), never while progress is drawn."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if log.stat().st_size > ROTATE_BYTES:
            os.replace(log, log.with_name(log.name + ".1"))
    with open(log, "a", encoding="utf-8") as file:  # where one run's lines begin
        when = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        file.write(f"--- {when} pullstats (pid {os.getpid()}) starts Spark's JVM\n")
        start = file.tell()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    added = not own_configuration(os.environ)
    saved = [os.dup(1), os.dup(2)]
    try:
        if added:
            os.environ[LOG4J_VARIABLE] = str(CONFIGURATION)
        with open(log, "ab") as file:
            os.dup2(file.fileno(), 1)
            os.dup2(file.fileno(), 2)
        yield start
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        if added:
            os.environ.pop(LOG4J_VARIABLE, None)


#: A line of the JVM's that says nothing about why it stopped: a log line below ERROR (in
#: log4j's layouts, ours and Spark's, the level follows the date and time), or the Java
#: launcher's notice (``WARNING: Using incubator modules``).
_NOT_AN_ERROR = re.compile(r"(\S+ \S+ )?(TRACE|DEBUG|INFO|WARN|WARNING)\b")


#: What the Java launcher writes after the reason a JVM could not be created (``Invalid
#: maximum heap size: -Xmx12x``): the same for every reason.
_LAUNCHER_TRAILERS = (
    "Error: Could not create the Java Virtual Machine.",
    "Error: A fatal exception has occurred. Program will exit.",
)


def _frame(line: str) -> bool:
    """A stack trace's line below its exception: ``at …``, ``... 4 more``."""
    return line.startswith(("at ", "..."))


def last_words(log: Path, start: int) -> str:
    """The last line the JVM wrote to ``log`` since ``start`` that is neither a stack frame,
    a warning nor the Java launcher's trailer (why it did not start, say), or nothing: Spark's
    warnings as it stops (``WARN MetricsSystem: Stopping a MetricsSystem that is not
    running``) are no reason, nor is ``Error: Could not create the Java Virtual Machine.``"""
    try:
        with open(log, "rb") as file:
            file.seek(start)
            text = file.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines()]
    said = [
        line
        for line in lines
        if line
        and not _frame(line)
        and not _NOT_AN_ERROR.match(line)
        and line not in _LAUNCHER_TRAILERS
    ]
    return " ".join(said[-1].split())[:300] if said else ""


def java_error(error: BaseException) -> str:
    """A Java exception that a call through Py4J raised, in its own words: ``Class: message``,
    and its root cause when there is another (``Caused by: …``); not Py4J's ``An error
    occurred while calling …`` nor the stack frames, which its text holds. Nothing for any
    other error."""
    if type(error).__name__ != "Py4JJavaError":  # py4j's, asked without importing it
        return ""
    try:
        text = str(error)  # asks the JVM for the exception's stack trace
    except Exception:
        return ""
    lines = [line.strip() for line in text.splitlines()]
    said = [line for line in lines if line and not _frame(line)]
    head = next((line[2:] for line in said if line.startswith(": ")), "")
    causes = [line for line in said if line.startswith("Caused by: ")]
    if not head:
        return ""
    head = " ".join(head.split())[:300]
    root = " ".join(causes[-1].split())[:300] if causes else ""
    return f"{head} {root}" if root and root.removeprefix("Caused by: ") not in head else head


def not_started(
    error: Exception, master: str, log: Path | None, start: int, started_here: bool
) -> str:
    """Why the session did not start, in one line, and where the JVM's log is (``log``, from
    ``start``; none under ``--debug`` or ``spark-submit``).

    A JVM that ran and refused is quoted by its Java exception (:func:`java_error`), after the
    master it was given (``PULLSTATS_SPARK_MASTER``, or ``spark-submit``'s). One that died
    before it could answer is quoted by :func:`last_words`, after those of its settings that
    may be at fault: a master that is not local (a local one that passed ``check_spark``
    never stops the JVM before it answers) and the ``spark-defaults.conf`` it read."""
    said = java_error(error)
    if said:
        whose = "PULLSTATS_SPARK_MASTER=" if started_here else "spark-submit --master "
        line = f"{whose}{master!r}: Spark did not start: {said}"
        return f"{line} (the JVM's log: {log})" if log is not None else line
    suspects = []
    if started_here and master != "local" and not master.startswith("local["):
        suspects.append(f"PULLSTATS_SPARK_MASTER={master!r}")
    conf = spark_defaults(os.environ) if started_here else None
    if conf is not None:
        where = "SPARK_CONF_DIR" if os.environ.get("SPARK_CONF_DIR") else "SPARK_HOME/conf"
        suspects.append(f"{conf} in {where}")
    line = "PULLSTATS_ENGINE=spark: Spark's JVM did not start"
    line += f" (its settings: {'; '.join(suspects)})" if suspects else ""
    line += ": " + " ".join(str(error).split())[:300]
    quoted = last_words(log, start) if log is not None else ""
    if quoted:
        return f"{line} Its JVM said: {quoted} (all of it: {log})"
    return f"{line} (the JVM's log: {log})" if log is not None else line


#: PySpark's own Python loggers: each error with a query context (an ANSI overflow, a column
#: that is not there) is logged as JSON with its Java stack trace, through a handler of their
#: own on stderr (``pyspark.errors.exceptions.base``).
PYSPARK_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")


def pyspark_loggers_to(log: Path) -> None:
    """PySpark's own loggers (:data:`PYSPARK_LOGGERS`) write to ``log``, not to stderr: the
    command says what failed in its one line."""
    from pyspark.logger import PySparkLogger

    for name in PYSPARK_LOGGERS:
        logger = PySparkLogger.getLogger(name)  # made now, it has PySpark's stderr handler
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.addHandler(logging.FileHandler(log, encoding="utf-8", delay=True))
        logger.propagate = False
