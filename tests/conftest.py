"""Fixtures shared by every test: a real moto server (not `mock_aws`) and fresh resources."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from services.common.local_aws import free_port, local_aws_environment, start_moto_server


@pytest.fixture(scope="session")
def local_aws() -> Iterator[str]:
    """A moto server for the whole test session; its endpoint is exported as AWS_ENDPOINT_URL so
    boto3 in this process and in every subprocess the tests start uses it."""
    port = free_port()
    process = start_moto_server(port)
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in local_aws_environment(endpoint)}
    os.environ.update(local_aws_environment(endpoint))
    try:
        yield endpoint
    finally:
        process.kill()
        process.wait()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def aws_prefix(local_aws: str) -> str:
    """A resource prefix unique to one test, with every stream, table and bucket created."""
    from services.common.resources import init_aws

    prefix = "t" + uuid.uuid4().hex[:10]
    init_aws(prefix)
    return prefix
