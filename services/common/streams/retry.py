"""Which AWS errors are worth retrying, and exponential backoff with jitter.

Transient: throttling, AWS-side failures, timeouts and dropped connections (moto's server closes
the connection after every response, so a reused one can fail). Everything else (missing stream,
validation, access denied, failed conditions) is a real answer and is raised to the caller.
"""

from __future__ import annotations

import asyncio
import random

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

TRANSIENT_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "LimitExceededException",
        "KMSThrottlingException",
        "SlowDown",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionInProgressException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a `ClientError`, else None."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def is_transient(exc: BaseException) -> bool:
    """True for errors a retry may cure (throttling, 5xx, timeouts, dropped connections)."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in TRANSIENT_ERROR_CODES or int(status or 0) >= 500
    return isinstance(
        exc,
        HTTPClientError
        | BotoConnectionError
        | aiohttp.ClientError
        | asyncio.TimeoutError
        | ConnectionError
        | TimeoutError,
    ) or (isinstance(exc, BotoCoreError) and "timeout" in type(exc).__name__.lower())


def backoff_delay(attempt: int, *, base_s: float, cap_s: float) -> float:
    """Exponential backoff with "equal jitter": for ceiling = min(cap, base * 2**attempt), a delay
    uniform in [ceiling/2, ceiling]. `attempt` counts from 0."""
    ceiling = min(cap_s, base_s * (2 ** min(attempt, 30)))
    return ceiling / 2 + random.uniform(0.0, ceiling / 2)
