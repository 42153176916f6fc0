"""Small real services the gateway tests forward to, served by uvicorn on free ports.

Each stand-in echoes what it received (so a test sees exactly what the gateway sent on) and has a
few typed routes so its OpenAPI document has schemas to merge.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, create_model

from services.common.local_aws import free_port


class Order(BaseModel):
    """Differs between the orders and marketdata stand-ins: a name conflict to resolve."""

    id: str
    qty: str


# Same name, other fields: the marketdata stand-in's `Order`.
MarketOrder = create_model("Order", id=(str, ...), price=(str, ...))


class Market(BaseModel):
    symbol: str


class Session(BaseModel):
    access_token: str


def standin(service: str) -> FastAPI:
    """A stand-in for `service`: typed routes for its OpenAPI document, and an echo of anything."""
    app = FastAPI(title=f"{service} stand-in")
    app.state.websocket_closes = []

    if service == "auth":

        @app.post("/api/auth/login", response_model=Session)
        async def login(market: Market) -> Session:  # shares `Market` with marketdata
            return Session(access_token="x")

    if service == "orders":

        @app.get("/api/orders/{order_id}", response_model=Order)
        async def get_order(order_id: str) -> Order:
            return Order(id=order_id, qty="1")

        @app.get("/api/orders-slow/ping")  # not under an orders prefix: left out of the spec
        async def not_owned() -> dict[str, str]:
            return {}

        @app.get("/api/balances/slow")
        async def slow() -> dict[str, str]:
            await asyncio.sleep(5.0)
            return {"slow": "yes"}

        @app.get("/api/trades/stream")
        async def stream() -> StreamingResponse:
            async def chunks() -> AsyncIterator[bytes]:
                for index in range(5):
                    yield b"chunk-%d;" % index
                    await asyncio.sleep(0.01)

            return StreamingResponse(chunks(), media_type="text/plain")

        @app.get("/api/trades/events")
        async def events() -> StreamingResponse:
            async def chunks() -> AsyncIterator[bytes]:
                yield b"first;"
                await asyncio.sleep(0.4)
                yield b"second;"

            return StreamingResponse(chunks(), media_type="text/event-stream")

    if service == "marketdata":

        @app.get("/api/markets/{symbol}/order", response_model=MarketOrder)
        async def market_order(symbol: str) -> dict[str, str]:
            return {"id": symbol, "price": "1"}

        @app.post("/api/markets/search", response_model=list[Market])
        async def search(market: Market) -> list[Market]:
            return [market]

        @app.websocket("/ws")
        async def echo_socket(websocket: WebSocket) -> None:
            await websocket.accept(subprotocol=(websocket.scope.get("subprotocols") or [None])[0])
            await websocket.send_text("hello " + websocket.headers.get("x-request-id", "-"))
            try:
                while True:
                    message = await websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        app.state.websocket_closes.append(message.get("code"))
                        return
                    text = message.get("text")
                    if text is not None and text.startswith("close:"):
                        await websocket.close(code=int(text.split(":")[1]), reason="asked to")
                        return
                    if text is not None:
                        await websocket.send_text(text)
                    else:
                        await websocket.send_bytes(message.get("bytes") or b"")
            except WebSocketDisconnect as exc:
                app.state.websocket_closes.append(exc.code)

    @app.api_route(
        "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    async def echo(request: Request, path: str) -> JSONResponse:
        body = await request.body()
        return JSONResponse(
            {
                "service": service,
                "method": request.method,
                "path": request.scope["path"],
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.scope["query_string"].decode(),
                "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
                "body_length": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "body": body[:200].decode(errors="replace"),
            },
            headers={"x-upstream": service, "x-request-id": "upstream-must-not-win"},
        )

    return app


class ServerThread:
    """An ASGI app under uvicorn (uvloop + httptools, as `tradestack up` runs it) in a thread."""

    def __init__(self, app: object, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=self.port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
