"""Nothing lives only in memory: users, sessions, API keys and signing keys survive a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from jose import jwt

from services.common.identity import signed_headers
from services.common.local_aws import free_port
from tests.auth.conftest import PASSWORD, client_for, make_settings, running, sign_up_and_in


async def test_a_restarted_app_keeps_users_sessions_keys_and_signing_keys(auth_prefix: str) -> None:
    settings = make_settings(auth_prefix)
    async with running(settings) as app, client_for(app) as client:
        trader = await sign_up_and_in(client)
        key = (
            await client.post(
                "/api/auth/api-keys",
                json={"label": "bot", "permissions": ["trade"]},
                headers=trader.headers,
            )
        ).json()
        jwks_before = (await client.get("/api/auth/.well-known/jwks.json")).json()

    async with running(settings) as app, client_for(app) as client:
        assert (await client.get("/api/auth/.well-known/jwks.json")).json() == jwks_before
        # The access token issued before the restart still verifies: same signing key.
        me = await client.get("/api/auth/me", headers=trader.headers)
        assert me.status_code == 200 and me.json()["user_id"] == trader.user_id
        login = await client.post(
            "/api/auth/login", json={"email": trader.email, "password": PASSWORD}
        )
        assert login.status_code == 200
        refreshed = await client.post(
            "/api/auth/refresh", json={"refresh_token": trader.refresh_token}
        )
        assert refreshed.status_code == 200
        signed = await client.get(
            "/api/auth/me", headers=signed_headers(key["id"], key["secret"], "GET", "/api/auth/me")
        )
        assert signed.status_code == 200 and signed.json()["auth_method"] == "api_key"
        listed = await client.get("/api/auth/api-keys", headers=trader.headers)
        assert [k["id"] for k in listed.json()] == [key["id"]]
        again = await client.post(
            "/api/auth/signup", json={"email": trader.email, "password": PASSWORD}
        )
        assert again.status_code == 409


@contextmanager
def uvicorn_auth(prefix: str, port: int) -> Iterator[str]:
    """`uvicorn services.auth.app:app` as `tradestack up` runs it, configured by environment."""
    env = {
        **os.environ,
        "TRADESTACK_RESOURCE_PREFIX": prefix,
        "TRADESTACK_AUTH_ARGON2_TIME_COST": "1",
        "TRADESTACK_AUTH_ARGON2_MEMORY_KIB": "64",
        "TRADESTACK_AUTH_ARGON2_PARALLELISM": "1",
        "TRADESTACK_LOG_FORMAT": "json",
    }
    command = [sys.executable, "-m", "uvicorn", "services.auth.app:app", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "auth did not become ready"
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def test_the_uvicorn_process_restarts_without_losing_anything(auth_prefix: str) -> None:
    port = free_port()
    email = f"proc-{time.time_ns()}@example.com"
    with uvicorn_auth(auth_prefix, port) as base:
        assert (
            httpx.post(
                f"{base}/api/auth/signup", json={"email": email, "password": PASSWORD}
            ).status_code
            == 201
        )
        first = httpx.post(
            f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}
        ).json()
    with uvicorn_auth(auth_prefix, port) as base:
        second = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD})
        assert second.status_code == 200
        tokens = second.json()
        kid = jwt.get_unverified_header(first["access_token"])["kid"]
        assert jwt.get_unverified_header(tokens["access_token"])["kid"] == kid
        me = httpx.get(
            f"{base}/api/auth/me", headers={"Authorization": f"Bearer {first['access_token']}"}
        )
        assert me.status_code == 200 and me.json()["email"] == email
