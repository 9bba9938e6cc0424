"""Small user-named files (key, token, settings) are read bounded: a wrong path naming a device or a huge file is
one line naming the file, never a hang, a memory blow-up or its content. Driven through the real CLI and readers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bankmarketing_client.auth import token_file_provider
from bankmarketing_client.cli.keys import read_key_file
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.files import SMALL_FILE_LIMIT, read_small_file
from bankmarketing_client.settings_file import read_settings_file

READERS = [
    pytest.param(read_key_file, "key file", id="key"),
    pytest.param(lambda path: token_file_provider(path)(), "token file", id="token"),
    pytest.param(read_settings_file, "endpoint settings file", id="settings"),
]


@pytest.fixture
def oversized(tmp_path: Path) -> Path:
    path = tmp_path / "big.json"
    path.write_bytes(b"SECRETPART" * (SMALL_FILE_LIMIT // 10 + 1))
    return path


def test_read_small_file_reads_at_most_the_limit_from_an_endless_device() -> None:
    with pytest.raises(ConfigurationError, match=r"the key file /dev/zero is larger than 65536 bytes"):
        read_small_file("/dev/zero", what="key file")


@pytest.mark.parametrize(("reader", "what"), READERS)
def test_every_reader_refuses_an_oversized_file_naming_it_not_its_content(
    reader: Callable[[Path], object], what: str, oversized: Path
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        reader(oversized)
    assert str(caught.value) == f"the {what} {oversized} is larger than {SMALL_FILE_LIMIT} bytes"
    assert "SECRETPART" not in str(caught.value)


@pytest.mark.parametrize(("reader", "what"), READERS)
def test_every_reader_names_a_missing_file(reader: Callable[[Path], object], what: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=f"cannot read the {what} .*: No such file or directory"):
        reader(tmp_path / "absent")


@pytest.mark.parametrize(
    "argv",
    [
        ["health", "--scoring-uri", "http://127.0.0.1:9/score", "--key-file", "/dev/zero"],
        ["score", "in.csv", "-o", "out.csv", "--endpoint-settings", "/dev/zero"],
    ],
)
def test_the_cli_exits_2_in_one_line_on_a_device_path(argv: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bankmarketing_client.cli", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "/dev/zero is larger than 65536 bytes" in lines[0]
    assert "Traceback" not in done.stderr
