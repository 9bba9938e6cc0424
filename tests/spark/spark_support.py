"""Helpers shared by the spark tests (imported as ``spark.spark_support``, as pytest puts ``tests/`` on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import pandas as pd

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
