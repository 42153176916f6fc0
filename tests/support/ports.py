"""Test support: a `tradestack up --port-offset` whose every port is free."""

from __future__ import annotations

import random
import socket

from services.common.topology import LOCAL_AWS_PORT, SERVICES

STACK_PORTS = (*(s.port for s in SERVICES), LOCAL_AWS_PORT)


def ports_free(offset: int) -> bool:
    for port in STACK_PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + offset))
            except OSError:
                return False
    return True


def free_offset(start: int, stop: int) -> int:
    """A `--port-offset` in [start, stop) whose ports are all free (other stacks may run beside
    us). Test folders use disjoint ranges so their stacks never race for one offset."""
    candidates = list(range(start, stop, 100))
    random.shuffle(candidates)
    for offset in candidates:
        if ports_free(offset):
            return offset
    raise RuntimeError("no free port range for `tradestack up`")
