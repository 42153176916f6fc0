"""REST routes: markets, book, trades, ticker, candles and every ticker."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from services.common.errors import BadRequest, NotFound, error_responses
from services.marketdata.schemas import (
    BookOut,
    CandlesOut,
    MarketOut,
    MarketsOut,
    TickerOut,
    TickersOut,
    TradesOut,
)
from services.marketdata.service import MarketDataService

router = APIRouter(tags=["market data"], responses=error_responses(422))


def get_service(request: Request) -> MarketDataService:
    service: MarketDataService = request.app.state.marketdata
    return service


Service = Annotated[MarketDataService, Depends(get_service)]
Symbol = Annotated[str, Path(min_length=1, max_length=32, examples=["BTC-USD"])]


@router.get("/api/markets", response_model=MarketsOut)
async def list_markets(service: Service) -> dict[str, object]:
    """Every market: symbol, assets, tick, lot, minimum notional, fees and status."""
    return {"markets": await service.markets()}


@router.get("/api/markets/{symbol}", response_model=MarketOut, responses=error_responses(404))
async def get_market(service: Service, symbol: Symbol) -> dict[str, object]:
    market = await service.catalog.get(symbol)
    if market is None:
        raise NotFound(f"Unknown market {symbol!r}.", code="unknown_symbol")
    return market


@router.get("/api/markets/{symbol}/book", response_model=BookOut, responses=error_responses(404))
async def get_book(
    service: Service,
    symbol: Symbol,
    depth: Annotated[int, Query(ge=1, le=5000, description="Levels per side.")] = 100,
) -> dict[str, object]:
    """The L2 book, best first, with the sequence number it reflects."""
    state = await service.symbol_state(symbol)
    return {"symbol": symbol, **state.book.depth(depth)}


@router.get(
    "/api/markets/{symbol}/trades", response_model=TradesOut, responses=error_responses(404)
)
async def get_trades(
    service: Service,
    symbol: Symbol,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, object]:
    """The most recent trades, newest first (the last 1,000 are kept)."""
    state = await service.symbol_state(symbol)
    trades = state.trades
    newest = [trades[-i] for i in range(1, min(limit, len(trades)) + 1)]
    return {"symbol": symbol, "trades": newest}


@router.get(
    "/api/markets/{symbol}/ticker", response_model=TickerOut, responses=error_responses(404)
)
async def get_ticker(service: Service, symbol: Symbol) -> dict[str, object]:
    """The rolling 24-hour ticker."""
    return (await service.symbol_state(symbol)).ticker_wire()


@router.get(
    "/api/markets/{symbol}/candles", response_model=CandlesOut, responses=error_responses(400, 404)
)
async def get_candles(
    service: Service,
    symbol: Symbol,
    interval: Annotated[str, Query(description="1m, 5m, 15m, 1h or 1d")] = "1m",
    start: Annotated[
        int | None, Query(ge=0, description="Earliest bucket start, epoch ms.")
    ] = None,
    end: Annotated[int | None, Query(ge=0, description="Latest bucket start, epoch ms.")] = None,
    limit: Annotated[int, Query(ge=1, le=1500)] = 500,
) -> dict[str, object]:
    """OHLCV candles whose start is in [start, end], oldest first, the newest `limit` of them."""
    service.check_interval(interval)
    if start is not None and end is not None and start > end:
        raise BadRequest("`start` must not be after `end`.", code="bad_range")
    state = await service.symbol_state(symbol)
    candles = state.candles[interval].query(start, end, limit)
    return {"symbol": symbol, "interval": interval, "candles": [c.to_wire() for c in candles]}


@router.get("/api/tickers", response_model=TickersOut)
async def list_tickers(service: Service) -> dict[str, object]:
    """The 24-hour ticker of every market."""
    return {"tickers": await service.tickers()}
