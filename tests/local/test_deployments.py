"""Several deployments behind one local endpoint: the split, the header, the mirror, 404, and each
deployment's own models, limits and counters. Real containers and a real front on loopback throughout."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankmarketing_client import data
from bankmarketing_client.local import LocalEndpoint, LocalEndpointError
from bankmarketing_client.local.front import DEPLOYMENT_HEADER, NO_ROUTE_MESSAGE, UNKNOWN_DEPLOYMENT_MESSAGE
from bankmarketing_client.local.limits import Deployment, Routing
from bankmarketing_client.local.model import ensure_model_dir, load_model, sample_records

SEED = 7
SPLIT = {"blue": 90, "green": 10}
MIRROR_SHARE = 20


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    frame = data.read_frame(data.resolve_holdout_path(None))
    return sample_records(frame, 40)


@pytest.fixture(scope="module")
def blue_green() -> Iterator[LocalEndpoint]:
    """blue (the model in service) 90 %, green (the balanced model) 10 %, shadow mirrored 20 %."""
    endpoint = LocalEndpoint(
        deployments=["blue", "green", "shadow,max_concurrent_requests_per_instance=4"],
        traffic=SPLIT,
        mirror={"shadow": MIRROR_SHARE},
        routing_seed=SEED,
        max_concurrent_requests_per_instance=4,
        worker_count=1,
    )
    with endpoint:
        yield endpoint


def _body(records: list[dict[str, Any]], method: str = "predict_proba") -> dict[str, Any]:
    return {"Inputs": {"data": records}, "GlobalParameters": {"method": method}}


def _post_many(
    endpoint: LocalEndpoint,
    body: dict[str, Any],
    count: int,
    concurrency: int = 4,
    headers: dict[str, str] | None = None,
) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        limit = asyncio.Semaphore(concurrency)
        auth = {"Authorization": f"Bearer {endpoint.primary_key}", **(headers or {})}
        async with httpx.AsyncClient(headers=auth, timeout=60) as client:

            async def one() -> httpx.Response:
                async with limit:
                    return await client.post(endpoint.scoring_uri, json=body)

            return await asyncio.gather(*(one() for _ in range(count)))

    return asyncio.run(run())


def test_traffic_split_follows_the_weights_and_the_seed(
    blue_green: LocalEndpoint, records: list[dict[str, Any]]
) -> None:
    before = blue_green.deployment_stats()
    count = 1500
    responses = _post_many(blue_green, _body(records[:1], "predict"), count)
    assert {r.status_code for r in responses} == {200}
    served = Counter(r.headers[DEPLOYMENT_HEADER] for r in responses)
    after = blue_green.deployment_stats()
    routed = {name: after[name].get("requests", 0) - before[name].get("requests", 0) for name in SPLIT}
    assert served == routed  # the header names the deployment the counters saw
    # Binomial tolerance: 4 standard deviations around the expected 10 %.
    sd = (count * 0.1 * 0.9) ** 0.5
    assert abs(routed["green"] - count * 0.1) < 4 * sd
    assert "shadow" not in served
    # And exactly what the seeded draw gives (the first draws went to earlier requests of this module, if any).
    rng = random.Random(SEED)
    draws = sum(before[name].get("requests", 0) - before[name].get("by_header", 0) for name in SPLIT)
    for _ in range(draws):
        rng.random()
    expected_green = sum(1 for _ in range(count) if rng.random() * 100 >= SPLIT["blue"])
    assert routed["green"] == expected_green


def test_header_routing_beats_the_split(blue_green: LocalEndpoint, records: list[dict[str, Any]]) -> None:
    for name in ("green", "shadow"):  # shadow has no live traffic: the header reaches it all the same, as in Azure
        responses = _post_many(blue_green, _body(records[:2]), 30, headers={DEPLOYMENT_HEADER: name})
        assert [r.headers[DEPLOYMENT_HEADER] for r in responses] == [name] * 30
        assert {r.status_code for r in responses} == {200}


def test_unknown_deployment_is_404_without_naming_any(blue_green: LocalEndpoint, records: list[dict[str, Any]]) -> None:
    [response] = _post_many(blue_green, _body(records[:1]), 1, headers={DEPLOYMENT_HEADER: "purple"})
    assert response.status_code == 404
    assert response.json() == {"message": UNKNOWN_DEPLOYMENT_MESSAGE}
    assert DEPLOYMENT_HEADER not in response.headers
    assert not any(name in response.text for name in ("purple", "blue", "green", "shadow"))


def test_health_and_swagger_of_an_unknown_deployment_are_404(blue_green: LocalEndpoint) -> None:
    """Answering another deployment's health would tell a caller with a misspelt name that all is well."""
    base = blue_green.scoring_uri.removesuffix("/score")
    with httpx.Client(timeout=10) as http:
        for path in ("/", "/swagger.json"):
            named = http.get(base + path, headers={DEPLOYMENT_HEADER: "green"})
            assert named.status_code == 200
            assert named.headers[DEPLOYMENT_HEADER] == "green"
            unknown = http.get(base + path, headers={DEPLOYMENT_HEADER: "purple"})
            assert unknown.status_code == 404
            assert unknown.json() == {"message": UNKNOWN_DEPLOYMENT_MESSAGE}
            assert DEPLOYMENT_HEADER not in unknown.headers


