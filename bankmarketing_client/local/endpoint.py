"""``LocalEndpoint``: the deployed endpoint, locally. The real scoring container behind Azure's front layer.

Two child processes: the real ``azmlinfsrv`` (gunicorn + Flask) running our entry script on a private loopback
port, and the front (:mod:`.front`) that clients talk to. Both die with this process.
"""

from __future__ import annotations

import ipaddress
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
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from bankmarketing_client.local.faults import FaultSpec
from bankmarketing_client.local.front import CONFIG_ENV, READY_PREFIX, STATS_PATH, FrontConfig
from bankmarketing_client.local.limits import DEFAULT_LIMITS, FrontLimits
from bankmarketing_client.local.process import ChildProcess, LocalEndpointError, free_port, port_in_use

Contract = Literal["inputs", "data"]
CONTRACTS: tuple[Contract, ...] = ("inputs", "data")
SCORE_SCRIPT = Path(__file__).with_name("score.py")


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
    """

    def __init__(
        self,
        *,
        contract: Contract = "inputs",
        host: str = "127.0.0.1",
        port: int = 0,
        primary_key: str | None = None,
        secondary_key: str | None = None,
        request_timeout_ms: int = DEFAULT_LIMITS.request_timeout_ms,
        max_concurrent_requests_per_instance: int = DEFAULT_LIMITS.max_concurrent_requests_per_instance,
        max_pending: int | None = DEFAULT_LIMITS.max_pending,
        max_body_bytes: int = DEFAULT_LIMITS.max_body_bytes,
        header_timeout_ms: int = DEFAULT_LIMITS.header_timeout_ms,
        faults: FaultSpec | None = None,
        model_delay_ms: float = 0,
        worker_count: int = 2,
        data_path: str | Path | None = None,
        log_dir: str | Path | None = None,
        startup_timeout: float = 90.0,
    ) -> None:
        if contract not in CONTRACTS:
            raise LocalEndpointError(f"contract must be one of {', '.join(CONTRACTS)}, not {contract!r}")
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
        self.limits = FrontLimits(
            request_timeout_ms=request_timeout_ms,
            max_concurrent_requests_per_instance=max_concurrent_requests_per_instance,
            max_pending=max_pending,
            max_body_bytes=max_body_bytes,
            header_timeout_ms=header_timeout_ms,
        )
        self.faults = faults or FaultSpec()
        self.model_delay_ms = model_delay_ms
        self.worker_count = worker_count
        self.data_path = data_path
        # A folder we make is removed on stop; one the caller names is theirs to keep.
        self._log_dir_given = Path(log_dir) if log_dir else None
        self._log_dir_made: Path | None = None
        self.log_dir = self._log_dir_given or Path(tempfile.gettempdir())
        self.startup_timeout = startup_timeout
        self.container: ChildProcess | None = None
        self.front: ChildProcess | None = None
        self.container_port: int | None = None

    def __repr__(self) -> str:
        state = f"{self.base_url}" if self.front else "stopped"
        return f"LocalEndpoint(contract={self.contract!r}, {state})"

    # -- public surface -----------------------------------------------------------------------------------------
    @property
    def primary_key(self) -> str:
        return self._primary_key

    @property
    def secondary_key(self) -> str:
        return self._secondary_key

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
    def container_url(self) -> str:
        """The container itself, with no auth and none of the front's behaviour (for tests and benchmarks)."""
        return f"http://127.0.0.1:{self.container_port}"

    def stats(self) -> dict[str, int]:
        """What the front has seen so far (requests, 401, 424, injected faults, ...)."""
        with urllib.request.urlopen(self.base_url + STATS_PATH, timeout=5) as response:  # noqa: S310 - loopback
            data: dict[str, int] = json.load(response)
        return data

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
        from bankmarketing_client.local.model import ensure_model_dir

        model_dir = ensure_model_dir(self.data_path)  # DatasetError, with its own clear message, if no data
        if self._log_dir_given is None:
            self.log_dir = self._log_dir_made = Path(tempfile.mkdtemp(prefix="bankmarketing-local-"))
        else:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_container(model_dir)
            self._start_front()
        except BaseException:
            self.stop()
            raise

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "BANKMARKETING_FRONT"))}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _start_container(self, model_dir: Path) -> None:
        self.container_port = free_port()
        env = self._child_env()
        env.update(
            {
                "BANKMARKETING_CONTRACT": self.contract,
                "BANKMARKETING_MODEL_DELAY_MS": str(self.model_delay_ms),
                "OMP_NUM_THREADS": "1",
                "AML_APP_ROOT": str(SCORE_SCRIPT.parent),
            }
        )
        argv = [
            sys.executable, "-m", "bankmarketing_client.local.container_main",
            "--entry_script", str(SCORE_SCRIPT), "--model_dir", str(model_dir),
            "--port", str(self.container_port), "--worker_count", str(self.worker_count),
        ]  # fmt: skip
        self.container = ChildProcess("container", argv, env, self.log_dir / "container.log", self.log_dir)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.container.alive():
                raise LocalEndpointError(
                    f"the scoring container exited during start-up (code {self.container.proc.returncode}); "
                    f"the last lines of its log:\n{self.container.log_tail()}"
                )
            if _healthy(self.container_url):
                return
            time.sleep(0.2)
        raise LocalEndpointError(f"the scoring container was not healthy after {self.startup_timeout:.0f} s")

    def _start_front(self) -> None:
        config = FrontConfig(
            upstream=self.container_url,
            primary_key=self._primary_key,
            secondary_key=self._secondary_key,
            host=self.host,
            port=self.port,
            limits=self.limits,
            faults=self.faults,
        )
        env = self._child_env()
        env[CONFIG_ENV] = config.to_json()  # keys travel in the environment, never in argv
        argv = [sys.executable, "-m", "bankmarketing_client.local.front"]
        self.front = ChildProcess("front", argv, env, self.log_dir / "front.log", self.log_dir)
        line = _read_line(self.front, timeout=30.0)
        if not line.startswith(READY_PREFIX):
            detail = line.removeprefix("FRONT ERROR ").strip() or self.front.log_tail()
            raise LocalEndpointError(f"the front did not start: {detail}")
        self.port = int(line[len(READY_PREFIX) :])

    def stop(self) -> None:
        """Stop the front, then the container; idempotent. No process of ours is left afterwards."""
        for child in (self.front, self.container):
            if child is not None:
                child.stop()
        if self._log_dir_made is not None:
            shutil.rmtree(self._log_dir_made, ignore_errors=True)
            self._log_dir_made = None
        self.front = None
        self.container = None

    def kill_container(self) -> None:
        """Kill the scoring container abruptly, leaving the front up (to test 502/503 handling)."""
        if self.container is not None:
            self.container.kill()

    def pids(self) -> list[int]:
        return [c.pid for c in (self.front, self.container) if c is not None]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
