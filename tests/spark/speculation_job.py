"""A Spark application on a standalone cluster, with aggressive speculation and one straggling task.

Run as ``python speculation_job.py MASTER INPUT WORK UI_PORT`` with ``$BANKMARKETING_SCORING_URI`` and
``$BANKMARKETING_API_KEY`` set. Partition 1's first attempt stalls after its first output batch (the test seam of
:mod:`bankmarketing_client.spark.partition`), so Spark starts a speculative copy on the other worker; the job writes
the scores to ``WORK/out`` through Spark's committer and every task attempt the UI knows to ``WORK/tasks.json``.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

from pyspark.sql import SparkSession

from bankmarketing_client.spark import score_spark
from bankmarketing_client.spark.partition import FAULT_PROPERTY


def main(master: str, source: Path, work: Path, ui_port: int) -> None:
    session = (
        SparkSession.builder.master(master)
        .appName("speculation-job")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.executor.memory", "512m")
        .config("spark.ui.port", str(ui_port))
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.speculation", "true")
        .config("spark.speculation.multiplier", "1.1")
        .config("spark.speculation.quantile", "0.5")
        .config("spark.speculation.minTaskRuntime", "100ms")
        .config("spark.speculation.interval", "50ms")
        .getOrCreate()
    )
    context = session.sparkContext
    scored = score_spark(session.read.parquet(str(source)), max_in_flight=4)
    context.setLocalProperty(FAULT_PROPERTY, "stall:1")
    scored.write.parquet(str(work / "out"))
    base = f"http://127.0.0.1:{ui_port}/api/v1/applications/{context.applicationId}"
    tasks = []
    with urllib.request.urlopen(f"{base}/stages", timeout=30) as answer:
        stages = json.load(answer)
    for stage in stages:
        url = f"{base}/stages/{stage['stageId']}/{stage['attemptId']}/taskList?length=1000"
        with urllib.request.urlopen(url, timeout=30) as answer:
            tasks += json.load(answer)
    (work / "tasks.json").write_text(json.dumps(tasks))
    session.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