def test_each_deployment_answers_with_its_own_model(blue_green: LocalEndpoint, records: list[dict[str, Any]]) -> None:
    """green's answers equal the balanced model called in-process; blue's the default model's; they differ."""
    answers = {}
    for name in ("blue", "green"):
        [response] = _post_many(blue_green, _body(records), 1, headers={DEPLOYMENT_HEADER: name})
        assert response.status_code == 200
        answers[name] = response.json()["Results"]
    green_model = load_model(ensure_model_dir(variant="balanced"))
    blue_model = load_model(ensure_model_dir())
    assert answers["green"] == green_model.predict_proba_records(records)
    assert answers["blue"] == blue_model.predict_proba_records(records)
    assert answers["green"] != answers["blue"]


def test_mirror_gets_its_share_and_never_answers_the_caller(
    blue_green: LocalEndpoint, records: list[dict[str, Any]]
) -> None:
    before = blue_green.deployment_stats()["shadow"]
    count = 300
    responses = _post_many(blue_green, _body(records[:1], "predict"), count)
    assert "shadow" not in {r.headers.get(DEPLOYMENT_HEADER) for r in responses}
    shadow = blue_green.deployment_stats()["shadow"]
    copies = shadow.get("mirror_requests", 0) + shadow.get("mirror_dropped", 0)
    copies -= before.get("mirror_requests", 0) + before.get("mirror_dropped", 0)
    sd = (count * 0.2 * 0.8) ** 0.5
    assert abs(copies - count * 0.2) < 4 * sd
    assert shadow.get("requests", 0) == before.get("requests", 0)  # no live request was routed to it


def test_a_dead_mirror_never_fails_the_caller(blue_green: LocalEndpoint, records: list[dict[str, Any]]) -> None:
    """The mirror's answers are discarded: with its container gone, callers still get every answer."""
    blue_green.kill_container("shadow")
    responses = _post_many(blue_green, _body(records[:1], "predict"), 60)
    assert {r.status_code for r in responses} == {200}
    assert blue_green.deployment_stats()["shadow"].get("mirror_failed", 0) >= 1


# -- zero weights, per-deployment 408 and 429 -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def unweighted() -> Iterator[LocalEndpoint]:
    """No live traffic at all; blue has one slot and one pending place, green a 300 ms timeout; the model is slow."""
    endpoint = LocalEndpoint(
        deployments=["blue,max_concurrent_requests_per_instance=1,max_pending=1", "green,request_timeout_ms=300"],
        traffic={"blue": 0, "green": 0},
        model_delay_ms=800,
        worker_count=1,
    )
    with endpoint:
        yield endpoint


def test_no_positive_weight_is_404_unless_the_header_picks(
    unweighted: LocalEndpoint, records: list[dict[str, Any]]
) -> None:
    [response] = _post_many(unweighted, _body(records[:1]), 1)
    assert response.status_code == 404
    assert response.json() == {"message": NO_ROUTE_MESSAGE}
    [picked] = _post_many(unweighted, _body(records[:1]), 1, headers={DEPLOYMENT_HEADER: "blue"})
    assert picked.status_code == 200
    assert picked.headers[DEPLOYMENT_HEADER] == "blue"


