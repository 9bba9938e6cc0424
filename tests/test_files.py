"""Small user-named files (key, token, settings) are read bounded: a wrong path naming a device or a huge file is
one line naming the file, never a hang, a memory blow-up or its content. Driven through the real CLI and readers.
Secrets are written owner-only by one writer that trusts no name planted beside the file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bankmarketing_client.auth import token_file_provider
from bankmarketing_client.cli.keys import read_key_file
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.files import SMALL_FILE_LIMIT, read_small_file, write_secret_file
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


def test_a_secret_is_written_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "key"
    old = os.umask(0)
    try:
        write_secret_file(path, "s3cret")
    finally:
        os.umask(old)
    assert path.read_text() == "s3cret\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["key"]  # no temporary file left


def test_a_secret_never_goes_through_a_symlink_or_a_leftover_planted_beside_it(tmp_path: Path) -> None:
    """The old writer used the fixed name ``.F.tmp``: a symlink planted there received the secret, and a leftover
    of mode 0666 gave the secret file that mode. No name beside the file is trusted now."""
    victim = tmp_path / "victim"
    victim.write_text("not yours\n")
    (tmp_path / ".key.tmp").symlink_to(victim)
    write_secret_file(tmp_path / "key", "s3cret")
    assert victim.read_text() == "not yours\n"
    assert not (tmp_path / "key").is_symlink()
    (tmp_path / ".key.tmp").unlink()
    leftover = tmp_path / ".key.tmp"
    leftover.write_text("")
    leftover.chmod(0o666)
    write_secret_file(tmp_path / "key", "s3cret-2")
    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600
    assert (tmp_path / "key").read_text() == "s3cret-2\n"


@pytest.mark.parametrize(
    ("name", "reason"),
    [(".", "it is a directory"), ("absent/key", "No such file or directory")],
    ids=["dir", "missing"],
)
def test_a_secret_file_that_cannot_be_written_is_one_line_naming_it(tmp_path: Path, name: str, reason: str) -> None:
    target = tmp_path / name
    with pytest.raises(ConfigurationError) as caught:
        write_secret_file(target, "s3cret", what="token file")
    assert str(caught.value) == f"cannot write the token file {target}: {reason}"
    assert list(tmp_path.iterdir()) == []  # nothing holding the secret was left
