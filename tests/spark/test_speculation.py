"""Speculative execution on a real standalone cluster: a straggling task's copy runs too, each row is written once.

Spark never starts a speculative copy on a host already running the task, so local mode (one host) cannot show it.
Here a master and two workers run on loopback addresses of their own (127.0.0.2 and 127.0.0.3: two hosts to Spark),
one core each; the test seam stalls partition 1's first attempt after its first output batch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyspark
import pytest

from bankmarketing_client.local.endpoint import LocalEndpoint
from spark.spark_support import assert_same_rows, copy_files, free_port, read_written, run_job

if TYPE_CHECKING:
    import pandas as pd

JOB = Path(__file__).with_name("speculation_job.py")
WORKER_HOSTS = ("127.0.0.2", "127.0.0.3")


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as answer:
            return int(json.load(answer).get("aliveworkers", 0))
    except OSError:
        return 0


@pytest.fixture(scope="module")
def standalone_master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://...`` of a master with two one-core workers, each on its own loopback address; stopped after."""
    home = Path(pyspark.__file__).parent
    work = tmp_path_factory.mktemp("spark-cluster")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOG_DIR": str(work), "SPARK_LOCAL_IP": "127.0.0.1"}
    port, ui_port = free_port(), free_port()
    spark_class = str(home / "bin" / "spark-class")
    started: list[subprocess.Popen[bytes]] = []

    def launch(name: str, args: list[str], host: str) -> None:
        with (work / f"{name}.log").open("wb") as log:
            started.append(
                subprocess.Popen(
                    [spark_class, *args],
                    env={**env, "SPARK_LOCAL_IP": host},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own group, so that teardown ends it and its children only
                )
            )

    try:
        master = f"spark://127.0.0.1:{port}"
        launch("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                          "--webui-port", str(ui_port)], "127.0.0.1")  # fmt: skip
        for host in WORKER_HOSTS:
            launch(f"worker-{host}", ["org.apache.spark.deploy.worker.Worker", "--host", host, "--cores", "1",
                                      "--memory", "1g", "--work-dir", str(work / host), "--webui-port", "0",
                                      master], host)  # fmt: skip
        deadline = time.monotonic() + 120
        while _alive_workers(ui_port) < len(WORKER_HOSTS):
            assert time.monotonic() < deadline, "the standalone cluster did not come up; see " + str(work)
            time.sleep(0.5)
        yield master
    finally:
        for process in started:
            os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            process.wait(timeout=30)


def test_a_straggler_and_its_speculative_copy_write_each_row_once(
    standalone_master: str, spark_endpoint: LocalEndpoint, input_dir: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    source = copy_files(input_dir, tmp_path / "in", 4)
    work = tmp_path / "work"
    work.mkdir()
    run_job(JOB, [standalone_master, str(source), str(work), str(free_port())], spark_endpoint)
    tasks = json.loads((work / "tasks.json").read_text())
    copies = [t for t in tasks if t["speculative"]]
    assert any(t["index"] == 1 for t in copies), "Spark started no speculative copy of the straggler"
    assert {t["host"] for t in tasks} == set(WORKER_HOSTS)
    # A copy takes a task slot like any task: the endpoint still never saw more than the budget (4) at once.
    assert spark_endpoint.stats()["in_flight_peak"] <= 4
    got = read_written(work / "out")
    expected = reference[reference["id"].isin(got["id"])]
    assert len(got) == len(expected) == 50_000
    assert_same_rows(got, expected)