def test_timeouts_are_each_deployments_own(unweighted: LocalEndpoint, records: list[dict[str, Any]]) -> None:
    before = unweighted.deployment_stats()
    [green] = _post_many(unweighted, _body(records[:1]), 1, headers={DEPLOYMENT_HEADER: "green"})
    [blue] = _post_many(unweighted, _body(records[:1]), 1, headers={DEPLOYMENT_HEADER: "blue"})
    assert (green.status_code, green.headers[DEPLOYMENT_HEADER]) == (408, "green")
    assert "300 ms" in green.json()["message"]
    assert blue.status_code == 200  # the same slow model, within blue's 5 s
    after = unweighted.deployment_stats()
    assert after["green"].get("408", 0) - before["green"].get("408", 0) == 1
    assert after["blue"].get("408", 0) == before["blue"].get("408", 0)


def test_a_trickled_traffic_update_is_408_and_changes_nothing(unweighted: LocalEndpoint) -> None:
    """An admin that sends the headers of a traffic update and then stalls gets 408 after blue's 5 s request
    timeout (the handler is not held for ever), and the split stays as it was."""
    before = unweighted.stats().get("408", 0)
    head = (
        "PUT /__local/traffic HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {unweighted.admin_key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        '{"traffic": '
    )
    with socket.create_connection(("127.0.0.1", unweighted.port), timeout=30) as sock:
        sock.sendall(head.encode())
        status_line = sock.makefile("rb").readline()
    assert status_line.split()[1] == b"408", status_line
    assert unweighted.stats()["408"] == before + 1
    [response] = _post_many(unweighted, {"Inputs": {"data": []}}, 1)
    assert response.status_code == 404  # still no live traffic


def test_pending_limits_are_each_deployments_own(unweighted: LocalEndpoint, records: list[dict[str, Any]]) -> None:
    """Eight at once at blue (one slot, one pending place, an 800 ms model): the rest are 429, counted for blue only."""
    before = unweighted.deployment_stats()
    responses = _post_many(unweighted, _body(records[:1]), 8, concurrency=8, headers={DEPLOYMENT_HEADER: "blue"})
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] >= 1
    assert statuses[429] >= 1
    assert {r.headers[DEPLOYMENT_HEADER] for r in responses} == {"blue"}
    after = unweighted.deployment_stats()
    assert after["blue"].get("429", 0) - before["blue"].get("429", 0) == statuses[429]
    assert after["green"].get("429", 0) == before["green"].get("429", 0)


def test_traffic_changes_while_serving(unweighted: LocalEndpoint, records: list[dict[str, Any]]) -> None:
    try:
        unweighted.set_traffic({"blue": 100, "green": 0})
        [response] = _post_many(unweighted, _body(records[:1]), 1)
        assert (response.status_code, response.headers[DEPLOYMENT_HEADER]) == (200, "blue")
        with pytest.raises(LocalEndpointError, match=r"\(400\): --traffic must sum to 100 \(or 0 for none\), got 90"):
            unweighted.set_traffic({"blue": 90})
        with pytest.raises(LocalEndpointError, match="a deployment that takes live traffic cannot also be a mirror"):
            unweighted.set_traffic({"blue": 100}, mirror={"blue": 10})
        assert unweighted.routing.live == {"blue": 100, "green": 0}  # a refused update changes nothing
        forged = httpx.put(unweighted.base_url + "/__local/traffic", json={"traffic": {"green": 100}}, timeout=10)
        assert forged.status_code == 401
    finally:
        unweighted.set_traffic({"blue": 0, "green": 0})
    [response] = _post_many(unweighted, _body(records[:1]), 1)
    assert response.status_code == 404


def _put_traffic(endpoint: LocalEndpoint, key: str, body: bytes | dict[str, Any]) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return httpx.put(endpoint.base_url + "/__local/traffic", content=content, headers=headers, timeout=30)


