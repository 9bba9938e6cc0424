"""The one in-flight budget of a Spark scoring run, and its split over the cluster's task slots.

Azure answers 429 once more than ``2 x max_concurrent_requests_per_instance x instance_count`` requests are pending
at an endpoint. A Spark job runs one scoring task per slot, each with its own connection pool and no way to talk to
the others, so the budget is divided up front: each task may keep ``budget // slots`` requests in flight (at least
one). Spark never runs more tasks at once than it has slots (a speculative copy takes a slot too), so together they
stay within the budget.

When there are more slots than the budget allows requests, one request per task would already be too many:
:func:`plan_budget` then also says how many partitions to cut the input into (``budget`` of them), so that no more
than ``budget`` scoring tasks exist. Speculative copies can still add a request each in that case; see
``score_spark``'s docstring. A task whose Python worker dies leaves its requests at the endpoint until they are
answered; its re-run may overlap them for that long.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from bankmarketing_client.errors import ConfigurationError

# One definition, shared with the batch scorer; re-exported here, where Spark users found it first.
from bankmarketing_client.limits import EndpointLimits, checked_pending_limit, pending_limit

__all__ = ["BudgetPlan", "EndpointLimits", "pending_limit", "plan_budget", "resolve_budget"]

logger = logging.getLogger("bankmarketing_client.spark")

#: Azure's defaults for a managed online deployment: one request per instance at a time, one instance.
DEFAULT_MAX_CONCURRENT_REQUESTS_PER_INSTANCE: Final = 1
DEFAULT_INSTANCE_COUNT: Final = 1


def resolve_budget(max_in_flight: int | None, limits: EndpointLimits | None) -> int:
    """The run's global limit: ``max_in_flight`` if given, else ``limits``' pending limit (Azure's rule for its
    settings), else Azure's rule for a default deployment (one instance, one request at a time: 2), safe but slow."""
    if max_in_flight is not None:
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise ConfigurationError(f"max_in_flight must be a whole number of at least 1, not {max_in_flight!r}")
        return max_in_flight
    if limits is not None:
        return checked_pending_limit(limits)
    budget = pending_limit(DEFAULT_MAX_CONCURRENT_REQUESTS_PER_INSTANCE, DEFAULT_INSTANCE_COUNT)
    logger.warning(
        "the endpoint's request settings are unknown: keeping %d requests in flight (Azure's default deployment); "
        "pass max_in_flight or the deployment's limits to go faster",
        budget,
    )
    return budget


@dataclass(frozen=True)
class BudgetPlan:
    """How a budget is spent: ``per_task`` requests in flight per scoring task, at most ``max_tasks`` tasks
    (``None``: as many as there are slots), so that ``per_task x concurrent tasks <= budget``."""

    budget: int
    slots: int
    per_task: int
    max_tasks: int | None

    @property
    def peak(self) -> int:
        """The most requests the run can have in flight at once (speculative copies aside)."""
        tasks = self.slots if self.max_tasks is None else min(self.slots, self.max_tasks)
        return self.per_task * tasks


def plan_budget(budget: int, slots: int) -> BudgetPlan:
    """Split ``budget`` over ``slots`` concurrent tasks (``slots`` from the SparkContext's default parallelism)."""
    if budget < 1 or slots < 1:
        raise ConfigurationError(f"the budget ({budget}) and task slots ({slots}) must each be at least 1")
    if slots > budget:
        return BudgetPlan(budget, slots, per_task=1, max_tasks=budget)
    return BudgetPlan(budget, slots, per_task=budget // slots, max_tasks=None)
