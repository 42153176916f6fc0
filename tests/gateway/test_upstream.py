"""The gateway's HTTP/1.1 client against a raw server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from services.gateway.upstream import Upstream, UpstreamPool, UpstreamTimeout, UpstreamUnavailable

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
Handler = Callable[[int, bytes], bytes | None]  # (request number on the connection, head) → reply


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Handler], asyncio.Future[Upstream]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> Upstream:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            number = 0
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    number += 1
                    reply = handler(number, head)
                    if reply is None:  # hang up without answering
                        break
                    writer.write(reply)
                    await writer.drain()
                    if b"connection: close" in reply.lower():
                        break
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(server)
        return Upstream("raw", "127.0.0.1", server.sockets[0].getsockname()[1])

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


async def _get(pool: UpstreamPool, upstream: Upstream, method: bytes = b"GET") -> tuple[int, bytes]:
    body = b"{}" if method == b"POST" else b""
    headers = [(b"host", b"x")] + ([(b"content-length", b"2")] if body else [])
    response = await pool.request(upstream, method, b"/", headers, body)
    chunks = []
    while (chunk := await response.read_chunk()) is not None:
        chunks.append(chunk)
    response.release()
    return response.status, b"".join(chunks)


async def test_a_pooled_connection_closed_by_the_service_is_retried_for_idempotent_methods(
    raw_server,
) -> None:
    # The service answers once per connection, then hangs up on the next request: the race of a
    # keep-alive connection closing just as it is reused.
    upstream = await raw_server(lambda number, head: OK if number == 1 else None)
    pool = UpstreamPool()
    assert await _get(pool, upstream) == (200, b"ok")
    assert await _get(pool, upstream) == (200, b"ok")  # retried on a fresh connection
    with pytest.raises(UpstreamUnavailable):
        await _get(pool, upstream, b"POST")  # never sent twice: it may have been acted on
    assert await _get(pool, upstream, b"POST") == (200, b"ok")  # on a fresh connection
    await pool.aclose()


async def test_body_until_close_chunked_and_head(raw_server) -> None:
    replies = {
        b"GET /": b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil-close",
        b"PUT /": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HEAD ": b"HTTP/1.1 200 OK\r\ncontent-length: 999\r\n\r\n",
    }
    upstream = await raw_server(lambda number, head: replies[head[:5]])
    pool = UpstreamPool()
    assert await _get(pool, upstream) == (200, b"until-close")
    assert await _get(pool, upstream, b"PUT") == (200, b"abcde")
    assert await _get(pool, upstream, b"HEAD") == (200, b"")
    await pool.aclose()


async def test_no_answer_is_a_timeout_and_a_closed_port_is_unavailable(raw_server) -> None:
    def never(number: int, head: bytes) -> bytes:
        return b""  # reads the request, writes nothing

    upstream = await raw_server(never)
    pool = UpstreamPool(read_timeout_s=0.2)
    with pytest.raises(UpstreamTimeout):
        await _get(pool, upstream)
    with pytest.raises(UpstreamUnavailable):
        await _get(pool, Upstream("gone", "127.0.0.1", 9))
    await pool.aclose()


async def test_a_reply_that_is_not_http_is_unavailable(raw_server) -> None:
    upstream = await raw_server(lambda number, head: b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(UpstreamUnavailable):
        await _get(UpstreamPool(), upstream)
