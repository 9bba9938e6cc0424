"""docs/blue-green.md works as written: its ``sh`` blocks run in order, in one bash shell, against real processes
(``local serve`` with two deployments and a token file, Locust, ``local traffic``, ``score``).

The page's convention: its first block sets ``PORT`` and ``WORK``; this test replaces only those two values (a
free port, a temporary folder) and runs everything else verbatim from the repository's root. Each block's output
is told apart by a marker echoed between blocks, and each step is checked for what the page says it shows.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bankmarketing_client.local.process import free_port

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "blue-green.md"
MARKER = "@@ block {} @@"
TIMEOUT = 600  # seconds; the run takes well under a minute, this only keeps a hang from blocking the suite


def shell_blocks(text: str) -> list[str]:
    """The page's ``sh`` fenced blocks, in order (``text`` blocks are what they print, not run)."""
    return re.findall(r"^```sh\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def with_places(first_block: str, port: int, work: Path) -> str:
    """The first block with its ``PORT=`` and ``WORK=`` values replaced; the page must set both there."""
    replaced, count = re.subn(r"\bPORT=\S+", f"PORT={port}", first_block)
    replaced, also = re.subn(r"\bWORK=\S+", f"WORK={work}", replaced)
    assert (count, also) == (1, 1), "the first sh block must set PORT= and WORK= once each (the page's convention)"
    return replaced


def run_page(port: int, work: Path, train_path: Path) -> list[str]:
    """Run every block in one shell; the output of each (stdout and stderr, as a terminal shows them), in order."""
    blocks = shell_blocks(PAGE.read_text(encoding="utf-8"))
    blocks[0] = with_places(blocks[0], port, work)
    script = "set -euo pipefail\n" + "".join(f"echo '{MARKER.format(i)}'\n{b}" for i, b in enumerate(blocks))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BANKMARKETING_", "LOCUST_"))}
    env["BANKMARKETING_DATA"] = str(train_path)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the venv's commands
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"the page's commands failed:\n{done.stdout[-5000:]}"
    parts = re.split(r"^@@ block \d+ @@\n", done.stdout, flags=re.MULTILINE)
    assert len(parts) == len(blocks) + 1, done.stdout
    return parts[1:]


@pytest.fixture
def places(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A free port and a folder of this test's; the endpoint the page starts is stopped even if a step fails."""
    work = tmp_path / "blue-green"
    yield free_port(), work
    pid_file = work / "serve.pid"
    if pid_file.is_file():
        pid = int(pid_file.read_text())
        with contextlib.suppress(ProcessLookupError):  # the page's last step stopped it, unless a step failed
            os.kill(pid, signal.SIGTERM)


def test_the_blue_green_page_runs_as_written(places: tuple[int, Path], train_path: Path) -> None:
    port, work = places
    setup, start, compare, switch, score, stop = run_page(port, work, train_path)

    assert setup == ""
    assert "deployment:  blue (model default, traffic 90 %)\n" in start
    assert "deployment:  green (model balanced, traffic 10 %)\n" in start
    assert start.endswith("Healthy\n")
    token = (work / "token.json").read_text()
    assert (work / "token.json").stat().st_mode & 0o077 == 0
    admin_key = (work / "admin.key").read_text().strip()
    assert (work / "admin.key").stat().st_mode & 0o077 == 0

    with (work / "compare_stats.csv").open(newline="") as fh:
        rows = {r["Name"]: (int(r["Request Count"]), int(r["Failure Count"])) for r in csv.DictReader(fh)}
    blue, green = rows["/score [benchmark] @blue"], rows["/score [benchmark] @green"]
    assert rows["Aggregated"] == (300, 0)
    assert blue[0] + green[0] == 300
    assert 0 < green[0] < blue[0]  # 10 % against 90 %, drawn by the seeded split
    assert "\nName,Request Count,Failure Count\n" in compare
    assert f"\n/score [benchmark] @green,{green[0]},0\n" in compare

    assert switch == "traffic: blue 0 %, green 100 %; mirror: none\n"

    assert "rows:      200 (200 scored, 0 rejected, 0 failed)" in score
    with (work / "scored.csv").open(newline="") as fh:
        scored = list(csv.DictReader(fh))
    assert [int(r["row"]) for r in scored] == list(range(1, 201))
    assert Counter(r["deployment"] for r in scored) == {"green": 200}
    assert re.search(r'^ *200 "green"$', score, flags=re.MULTILINE), score
    [refused] = [line for line in score.splitlines() if "purple" in line]
    assert refused.startswith("bankmarketing-client: error: the endpoint has no deployment named 'purple' | HTTP 404")
    assert score.endswith("exit code 2\n")
    assert not (work / "other.csv").exists()

    assert stop == ""
    for secret in (json.loads(token)["accessToken"], admin_key):
        assert secret not in setup + start + compare + switch + score + (work / "serve.log").read_text()
