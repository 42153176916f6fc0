"""Measuring: latency percentiles, CPU time of processes (Linux /proc), and finding the processes
of a running stack by the ports on their command lines."""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.common.topology import LOCAL_AWS_PORT, SERVICES

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None for no values)."""
    if not sorted_values:
        return None
    rank = max(1, round(fraction * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @classmethod
    def of(cls, values_ms: Iterable[float]) -> LatencySummary:
        ordered = sorted(values_ms)
        return cls(
            len(ordered),
            _round(percentile(ordered, 0.50)),
            _round(percentile(ordered, 0.90)),
            _round(percentile(ordered, 0.99)),
            _round(ordered[-1] if ordered else None),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads), in seconds; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds each named process used between `start()` and `stop()`."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self._before: dict[str, float | None] = {}
        self._after: dict[str, float | None] = {}
        self._started = self._stopped = 0.0

    def start(self) -> None:
        self._before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._started = time.monotonic()

    def stop(self) -> None:
        self._after = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._stopped = time.monotonic()

    def usage(self) -> dict[str, float]:
        """Per process: the share of one core used over the window (1.0 = one core busy)."""
        wall = max(1e-9, self._stopped - self._started)
        shares = {}
        for name in self.pids:
            before, after = self._before.get(name), self._after.get(name)
            if before is not None and after is not None:
                shares[name] = round((after - before) / wall, 3)
        return shares


def stack_pids(port_offset: int) -> dict[str, int]:
    """The pid of each process of the stack at `port_offset`: uvicorn services by their
    `--port`, the local AWS endpoint by its `-p` (moto)."""
    wanted = {str(s.port + port_offset): s.name for s in SERVICES}
    aws_port = str(LOCAL_AWS_PORT + port_offset)
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if "uvicorn" in args and "--port" in args:
            port = args[args.index("--port") + 1] if args.index("--port") + 1 < len(args) else ""
            if port in wanted:
                found[wanted[port]] = int(entry.name)
        elif any("moto" in a for a in args) and "-p" in args:
            index = args.index("-p") + 1
            if index < len(args) and args[index] == aws_port:
                found["aws (moto)"] = int(entry.name)
    return found


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        match = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        if match:
            memory_gib = round(int(match.group(1)) / 1024 / 1024, 1)
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": memory_gib,
        "python": sys.version.split()[0],
        "load_average_1m": round(load[0], 2) if load else None,
    }
