"""Helpers shared by the spark tests (imported as ``spark.spark_support``, as pytest puts ``tests/`` on sys.path)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import pandas as pd

    from bankmarketing_client.local.endpoint import LocalEndpoint

SCORE_COLUMNS: Final = ["id", "prediction", "probability", "error"]


def read_written(folder: Path) -> pd.DataFrame:
    """What Spark's committer left in ``folder`` (pyarrow skips ``_SUCCESS`` and hidden files), sorted by id."""
    import pyarrow.parquet as pq

    frame: pd.DataFrame = pq.read_table(folder).to_pandas()
    return frame.sort_values("id").reset_index(drop=True)


def assert_same_rows(got: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Row for row the reference's ids, labels, probabilities and errors: each id exactly once, none missing."""
    import pandas as pd

    assert got["id"].is_unique, "an input row was written more than once"
    expected = reference.sort_values("id").reset_index(drop=True)
    assert got["id"].tolist() == expected["id"].tolist()
    pd.testing.assert_frame_equal(
        got[SCORE_COLUMNS].astype(object), expected[SCORE_COLUMNS].astype(object), check_exact=True
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def copy_files(input_dir: Path, target: Path, count: int) -> Path:
    """The first ``count`` input files copied to ``target``: a smaller input, still one partition a file."""
    target.mkdir()
    for part in sorted(input_dir.glob("*.parquet"))[:count]:
        (target / part.name).write_bytes(part.read_bytes())
    return target


def run_job(script: Path, args: list[str], endpoint: LocalEndpoint, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run a Spark application script of these tests, the endpoint's URI and key in its environment (never argv);
    it must succeed (its output ends the failure message)."""
    done = subprocess.run(
        [sys.executable, str(script), *args],
        env={
            **os.environ,
            "BANKMARKETING_SCORING_URI": endpoint.scoring_uri,
            "BANKMARKETING_API_KEY": endpoint.primary_key,
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
            **env,
        },
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")[-3000:]
    return done