def _still_no_live_traffic(endpoint: LocalEndpoint) -> bool:
    [response] = _post_many(endpoint, {"Inputs": {"data": []}}, 1)
    return response.status_code == 404


def test_no_scoring_key_opens_the_admin_routes(unweighted: LocalEndpoint) -> None:
    """Changing routing or reading the counters is the management plane's job in Azure: the secondary key (or the
    primary) gets 401 there, and the split stays as it was. Only the admin key opens them."""
    for key in (unweighted.secondary_key, unweighted.primary_key):
        refused = _put_traffic(unweighted, key, {"traffic": {"blue": 100, "green": 0}})
        assert refused.status_code == 401, refused.text
        assert "admin key" in refused.json()["message"]
        assert key not in refused.text
        headers = {"Authorization": f"Bearer {key}"}
        assert httpx.get(unweighted.base_url + "/__local/stats", headers=headers, timeout=10).status_code == 401
    assert httpx.get(unweighted.base_url + "/__local/stats", timeout=10).status_code == 401
    assert _still_no_live_traffic(unweighted)
    admin = {"Authorization": f"Bearer {unweighted.admin_key}"}
    counters = httpx.get(unweighted.base_url + "/__local/stats", headers=admin, timeout=10)
    assert counters.status_code == 200
    assert set(counters.json()["deployments"]) == {"blue", "green"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, 413, "at most 65536 bytes", id="100000-deep"),
        pytest.param(b"[" * 20_000 + b"]" * 20_000, 400, "at most 8 levels deep", id="20000-deep"),
        pytest.param(
            b'{"traffic": {"a\\"[[[[[[[[[": 100}}', 400, "which is not a deployment", id="brackets-in-a-string"
        ),
        pytest.param(b"{}", 400, "an empty traffic update changes nothing", id="empty"),
        pytest.param(b'{"Traffic": {"blue": 100}}', 400, "traffic and mirror only, not 'Traffic'", id="misspelt"),
        pytest.param(b'{"traffic": null}', 400, "traffic must be a JSON object", id="null"),
        pytest.param(b"[]", 400, "a traffic update is a JSON object", id="array"),
        pytest.param(
            b'{"traffic": {"blue": 100}, "traffic": {"green": 0}}', 400, "names 'traffic' twice", id="duplicate"
        ),
        pytest.param(b'{"traffic": {"blue": 1' + b"0" * 5000 + b"}}", 400, "", id="huge-number"),
    ],
)
def test_a_malformed_traffic_update_is_4xx_and_changes_nothing(
    unweighted: LocalEndpoint, body: bytes, status: int, message: str
) -> None:
    try:
        refused = _put_traffic(unweighted, unweighted.admin_key, body)
        assert refused.status_code == status, refused.text
        assert message in refused.json()["message"]
        assert _still_no_live_traffic(unweighted)
    finally:
        unweighted.set_traffic({"blue": 0, "green": 0})


def test_a_traffic_update_replaces_what_it_names_and_leaves_the_rest(unweighted: LocalEndpoint) -> None:
    """As Azure's endpoint update: traffic given replaces the whole split (blue, left out, gets 0); the mirror,
    left out, stays; a mirror given replaces the mirror (a share of 0 ends it) and leaves the traffic."""
    admin = unweighted.admin_key
    try:
        assert _put_traffic(unweighted, admin, {"traffic": {"blue": 100}, "mirror": {"green": 20}}).json() == {
            "traffic": {"blue": 100, "green": 0},
            "mirror": {"green": 20},
        }
        kept = _put_traffic(unweighted, admin, {"traffic": {"blue": 100}})
        assert kept.json() == {"traffic": {"blue": 100, "green": 0}, "mirror": {"green": 20}}
        moved = _put_traffic(unweighted, admin, {"traffic": {"green": 100}, "mirror": {}})
        assert moved.json() == {"traffic": {"blue": 0, "green": 100}, "mirror": {}}
        mirrored = _put_traffic(unweighted, admin, {"traffic": {"green": 100}, "mirror": {"blue": 10}})
        assert mirrored.status_code == 200
        ended = _put_traffic(unweighted, admin, {"mirror": {"blue": 0}})
        assert ended.json() == {"traffic": {"blue": 0, "green": 100}, "mirror": {}}
        # The same through LocalEndpoint: a mirror left as None is left alone.
        unweighted.set_traffic({"blue": 100, "green": 0}, mirror={"green": 20})
        unweighted.set_traffic({"blue": 100, "green": 0})
        assert unweighted.routing.mirrored == {"green": 20}
        unweighted.set_traffic(mirror={"green": 0})
        assert (unweighted.routing.live, unweighted.routing.mirrored) == ({"blue": 100, "green": 0}, {})
    finally:
        unweighted.set_traffic({"blue": 0, "green": 0}, mirror={})
    assert _still_no_live_traffic(unweighted)


