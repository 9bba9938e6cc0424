"""The in-flight budget: where it comes from and how it is split over Spark's task slots."""

from __future__ import annotations

import logging

import pytest

from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.local.limits import FrontLimits
from bankmarketing_client.spark.budget import BudgetPlan, pending_limit, plan_budget, resolve_budget


def test_azure_pending_rule_from_plain_numbers() -> None:
    assert pending_limit(2, 1) == 4
    assert pending_limit(4, 10) == 80
    with pytest.raises(ConfigurationError, match="at least 1"):
        pending_limit(0, 3)


def test_max_in_flight_wins_then_the_endpoints_limit_then_azures_default(caplog: pytest.LogCaptureFixture) -> None:
    limits = FrontLimits(max_concurrent_requests_per_instance=3, instance_count=5)
    assert resolve_budget(7, limits) == 7
    assert resolve_budget(None, limits) == 30
    with caplog.at_level(logging.WARNING, logger="bankmarketing_client.spark"):
        assert resolve_budget(None, None) == 2
    assert "pass max_in_flight" in caplog.text
    for wrong in (0, -1, True, 2.5):
        with pytest.raises(ConfigurationError, match="max_in_flight"):
            resolve_budget(wrong, limits)  # type: ignore[arg-type]  # what a caller without a type checker may pass


@pytest.mark.parametrize(
    ("budget", "slots", "per_task", "max_tasks", "peak"),
    [
        (4, 2, 2, None, 4),  # the local endpoint's 4 over local[2]
        (80, 16, 5, None, 80),
        (10, 4, 2, None, 8),  # the remainder is left unused rather than exceeded
        (3, 3, 1, None, 3),
        (2, 8, 1, 2, 2),  # more slots than budget: two tasks of one request each
    ],
)
def test_the_budget_is_split_so_the_slots_together_never_exceed_it(
    budget: int, slots: int, per_task: int, max_tasks: int | None, peak: int
) -> None:
    plan = plan_budget(budget, slots)
    assert plan == BudgetPlan(budget, slots, per_task, max_tasks)
    assert plan.peak == peak <= budget


def test_a_budget_or_slot_count_under_one_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least 1"):
        plan_budget(0, 2)
    with pytest.raises(ConfigurationError, match="at least 1"):
        plan_budget(4, 0)
