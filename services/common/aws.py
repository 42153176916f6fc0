"""AWS clients for every service: boto3 (sync) and aioboto3 (async), one configuration.

Endpoints come only from the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables,
which botocore reads itself; nothing here names a host.
"""

from __future__ import annotations

from functools import cache

from botocore.config import Config


@cache
def client_config(*, max_pool_connections: int = 50, read_timeout: float = 10.0) -> Config:
    """Retries with backoff, short timeouts (a hung call must not stall a shard worker)."""
    return Config(
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=3,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        tcp_keepalive=True,
    )


def aio_session():  # type: ignore[no-untyped-def]
    """An aioboto3 session; create clients with `async with session.client(..., config=...)`."""
    import aioboto3

    return aioboto3.Session()
