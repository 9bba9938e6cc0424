"""A Spark application scoring with keys from the environment, keeping everything Spark writes for the secrets test.

Run as ``python secrets_job.py INPUT WORK UI_PORT`` with ``$BANKMARKETING_SCORING_URI``, ``$BANKMARKETING_API_KEY``
and ``$BANKMARKETING_SECONDARY_KEY`` set (keys never in argv), and ``$SECRETS_JOB_MARKER``: a harmless value put in
the configuration, so that the test sees configuration reach the places it greps. Python logging is set up by the
caller (a ``sitecustomize`` that every driver and worker process imports). Spark logs at INFO to ``WORK/spark.log``;
the event log (uncompressed) goes to ``WORK/events``; before stopping, the job saves the query plans
(``WORK/plan.txt``), every REST answer of the UI about this application (``WORK/rest.json``) and a copy of Spark's
local dir (``WORK/local``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import urllib.request
from pathlib import Path

from pyspark.sql import SparkSession

from bankmarketing_client.spark import score_spark

#: The UI's REST API pages about one application ({app}), its stages ({stage}/{attempt}) and SQL executions.
REST_PAGES = (
    "",
    "/jobs",
    "/stages?details=true",
    "/executors",
    "/allexecutors",
    "/environment",
    "/sql?details=true&planDescription=true",
)

#: Spark's own logging at INFO to ``spark.log`` in the work folder: what a cluster's driver and executor logs hold.
#: (pyspark counts as a shell: its console appender drops INFO lines, whatever the root level says.)
LOG4J2_INFO = """\
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n%ex
"""


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.load(answer)


def main(source: Path, work: Path, ui_port: int) -> None:
    logging.getLogger("bankmarketing_client").setLevel(logging.DEBUG)  # the library's own logs, all of them
    local = work / "spark-local"
    (work / "events").mkdir(parents=True)
    log_config = work / "log4j2.properties"
    log_config.write_text(LOG4J2_INFO.format(path=work / "spark.log"))
    session = (
        SparkSession.builder.master("local[2]")
        .appName("secrets-job")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.port", str(ui_port))
        .config("spark.eventLog.enabled", "true")
        .config("spark.eventLog.dir", (work / "events").as_uri())
        .config("spark.eventLog.compress", "false")  # plain JSON lines, so that a grep sees every byte
        .config("spark.local.dir", str(local))
        .config("spark.bankmarketing.marker", os.environ["SECRETS_JOB_MARKER"])  # shows where configuration lands
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_config.as_uri()}")
        .getOrCreate()
    )
    scored = score_spark(session.read.parquet(str(source)))
    (work / "plan.txt").write_text(scored._jdf.queryExecution().toString())
    session.sparkContext.setJobDescription("score the customers")
    scored.write.parquet(str(work / "out"))
    base = f"http://127.0.0.1:{ui_port}/api/v1/applications"
    app = session.sparkContext.applicationId
    pages: dict[str, object] = {"applications": _get(base)}
    for page in REST_PAGES:
        pages[page] = _get(f"{base}/{app}{page}")
    stages = pages["/stages?details=true"]
    assert isinstance(stages, list)
    for stage in stages:
        path = f"/stages/{stage['stageId']}/{stage['attemptId']}/taskList?length=1000"
        pages[path] = _get(f"{base}/{app}{path}")
    (work / "rest.json").write_text(json.dumps(pages))
    shutil.copytree(local, work / "local", ignore_dangling_symlinks=True)
    session.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
