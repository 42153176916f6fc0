"""Response models of the market data REST API (decimal strings for every price and quantity)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


class MarketOut(BaseModel):
    symbol: str = Field(examples=["BTC-USD"])
    base: str | None = Field(default=None, examples=["BTC"])
    quote: str | None = Field(default=None, examples=["USD"])
    tick_size: str | None = Field(default=None, examples=["0.01"])
    lot_size: str | None = Field(default=None, examples=["0.0001"])
    min_notional: str | None = Field(default=None, examples=["1"])
    maker_fee_bps: int | str | None = Field(default=None, examples=[10])
    taker_fee_bps: int | str | None = Field(default=None, examples=[20])
    status: str = Field(default="trading", examples=["trading", "halted"])
    updated: int | None = Field(default=None, description="Last change, epoch ms.")


class MarketsOut(BaseModel):
    markets: list[MarketOut]


# [price, qty]. Not `tuple[str, str]`: its `prefixItems` schema (valid OpenAPI 3.1) is rejected by
# schemathesis 4 as an invalid response definition, so the book went untested.
Level = Annotated[list[str], Field(min_length=2, max_length=2)]


class BookOut(BaseModel):
    symbol: str
    seq: int = Field(description="The symbol's sequence number this book reflects.")
    bids: list[Level] = Field(description="[price, qty], best (highest) first.")
    asks: list[Level] = Field(description="[price, qty], best (lowest) first.")


class TradeOut(BaseModel):
    id: str = Field(description="`symbol:seq` of the trade event.", examples=["BTC-USD:8"])
    seq: int
    price: str
    qty: str
    side: str = Field(description="The taker's side.", examples=["buy"])
    ts: int | None = Field(description="Epoch milliseconds.")


class TradesOut(BaseModel):
    symbol: str
    trades: list[TradeOut] = Field(description="Newest first.")


class TickerOut(BaseModel):
    symbol: str
    seq: int
    open: str | None
    high: str | None
    low: str | None
    last: str | None
    volume: str = Field(description="Base quantity traded in the window.")
    quote_volume: str = Field(description="Sum of price x qty in the window.")
    change: str | None = Field(description="last - open")
    change_percent: str | None = Field(description="100 x change / open, to 0.01")
    trades: int
    window_start: int | None = Field(description="Start of the 24h window, epoch ms (UTC minute).")
    as_of: int | None = Field(description="Latest event time of the symbol, epoch ms.")


class TickersOut(BaseModel):
    tickers: list[TickerOut]


class CandleOut(BaseModel):
    start: int = Field(description="Bucket start, epoch ms, aligned to the interval in UTC.")
    open: str
    high: str
    low: str
    close: str
    volume: str
    quote_volume: str
    trades: int


class CandlesOut(BaseModel):
    symbol: str
    interval: str
    candles: list[CandleOut] = Field(description="Oldest first.")
