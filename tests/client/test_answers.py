"""Bounded answers: a hostile or broken endpoint cannot make the client, ``predict`` or ``score`` read without limit.

The endpoint here is the test's own hostile server (``hostile_server``): the real local endpoint cannot be made
to send a gzip bomb, an endless body or a lying ``Content-Length``. Memory is measured on real CLI processes (peak
RSS of the child's own address space, ``VmHWM``), with a generous margin (300 MB; the unbounded client went past 1 GB on each of these).
"""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hostile_server import HostileServer, brotli_of_zeros, gzip_of_zeros

from bankmarketing_client import AsyncScoringClient, ScoringClient
from bankmarketing_client.answers import ERROR_PREFIX, PIECE, AnswerLimits, BoundedBody
from bankmarketing_client.cli.exits import EXIT_FAILED, EXIT_USER_ERROR
from bankmarketing_client.errors import (
    BODY_EXCERPT_CHARS,
    AuthenticationError,
    ConfigurationError,
    ModelError,
    ResponseTooLargeError,
    UnexpectedResponseError,
    excerpt,
)

pytest_plugins = ["scoring_support"]

#: Peak RSS a CLI run may reach against the hostile server (the interpreter and its imports take 60 to 150 MB).
RSS_LIMIT_MB = 300
KEY = "hostile-test-key"


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    try:
        br_bomb: bytes | None = brotli_of_zeros()
    except ImportError:  # without brotli, httpx decodes no br at all: that attack does not exist there
        br_bomb = None
    with HostileServer(gzip_of_zeros(), br_bomb) as server:
        yield server


@pytest.fixture(scope="module")
def records_file(tmp_path_factory: pytest.TempPathFactory, sample_records: list[dict[str, object]]) -> Path:
    import json

    path = tmp_path_factory.mktemp("records") / "records.json"
    path.write_text(json.dumps({"data": sample_records}), encoding="utf-8")
    return path


#: Run as the child: the CLI's ``main``, then its peak RSS (``VmHWM``) written to the file named in argv[1]. The
#: kernel's ``ru_maxrss`` cannot serve: at exec it keeps the parent's high-water mark, so a child of a large pytest
#: process reports pytest's RSS, not its own; ``VmHWM`` belongs to the address space exec gave the child.
PEAK_RSS_WRAPPER = """
import atexit, sys
from pathlib import Path
report = Path(sys.argv.pop(1))
def peak() -> None:
    status = Path("/proc/self/status").read_text()
    report.write_text(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
atexit.register(peak)
from bankmarketing_client.cli import main
sys.exit(main())
"""


