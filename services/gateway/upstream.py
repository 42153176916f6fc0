"""A lean HTTP/1.1 client for the gateway's hot path: pooled keep-alive connections to each
service, streamed request and response bodies, connect and read timeouts.

Why not httpx: measured on the 2-core target, httpx.AsyncClient and httpcore's pool top out
under 1,000 proxied requests/s, because the pool checks every connection (a syscall each) on every
request; this client (asyncio protocol + httptools, uvicorn's own parser) does several thousand.
See docs/gateway.md for the figures.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

# Methods safe to send again on a fresh connection when a pooled one turns out to be closed.
IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE"})
_READ_HIGH_WATER = 256 * 1024
_READ_LOW_WATER = 64 * 1024

RequestBody = bytes | AsyncIterator[bytes]


class UpstreamError(Exception):
    """A service could not be reached or did not answer properly."""


class UpstreamUnavailable(UpstreamError):
    """Refused, reset, closed early, or sent something that is not HTTP."""


class UpstreamTimeout(UpstreamError):
    """No connection, response head or next body chunk within the timeout."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where one service listens."""

    name: str
    host: str
    port: int
    tls: bool = False

    @classmethod
    def from_url(cls, name: str, url: str) -> Upstream:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{name}: service URL must be http(s)://host[:port], got {url!r}")
        tls = parts.scheme == "https"
        return cls(name, parts.hostname, parts.port or (443 if tls else 80), tls)

    @property
    def authority(self) -> bytes:
        return f"{self.host}:{self.port}".encode()


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._write_waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        self.begin(head_only=False)

    # --- one exchange ---------------------------------------------------------------------
    def begin(self, *, head_only: bool) -> None:
        self.head_only = head_only
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.framed = False  # has Content-Length or chunked; otherwise the body ends at EOF
        self.got_bytes = False
        self.error: UpstreamError | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self._waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, timeout: float) -> None:
        self._waiter = self.loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        except TimeoutError:
            raise UpstreamTimeout(f"no response within {timeout:g}s") from None
        finally:
            self._waiter = None

    async def read_head(self, timeout: float) -> None:
        while not self.headers_done:
            if self.error is not None:
                raise self.error
            await self._wait(timeout)

    async def read_chunk(self, timeout: float) -> bytes | None:
        """The next piece of the response body, or None at its end."""
        while True:
            if self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if self._read_paused and self.buffered < _READ_LOW_WATER:
                    self._read_paused = False
                    self.transport.resume_reading()  # type: ignore[union-attr]
                return chunk
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            await self._wait(timeout)

    async def write_body(self, body: AsyncIterator[bytes], chunked: bool, timeout: float) -> None:
        assert self.transport is not None
        async for piece in body:
            if not piece:
                continue
            if self.closed:
                raise UpstreamUnavailable("connection closed while sending the body")
            if chunked:
                self.transport.write(b"%x\r\n%b\r\n" % (len(piece), piece))
            else:
                self.transport.write(piece)
            if self._write_paused:  # the service reads slower than the client sends
                self._write_waiter = self.loop.create_future()
                try:
                    async with asyncio.timeout(timeout):
                        await self._write_waiter
                except TimeoutError:
                    raise UpstreamTimeout(f"the service read nothing for {timeout:g}s") from None
        if chunked:
            self.transport.write(b"0\r\n\r\n")

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(UpstreamUnavailable(f"invalid HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and not self.complete and not self.framed:
            self.complete = True  # a body delimited by the end of the connection
            self._wake()
        elif not self.complete:
            self._fail(UpstreamUnavailable("the service closed the connection"))
        waiter = self._write_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._write_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    # --- httptools callbacks ---------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (name == b"transfer-encoding" and b"chunked" in value):
            self.framed = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True
        if self.head_only or self.status in (204, 304):
            self.framed = True
            self.complete = True  # the parser cannot know a HEAD response has no body
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _READ_HIGH_WATER and not self._read_paused:
            self._read_paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive() and not self.head_only
        self._wake()


class UpstreamResponse:
    """A response whose head has arrived; read the body with `read_chunk`, then `release`."""

    __slots__ = ("_connection", "_pool", "_released", "_upstream", "headers", "status")

    def __init__(self, pool: UpstreamPool, upstream: Upstream, connection: _Connection) -> None:
        self._pool = pool
        self._upstream = upstream
        self._connection = connection
        self._released = False
        self.status = connection.status
        self.headers = connection.headers

    async def read_chunk(self) -> bytes | None:
        return await self._connection.read_chunk(self._pool.read_timeout_s)

    @property
    def fully_read(self) -> bool:
        """True once the whole body has arrived and been read."""
        return self._connection.complete and not self._connection.chunks

    def release(self) -> None:
        """Give the connection back to the pool, or close it if the body was not read to the end."""
        if not self._released:
            self._released = True
            self._pool._release(self._upstream, self._connection)


class UpstreamPool:
    """Keep-alive connections to every service, at most `max_connections` in use per service."""

    def __init__(
        self,
        *,
        max_connections: int = 512,
        idle_timeout_s: float = 4.0,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 10.0,
    ) -> None:
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._idle: dict[Upstream, deque[_Connection]] = {}
        self._slots: dict[Upstream, asyncio.Semaphore] = {}
        self._ssl: ssl.SSLContext | None = None

    async def request(
        self,
        upstream: Upstream,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: RequestBody = b"",
        *,
        chunked: bool = False,
    ) -> UpstreamResponse:
        """Send a request and wait for the response head. `headers` must already carry Host and
        the body framing (Content-Length, or Transfer-Encoding: chunked with `chunked=True`)."""
        slots = self._slots.get(upstream)
        if slots is None:
            slots = self._slots[upstream] = asyncio.Semaphore(self.max_connections)
        if slots.locked():
            try:
                async with asyncio.timeout(self.connect_timeout_s):
                    await slots.acquire()
            except TimeoutError:
                raise UpstreamTimeout("every connection to the service is busy") from None
        else:
            await slots.acquire()
        head = b"%b %b HTTP/1.1\r\n%b\r\n" % (
            method,
            target,
            b"".join([b"%b: %b\r\n" % pair for pair in headers]),
        )
        head_only = method == b"HEAD"
        retry = isinstance(body, bytes) and method in IDEMPOTENT_METHODS
        try:
            while True:
                connection = await self._connection(upstream)
                connection.begin(head_only=head_only)
                try:
                    if isinstance(body, bytes):
                        connection.transport.write(head + body)  # type: ignore[union-attr]
                    else:
                        connection.transport.write(head)  # type: ignore[union-attr]
                        await connection.write_body(body, chunked, self.read_timeout_s)
                    await connection.read_head(self.read_timeout_s)
                except UpstreamUnavailable:
                    connection.close()
                    # A pooled connection the service closed while idle: safe to try a fresh one.
                    if retry and connection.reused and not connection.got_bytes:
                        retry = False
                        continue
                    raise
                except BaseException:
                    connection.close()
                    raise
                return UpstreamResponse(self, upstream, connection)
        except BaseException:
            slots.release()
            raise

    async def _connection(self, upstream: Upstream) -> _Connection:
        idle = self._idle.get(upstream)
        if idle:
            oldest_allowed = time.monotonic() - self.idle_timeout_s
            while idle:
                connection = idle.pop()
                if not connection.closed and connection.idle_since > oldest_allowed:
                    connection.reused = True
                    return connection
                connection.close()
        loop = asyncio.get_running_loop()
        context = None
        if upstream.tls:
            context = self._ssl or ssl.create_default_context()
            self._ssl = context
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(loop),
                    upstream.host,
                    upstream.port,
                    ssl=context,
                    server_hostname=upstream.host if context else None,
                )
        except TimeoutError:
            raise UpstreamTimeout(f"no connection within {self.connect_timeout_s:g}s") from None
        except OSError as exc:
            raise UpstreamUnavailable(f"cannot connect: {exc.strerror or exc}") from None
        return protocol

    def _release(self, upstream: Upstream, connection: _Connection) -> None:
        self._slots[upstream].release()
        if connection.closed or not connection.complete or not connection.keep_alive:
            connection.close()
            return
        now = time.monotonic()
        connection.idle_since = now
        idle = self._idle.get(upstream)
        if idle is None:
            idle = self._idle[upstream] = deque()
        # Drop connections idle too long from the cold end; the hot end is reused first.
        while idle and (idle[0].closed or idle[0].idle_since < now - self.idle_timeout_s):
            idle.popleft().close()
        idle.append(connection)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()
