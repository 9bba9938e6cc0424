"""Reading a key from the file named by ``--key-file``: the one way a key reaches the CLI besides the environment.

Keys are never taken from argv (they would show in ``ps`` and shell history), so every command that needs one
reads it here, with the same messages. Not a command module: it registers nothing.
"""

from __future__ import annotations

from pathlib import Path

from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.files import read_small_file


def read_key_file(path: str | Path) -> str:
    """The key held in ``path``, surrounding whitespace removed; a clear error if unreadable or empty.

    Messages name the file, never its content.
    """
    file = Path(path)
    try:
        key = read_small_file(file, what="key file").decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigurationError(f"cannot read the key file {file}: not UTF-8 text") from None
    if not key:
        raise ConfigurationError(f"the key file {file} is empty")
    return key
