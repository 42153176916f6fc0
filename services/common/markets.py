"""Markets as data: the one place that reads and writes the `markets` table.

A market is one item, `pk = MARKET#<symbol>`, `sk = MARKET`, with decimal-string sizes and integer
fee rates. The orders service writes it (admin endpoints, demo seeding) and embeds its terms in
every order; market data reads it for `GET /api/markets`. Every asset has 8 decimals, so a market's
tick decimals plus lot decimals must be at most 8: then price x quantity is exact in 1e-8 units.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from services.common.resources import physical_name

ASSET_DECIMALS = 8
MAX_FEE_BPS = 1_000
SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,12}-[A-Z0-9]{1,12}$")
ASSET_RE = re.compile(r"^[A-Z0-9]{1,12}$")
_DECIMAL_RE = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,18})?$")

TRADING = "trading"
HALTED = "halted"


class InvalidMarket(ValueError):
    """A market definition that breaks a rule; the message says which."""


def decimals(text: str) -> int:
    """Decimals a plain decimal string really has ("0.0100" has 2)."""
    return len(text.partition(".")[2].rstrip("0"))


def is_positive_decimal(text: object) -> bool:
    return (
        isinstance(text, str)
        and bool(_DECIMAL_RE.match(text))
        and any(c in "123456789" for c in text)
    )


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One market: what it trades, its price and quantity grid, its floor and its fees."""

    symbol: str
    base: str
    quote: str
    tick_size: str
    lot_size: str
    min_notional: str
    maker_fee_bps: int = 10
    taker_fee_bps: int = 20
    status: str = TRADING
    updated: int = 0

    def validate(self) -> MarketSpec:
        """Return self, or raise InvalidMarket naming the broken rule."""
        if not SYMBOL_RE.match(self.symbol):
            raise InvalidMarket("symbol must look like BASE-QUOTE in capitals, e.g. BTC-USD")
        if (
            not ASSET_RE.match(self.base)
            or not ASSET_RE.match(self.quote)
            or self.base == self.quote
        ):
            raise InvalidMarket(
                "base and quote must be two different asset codes, e.g. BTC and USD"
            )
        if self.symbol != f"{self.base}-{self.quote}":
            raise InvalidMarket("symbol must be <base>-<quote>")
        for name in ("tick_size", "lot_size"):
            if not is_positive_decimal(getattr(self, name)):
                raise InvalidMarket(f"{name} must be a positive decimal string")
        if not isinstance(self.min_notional, str) or not _DECIMAL_RE.match(self.min_notional):
            raise InvalidMarket("min_notional must be a decimal string")
        if decimals(self.tick_size) + decimals(self.lot_size) > ASSET_DECIMALS:
            raise InvalidMarket(
                f"tick decimals + lot decimals must be at most {ASSET_DECIMALS} (assets have "
                f"{ASSET_DECIMALS} decimals, so price x quantity stays exact)"
            )
        if decimals(self.min_notional) > ASSET_DECIMALS:
            raise InvalidMarket(f"min_notional has more than {ASSET_DECIMALS} decimals")
        for name in ("maker_fee_bps", "taker_fee_bps"):
            value = getattr(self, name)
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not 0 <= value <= MAX_FEE_BPS
            ):
                raise InvalidMarket(f"{name} must be an integer from 0 to {MAX_FEE_BPS}")
        if self.status not in (TRADING, HALTED):
            raise InvalidMarket("status must be trading or halted")
        return self

    def terms(self) -> dict[str, Any]:
        """What the orders API embeds in each `new` message for the accounts engine."""
        return {
            "base": self.base,
            "quote": self.quote,
            "tick_size": self.tick_size,
            "lot_size": self.lot_size,
            "min_notional": self.min_notional,
            "maker_fee_bps": self.maker_fee_bps,
            "taker_fee_bps": self.taker_fee_bps,
        }

    def engine_command(self, ts: int) -> dict[str, Any]:
        """The matching engine's `market` command that creates or updates this market."""
        return {
            "op": "market",
            "symbol": self.symbol,
            "base": self.base,
            "quote": self.quote,
            "tick_size": self.tick_size,
            "lot_size": self.lot_size,
            "min_notional": self.min_notional,
            "status": self.status,
            "ts": ts,
        }

    def public(self) -> dict[str, Any]:
        """The market as `GET /api/markets` shows it."""
        return asdict(self)

    def with_status(self, status: str, now_ms: int) -> MarketSpec:
        return replace(self, status=status, updated=now_ms)


