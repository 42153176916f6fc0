"""Market administration: add a market, halt and resume one (admin role)."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.errors import Conflict, NotFound, ValidationFailed, error_responses
from services.common.identity import RequireAdmin
from services.common.markets import (
    HALTED,
    TRADING,
    InvalidMarket,
    MarketSpec,
    get_market,
    put_market,
)
from services.orders.api import Service
from services.orders.schemas import NewMarket
from services.orders.service import now_ms

router = APIRouter(
    prefix="/api/admin/markets",
    tags=["admin"],
    responses=error_responses(400, 401, 403, 422, 503),
)


@router.post("", status_code=201, responses=error_responses(409))
async def add_market(body: NewMarket, _admin: RequireAdmin, service: Service) -> dict[str, object]:
    """Create a market in the markets table and tell the matching engine about it."""
    try:
        spec = MarketSpec(**body.model_dump(), updated=now_ms()).validate()
    except InvalidMarket as exc:
        raise ValidationFailed(str(exc), code="invalid_market") from exc
    if not await put_market(service.markets_table, spec, only_if_new=True):
        raise Conflict(f"Market {spec.symbol} already exists.", code="market_exists")
    await service.publish_market(spec)
    return {"market": spec.public()}


@router.post("/{symbol}/halt", responses=error_responses(404))
async def halt_market(symbol: str, _admin: RequireAdmin, service: Service) -> dict[str, object]:
    """Stop new orders and amends on a market (cancels still work)."""
    return {"market": await _set_status(service, symbol, HALTED)}


@router.post("/{symbol}/resume", responses=error_responses(404))
async def resume_market(symbol: str, _admin: RequireAdmin, service: Service) -> dict[str, object]:
    """Reopen a halted market."""
    return {"market": await _set_status(service, symbol, TRADING)}


async def _set_status(service: Service, symbol: str, status: str) -> dict[str, object]:
    spec = await get_market(service.markets_table, symbol)
    if spec is None:
        raise NotFound(f"No market {symbol!r}.", code="unknown_symbol")
    spec = spec.with_status(status, now_ms())
    await put_market(service.markets_table, spec)
    await service.publish_market(spec)
    return spec.public()
