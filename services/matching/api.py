"""Admin routes of the matching service (internal port 8004; not routed by the gateway)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.common.errors import NotFound
from services.common.streams import ConsumerGroup
from services.matching.worker import MatchingMachine

router = APIRouter(prefix="/admin", tags=["matching admin"])


def _group(request: Request) -> ConsumerGroup:
    group: ConsumerGroup = request.app.state.consumer_group
    return group


def _machines(group: ConsumerGroup) -> dict[str, MatchingMachine]:
    machines = {}
    for shard_id, worker in group.workers.items():
        machine = getattr(worker, "machine", None)
        if isinstance(machine, MatchingMachine):
            machines[shard_id] = machine
    return machines


@router.get("/status")
async def status(request: Request) -> dict[str, Any]:
    """This member's shard workers (phase, checkpoint, lag) and every lease of the group."""
    return _group(request).status()


@router.get("/symbols")
async def symbols(request: Request) -> dict[str, Any]:
    """Per symbol held by this member: sequence number, book depth, market status, shard."""
    group = _group(request)
    workers = group.workers
    rows = []
    for shard_id, machine in sorted(_machines(group).items()):
        worker_status = workers[shard_id].status() if shard_id in workers else {}
        for market in machine.engine.markets():
            bids, asks = machine.engine.book_depth(market.symbol)
            rows.append(
                {
                    "symbol": market.symbol,
                    "seq": machine.engine.sequence(market.symbol),
                    "bid_levels": bids,
                    "ask_levels": asks,
                    "status": str(market.status.value),
                    "shard": shard_id,
                    "checkpoint": worker_status.get("checkpoint"),
                }
            )
    return {"symbols": rows}


@router.get("/symbols/{symbol}/book")
async def book(request: Request, symbol: str, depth: int = 20) -> dict[str, Any]:
    """The engine's own L2 book (what market data must converge to)."""
    for machine in _machines(_group(request)).values():
        if any(m.symbol == symbol for m in machine.engine.markets()):
            bids, asks = machine.engine.l2(symbol, depth)
            return {
                "symbol": symbol,
                "seq": machine.engine.sequence(symbol),
                "bids": bids,
                "asks": asks,
            }
    raise NotFound(f"no symbol {symbol!r} on this matching member", code="unknown_symbol")
