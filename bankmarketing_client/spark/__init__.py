"""Batch scoring on Apache Spark: ``score_spark(df, ...)`` (needs the ``spark`` extra and a Java 17+ runtime).

Names are imported on first use, so importing this package does not import pyspark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bankmarketing_client._lazy import lazy_exports

if TYPE_CHECKING:
    from bankmarketing_client.spark.budget import BudgetPlan, EndpointLimits, pending_limit, plan_budget
    from bankmarketing_client.spark.scoring import score_spark

_EXPORTS = {
    "BudgetPlan": "bankmarketing_client.spark.budget",
    "EndpointLimits": "bankmarketing_client.spark.budget",
    "pending_limit": "bankmarketing_client.spark.budget",
    "plan_budget": "bankmarketing_client.spark.budget",
    "score_spark": "bankmarketing_client.spark.scoring",
}
__all__ = ["BudgetPlan", "EndpointLimits", "pending_limit", "plan_budget", "score_spark"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
