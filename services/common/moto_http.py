"""A keep-alive HTTP/1.1 server for moto's WSGI application (the local AWS endpoint's front).

moto's own server is werkzeug's development server: it answers every request with
`Connection: close` and starts a thread per connection, so every AWS call of every service opens a
TCP connection, and the request line and headers go through `http.server`'s e-mail parser. Under
`tradestack bench e2e` that was a large part of the ~2 ms of CPU moto spent per call before any
work, plus the client side's connect. This server keeps connections open, parses with httptools
(the parser uvicorn uses) on one asyncio loop (uvloop), and calls moto's WSGI application inline:
moto's backends are plain Python under one lock anyway, so threads bought nothing but switching.

It serves what the venue's services and tests call (Kinesis, DynamoDB, S3, moto's `/moto-api`);
nothing of moto blocks waiting for another request (no SQS long polls here). The WSGI environ is
built as werkzeug builds it, S3's underscored metadata header names included.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

import httptools

log = logging.getLogger("tradestack.moto_http")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_NO_BODY_STATUSES = frozenset({204, 304})


def _dance(value: str) -> str:
    """WSGI's "bytes as latin-1 text" for a str holding UTF-8 text (werkzeug does the same)."""
    return value.encode().decode("latin-1")


class _Connection(asyncio.Protocol):
    """One client connection: parse requests, answer each in order, keep the connection open."""

    def __init__(self, app: WSGIApp, server_name: str, server_port: str) -> None:
        self._app = app
        self._server_name = server_name
        self._server_port = server_port
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._peer: tuple[str, int] = ("127.0.0.1", 0)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's too)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._peer = (str(peer[0]), int(peer[1]))

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, b"upgrade not supported")
        except httptools.HttpParserError as exc:
            self._fail(400, f"malformed HTTP request: {exc}".encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    # ------------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        for name, value in self._headers:
            expects_continue = name.lower() == b"expect" and value.lower() == b"100-continue"
            if expects_continue and self._transport is not None:
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._transport is None:
            return
        keep_alive = self._parser.should_keep_alive()
        method = self._parser.get_method().decode("latin-1")
        info = INFO_PATHS.get(self._url.decode("latin-1"))
        if info is not None:
            body = json.dumps(info()).encode()
            self._transport.write(
                self._serialize(
                    method, 200, [("Content-Type", "application/json")], body, keep_alive=keep_alive
                )
            )
            return
        _count(method, self._headers)
        try:
            status, headers, body = self._respond(method)
        except Exception:
            log.exception("moto failed to answer", extra={"url": self._url[:200]})
            response = _plain(500, b"internal error in the local AWS endpoint", keep_alive)
        else:
            response = self._serialize(method, status, headers, body, keep_alive=keep_alive)
        self._transport.write(response)
        if not keep_alive:
            self._transport.close()

    # ------------------------------------------------------------------ WSGI

    def _respond(self, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
        environ = self._environ(method)
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return chunks.append

        chunks: list[bytes] = []
        result = self._app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        return int(status.split(" ", 1)[0]), headers, b"".join(chunks)

    def _environ(self, method: str) -> dict[str, Any]:
        target = self._url.decode("latin-1")
        url = urlsplit(target)
        path = f"/{url.netloc}{url.path}" if not url.scheme and url.netloc else url.path
        body = b"".join(self._body)
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "SERVER_SOFTWARE": "tradestack-moto-http",
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": _dance(unquote(path)),
            "QUERY_STRING": _dance(url.query),
            "REQUEST_URI": _dance(target),
            "RAW_URI": _dance(target),
            "REMOTE_ADDR": self._peer[0],
            "REMOTE_PORT": self._peer[1],
            "SERVER_NAME": self._server_name,
            "SERVER_PORT": self._server_port,
            "SERVER_PROTOCOL": f"HTTP/{self._parser.get_http_version()}",
        }
        underscored: dict[str, tuple[str, list[str]]] = {}
        for raw_name, raw_value in self._headers:
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1").replace("\r\n", "")
            key = name.upper().replace("-", "_")
            if "_" in name:
                # WSGI can't tell X_Foo from X-Foo: werkzeug drops these, moto keeps their
                # spelling for S3 metadata (below); a dashed header always wins.
                underscored.setdefault(key, (name, []))[1].append(value)
                continue
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
                continue
            key = f"HTTP_{key}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        # The body was read whole, whatever its framing (chunked or not).
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        if url.scheme and url.netloc:
            environ["HTTP_HOST"] = url.netloc
        if underscored:
            self._preserve_underscored(environ, underscored)
        return environ

    @staticmethod
    def _preserve_underscored(
        environ: dict[str, Any], underscored: dict[str, tuple[str, list[str]]]
    ) -> None:
        from moto.core.request import (
            PRESERVED_HEADER_NAMES_ENVIRON_KEY,
            should_preserve_original_header_name,
        )

        names: dict[str, str] = {}
        for key, (name, values) in underscored.items():
            environ_key = f"HTTP_{key}"
            if environ_key in environ or not should_preserve_original_header_name(name):
                continue
            names[environ_key] = name
            environ[environ_key] = ",".join(values)
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names

    @staticmethod
    def _serialize(
        method: str,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        keep_alive: bool,
    ) -> bytes:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}"]
        has_length = False
        for name, value in headers:
            lowered = name.lower()
            if lowered in ("connection", "transfer-encoding"):
                continue
            if lowered == "content-length":
                has_length = True
            lines.append(f"{name}: {value}")
        no_body = method == "HEAD" or status in _NO_BODY_STATUSES or 100 <= status < 200
        if not has_length and status not in _NO_BODY_STATUSES and not 100 <= status < 200:
            lines.append(f"Content-Length: {len(body)}")
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if no_body else head + body

    def _fail(self, status: int, message: bytes) -> None:
        if self._transport is not None:
            self._transport.write(_plain(status, message, keep_alive=False))
            self._transport.close()


