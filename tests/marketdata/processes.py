"""Market data as real processes against the moto server (as `tradestack up` runs it)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from services.common.aws import aio_session, client_config
from services.common.local_aws import free_port
from services.common.markets import MarketSpec, put_market_sync, table_name
from services.common.resources import physical_name
from services.common.streams import StreamProducer


@dataclass
class MarketDataProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=20)


def start_marketdata(
    prefix: str, log_dir: Path, *, port: int | None = None, **env: str
) -> MarketDataProcess:
    port = port or free_port()
    log = log_dir / f"marketdata-{port}-{time.monotonic_ns()}.log"
    environment = {
        **os.environ,
        "TRADESTACK_RESOURCE_PREFIX": prefix,
        "TRADESTACK_SERVICE_NAME": "marketdata",
        "TRADESTACK_LOG_FORMAT": "json",
        "TRADESTACK_PUBLISH_INTERVAL_MS": "20",
        "TRADESTACK_POLL_IDLE_MAX_S": "0.05",
        "TRADESTACK_AUTH_JWKS_URL": "http://127.0.0.1:9/unused",
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "services.marketdata.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with open(log, "ab") as sink:
        process = subprocess.Popen(command, env=environment, stdout=sink, stderr=subprocess.STDOUT)
    running = MarketDataProcess(process, port, log)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"marketdata exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(running.url + "/readyz", timeout=1) as response:
                if response.status == 200:
                    return running
        except OSError:
            pass
        if time.monotonic() > deadline:
            running.stop(signal.SIGKILL)
            raise TimeoutError(f"marketdata not ready: {log.read_text()[-3000:]}")
        time.sleep(0.1)


def seed_markets(prefix: str) -> None:
    table = boto3.resource("dynamodb", config=client_config()).Table(table_name(prefix))
    put_market_sync(table, MarketSpec("BTC-USD", "BTC", "USD", "0.01", "0.0001", "1"))
    put_market_sync(table, MarketSpec("ETH-USD", "ETH", "USD", "0.01", "0.001", "1"))


async def publish(
    prefix: str, stream: str, messages: list[dict[str, Any]], key: str = "symbol"
) -> None:
    """Put messages on a stream with the runtime's ordered producer, durably."""
    async with aio_session().client("kinesis", config=client_config()) as kinesis:
        producer = StreamProducer(kinesis, physical_name(prefix, stream))
        for message in messages:
            await producer.put(message[key], message)
        await producer.close()


async def wait_for(condition: Any, timeout: float = 20.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
