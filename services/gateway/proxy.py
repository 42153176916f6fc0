"""Forwarding one request, as raw ASGI, to the service that owns its path.

HTTP goes through the pooled `UpstreamPool`; bodies stream both ways and are never decoded.
WebSockets are relayed message by message (client ↔ gateway ↔ service) with the `websockets`
client, close codes passed on in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import orjson
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from services.common.errors import error_response
from services.gateway.settings import GatewaySettings
from services.gateway.upstream import (
    Upstream,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Request headers the gateway sets itself. Host is passed on unchanged, so a service's redirects
# and absolute URLs point at the gateway.
_REQUEST_DROP = HOP_BY_HOP | {
    b"content-length",
    b"expect",
    b"x-forwarded-for",
    b"x-forwarded-proto",
}
# The gateway's own server adds Date and Server; the edge adds request id and security headers.
RESPONSE_DROP = HOP_BY_HOP | {
    b"date",
    b"server",
    b"x-request-id",
    b"x-content-type-options",
    b"x-frame-options",
    b"referrer-policy",
    b"content-security-policy",
    b"strict-transport-security",
}
_WEBSOCKET_DROP = HOP_BY_HOP | {
    b"host",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"sec-websocket-key",
    b"sec-websocket-version",
    b"sec-websocket-extensions",
    b"sec-websocket-protocol",
    b"sec-websocket-accept",
}
_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class UpstreamProxy:
    """Forwards HTTP requests and WebSocket sessions to services, answering 502/504/413 itself."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.max_body_bytes = settings.gateway_max_body_bytes
        self.connect_timeout_s = settings.gateway_upstream_connect_timeout_s
        self.pool = UpstreamPool(
            max_connections=settings.gateway_upstream_max_connections,
            idle_timeout_s=settings.gateway_upstream_idle_s,
            connect_timeout_s=settings.gateway_upstream_connect_timeout_s,
            read_timeout_s=settings.gateway_upstream_timeout_s,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()

    # --- HTTP ---------------------------------------------------------------------------------
    async def http(self, scope: Scope, receive: Receive, send: Send, upstream: Upstream) -> None:
        headers, declared_length, chunked = _request_headers(scope, upstream)
        if declared_length is not None and declared_length > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        body: bytes | AsyncIterator[bytes] = b""
        if declared_length is None and not chunked and scope["method"] in _BODYLESS:
            pass  # nothing to read; skip an ASGI round trip on the hot path
        else:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            first = message.get("body", b"")
            if message.get("more_body", False):
                body = self._stream_body(receive, first)
            elif len(first) > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            else:
                body = first
        if isinstance(body, bytes):
            if body or declared_length is not None:
                headers.append((b"content-length", b"%d" % len(body)))
            chunked = False
        elif declared_length is not None:
            headers.append((b"content-length", b"%d" % declared_length))
            chunked = False
        else:
            headers.append((b"transfer-encoding", b"chunked"))
            chunked = True
        target = scope.get("raw_path") or scope["path"].encode()
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        try:
            response = await self.pool.request(
                upstream, scope["method"].encode(), target, headers, body, chunked=chunked
            )
        except BodyTooLarge:
            await self._too_large(scope, receive, send)
            return
        except ClientGone:
            return
        except UpstreamTimeout as exc:
            await self._upstream_error(scope, receive, send, upstream, 504, exc)
            return
        except UpstreamUnavailable as exc:
            await self._upstream_error(scope, receive, send, upstream, 502, exc)
            return
        try:
            await self._relay_response(response, send)
        finally:
            response.release()

    async def _relay_response(self, response: UpstreamResponse, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [pair for pair in response.headers if pair[0] not in RESPONSE_DROP],
            }
        )
        try:
            while (chunk := await response.read_chunk()) is not None:
                # The usual small response is complete in one chunk: one ASGI message. A stream
                # is passed on chunk by chunk as it arrives, never held back.
                last = response.fully_read
                await send({"type": "http.response.body", "body": chunk, "more_body": not last})
                if last:
                    return
        except (UpstreamTimeout, UpstreamUnavailable) as exc:
            # The status line is out; all that is left is to cut the response short.
            log.warning("response from upstream cut short: %s", exc)
            return
        await send({"type": "http.response.body", "body": b""})

    async def _stream_body(self, receive: Receive, first: bytes) -> AsyncIterator[bytes]:
        seen = len(first)
        if seen > self.max_body_bytes:
            raise BodyTooLarge
        yield first
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_body_bytes:
                raise BodyTooLarge
            yield chunk
            if not message.get("more_body", False):
                return

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "payload_too_large", f"Request body over {self.max_body_bytes} bytes."
        )
        response.headers["connection"] = "close"  # the unread rest of the body is not drained
        await response(scope, receive, send)

    async def _upstream_error(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        status: int,
        exc: Exception,
    ) -> None:
        log.warning("upstream %s failed: %s", upstream.name, exc, extra={"upstream": upstream.name})
        if status == 504:
            response = error_response(
                504, "upstream_timeout", f"The {upstream.name} service did not answer in time."
            )
        else:
            response = error_response(
                502, "upstream_unavailable", f"The {upstream.name} service is unavailable."
            )
        await response(scope, receive, send)

    # --- WebSocket ----------------------------------------------------------------------------
    async def websocket(
        self, scope: Scope, receive: Receive, send: Send, upstream: Upstream
    ) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        target = scope.get("raw_path") or scope["path"].encode()
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        url = (
            f"{'wss' if upstream.tls else 'ws'}://{upstream.host}:{upstream.port}{target.decode()}"
        )
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name not in _WEBSOCKET_DROP
        ]
        headers += _forwarded_for(scope)
        try:
            service = await connect(
                url,
                additional_headers=headers,
                subprotocols=scope.get("subprotocols") or None,
                compression=None,
                proxy=None,
                user_agent_header=None,
                open_timeout=self.connect_timeout_s,
                max_size=None,  # the service bounds what it sends; the client side is uvicorn's
            )
        except InvalidStatus as exc:
            await reject_websocket(
                scope, send, exc.response.status_code, bytes(exc.response.body or b"")
            )
            return
        except TimeoutError:
            await reject_websocket(
                scope,
                send,
                504,
                error_body(
                    "upstream_timeout", f"The {upstream.name} service did not answer in time."
                ),
            )
            return
        except (OSError, WebSocketException) as exc:
            log.warning("websocket upstream %s failed: %s", upstream.name, exc)
            await reject_websocket(
                scope,
                send,
                502,
                error_body("upstream_unavailable", f"The {upstream.name} service is unavailable."),
            )
            return
        async with service:
            await send({"type": "websocket.accept", "subprotocol": service.subprotocol})
            await _relay_websocket(receive, send, service)


