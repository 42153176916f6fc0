"""Fixtures for the orders integration tests: the real processes (orders API, accounts engine,
settlement relay, projector and the matching engine) as uvicorn subprocesses against the moto
server, and signed access tokens checked against a JWKS this module serves."""

from __future__ import annotations

import base64
import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from services.common.local_aws import free_port
from tests.support.processes import ServiceProcess

KID = "orders-test-key"
PROCESSES = {
    "matching": "services.matching.app:app",
    "accounts": "services.orders.accounts_worker:app",
    "relay": "services.orders.relay:app",
    "projector": "services.orders.projector:app",
    "orders": "services.orders.app:app",
}
FAST_TIMINGS = {
    "TRADESTACK_DEMO_MODE": "true",
    "TRADESTACK_ORDERS_LEASE_S": "3",
    "TRADESTACK_ORDERS_SCAN_INTERVAL_S": "0.5",
    "TRADESTACK_ORDERS_SNAPSHOT_INTERVAL_S": "2",
    "TRADESTACK_ORDERS_CHECKPOINT_INTERVAL_S": "0.2",
    "TRADESTACK_LEASE_SECONDS": "3",
    "TRADESTACK_CHECKPOINT_INTERVAL_S": "0.2",
}


def _b64_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Issuer:
    """Signs access tokens the way the auth service does, and serves the JWKS over HTTP."""

    def __init__(self) -> None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        numbers = private.public_key().public_numbers()
        jwks = {
            "keys": [
                {
                    "alg": "RS256",
                    "e": _b64_uint(numbers.e),
                    "kid": KID,
                    "kty": "RSA",
                    "n": _b64_uint(numbers.n),
                    "use": "sig",
                }
            ]
        }
        body = orjson.dumps(jwks)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.jwks_url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, user_id: str, *, admin: bool = False) -> str:
        now = int(time.time())
        claims = {
            "iss": "tradestack-auth",
            "aud": "tradestack",
            "sub": user_id,
            "token_use": "access",
            "roles": ["trader", "admin"] if admin else ["trader"],
            "iat": now,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
        }
        return str(jwt.encode(claims, self.pem, algorithm="RS256", headers={"kid": KID}))

    def headers(self, user_id: str, *, admin: bool = False) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(user_id, admin=admin)}"}


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    issuer = Issuer()
    yield issuer
    issuer.server.shutdown()


class Venue:
    """The orders service's processes plus the matching engine, for one resource prefix."""

    def __init__(self, prefix: str, issuer: Issuer, log_dir: Path) -> None:
        self.prefix = prefix
        env = {**FAST_TIMINGS, "TRADESTACK_AUTH_JWKS_URL": issuer.jwks_url}
        self.processes = {
            name: ServiceProcess(
                app,
                prefix=prefix,
                env={**env, "TRADESTACK_SERVICE_NAME": name},
                log=log_dir / f"{name}.log",
            )
            for name, app in PROCESSES.items()
        }

    @property
    def url(self) -> str:
        return self.processes["orders"].url

    def start(self) -> Venue:
        for process in self.processes.values():
            process.start(wait_ready=False)
        for process in self.processes.values():
            process.wait_ready(60)
        return self

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()


def make_prefix() -> str:
    from services.common.resources import init_aws
    from services.orders.demo import seed_markets

    prefix = "o" + uuid.uuid4().hex[:10]
    init_aws(prefix)
    seed_markets(prefix)
    return prefix


@pytest.fixture(scope="module")
def venue(
    local_aws: str, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Venue]:
    running = Venue(make_prefix(), issuer, tmp_path_factory.mktemp("logs")).start()
    try:
        yield running
    finally:
        running.stop()