# -- the description and its refusals -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"traffic": {"blue": 90, "green": 5}}, "--traffic must sum to 100 (or 0 for none), got 95"),
        ({"traffic": {"blue": 100, "purple": 0}}, "--traffic names 'purple', which is not a deployment"),
        ({"traffic": {"blue": 110, "green": -10}}, "--traffic green=-10: a share cannot be negative"),
        ({"traffic": {"blue": 90, "green": 10}, "mirror": {"green": 20}}, "--mirror green: a deployment that takes"),
        ({"traffic": {"blue": 100}, "mirror": {"green": 60}}, "--mirror green=60: at most 50 %"),
        ({"traffic": {"blue": "100"}}, "--traffic blue='100': a share is a whole percent"),
    ],
)
def test_bad_routing_is_refused_before_anything_starts(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(LocalEndpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LocalEndpoint(deployments=["blue", "green"], **kwargs)


def test_routing_round_trips_and_keeps_the_one_deployment_default() -> None:
    routing = Routing(deployments=(Deployment("blue"), Deployment("green", "balanced")), traffic=SPLIT, seed=3)
    assert Routing.from_dict(json.loads(json.dumps(routing.to_dict()))) == routing
    assert Routing().live == {"blue": 100}
    assert LocalEndpoint().routing == Routing()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--traffic", "blue=90,green=20"], "--traffic must sum to 100 (or 0 for none), got 110"),
        (["--traffic", "blue=100,purple=0"], "--traffic names 'purple', which is not a deployment"),
        (["--traffic", "blue=110,green=-10"], "--traffic green=-10: a share cannot be negative"),
        (["--traffic", "blue=90,green=10", "--mirror", "green=10"], "a deployment that takes live traffic cannot"),
        (["--traffic", "blue:90"], "--traffic 'blue:90': expected NAME=PERCENT"),
        (["--auth-mode", "aml_token", "--primary-key", "k"], "--primary-key/--secondary-key need --auth-mode key"),
        (["--token-lifetime-s", "60"], "need --auth-mode aml_token"),
        (
            ["--auth-mode", "aml_token", "--token-lifetime-s", "5", "--token-refresh-after-s", "9"],
            "within its lifetime",
        ),
    ],
)
def test_serve_refuses_bad_routing_with_one_line_and_exit_2(argv: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bankmarketing_client.cli", "local", "serve",
         "--deployment", "blue", "--deployment", "green", *argv],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_cli_serves_blue_green_with_a_token_file(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """The walk-through of docs/local-endpoint.md: two deployments, 10 % to green, aml_token through a token file."""
    from test_endpoint import _read_until  # the same folder, as pytest imports it

    token_file, admin_key_file = tmp_path / "token.json", tmp_path / "admin.key"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bankmarketing_client.cli", "local", "serve", "--workers", "1",
         "--deployment", "blue", "--deployment", "green", "--traffic", "blue=90,green=10",
         "--auth-mode", "aml_token", "--token-file", str(token_file), "--admin-key-file", str(admin_key_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        out = _read_until(proc, "ready", 120)
        assert "ready" in out, out
        assert "deployment:  blue (model default, traffic 90 %)" in out
        assert "deployment:  green (model balanced, traffic 10 %)" in out
        assert token_file.stat().st_mode & 0o077 == 0  # the owner's only
        token = json.loads(token_file.read_text())
        assert token["accessToken"] not in out
        admin_key = admin_key_file.read_text().strip()
        assert admin_key not in out
        assert stat.S_IMODE(admin_key_file.stat().st_mode) == 0o600
        uri = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("scoring URI"))
        auth = {"Authorization": f"Bearer {token['accessToken']}", DEPLOYMENT_HEADER: "green"}
        response = httpx.post(uri, json=_body(records[:3]), headers=auth, timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers[DEPLOYMENT_HEADER] == "green"
        # A valid scoring token does not change routing: that takes the admin key.
        forged = httpx.put(uri.removesuffix("/score") + "/__local/traffic", json={"traffic": {"green": 100}},
                           headers={"Authorization": f"Bearer {token['accessToken']}"}, timeout=30)  # fmt: skip
        assert forged.status_code == 401
        # Switch all live traffic to green while serving, as 'az ml online-endpoint update --traffic' would.
        switch = [sys.executable, "-m", "bankmarketing_client.cli", "local", "traffic", "--scoring-uri", uri,
                  "--admin-key-file", str(admin_key_file)]  # fmt: skip
        done = subprocess.run([*switch, "blue=0,green=100"], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "traffic: blue 0 %, green 100 %; mirror: none" in done.stdout
        del auth[DEPLOYMENT_HEADER]
        responses = [httpx.post(uri, json=_body(records[:1]), headers=auth, timeout=30) for _ in range(20)]
        assert {r.headers[DEPLOYMENT_HEADER] for r in responses} == {"green"}
        refused = subprocess.run([*switch, "blue=50,green=60"], capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 2
        assert "--traffic must sum to 100 (or 0 for none), got 110" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        with_token = [*switch[:-1], str(token_file), "blue=100,green=0"]
        refused = subprocess.run(with_token, capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 2
        assert "the endpoint refused the new traffic (401)" in refused.stderr
        assert token["accessToken"] not in refused.stderr
        proc.terminate()
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def _serve_with_token_file(token_file: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bankmarketing_client.cli", "local", "serve", "--workers", "1",
            "--auth-mode", "aml_token", "--token-file", str(token_file), *extra]  # fmt: skip


@pytest.mark.parametrize("where", ["directory", "missing folder"])
def test_serve_refuses_an_unwritable_token_file_in_one_line_before_it_starts(tmp_path: Path, where: str) -> None:
    token_file = tmp_path / "token.json"
    if where == "directory":
        token_file.mkdir()
    else:
        token_file = tmp_path / "absent" / "token.json"
    done = subprocess.run(_serve_with_token_file(token_file), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"bankmarketing-client: error: cannot write the token file {token_file}: "
        + ("it is a directory" if where == "directory" else "No such file or directory")
    ]
    assert "scoring URI" not in done.stdout  # refused before the endpoint started
    assert [p.name for p in tmp_path.rglob("*")] == (["token.json"] if where == "directory" else [])


def test_serve_never_writes_its_token_through_a_planted_temporary_file(tmp_path: Path) -> None:
    """A symlink planted where the old writer put its temporary file got the live token; a leftover of mode 0666
    there made the token file 0666. Neither holds: the first token, and a renewal a second later."""
    from test_endpoint import _read_until  # the same folder, as pytest imports it

    victim, token_file, planted = tmp_path / "victim", tmp_path / "token.json", tmp_path / ".token.json.tmp"
    victim.write_text("not the server's\n")
    planted.symlink_to(victim)
    proc = subprocess.Popen(
        _serve_with_token_file(token_file, "--token-lifetime-s", "600", "--token-refresh-after-s", "1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        out = _read_until(proc, "ready", 120)
        assert "ready" in out, out
        assert victim.read_text() == "not the server's\n"
        assert not token_file.is_symlink()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        first = json.loads(token_file.read_text())["accessToken"]
        planted.unlink()
        planted.write_text("")
        planted.chmod(0o666)
        deadline = time.monotonic() + 30
        while json.loads(token_file.read_text())["accessToken"] == first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert json.loads(token_file.read_text())["accessToken"] != first  # renewed
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        proc.terminate()
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".token.json.tmp", "token.json", "victim"]
