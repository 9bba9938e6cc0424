"""The small files a user names (key, token and settings files): read bounded, secrets written owner-only.

Each of these files holds a few hundred bytes. A wrong path may name a huge file or a device (``/dev/zero``), which
a plain ``read_text`` would read until memory ran out, so at most :data:`SMALL_FILE_LIMIT` bytes are read. Messages
name the file and the reason, never its content: a key file's content is the key.

:func:`write_secret_file` is the one writer of a secret (``discover --key-file``, ``local serve --token-file``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
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


def write_secret_file(path: str | Path, secret: str, *, what: str = "key file") -> None:
    """Replace ``path`` with ``secret`` (and a newline), readable by the owner only, never even briefly by others.

    The text goes to a new file of a random name beside ``path``, created exclusively (``O_EXCL``, ``O_NOFOLLOW``)
    with mode 0600 and ``fchmod``-ed to it whatever the umask, then renamed over ``path``: a reader never sees half a
    secret, a symlink or a leftover file planted under the temporary name is never written through nor inherited
    (its mode included), and an existing ``path`` of a wider mode is replaced, not reused. A directory, a missing
    folder or any write failure is a :class:`ConfigurationError` naming the file (never the secret), and no
    temporary file is left behind.
    """
    file = Path(path)
    if file.is_dir():
        raise ConfigurationError(f"cannot write the {what} {file}: it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    except OSError as exc:
        raise ConfigurationError(f"cannot write the {what} {file}: {exc.strerror or type(exc).__name__}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, file)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigurationError(f"cannot write the {what} {file}: {exc.strerror or type(exc).__name__}") from None
