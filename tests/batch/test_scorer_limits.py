"""``limits=`` on ``score_frame``: a known pending limit is where concurrency starts and its ceiling.

Against a real local endpoint whose front answers 429 past ``2 x 1 x 1 = 2`` pending requests, as Azure would for
a deployment with ``max_concurrent_requests_per_instance=1``: the tuner's own start (3) goes past it, the endpoint's
limit does not. The file entry point is covered through the CLI (tests/azureml/test_v2_settings_file.py); ``score_stream``
builds its tuner the same way (``tuner_settings``) and is not run here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bankmarketing_client.batch import score_frame
from bankmarketing_client.data import read_frame
from bankmarketing_client.local.endpoint import LocalEndpoint
from bankmarketing_client.local.pytest_plugin import EndpointFactory


@pytest.fixture(scope="module")
def narrow(bankmarketing_endpoint_factory: EndpointFactory) -> LocalEndpoint:
    # The model's delay keeps requests pending long enough for a third one to meet the 429 rule.
    return bankmarketing_endpoint_factory(max_concurrent_requests_per_instance=1, model_delay_ms=100, worker_count=1)


def test_score_frame_with_the_endpoints_limits_sends_no_request_past_them(
    narrow: LocalEndpoint, train_path: Path
) -> None:
    frame = read_frame(train_path).head(400)
    limits = narrow.limits
    assert limits.pending_limit == 2

    scored = score_frame(
        frame, scoring_uri=narrow.scoring_uri, api_key=narrow.primary_key, batch_size=20, limits=limits
    )

    assert scored["prediction"].notna().all()
    stats = narrow.stats()
    assert stats.get("429", 0) == 0
    assert stats["in_flight_peak"] == 2  # twenty requests, never more than the limit at once, and the limit reached
