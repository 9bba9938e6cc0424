"""Batch scoring: files, pandas frames and record streams, at the endpoint's capacity, every row exactly once.

Needs the ``batch`` extra (pandas, pyarrow). Names are imported on first use, so that importing this package
costs nothing until a scorer runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bankmarketing_client._lazy import lazy_exports

if TYPE_CHECKING:
    from bankmarketing_client.batch.filerun import score_file, score_file_async
    from bankmarketing_client.batch.progress import Progress
    from bankmarketing_client.batch.scorer import ScoredRow, score_frame, score_frame_async, score_stream
    from bankmarketing_client.batch.summary import BatchSummary, RowCounts
    from bankmarketing_client.batch.tuner import TunerSettings
    from bankmarketing_client.errors import RunStopped

_EXPORTS = {
    "BatchSummary": "bankmarketing_client.batch.summary",
    "RowCounts": "bankmarketing_client.batch.summary",
    "Progress": "bankmarketing_client.batch.progress",
    "RunStopped": "bankmarketing_client.errors",
    "ScoredRow": "bankmarketing_client.batch.scorer",
    "score_file": "bankmarketing_client.batch.filerun",
    "score_file_async": "bankmarketing_client.batch.filerun",
    "score_frame": "bankmarketing_client.batch.scorer",
    "score_frame_async": "bankmarketing_client.batch.scorer",
    "score_stream": "bankmarketing_client.batch.scorer",
    "TunerSettings": "bankmarketing_client.batch.tuner",
}
__all__ = [
    "BatchSummary",
    "Progress",
    "RowCounts",
    "RunStopped",
    "ScoredRow",
    "TunerSettings",
    "score_file",
    "score_file_async",
    "score_frame",
    "score_frame_async",
    "score_stream",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
