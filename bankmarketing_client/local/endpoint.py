"""``LocalEndpoint``: the deployed endpoint, locally. The real scoring container behind Azure's front layer.

Child processes: one real ``azmlinfsrv`` (gunicorn + Flask) per deployment, running our entry script with that
deployment's model on a private loopback port, and the front (:mod:`.front`) that clients talk to. All die with
this process. By default one deployment, ``blue``, takes all traffic (a single-deployment endpoint, as v1 services are).
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import string
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from bankmarketing_client.local.faults import FaultSpec
from bankmarketing_client.local.front import CONFIG_ENV, READY_PREFIX, STATS_PATH, TRAFFIC_PATH, FrontConfig
from bankmarketing_client.local.limits import DEFAULT_LIMITS, Deployment, FrontLimits, Routing, parse_deployment
from bankmarketing_client.local.process import ChildProcess, LocalEndpointError, free_port, port_in_use
from bankmarketing_client.local.tokens import DEFAULT_LIFETIME_S, TokenIssuer, new_secret
from bankmarketing_client.urls import is_loopback

#: A contract family the local endpoint serves: one of :func:`bankmarketing_client.contracts.served_locally`.
Contract = str
AuthMode = Literal["key", "aml_token"]


def entry_script(contract: str) -> Path:
    """The entry script of ``contract``'s scoring branch (the registry's pointer), found without importing it."""
    from importlib.util import find_spec

    from bankmarketing_client.contracts import get

    module = get(contract).local_entry
    spec = find_spec(module) if module else None
    if spec is None or spec.origin is None:
        raise LocalEndpointError(f"the local endpoint has no scoring branch for the {contract!r} contract")
    return Path(spec.origin)


def _model_hook(contract: str) -> Callable[[str | Path | None, Deployment], tuple[Path, dict[str, str]]]:
    """The registry's ``module:function`` that prepares one deployment's model folder for ``contract``."""
    from importlib import import_module

    from bankmarketing_client.contracts import get

    pointer = get(contract).local_model or "bankmarketing_client.local.model:prepare"
    module, _, function = pointer.partition(":")
    hook: Callable[[str | Path | None, Deployment], tuple[Path, dict[str, str]]] = getattr(
        import_module(module), function
    )
    return hook


_KEY_ALPHABET = string.ascii_letters + string.digits


def generate_key() -> str:
    """A 256-bit random key of letters and digits, like Azure's.

    Not ``token_urlsafe``: its keys can start with ``-``, which a command line then reads as an option
    (``--api-key -Vj...`` fails and echoes the key in the parser's error).
    """
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(43))


class LocalEndpoint:
    """Start with ``with LocalEndpoint() as ep:``; talk to ``ep.scoring_uri`` with ``ep.primary_key``.

    ``port=0`` picks a free port. The front's limits (``request_timeout_ms``, ``max_pending``, ...) are
    :class:`~.limits.FrontLimits`' fields and defaults, kept in ``limits``. ``model_delay_ms`` makes every prediction
    slow (for timeout tests); ``faults`` injects failures at the front. Keys are generated when not given and never printed.

    Several deployments: ``deployments=["blue", "green"]`` (or :class:`~.limits.Deployment` objects, or strings
    ``"green=balanced,request_timeout_ms=300"``: the limit keywords above are each one's defaults), ``traffic=
    {"blue": 90, "green": 10}``, ``mirror={"green": 20}``, ``routing_seed`` for the split's RNG. Counters per
    deployment: :meth:`deployment_stats`. ``auth_mode="aml_token"`` makes the front accept tokens from
    :meth:`get_token` (lifetime ``token_lifetime_s``, refresh after ``token_refresh_after_s``) instead of keys.

    The admin routes (:meth:`stats`, :meth:`set_traffic`: Azure's management plane, not its scoring surface) take
    :attr:`admin_key`, generated unless given: no scoring key or token opens them.
    """

    def __init__(
        self,
        *,
        contract: Contract = "inputs",
        host: str = "127.0.0.1",
        port: int = 0,
        primary_key: str | None = None,
        secondary_key: str | None = None,
        admin_key: str | None = None,
        request_timeout_ms: int = DEFAULT_LIMITS.request_timeout_ms,
        max_concurrent_requests_per_instance: int = DEFAULT_LIMITS.max_concurrent_requests_per_instance,
        max_pending: int | None = DEFAULT_LIMITS.max_pending,
        max_body_bytes: int = DEFAULT_LIMITS.max_body_bytes,
        header_timeout_ms: int = DEFAULT_LIMITS.header_timeout_ms,
        faults: FaultSpec | None = None,
        deployments: Sequence[Deployment | str] | None = None,
        traffic: Mapping[str, int] | None = None,
        mirror: Mapping[str, int] | None = None,
        routing_seed: int = 0,
        auth_mode: AuthMode = "key",
        token_lifetime_s: float = DEFAULT_LIFETIME_S,
        token_refresh_after_s: float | None = None,
        model_delay_ms: float = 0,
        worker_count: int = 2,
        data_path: str | Path | None = None,
        log_dir: str | Path | None = None,
        startup_timeout: float = 90.0,
    ) -> None:
        from bankmarketing_client.contracts import served_locally

        if contract not in served_locally():
            raise LocalEndpointError(f"contract must be one of {', '.join(served_locally())}, not {contract!r}")
        if not is_loopback(host):
            raise LocalEndpointError(
                f"the local endpoint listens on loopback only (127.0.0.0/8, ::1 or localhost), not {host!r}: "
                "it serves a model for tests and development, not for a network"
            )
        if not 0 <= port <= 65535:
            raise LocalEndpointError(f"port must be within 0..65535 (0 picks a free one), not {port}")
        self.contract: Contract = contract
        self.host = host
        self.port = port
        self._primary_key = primary_key or generate_key()
        self._secondary_key = secondary_key or generate_key()
        self._admin_key = admin_key or generate_key()
        base = FrontLimits(
            request_timeout_ms=request_timeout_ms,
            max_concurrent_requests_per_instance=max_concurrent_requests_per_instance,
            max_pending=max_pending,
            max_body_bytes=max_body_bytes,
            header_timeout_ms=header_timeout_ms,
        )
        if auth_mode not in ("key", "aml_token"):
            raise LocalEndpointError(f"auth_mode must be key or aml_token, not {auth_mode!r}")
        if auth_mode == "aml_token" and (primary_key or secondary_key):
            raise LocalEndpointError("keys apply to auth_mode='key' only; an aml_token endpoint accepts tokens")
        try:
            specs = [parse_deployment(d, base) if isinstance(d, str) else d for d in deployments or ["blue"]]
            self.routing = Routing(
                deployments=tuple(specs),
                traffic=dict(traffic) if traffic is not None else None,
                mirror=dict(mirror) if mirror is not None else None,
                seed=routing_seed,
            )
            self._tokens = TokenIssuer(new_secret(), token_lifetime_s, token_refresh_after_s)
        except ValueError as exc:
            raise LocalEndpointError(str(exc)) from None
        self.auth_mode: AuthMode = auth_mode
        #: The endpoint-wide limits (the first deployment's; each deployment's are in ``routing``).
        self.limits = self.routing.deployments[0].limits
        self.faults = faults or FaultSpec()
        self.model_delay_ms = model_delay_ms
        self.worker_count = worker_count
        self.data_path = data_path
        # A folder we make is removed on stop; one the caller names is theirs to keep.
        self._log_dir_given = Path(log_dir) if log_dir else None
        self._log_dir_made: Path | None = None
        self.log_dir = self._log_dir_given or Path(tempfile.gettempdir())
        self.startup_timeout = startup_timeout
        self.containers: dict[str, ChildProcess] = {}
        self.container_ports: dict[str, int] = {}
        self._model_env: dict[str, dict[str, str]] = {}
        self.front: ChildProcess | None = None

    def __repr__(self) -> str:
        state = f"{self.base_url}" if self.front else "stopped"
        names = ", ".join(d.name for d in self.routing.deployments)
        return f"LocalEndpoint(contract={self.contract!r}, deployments=[{names}], {state})"

    # -- public surface -----------------------------------------------------------------------------------------
    @property
    def primary_key(self) -> str:
        return self._primary_key

    @property
    def secondary_key(self) -> str:
        return self._secondary_key

    @property
    def admin_key(self) -> str:
        """The key of the admin routes (counters, traffic changes); scoring keys and tokens do not open them."""
        return self._admin_key

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def scoring_uri(self) -> str:
        return f"{self.base_url}/score"

    @property
    def swagger_uri(self) -> str:
        return f"{self.base_url}/swagger.json"

    @property
    def deployment_names(self) -> list[str]:
        return [d.name for d in self.routing.deployments]

    @property
    def container(self) -> ChildProcess | None:
        """The first deployment's container (the only one by default)."""
        return self.containers.get(self.deployment_names[0])

    @property
    def container_port(self) -> int | None:
        return self.container_ports.get(self.deployment_names[0])

    @property
    def container_url(self) -> str:
        """The container itself, with no auth and none of the front's behaviour (for tests and benchmarks)."""
        return self.deployment_url(self.deployment_names[0])

    def deployment_url(self, name: str) -> str:
        """One deployment's container, bypassing the front."""
        return f"http://127.0.0.1:{self.container_ports[name]}"

    def _stats(self) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the local endpoint's own URL
            self.base_url + STATS_PATH, headers={"Authorization": f"Bearer {self._admin_key}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            data: dict[str, Any] = json.load(response)
        return data

    def stats(self) -> dict[str, int]:
        """What the front has seen so far, all deployments together (requests, 401, 424, injected faults, ...)."""
        return {k: v for k, v in self._stats().items() if isinstance(v, int)}

    def deployment_stats(self) -> dict[str, dict[str, int]]:
        """Each deployment's own counters: requests routed to it, its 200/408/424/429, mirrored copies, pending."""
        deployments: dict[str, dict[str, int]] = self._stats()["deployments"]
        return deployments

    def set_traffic(self, traffic: Mapping[str, int] | None = None, mirror: Mapping[str, int] | None = None) -> None:
        """Change the live split and/or the mirror while serving, as ``az ml online-endpoint update --traffic``
        (``--mirror-traffic``) does: the one given replaces that split whole, the one left as None stays as it is
        (``mirror={"green": 0}`` ends a mirror). Checked by the same rules as at start (LocalEndpointError naming
        what is wrong)."""
        answer = put_traffic(self.base_url, self._admin_key, traffic, mirror)
        self.routing = Routing(self.routing.deployments, answer["traffic"], answer["mirror"] or None, self.routing.seed)

    def get_token(self, lifetime_s: float | None = None) -> dict[str, Any]:
        """A new token for an ``aml_token`` endpoint, shaped as Azure's ``get_keys`` returns it: ``accessToken``,
        ``tokenType``, ``expiryTimeUtc`` and ``refreshAfterTimeUtc`` (seconds since the epoch).

        ``lifetime_s`` shortens this one token's life (to watch it expire); by default the endpoint's own.
        """
        if self.auth_mode != "aml_token":
            raise LocalEndpointError("this endpoint uses key auth; tokens are issued for auth_mode='aml_token' only")
        try:
            return self._tokens.issue(lifetime_s)
        except ValueError as exc:
            raise LocalEndpointError(str(exc)) from None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.front is not None:
            return
        if self.port and port_in_use(self.host, self.port):
            raise LocalEndpointError(f"port {self.port} on {self.host} is already in use; choose another or use 0")
        # DatasetError, with its own clear message, if no data. Each variant is trained once and cached.
        prepare = _model_hook(self.contract)
        try:
            prepared = {d.name: prepare(self.data_path, d) for d in self.routing.deployments}
        except ValueError as exc:
            raise LocalEndpointError(str(exc)) from None
        model_dirs = {name: model_dir for name, (model_dir, _) in prepared.items()}
        self._model_env = {name: env for name, (_, env) in prepared.items()}
        if self._log_dir_given is None:
            self.log_dir = self._log_dir_made = Path(tempfile.mkdtemp(prefix="bankmarketing-local-"))
        else:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_containers(model_dirs)
            self._start_front()
        except BaseException:
            self.stop()
            raise

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "BANKMARKETING_FRONT"))}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _start_containers(self, model_dirs: Mapping[str, Path]) -> None:
        """Start every deployment's container at once, then wait for all (each takes seconds to boot)."""
        for name, model_dir in model_dirs.items():
            self._spawn_container(name, model_dir)
        with ThreadPoolExecutor(max_workers=len(model_dirs)) as pool:
            for future in [pool.submit(self._await_container, name) for name in model_dirs]:
                future.result()

    def _spawn_container(self, name: str, model_dir: Path) -> None:
        port = self.container_ports[name] = free_port()
        script = entry_script(self.contract)
        env = self._child_env()
        env.update(
            {
                "BANKMARKETING_CONTRACT": self.contract,
                "BANKMARKETING_MODEL_DELAY_MS": str(self.model_delay_ms),
                "OMP_NUM_THREADS": "1",
                "AML_APP_ROOT": str(script.parent),
                **self._model_env.get(name, {}),
            }
        )
        argv = [
            sys.executable, "-m", "bankmarketing_client.local.container_main",
            "--entry_script", str(script), "--model_dir", str(model_dir),
            "--port", str(port), "--worker_count", str(self.worker_count),
        ]  # fmt: skip
        # The first deployment keeps the log name of the one-deployment endpoint.
        log_name = "container.log" if name == self.deployment_names[0] else f"container-{name}.log"
        self.containers[name] = ChildProcess("container", argv, env, self.log_dir / log_name, self.log_dir)

    def _await_container(self, name: str) -> None:
        container = self.containers[name]
        which = "the scoring container" if len(self.containers) == 1 else f"deployment {name}'s scoring container"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not container.alive():
                raise LocalEndpointError(
                    f"{which} exited during start-up (code {container.proc.returncode}); "
                    f"the last lines of its log:\n{container.log_tail()}"
                )
            if _healthy(self.deployment_url(name)):
                return
            time.sleep(0.2)
        raise LocalEndpointError(f"{which} was not healthy after {self.startup_timeout:.0f} s")

    def _start_front(self) -> None:
        config = FrontConfig(
            upstreams={name: self.deployment_url(name) for name in self.deployment_names},
            primary_key=self._primary_key,
            secondary_key=self._secondary_key,
            host=self.host,
            port=self.port,
            routing=self.routing,
            faults=self.faults,
            auth_mode=self.auth_mode,
            token_secret=self._tokens.secret if self.auth_mode == "aml_token" else "",
            admin_key=self._admin_key,
        )
        env = self._child_env()
        env[CONFIG_ENV] = config.to_json()  # keys and the token secret travel in the environment, never in argv
        argv = [sys.executable, "-m", "bankmarketing_client.local.front"]
        self.front = ChildProcess("front", argv, env, self.log_dir / "front.log", self.log_dir)
        line = _read_line(self.front, timeout=30.0)
        if not line.startswith(READY_PREFIX):
            detail = line.removeprefix("FRONT ERROR ").strip() or self.front.log_tail()
            raise LocalEndpointError(f"the front did not start: {detail}")
        self.port = int(line[len(READY_PREFIX) :])

    def stop(self) -> None:
        """Stop the front, then the container; idempotent. No process of ours is left afterwards."""
        for child in (self.front, *self.containers.values()):
            if child is not None:
                child.stop()
        if self._log_dir_made is not None:
            shutil.rmtree(self._log_dir_made, ignore_errors=True)
            self._log_dir_made = None
        self.front = None
        self.containers = {}

    def kill_container(self, deployment: str | None = None) -> None:
        """Kill a deployment's scoring container (default: the first) abruptly, leaving the front up (502/503)."""
        container = self.containers.get(deployment or self.deployment_names[0])
        if container is not None:
            container.kill()

    def children(self) -> list[ChildProcess]:
        """The processes that must stay alive: the front and every container."""
        return [c for c in (self.front, *self.containers.values()) if c is not None]

    def pids(self) -> list[int]:
        return [c.pid for c in self.children()]


def put_traffic(
    base_url: str,
    admin_key: str,
    traffic: Mapping[str, int] | None = None,
    mirror: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """PUT a new split to a running local endpoint's front with its admin key; its answer (the split in force), or
    LocalEndpointError with the front's one-line reason. Only what is given is sent: the other split stays."""
    update = {name: dict(value) for name, value in (("traffic", traffic), ("mirror", mirror)) if value is not None}
    if not update:
        raise LocalEndpointError("a traffic update needs a new traffic split, a new mirror, or both")
    body = json.dumps(update).encode()
    request = urllib.request.Request(  # noqa: S310 - the local endpoint's own URL
        base_url + TRAFFIC_PATH,
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {admin_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            answer: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            message = json.load(exc).get("message", "")
        except ValueError:
            message = ""
        raise LocalEndpointError(f"the endpoint refused the new traffic ({exc.code}): {message}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LocalEndpointError(f"cannot reach the local endpoint at {base_url}: {reason}") from None
    return answer


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/", timeout=2) as response:  # noqa: S310 - loopback only
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _read_line(child: ChildProcess, timeout: float) -> str:
    """The front's first line on stdout: ready (with its port) or an error."""
    stdout = child.proc.stdout
    assert stdout is not None
    ready, _, _ = select.select([stdout], [], [], timeout)
    if not ready:
        return ""
    return stdout.readline().decode("utf-8", "replace").strip()