def to_item(spec: MarketSpec) -> dict[str, Any]:
    """A DynamoDB item (resource / document form) for a market."""
    return {"pk": f"MARKET#{spec.symbol}", "sk": "MARKET", **asdict(spec)}


def from_item(item: dict[str, Any]) -> MarketSpec:
    """A market from its item (resource form; numbers may come back as Decimal)."""
    return MarketSpec(
        symbol=str(item["symbol"]),
        base=str(item["base"]),
        quote=str(item["quote"]),
        tick_size=str(item["tick_size"]),
        lot_size=str(item["lot_size"]),
        min_notional=str(item["min_notional"]),
        maker_fee_bps=int(item.get("maker_fee_bps", 0)),
        taker_fee_bps=int(item.get("taker_fee_bps", 0)),
        status=str(item.get("status", TRADING)),
        updated=int(item.get("updated", 0)),
    )


def table_name(prefix: str) -> str:
    return physical_name(prefix, "markets")


# -- sync (boto3 resource Table): seeding, CLI, tests -----------------------------------------


def put_market_sync(table: Any, spec: MarketSpec, *, only_if_new: bool = False) -> bool:
    """Write a market; with `only_if_new`, keep an existing one and return False."""
    kwargs: dict[str, Any] = {"Item": to_item(spec.validate())}
    if only_if_new:
        kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
    try:
        table.put_item(**kwargs)
    except table.meta.client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def list_markets_sync(table: Any) -> list[MarketSpec]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted((from_item(i) for i in items if i.get("sk") == "MARKET"), key=lambda m: m.symbol)


# -- async (aioboto3 resource Table): services ------------------------------------------------


async def list_markets(table: Any) -> list[MarketSpec]:
    """Every market, sorted by symbol (a Scan: the table is small)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = await table.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted((from_item(i) for i in items if i.get("sk") == "MARKET"), key=lambda m: m.symbol)


async def get_market(table: Any, symbol: str) -> MarketSpec | None:
    response = await table.get_item(
        Key={"pk": f"MARKET#{symbol}", "sk": "MARKET"}, ConsistentRead=True
    )
    item = response.get("Item")
    return from_item(item) if item else None


async def put_market(table: Any, spec: MarketSpec, *, only_if_new: bool = False) -> bool:
    """Write a market; with `only_if_new`, keep an existing one and return False."""
    kwargs: dict[str, Any] = {"Item": to_item(spec.validate())}
    if only_if_new:
        kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
    try:
        await table.put_item(**kwargs)
    except Exception as exc:
        if (
            getattr(exc, "response", {}).get("Error", {}).get("Code")
            == "ConditionalCheckFailedException"
        ):
            return False
        raise
    return True


class MarketCache:
    """Markets in memory for a few seconds: the order hot path never waits on DynamoDB for them."""

    def __init__(self, table: Any, ttl_s: float = 2.0) -> None:
        self._table = table
        self._ttl_s = ttl_s
        self._markets: dict[str, MarketSpec] = {}
        self._loaded_at = float("-inf")
        self._loading: asyncio.Future[dict[str, MarketSpec]] | None = None
        self._generation = 0

    async def all(self) -> dict[str, MarketSpec]:
        if time.monotonic() - self._loaded_at <= self._ttl_s:
            return self._markets
        # One Scan per expiry, shared by every request that finds the cache stale meanwhile
        # (under load, hundreds of requests would otherwise each start their own).
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load())
            self._loading.add_done_callback(self._loaded)
        return await asyncio.shield(self._loading)

    async def _load(self) -> dict[str, MarketSpec]:
        generation = self._generation
        markets = {m.symbol: m for m in await list_markets(self._table)}
        if generation == self._generation:  # not invalidated while the Scan ran
            self._markets = markets
            self._loaded_at = time.monotonic()
        return markets

    def _loaded(self, future: asyncio.Future[dict[str, MarketSpec]]) -> None:
        if self._loading is future:
            self._loading = None
        if not future.cancelled():
            future.exception()  # retrieved here; every waiter gets it raised

    async def get(self, symbol: str) -> MarketSpec | None:
        return (await self.all()).get(symbol)

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")
        self._generation += 1
        self._loading = None  # a Scan under way may predate the change: the next call rescans