CALLS_PATH = "/_tradestack/calls"
"""GET answers the number of calls served so far per action (`{"dynamodb:GetItem": 12, ...}`),
for `tradestack bench e2e`'s calls-per-order figures. Not an AWS path."""
CALLS: dict[str, int] = {}

INFO_PATHS: dict[str, Callable[[], Any]] = {CALLS_PATH: lambda: CALLS}
"""Paths the endpoint answers itself with JSON (never AWS paths); `moto_server` adds its own."""


def _count(method: str, headers: list[tuple[bytes, bytes]]) -> None:
    action = None
    for name, value in headers:
        if name.lower() == b"x-amz-target":
            service, _, operation = value.decode("latin-1").partition(".")
            action = f"{service.split('_', 1)[0].lower()}:{operation}"
            break
    if action is None:
        action = f"other:{method}"  # S3 and moto's own API: by HTTP method
    CALLS[action] = CALLS.get(action, 0) + 1


def _plain(status: int, message: bytes, keep_alive: bool) -> bytes:
    phrase = HTTPStatus(status).phrase
    connection = "keep-alive" if keep_alive else "close"
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(message)}\r\nConnection: {connection}\r\n\r\n"
    )
    return head.encode("latin-1") + message


async def serve_forever(app: WSGIApp, host: str, port: int) -> None:
    """Serve `app` on host:port until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Connection(app, host, str(port)), host, port, reuse_address=True, backlog=1024
    )
    async with server:
        await server.serve_forever()


def run(app: WSGIApp, host: str, port: int) -> None:
    """Run the server on uvloop (asyncio's loop where uvloop is missing) until SIGINT/SIGTERM."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        runner: Callable[[Any], Any] = asyncio.run
    else:
        runner = uvloop.run
    import contextlib
    import signal

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serve_forever(app, host, port)

    runner(main())
