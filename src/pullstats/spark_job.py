"""The file ``spark-submit`` runs: the ``pullstats`` command line with ``PULLSTATS_ENGINE=spark``.

    spark-submit --master spark://HOST:7077 --deploy-mode client … \\
        "$(python -c 'import pullstats.spark_job as job; print(job.__file__)')" process

runs ``pullstats process`` (then ``… export``) on the JVM ``spark-submit`` started: its
``--master`` wins (``PULLSTATS_SPARK_MASTER`` is neither read nor checked), and its ``--conf``
over pullstats' local defaults. docs/spark.md has the whole recipe.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> None:
    os.environ["PULLSTATS_ENGINE"] = "spark"
    from pullstats.cli.main import app

    app(args=argv, prog_name="pullstats")


if __name__ == "__main__":
    main(sys.argv[1:])