async def _relay_websocket(receive: Receive, send: Send, service: ClientConnection) -> None:
    """Pass messages both ways until one side closes; the other side then gets its close code.

    Either direction ends the session naturally: a client disconnect closes the service
    connection, which ends `service_to_client`; a service close is sent to the client, whose
    disconnect then ends `client_to_service`.
    """

    async def client_to_service() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.receive":
                text = message.get("text")
                # If the service has gone, its close code reaches the client from the other task.
                with contextlib.suppress(ConnectionClosed):
                    await service.send(text if text is not None else message.get("bytes") or b"")
            elif message["type"] == "websocket.disconnect":
                code = _sendable_close_code(message.get("code"), lost=1001)
                await service.close(code, message.get("reason") or "")
                return

    async def service_to_client() -> None:
        try:
            async for data in service:
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})
        except ConnectionClosed:
            pass
        code = _sendable_close_code(service.close_code, lost=1014)
        await send({"type": "websocket.close", "code": code, "reason": service.close_reason or ""})

    to_client = asyncio.ensure_future(service_to_client())
    try:
        await client_to_service()
        await asyncio.wait({to_client}, timeout=5.0)
    finally:
        to_client.cancel()
        # A send to a client that already left fails; nothing is left to tell it.
        await asyncio.gather(to_client, return_exceptions=True)


def _sendable_close_code(code: int | None, *, lost: int) -> int:
    """1005 (no code) and 1006 (connection lost) are never sent in a close frame; report a lost
    peer as `lost` (1014 bad gateway towards the client, 1001 going away towards the service)."""
    if code is None or code == 1005:
        return 1000
    if code in (1006, 1015):
        return lost
    return code


async def reject_websocket(
    scope: Scope,
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Refuse a WebSocket handshake with an HTTP response (uvicorn supports the ASGI extension
    for it); without the extension, a close before accept becomes a bare 403."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *(headers or [])],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


def error_body(code: str, message: str) -> bytes:
    """The API's error shape, for responses built without a Response object."""
    return orjson.dumps({"error": {"code": code, "message": message}})


def _forwarded_for(scope: Scope) -> list[tuple[str, str]]:
    client = scope.get("client")
    proto = "https" if scope.get("scheme") in ("https", "wss") else "http"
    forwarded = [("x-forwarded-proto", proto)]
    if client:
        forwarded.append(("x-forwarded-for", client[0]))
    return forwarded


def _request_headers(
    scope: Scope, upstream: Upstream
) -> tuple[list[tuple[bytes, bytes]], int | None, bool]:
    """The headers to send on, the declared Content-Length, and whether the body is chunked."""
    headers: list[tuple[bytes, bytes]] = []
    declared: int | None = None
    chunked = False
    has_host = False
    listed: bytes | None = None
    for name, value in scope["headers"]:
        if name in _REQUEST_DROP:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else -1
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"connection":
                listed = value
            continue
        if name == b"host":
            has_host = True
        headers.append((name, value))
    if listed is not None:
        # Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
        named = {token.strip().lower() for token in listed.split(b",")} - {b"keep-alive", b"close"}
        if named:
            headers = [pair for pair in headers if pair[0] not in named]
    if not has_host:
        headers.append((b"host", upstream.authority))
    client = scope.get("client")
    if client:
        headers.append((b"x-forwarded-for", client[0].encode()))
    headers.append((b"x-forwarded-proto", b"https" if scope.get("scheme") == "https" else b"http"))
    if declared == -1:
        declared = None  # uvicorn refuses a malformed Content-Length before the app sees it
    return headers, declared, chunked
