"""`Stack.restart` (services/stack.py), which `tradestack chaos` uses after each kill -9."""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import pytest

from services.stack import StackOptions, start_stack
from tests.campaigns.conftest import free_offset


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_a_killed_service_is_restarted_on_its_port(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith(("AWS_", "TRADESTACK_"))]:
        monkeypatch.delenv(key)  # start_stack exports the stack's endpoint; undone after the test
    offset = free_offset()
    stack = start_stack(
        StackOptions(only=("auth",), port_offset=offset, prefix="restart", demo=False)
    )
    try:
        url = f"http://127.0.0.1:{8001 + offset}"
        old = next(p for p in stack.processes if p.name == "auth")
        os.killpg(old.process.pid, signal.SIGKILL)
        old.process.wait()
        assert not _ready(url)
        new = stack.restart("auth")
        assert new.process.pid != old.process.pid
        assert [p.name for p in stack.processes] == ["aws", "auth"]
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert time.monotonic() < deadline, "auth not ready after its restart"
            assert new.process.poll() is None
            time.sleep(0.2)
        with pytest.raises(ValueError):
            stack.restart("aws")  # its state is in memory: never restarted
    finally:
        stack.stop()
    assert not stack.processes