def run_cli(args: list[str], env_extra: dict[str, str], cwd: Path) -> tuple[int, str, str, float]:
    """Run ``bankmarketing-client ARGS`` as a child process; its exit code, stdout, stderr and peak RSS in MB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANKMARKETING_") or k == "BANKMARKETING_DATA"}
    env.update({"BANKMARKETING_API_KEY": KEY, **env_extra})
    out, err, peak = cwd / "cli.out", cwd / "cli.err", cwd / "cli.peak"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", PEAK_RSS_WRAPPER, str(peak), *args], stdout=stdout, stderr=stderr, env=env, cwd=cwd
        )
        try:
            process.wait(timeout=240)  # a hang is a failure, not a stuck suite
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    return process.returncode, out.read_text(), err.read_text(), int(peak.read_text()) / 1024


# -- the library, in process ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["gzip-bomb", "huge", "lying-length"])
def test_a_flood_in_a_200_raises_response_too_large(
    hostile: HostileServer, mode: str, sample_records: list[dict[str, object]]
) -> None:
    limit = AnswerLimits().for_records(len(sample_records))
    with ScoringClient(hostile.url(mode), KEY, contract="inputs") as client:
        before = len(hostile.requests)
        with pytest.raises(ResponseTooLargeError) as caught:
            client.predict(sample_records)
    error = caught.value
    assert error.status == 200
    assert error.limit == limit
    assert error.request_id == f"hostile-{mode}"
    assert f"larger than {limit:,} bytes" in str(error)
    assert len(error.body_excerpt) <= BODY_EXCERPT_CHARS
    assert not error.transient
    assert len(hostile.requests) == before + 1


def test_the_async_face_stops_at_the_same_cap(hostile: HostileServer, sample_records: list[dict[str, object]]) -> None:
    async def score() -> None:
        async with AsyncScoringClient(hostile.url("gzip-bomb"), KEY, contract="inputs") as client:
            await client.predict(sample_records)

    with pytest.raises(ResponseTooLargeError, match="larger than"):
        asyncio.run(score())


def test_the_cap_is_configurable(hostile: HostileServer, sample_records: list[dict[str, object]]) -> None:
    with (
        ScoringClient(hostile.url("huge"), KEY, contract="inputs", answer_limits=AnswerLimits.fixed(5000)) as client,
        pytest.raises(ResponseTooLargeError, match="larger than 5,000 bytes") as caught,
    ):
        client.predict(sample_records)
    assert caught.value.limit == 5000
    assert caught.value.body_excerpt == ""  # its Content-Length said so: refused before a byte of it was read


def test_a_huge_error_body_gives_the_status_error_from_a_prefix(
    hostile: HostileServer, sample_records: list[dict[str, object]]
) -> None:
    with (
        ScoringClient(hostile.url("huge-error"), KEY, contract="inputs") as client,
        pytest.raises(ModelError, match="the scoring container failed") as caught,
    ):
        client.predict(sample_records)
    assert caught.value.status == 500
    assert caught.value.body_excerpt.startswith("An unexpected error occurred.")
    assert caught.value.body_excerpt.endswith("…")


def test_an_encoding_not_offered_is_refused(hostile: HostileServer, sample_records: list[dict[str, object]]) -> None:
    if hostile.br_bomb is None:
        pytest.skip("brotli is not installed: httpx decodes no br, so a brotli bomb cannot reach the client")
    with (
        ScoringClient(hostile.url("br-bomb"), KEY, contract="inputs") as client,
        pytest.raises(UnexpectedResponseError, match="'br' content coding, which was not offered"),
    ):
        client.predict(sample_records)


def test_a_401_bomb_before_the_secondary_key_is_not_read(
    hostile: HostileServer, sample_records: list[dict[str, object]]
) -> None:
    """httpx reads an auth flow's intermediate answer whole: here it is dropped unread, and the last one capped."""
    with (
        ScoringClient(hostile.url("auth-bomb"), KEY, secondary_key="other", contract="inputs") as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.predict(sample_records)
    assert caught.value.status == 401
    assert hostile.authorizations[-2:] == [f"Bearer {KEY}", "Bearer other"]  # both keys were tried


def test_json_nested_deeper_than_the_parser_is_a_clear_error(
    hostile: HostileServer, sample_records: list[dict[str, object]]
) -> None:
    with (
        ScoringClient(hostile.url("deep"), KEY, contract="inputs") as client,
        pytest.raises(UnexpectedResponseError, match="not JSON"),
    ):
        client.predict(sample_records)


def test_health_and_swagger_have_their_own_caps(hostile: HostileServer) -> None:
    with ScoringClient(hostile.url("gzip-bomb"), KEY, contract="inputs") as client:
        with pytest.raises(ResponseTooLargeError) as health:
            client.health()
        with pytest.raises(ResponseTooLargeError) as swagger:
            client.swagger()
    assert health.value.limit == AnswerLimits().health
    assert swagger.value.limit == AnswerLimits().swagger


def test_every_request_offers_only_the_codings_the_client_decodes(sample_records: list[dict[str, object]]) -> None:
    """Mock: only the request's headers are looked at; a gzip answer built by the transport is decoded and capped."""
    import gzip

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("accept-encoding", ""))
        body = gzip.compress(b'{"Results": ["no", "yes"]}')
        return httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with ScoringClient("http://127.0.0.1:9/score", KEY, contract="inputs", http_client=http) as client:
        assert [p.label for p in client.predict(sample_records)] == ["no", "yes"]
        with pytest.raises(ResponseTooLargeError):
            ScoringClient(
                "http://127.0.0.1:9/score",
                KEY,
                contract="inputs",
                http_client=http,
                answer_limits=AnswerLimits.fixed(8),
            ).predict(sample_records)
    assert seen == ["gzip, deflate", "gzip, deflate"]


# -- the pieces ---------------------------------------------------------------------------------------------


def test_the_default_cap_grows_with_the_records() -> None:
    limits = AnswerLimits()
    assert limits.for_records(0) == 1 << 20
    assert limits.for_records(4000) == (1 << 20) + 4000 * 512
    assert limits.for_body(1) == limits.for_records(1)
    assert AnswerLimits.fixed(10).for_records(10**6) == 10
    with pytest.raises(ConfigurationError):
        AnswerLimits(base=0)
    with pytest.raises(ConfigurationError):
        AnswerLimits(per_record=-1)


def test_a_bomb_is_decoded_a_piece_at_a_time() -> None:
    """64 KiB of gzip become 64 MiB in one of httpx's calls; here no step yields more than PIECE bytes."""
    bomb = gzip_of_zeros(256 << 20)
    body = BoundedBody(httpx.Headers({"Content-Encoding": "gzip"}), 1 << 20)
    body.feed(bomb[: 64 * 1024])
    assert body.over
    assert body.done
    assert len(body.content) <= 1 << 20
    assert all(len(part) <= PIECE for part in body._parts)


