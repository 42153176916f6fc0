"""One JSON line per request through the gateway, written in batches.

A line has the fields of every other Tradestack log line (ts, level, service, logger, message)
plus method, path, status, duration_ms, request_id, client_ip and upstream. Access lines are JSON
whatever the console format, since they are read by machines (CloudWatch Logs Insights, jq).

Lines are written together every `flush_interval_s` rather than one write per request: at
thousands of requests a second the write calls would cost more than the rest of the gateway's
work per request. A crash loses at most that interval's lines.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import orjson

_MAX_BUFFERED_LINES = 10_000


def write_to_stderr(data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(2, view)
        except InterruptedError:
            continue
        except OSError:
            return  # nowhere to log to; never fail a request over it
        view = view[written:]


class AccessLog:
    """Collects access lines and writes them in batches to `sink` (stderr by default)."""

    def __init__(
        self,
        *,
        service: str = "gateway",
        enabled: bool = True,
        flush_interval_s: float = 0.2,
        sink: Callable[[bytes], None] = write_to_stderr,
    ) -> None:
        self.service = service
        self.enabled = enabled
        self.flush_interval_s = flush_interval_s
        self.sink = sink
        self._lines: list[bytes] = []
        self._flush_pending = False
        self._second = -1
        self._stamp = ""

    def request(
        self,
        *,
        method: str,
        path: str,
        status: int,
        duration_s: float,
        request_id: str,
        client_ip: str | None,
        upstream: str | None,
    ) -> None:
        if not self.enabled:
            return
        now = time.time()
        second = int(now)
        if second != self._second:  # format the date once a second, not once a request
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        line = orjson.dumps(
            {
                "ts": f"{self._stamp}.{int((now - second) * 1000):03d}Z",
                "level": "info",
                "service": self.service,
                "logger": "tradestack.gateway.access",
                "message": "request",
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(duration_s * 1000, 2),
                "request_id": request_id,
                "client_ip": client_ip,
                "upstream": upstream,
            }
        )
        self._lines.append(line)
        if len(self._lines) >= _MAX_BUFFERED_LINES:
            self.flush()
        elif not self._flush_pending:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_pending = True
            loop.call_later(self.flush_interval_s, self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        if self._lines:
            data = b"\n".join(self._lines) + b"\n"
            self._lines.clear()
            self.sink(data)
