"""The key reaches the executors (rows are scored) and none of the places Spark writes: the UI's REST API
(environment, jobs, stages, tasks, executors, SQL plans), the event log, the query plans, Spark's local dir
(block manager, broadcast files) and the driver's and executors' logs (INFO, with retries logged by the workers)."""

from __future__ import annotations

import os
from pathlib import Path

from bankmarketing_client.local.endpoint import LocalEndpoint
from spark.spark_support import copy_files, free_port, run_job

JOB = Path(__file__).with_name("secrets_job.py")
#: A configuration value the job sets: where it shows up, a key given to Spark as configuration would show up too.
MARKER = "marker-6f1c2a9e"
#: Imported by every Python process of the job (driver and workers) through PYTHONPATH: all their logging at DEBUG to
#: stderr, so the executors' own records (the library's retries, httpx and httpcore) land in the job's log.
SITECUSTOMIZE = """\
import logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(process)d %(name)s %(levelname)s %(message)s")
logging.getLogger("py4j").setLevel(logging.WARNING)
"""


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_the_keys_are_in_none_of_the_places_spark_writes(
    faulty_spark_endpoint: LocalEndpoint, input_dir: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    endpoint = faulty_spark_endpoint  # its faults make the executors log retries
    source = copy_files(input_dir, tmp_path / "in", 1)
    work = tmp_path / "work"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    done = run_job(
        JOB,
        [str(source), str(work), str(free_port())],
        endpoint,
        BANKMARKETING_SECONDARY_KEY=endpoint.secondary_key,
        SECRETS_JOB_MARKER=MARKER,
        PYTHONPATH=os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")])),
    )
    logs = done.stdout + done.stderr + (work / "spark.log").read_bytes()
    assert pq.read_table(work / "out").num_rows == 12_500  # the executors did authenticate

    places = {
        "logs": logs,
        "rest": (work / "rest.json").read_bytes(),
        "plan": (work / "plan.txt").read_bytes(),
        "event log": b"".join(p.read_bytes() for p in _files(work / "events")),
        "local dir": b"".join(p.read_bytes() for p in _files(work / "local")),
    }
    # Each place holds what it should, so an empty file cannot pass for a clean one.
    assert b"Finished task" in logs
    assert b"retrying after" in logs  # the executors' own records reached the log
    assert b"httpcore" in logs
    assert b"MapInArrow" in places["plan"]
    assert b"MapInArrow" in places["event log"]
    assert b"SparkListenerJobEnd" in places["event log"]
    assert b"score the customers" in places["rest"]
    assert MARKER.encode() in places["rest"]
    assert MARKER.encode() in places["event log"]
    assert places["local dir"]
    for key in (endpoint.primary_key, endpoint.secondary_key):
        for place, content in places.items():
            assert key.encode() not in content, f"a key appears in the {place}"
