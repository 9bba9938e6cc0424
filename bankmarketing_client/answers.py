"""How much of an endpoint's answer the client reads, and how it decodes it: in bounded memory, whatever comes.

An endpoint that is hostile or broken can answer with anything: 1 GiB of zeros gzip-compressed into 1 MB, a body
that never ends, a ``Content-Length`` of a terabyte, a brotli stream of a few hundred bytes that expands to gigabytes.
httpx decodes a whole raw chunk in one call (64 KiB of gzip can become 64 MiB, a few KB of brotli gigabytes) and
keeps the whole body, so the client reads every answer as a stream instead (:class:`BoundedBody`): it decodes
``gzip`` and ``deflate`` itself, in pieces of at most :data:`PIECE` bytes, and stops once the *decoded* body (or the
raw one) passes the answer's cap. Memory for one answer is then its cap plus a piece or two, never what the server
claims or sends.

The caps (:class:`AnswerLimits`):

* **Scoring** (``predict``, ``score``, ``score_json``): ``base + per_record x N`` for a request of ``N`` records,
  by default ``1 MiB + 512 bytes x N``. The largest legitimate answer to ``N`` records is the ``predict_proba``
  answer of the ``inputs`` family, ``{"Results": [[p_no, p_yes], ...]}``: two doubles of at most 24 characters
  each and their brackets and separators, under 60 bytes a record as ``json.dumps`` writes it, under 100
  pretty-printed with an indent of 4. The ``data`` family's double-encoded labels (``"{\\"result\\": [\\"yes\\",
  ...]}"``) take about 10, and an MLflow deployment's bare ``[[0.988, 0.012], ...]`` the same as ``inputs``. 512
  bytes a record leaves five times that, and about what the record itself took to send. The ``base`` covers what
  does not grow with ``N``: the wrapper, an error reported in a 200 (AutoML's ``{"error": "..."}``, a traceback
  at most), a proxy's HTML page. A batch of 4,000 records (the batch tuner's largest) may have a 3 MiB answer.
* **Raw requests** (:meth:`~bankmarketing_client.client.ScoringClient.request`) do not say how many records they
  carry: a record takes at least :data:`RAW_BYTES_PER_RECORD` bytes in any request shape (the MLflow ``split``
  form, without field names, is the smallest), so the cap counts one record per that many bytes of the body.
* **Health** (``"Healthy"``): ``health``, 64 KiB. **Swagger**: ``swagger``, 8 MiB (real ones are 10 to 30 KB; a
  generous spec with examples a few hundred KB).
* **Error answers** (any status but 2xx) are never needed whole: only a 300-character excerpt is shown. At most
  :data:`ERROR_PREFIX` bytes of one are read, then the connection is dropped and the status's own error raised.

Past its cap, a 2xx answer raises :class:`~bankmarketing_client.errors.ResponseTooLargeError`, which is not
retried: an endpoint that answered this request with more than the cap will do so again (scoring is a pure
function of the request), and a retry would only read the same flood again. If the endpoint's answers really are
that large (a custom script echoing its input), raise the cap: ``AnswerLimits(per_record=...)`` or
``AnswerLimits.fixed(n)`` (``--max-answer-bytes`` on the command line).

Content codings: the client asks for ``gzip, deflate`` (:data:`ACCEPT_ENCODING`) and decodes those (and chains of
them); an answer in any other coding (``br``, ``zstd``, ...) was not offered, cannot be decoded with a bound
here, and is refused as undecodable. Answers the client does not read at all are not decoded either: an auth
flow's intermediate 401 (before the secondary key or a fresh token is tried) is dropped unread
(:class:`IntermediateAnswersUnread`), where httpx would read it whole.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from typing import Final, Self

import httpx

from bankmarketing_client.errors import ConfigurationError

#: The content codings the client offers and decodes (``Accept-Encoding`` of every request).
ACCEPT_ENCODING: Final = "gzip, deflate"
#: The most one decoding step produces at once (zlib's ``max_length``): what a bomb can add above the cap.
PIECE: Final = 64 * 1024
#: The most of an error answer (status not 2xx) read: it only ever shows as a short excerpt.
ERROR_PREFIX: Final = 64 * 1024
#: The fewest bytes one record takes in any request body (MLflow's ``split`` rows; named fields take 260 or more).
RAW_BYTES_PER_RECORD: Final = 100
_IDENTITY: Final = frozenset({"", "identity"})
_GZIP: Final = frozenset({"gzip", "x-gzip"})


@dataclass(frozen=True)
class AnswerLimits:
    """The most of an answer's decoded body the client reads, in bytes (see the module docstring for the sizes).

    A scoring answer to ``N`` records may hold ``base + per_record x N`` bytes; ``health`` and ``swagger`` cap
    those two calls. :meth:`fixed` gives one cap for every scoring answer whatever its size.
    """

    base: int = 1 << 20
    per_record: int = 512
    health: int = 64 * 1024
    swagger: int = 8 << 20

    def __post_init__(self) -> None:
        for name in ("base", "per_record", "health", "swagger"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigurationError(f"the answer limit {name} must be a whole number of bytes, not {value!r}")
        if self.base < 1 or self.health < 1 or self.swagger < 1:
            raise ConfigurationError("the answer limits base, health and swagger must be at least 1 byte")

    @classmethod
    def fixed(cls, limit: int) -> Self:
        """The same cap of ``limit`` bytes for every scoring answer, however many records it answers."""
        return cls(base=limit, per_record=0)

    def for_records(self, count: int) -> int:
        """The cap of the answer to a request of ``count`` records."""
        return self.base + self.per_record * max(0, count)

    def for_body(self, size: int) -> int:
        """The cap of the answer to a raw request of ``size`` bytes (one record counted per
        :data:`RAW_BYTES_PER_RECORD` bytes, rounded up)."""
        return self.for_records(-(-size // RAW_BYTES_PER_RECORD))


class _Inflater:
    """One ``gzip`` or ``deflate`` layer, decoded in pieces of at most :data:`PIECE` bytes.

    ``deflate`` is tried as zlib-wrapped first and as raw deflate if that fails at once, as httpx does (servers
    send both). Bytes after the end of the compressed stream are dropped, not kept (zlib would keep them all).
    """

    def __init__(self, coding: str) -> None:
        self._gzip = coding in _GZIP
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)
        self._first = True

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._zlib.eof:
            return
        out = self._decompress(data)
        while True:
            if out:
                yield out
            tail = self._zlib.unconsumed_tail
            if self._zlib.eof or (not tail and len(out) < PIECE):
                return
            out = self._decompress(tail)

    def _decompress(self, data: bytes) -> bytes:
        first, self._first = self._first, False
        try:
            return self._zlib.decompress(data, PIECE)
        except zlib.error as exc:
            if first and not self._gzip:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._decompress(data)
            raise httpx.DecodingError(
                f"the answer's {'gzip' if self._gzip else 'deflate'} data is damaged: {exc}"
            ) from None


class BoundedBody:
    """The decoded body of one answer, taken raw chunk by raw chunk, kept to at most ``limit`` bytes.

    ``truncate`` (error answers): stop quietly at ``limit``, keeping the prefix. Otherwise ``over`` tells that the
    body went past ``limit`` (decoded, or already raw, or by its ``Content-Length``); ``done`` tells the reader to
    stop reading either way. An unsupported content coding raises ``httpx.DecodingError`` at once.
    """

    def __init__(self, headers: httpx.Headers, limit: int, *, truncate: bool = False) -> None:
        codings = [c.strip().lower() for c in headers.get_list("content-encoding", split_commas=True)]
        codings = [c for c in codings if c not in _IDENTITY]
        refused = [c for c in codings if c not in _GZIP and c != "deflate"]
        if refused:
            raise httpx.DecodingError(
                f"the answer is in the {refused[0][:40]!r} content coding, which was not offered "
                f"(Accept-Encoding: {ACCEPT_ENCODING})"
            )
        self.limit = limit
        self.truncate = truncate
        self._layers = [_Inflater(c) for c in reversed(codings)]  # the coding applied last is undone first
        self._parts: list[bytes] = []
        self.size = 0
        self.raw_size = 0
        self.over = False
        self.done = False
        declared = headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > limit and not codings:
            self.over = self.done = True  # said so before sending it: nothing to read

    def feed(self, raw: bytes) -> None:
        """Take the next raw chunk (as the server sent it, still encoded)."""
        if self.done:
            return
        self.raw_size += len(raw)
        if self.raw_size > self.limit:  # no legitimate answer is larger compressed than decoded
            self.done = True
            self.over = not self.truncate
            if self.over:
                return
            raw = raw[: len(raw) - (self.raw_size - self.limit)]
        self._layer(0, raw)

    def feed_decoded(self, content: bytes) -> None:
        """Take a body a transport already read and decoded whole (a custom or mock transport): only capped here."""
        self._keep(content)

    def _layer(self, index: int, data: bytes) -> None:
        if index == len(self._layers):
            self._keep(data)
            return
        for piece in self._layers[index].feed(data):
            self._layer(index + 1, piece)
            if self.done:
                return

    def _keep(self, data: bytes) -> None:
        room = self.limit - self.size
        if len(data) > room:
            self.done = True
            self.over = not self.truncate
            data = data[: room if self.truncate else min(room, ERROR_PREFIX)]  # past the cap: a prefix to quote
        if data:
            self._parts.append(data)
            self.size += len(data)

    @property
    def content(self) -> bytes:
        """What was kept: the whole body, or (``over``/``truncate``) its first bytes, for an excerpt."""
        return self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)


class _Unread(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An answer's body stream replaced by nothing: reading it gives no bytes, closing it closes the real one."""

    def __init__(self, inner: httpx.SyncByteStream | httpx.AsyncByteStream) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        nothing: tuple[bytes, ...] = ()
        for chunk in nothing:  # an async generator that yields nothing
            yield chunk

    def close(self) -> None:
        if isinstance(self._inner, httpx.SyncByteStream):
            self._inner.close()

    async def aclose(self) -> None:
        if isinstance(self._inner, httpx.AsyncByteStream):
            await self._inner.aclose()


class IntermediateAnswersUnread(httpx.Auth):
    """``inner`` (an auth flow), except that an answer it replies to with another request is dropped unread.

    httpx reads such an answer whole before sending the next request (a 401 before the secondary key or a fresh
    token is tried), however large it is; its body is of no use to the flow or the caller, so its stream is
    swapped for an empty one here and its connection closed. The final answer comes back untouched, to be read
    under its cap. A flow that declares ``requires_response_body`` still reads what it asked for, whole: that is
    the flow's own choice (this package's flows do not).
    """

    def __init__(self, inner: httpx.Auth) -> None:
        self.inner = inner

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self.inner.sync_auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            try:
                request = flow.send(response)
            except StopIteration:
                return
            response.stream = _Unread(response.stream)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self.inner.async_auth_flow(request)
        request = await flow.__anext__()
        while True:
            response = yield request
            try:
                request = await flow.asend(response)
            except StopAsyncIteration:
                return
            response.stream = _Unread(response.stream)

    def __repr__(self) -> str:
        return repr(self.inner)
