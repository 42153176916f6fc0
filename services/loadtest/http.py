"""A minimal HTTP/1.1 keep-alive client for the load generator: one request at a time per
connection, bodies read whole. An asyncio protocol with httptools' parser (as the gateway's
upstream pool), because the load generator shares two cores with the venue it measures: httpx
costs several times more CPU per request (docs/gateway.md, "Why not httpx")."""

from __future__ import annotations

import asyncio

import httptools


class HttpError(Exception):
    """The connection failed or the server did not answer in time."""


class _Protocol(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"invalid HTTP response: {exc}"))
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpError("the server closed the connection"))

    def _fail(self, error: Exception) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        waiter = self.waiter
        if not self.parser.should_keep_alive():
            self.closed = True
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))
        self.body = []


class KeepAliveConnection:
    """Sends requests to one host over one connection, reconnecting when the server closes it."""

    def __init__(self, host: str, port: int, *, timeout_s: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._protocol: _Protocol | None = None
        self._host_header = f"{host}:{port}".encode()
        self.connects = 0

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: bytes = b"",
    ) -> tuple[int, bytes]:
        """(status, body). `headers` are extra raw header lines, each ending in CRLF."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n%s" % (
            method.encode(),
            path.encode(),
            self._host_header,
            headers,
        )
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            data = head + body
        else:
            data = head + b"\r\n"
        waiter = protocol.loop.create_future()
        protocol.waiter = waiter
        assert protocol.transport is not None
        protocol.transport.write(data)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await waiter
        except TimeoutError:
            self.close()
            raise HttpError(f"no response within {self.timeout_s:g}s") from None
        finally:
            protocol.waiter = None

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await loop.create_connection(
                lambda: _Protocol(loop), self.host, self.port
            )
        except OSError as exc:
            raise HttpError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._protocol = protocol
        self.connects += 1
        return protocol

    def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