def test_a_chain_of_codings_and_raw_deflate_decode() -> None:
    import zlib

    text = b'{"Results": ["no"]}'
    inner = zlib.compress(text)
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(text) + raw.flush()
    import gzip

    for coding, data in (("deflate", inner), ("deflate", raw_deflate), ("deflate, gzip", gzip.compress(inner))):
        body = BoundedBody(httpx.Headers({"Content-Encoding": coding}), 1000)
        body.feed(data)
        assert body.content == text
        assert not body.over


def test_an_error_answer_keeps_only_a_prefix() -> None:
    body = BoundedBody(httpx.Headers(), ERROR_PREFIX, truncate=True)
    body.feed(b"x" * (ERROR_PREFIX * 3))
    assert body.done
    assert not body.over
    assert len(body.content) == ERROR_PREFIX


def test_an_excerpt_looks_at_a_prefix_only() -> None:
    huge = b"a " * (50 << 20)
    assert excerpt(huge).endswith("…")
    assert len(excerpt(huge)) == BODY_EXCERPT_CHARS
    assert excerpt(b"short  body") == "short body"
    assert excerpt(b" " * 10_000 + b"x").endswith("…")  # longer than what was looked at
    assert excerpt(b"\x00\x1b[2Jok") == "\ufffd\ufffd[2Jok"  # a terminal is not told to do anything


# -- the CLI, as a user runs it -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["gzip-bomb", "huge", "huge-error", "lying-length", "auth-bomb", "deep"])
def test_predict_ends_in_one_line_with_memory_bounded(
    hostile: HostileServer, records_file: Path, tmp_path: Path, mode: str
) -> None:
    extra = {"BANKMARKETING_SECONDARY_KEY": "other"} if mode == "auth-bomb" else {}
    code, out, err, rss = run_cli(
        ["predict", "--scoring-uri", hostile.url(mode), "--contract", "inputs", "--json", str(records_file)],
        extra,
        tmp_path,
    )
    assert "Traceback" not in err
    assert "MemoryError" not in err
    assert code == (EXIT_USER_ERROR if mode == "auth-bomb" else EXIT_FAILED), err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("bankmarketing-client: error: "), err
    assert out == ""
    assert rss < RSS_LIMIT_MB, f"peak RSS {rss:.0f} MB"


def test_predict_max_answer_bytes_sets_the_cap(hostile: HostileServer, records_file: Path, tmp_path: Path) -> None:
    code, _, err, _ = run_cli(
        [
            "predict",
            "--scoring-uri",
            hostile.url("huge"),
            "--contract",
            "inputs",
            "--json",
            str(records_file),
            "--max-answer-bytes",
            "4096",
        ],
        {},
        tmp_path,
    )
    assert code == EXIT_FAILED, err
    assert "larger than 4,096 bytes" in err, err


def test_score_on_a_bomb_stops_with_memory_bounded_and_every_request_in_flight(
    hostile: HostileServer, holdout_records: list[dict[str, object]], tmp_path: Path
) -> None:
    """Four requests in flight, each answered with the 1 GiB bomb: memory holds at most four caps."""
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(holdout_records[0]))
        writer.writeheader()
        writer.writerows(holdout_records)
    code, _out, err, rss = run_cli(
        [
            "score",
            str(source),
            "-o",
            str(tmp_path / "out.csv"),
            "--scoring-uri",
            hostile.url("gzip-bomb"),
            "--contract",
            "inputs",
            "--batch-size",
            "10",
            "--concurrency",
            "4",
            "--quiet",
        ],
        {},
        tmp_path,
    )
    assert "Traceback" not in err
    assert "MemoryError" not in err
    assert code == EXIT_FAILED, err
    assert "larger than" in err, err
    assert "--resume" in err, err
    assert rss < RSS_LIMIT_MB, f"peak RSS {rss:.0f} MB"
    assert sum(1 for method, path in hostile.requests if path.startswith("/gzip-bomb/score")) >= 1


def test_score_max_answer_bytes_is_refused_with_spark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bankmarketing_client.cli import main

    source = tmp_path / "in.parquet"
    source.write_bytes(b"")
    code = main(["score", str(source), "-o", str(tmp_path / "out"), "--engine", "spark", "--max-answer-bytes", "9"])
    assert code == EXIT_USER_ERROR
    assert "--max-answer-bytes does not work with --engine spark" in capsys.readouterr().err
