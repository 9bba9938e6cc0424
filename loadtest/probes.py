"""Health and swagger probes: what monitors and client generators hit (open, no key, as in Azure)."""

from __future__ import annotations

from _common import EndpointUser
from locust import constant, tag, task


class HealthUser(EndpointUser):
    """``GET /`` must answer 200 ``Healthy``."""

    wait_time = constant(0)

    @tag("health")
    @task
    def health_probe(self) -> None:
        self.health()


class SwaggerUser(EndpointUser):
    """``GET /swagger.json`` must answer a swagger that declares the scoring path."""

    wait_time = constant(0)

    @tag("swagger")
    @task
    def swagger_probe(self) -> None:
        self.swagger()
