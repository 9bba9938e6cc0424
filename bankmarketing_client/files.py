"""Reading the small files a user names (key, token and settings files): bounded, with messages that name the file.

Each of these files holds a few hundred bytes. A wrong path may name a huge file or a device (``/dev/zero``), which
a plain ``read_text`` would read until memory ran out, so at most :data:`SMALL_FILE_LIMIT` bytes are read. Messages
name the file and the reason, never its content: a key file's content is the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from bankmarketing_client.errors import ConfigurationError

#: The most a key, token or settings file may hold.
SMALL_FILE_LIMIT: Final = 64 * 1024


def read_small_file(path: str | Path, *, what: str, limit: int = SMALL_FILE_LIMIT) -> bytes:
    """The bytes of ``path`` (``what`` names it in errors: "key file"), refused past ``limit`` bytes."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigurationError(f"cannot read the {what} {file}: {exc.strerror or type(exc).__name__}") from None
    if len(raw) > limit:
        raise ConfigurationError(f"the {what} {file} is larger than {limit} bytes")
    return raw
