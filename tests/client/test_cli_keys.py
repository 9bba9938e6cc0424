"""``--key-file``: one reader for every command, whose messages name the file and never its content."""

from __future__ import annotations

from pathlib import Path

import pytest

from bankmarketing_client.cli.keys import read_key_file
from bankmarketing_client.errors import ConfigurationError


def test_the_key_is_read_without_surrounding_whitespace(tmp_path: Path) -> None:
    file = tmp_path / "key"
    file.write_text("  Zx9SECRETKEYvalue\n")
    assert read_key_file(file) == "Zx9SECRETKEYvalue"
    assert read_key_file(str(file)) == "Zx9SECRETKEYvalue"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read the key file"), (b" \n", "is empty"), (b"\xffSECRET\xfe", "cannot read the key file")],
)
def test_unusable_key_files_are_clear_errors(tmp_path: Path, content: bytes | None, message: str) -> None:
    file = tmp_path / "key"
    if content is not None:
        file.write_bytes(content)
    with pytest.raises(ConfigurationError, match=message) as caught:
        read_key_file(file)
    assert str(file) in str(caught.value)
    assert "SECRET" not in str(caught.value).replace(str(file), "")
