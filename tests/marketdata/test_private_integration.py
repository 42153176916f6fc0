"""Private channels end to end: a real process, real RS256 tokens checked against a JWKS served
by the test, order events from `executions` and ledger entries from `accounts`."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jose import jwk, jwt

from services.common.local_aws import free_port
from tests.marketdata.processes import publish, seed_markets, start_marketdata
from tests.marketdata.scenario import KNOWN_COMMANDS, replay

pytestmark = pytest.mark.aws

KID = "k1"


@pytest.fixture
async def issuer() -> AsyncIterator[tuple[str, str]]:
    """(JWKS URL, private key PEM) of a throwaway token issuer."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = jwk.construct(pem, "RS256").public_key().to_dict()
    app = FastAPI()

    @app.get("/jwks.json")
    async def jwks() -> dict[str, Any]:
        return {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}/jwks.json", pem
    server.should_exit = True
    await task


def access_token(pem: str, account: str) -> str:
    now = int(time.time())
    claims = {
        "iss": "tradestack-auth",
        "aud": "tradestack",
        "sub": account,
        "iat": now,
        "exp": now + 600,
        "token_use": "access",
    }
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": KID})


async def collect(ws: Any, quiet_s: float = 1.0) -> list[dict[str, Any]]:
    messages = []
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), quiet_s)
        except TimeoutError:
            return messages
        message = orjson.loads(raw)
        if message.get("type") != "heartbeat":
            messages.append(message)


async def test_each_user_gets_only_their_orders_fills_and_balances(
    aws_prefix: str, tmp_path: Path, issuer: tuple[str, str]
) -> None:
    jwks_url, pem = issuer
    seed_markets(aws_prefix)
    service = start_marketdata(aws_prefix, tmp_path, TRADESTACK_AUTH_JWKS_URL=jwks_url)
    try:
        async with (
            websockets.connect(service.ws_url) as alice,
            websockets.connect(service.ws_url) as carol,
        ):
            for ws, account in ((alice, "alice"), (carol, "carol")):
                await ws.send(
                    orjson.dumps({"op": "auth", "token": access_token(pem, account)}).decode()
                )
                await ws.send(
                    orjson.dumps(
                        {"op": "subscribe", "channels": ["orders", "fills", "balances"]}
                    ).decode()
                )
                replies = [orjson.loads(await ws.recv()) for _ in range(2)]
                assert [r["type"] for r in replies] == ["authenticated", "subscribed"]
                assert replies[0]["account"] == account
            await publish(aws_prefix, "executions", replay(KNOWN_COMMANDS))
            await publish(
                aws_prefix,
                "accounts",
                [
                    {
                        "kind": "ledger",
                        "account": "alice",
                        "id": "l1",
                        "asset": "USD",
                        "available_delta": "202",
                        "held_delta": "0",
                        "balance": {"available": "202", "held": "0"},
                        "cause": "trade",
                        "ref": "BTC-USD:8",
                    },
                    {
                        "kind": "order_rejected",
                        "account": "carol",
                        "id": "r1",
                        "order_id": "c9",
                        "reason": "insufficient_funds",
                    },
                    {
                        "kind": "ledger",
                        "account": "bob",
                        "id": "l2",
                        "asset": "BTC",
                        "available_delta": "1",
                        "held_delta": "0",
                        "balance": {"available": "1", "held": "0"},
                        "cause": "deposit",
                        "ref": "t1",
                    },
                ],
                key="account",
            )
            alice_messages = await collect(alice)
            carol_messages = await collect(carol)
    finally:
        service.stop(signal.SIGTERM)

    def summary(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((m["channel"], m["type"], m.get("order_id") or m.get("id")) for m in messages)

    assert summary(alice_messages) == sorted(
        [
            ("orders", "accepted", "s1"),
            ("orders", "rested", "s1"),
            ("orders", "accepted", "s2"),
            ("orders", "rested", "s2"),
            ("orders", "trade", "s1"),
            ("fills", "fill", "s1"),
            ("orders", "filled", "s1"),
            ("orders", "cancelled", "s2"),
            ("balances", "ledger", "l1"),
        ]
    )
    assert summary(carol_messages) == sorted(
        [
            ("orders", "accepted", "b2"),
            ("orders", "trade", "b2"),
            ("fills", "fill", "b2"),
            ("orders", "rested", "b2"),
            ("orders", "trade", "b2"),
            ("fills", "fill", "b2"),
            ("orders", "filled", "b2"),
            ("orders", "order_rejected", "c9"),
        ]
    )
