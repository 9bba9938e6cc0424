"""Starting and stopping the local endpoint: process trees, clear start-up errors, the CLI and the pytest plugin."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from bankmarketing_client.errors import DatasetError
from bankmarketing_client.local import LocalEndpoint, LocalEndpointError
from bankmarketing_client.local.front import FrontConfig
from bankmarketing_client.local.limits import FrontLimits


def _descendants(pid: int) -> set[int]:
    """All live descendants of ``pid``, from /proc (gunicorn's workers are the container's children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_stop_leaves_no_process_behind() -> None:
    endpoint = LocalEndpoint(contract="inputs", worker_count=2)
    endpoint.start()
    tree = set(endpoint.pids())
    for pid in endpoint.pids():
        tree |= _descendants(pid)
    assert len(tree) >= 4  # front, azmlinfsrv master and its two workers
    endpoint.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in tree):
        time.sleep(0.1)
    assert not [pid for pid in tree if _alive(pid)]
    endpoint.stop()  # idempotent


def test_port_in_use_is_one_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LocalEndpointError, match=f"port {port} on 127.0.0.1 is already in use"):
            LocalEndpoint(port=port).start()


def test_missing_dataset_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        LocalEndpoint(data_path=tmp_path / "missing.csv").start()


def test_container_that_fails_to_boot_says_why() -> None:
    endpoint = LocalEndpoint(worker_count=0)  # gunicorn refuses to run without workers
    with pytest.raises(LocalEndpointError, match="scoring container exited during start-up") as info:
        endpoint.start()
    assert "the last lines of its log" in str(info.value)
    assert endpoint.front is None
    assert endpoint.container is None


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.org"])
def test_only_loopback_is_served(host: str) -> None:
    with pytest.raises(LocalEndpointError, match="loopback only"):
        LocalEndpoint(host=host)


def test_logs_are_removed_on_stop_unless_a_folder_was_named(tmp_path: Path) -> None:
    with LocalEndpoint() as endpoint:
        made = endpoint.log_dir
        assert (made / "container.log").is_file()
    assert not made.exists()
    kept = tmp_path / "logs"
    with LocalEndpoint(log_dir=kept):
        pass
    assert (kept / "front.log").is_file()
    assert (kept / "container.log").is_file()


def test_unknown_contract_is_refused() -> None:
    with pytest.raises(LocalEndpointError, match="contract must be one of"):
        LocalEndpoint(contract="csv")


def test_limits_are_one_description_shared_by_endpoint_front_and_cli() -> None:
    """LocalEndpoint's keywords fill FrontLimits; the front's JSON config carries them; the CLI shows its defaults."""
    endpoint = LocalEndpoint(request_timeout_ms=400, max_pending=3, header_timeout_ms=1500)
    assert endpoint.limits == FrontLimits(request_timeout_ms=400, max_pending=3, header_timeout_ms=1500)
    assert endpoint.limits.pending_limit == 3
    assert LocalEndpoint().limits == FrontLimits()
    assert FrontLimits(max_concurrent_requests_per_instance=3, instance_count=2).pending_limit == 12
    assert endpoint.routing.deployments[0].limits is endpoint.limits  # the one deployment carries them
    config = FrontConfig(
        upstreams={"blue": "http://127.0.0.1:1"}, primary_key="p", secondary_key="s", routing=endpoint.routing
    )
    assert FrontConfig.from_json(config.to_json()) == config
    help_text = subprocess.run(
        [sys.executable, "-m", "bankmarketing_client.cli", "local", "serve", "--help"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    defaults = FrontLimits()
    for shown in (defaults.request_timeout_ms, defaults.max_body_bytes, defaults.header_timeout_ms):
        assert f"(default: {shown})" in " ".join(help_text.split())


@pytest.mark.parametrize(
    "flag",
    ["--request-timeout-ms", "--max-concurrent-requests", "--max-pending", "--max-body-bytes", "--header-timeout-ms"],
)
def test_a_limit_under_which_nothing_works_is_refused_at_start(flag: str) -> None:
    """0 ms to answer, 0 bytes of body, no pending slot: one line and exit 2, before anything starts."""
    done = subprocess.run(
        [sys.executable, "-m", "bankmarketing_client.cli", "local", "serve", flag, "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"argument {flag}: must be at least 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_front_limits_refuse_what_cannot_work_from_python_too() -> None:
    with pytest.raises(ValueError, match="header_timeout_ms must be at least 1, got -5"):
        LocalEndpoint(header_timeout_ms=-5)
    assert FrontLimits(max_pending=None).pending_limit == 4  # None is Azure's rule, not a refused value


def _read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    """Read the raw pipe (not a buffered reader, which would hide lines from select) until ``marker``."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
    return seen.decode()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serve_runs_until_signalled(stop_signal: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bankmarketing_client.cli", "local", "serve", "--contract", "data",
         "--primary-key", "k-primary-123", "--secondary-key", "k-secondary-456"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        out = _read_until(proc, "ready", 90)
        assert "ready" in out, out
        uri = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("scoring URI"))
        assert "/swagger.json" in out
        assert "k-primary-123" not in out  # a key the user chose is never echoed
        tree = {proc.pid} | _descendants(proc.pid)
        response = httpx.post(uri, json={"data": []}, headers={"Authorization": "Bearer k-secondary-456"}, timeout=30)
        assert response.status_code == 424  # empty data: the container's 500, through the front
        proc.send_signal(stop_signal)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in tree):
        time.sleep(0.1)
    assert not [pid for pid in tree if _alive(pid)]
    assert proc.stderr is not None
    assert b"k-secondary-456" not in proc.stderr.read()


def test_cli_generated_key_is_shown_once() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bankmarketing_client.cli", "local", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out = _read_until(proc, "ready", 90)
        key_lines = [line for line in out.splitlines() if "primary key" in line]
        assert len(key_lines) == 1
        key = key_lines[0].rsplit(" ", 1)[1]
        uri = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("scoring URI"))
        body: dict[str, object] = {"Inputs": {"data": []}}
        assert httpx.post(uri, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code == 424
        proc.terminate()
        assert proc.wait(30) == 0
        assert proc.stdout is not None
        assert key not in proc.stdout.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_port_in_use_is_one_line_not_a_traceback() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = subprocess.run(
            [sys.executable, "-m", "bankmarketing_client.cli", "local", "serve", "--port", str(busy.getsockname()[1])],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 2
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_pytest_plugin_serves_downstream_suites(tmp_path: Path) -> None:
    """A downstream project's test, using only the installed plugin's fixture, in a pytest of its own."""
    test_file = tmp_path / "test_downstream.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import httpx

            def test_scores(bankmarketing_endpoint):
                ep = bankmarketing_endpoint
                assert httpx.get(ep.base_url + "/", timeout=10).text == "Healthy"
                r = httpx.post(ep.scoring_uri, json={"Inputs": {"data": []}},
                               headers={"Authorization": "Bearer " + ep.primary_key}, timeout=30)
                assert r.status_code == 424
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_generated_keys_are_strong_and_safe_on_a_command_line() -> None:
    from bankmarketing_client.local import generate_key

    keys = {generate_key() for _ in range(2000)}
    assert len(keys) == 2000
    assert all(len(k) == 43 and k.isalnum() for k in keys)  # never a leading '-' that argv parsers take for an option
