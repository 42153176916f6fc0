"""Demo data for `tradestack up`: markets, and a market maker quoting both sides of every book.

Both functions use sync boto3 against the endpoint in `AWS_ENDPOINT_URL` and are idempotent:
markets are only created if missing, and the market maker's deposits and orders carry fixed ids,
which the accounts engine applies once however often they are sent.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from services.common.aws import client_config
from services.common.markets import MarketSpec, list_markets_sync, put_market_sync, table_name
from services.common.resources import physical_name
from services.common.serialization import encode_record

DEMO_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("BTC-USD", "BTC", "USD", tick_size="0.01", lot_size="0.0001", min_notional="1"),
    MarketSpec("ETH-USD", "ETH", "USD", tick_size="0.01", lot_size="0.001", min_notional="1"),
    MarketSpec("SOL-USD", "SOL", "USD", tick_size="0.001", lot_size="0.01", min_notional="1"),
)
MARKET_MAKER = "market-maker"
# symbol: (reference price, quantity per level, price step between levels)
QUOTES: dict[str, tuple[str, str, str]] = {
    "BTC-USD": ("60000.00", "0.0500", "25.00"),
    "ETH-USD": ("3000.00", "1.000", "1.50"),
    "SOL-USD": ("150.000", "20.00", "0.075"),
}
LEVELS = 5
MARKET_MAKER_FUNDS = {"USD": "1000000", "BTC": "10", "ETH": "100", "SOL": "5000"}


def seed_markets(prefix: str, markets: tuple[MarketSpec, ...] = DEMO_MARKETS) -> list[str]:
    """Create the demo markets that do not exist yet, and send every market in the table to the
    matching engine (a `market` command per symbol), which starts with none. Returns the symbols
    created."""
    import boto3

    now = int(time.time() * 1000)
    table = boto3.resource("dynamodb", config=client_config()).Table(table_name(prefix))
    created = [
        m.symbol
        for m in markets
        if put_market_sync(table, MarketSpec(**{**_fields(m), "updated": now}), only_if_new=True)
    ]
    kinesis = boto3.client("kinesis", config=client_config())
    records = [
        {"PartitionKey": spec.symbol, "Data": encode_record([spec.engine_command(now)])}
        for spec in list_markets_sync(table)
    ]
    if records:
        _put_records(kinesis, physical_name(prefix, "matching"), records)
    return created


def seed_liquidity(prefix: str) -> int:
    """Fund the `market-maker` account and rest LEVELS bids and asks around a reference price on
    every demo market, so a newcomer sees a live book. Call once the stack is ready (it only
    writes to the `orders` stream, so it is safe earlier too). Returns the orders sent."""
    import boto3

    table = boto3.resource("dynamodb", config=client_config()).Table(table_name(prefix))
    markets = {m.symbol: m for m in list_markets_sync(table)}
    now = int(time.time() * 1000)
    messages: list[dict[str, Any]] = [
        {
            "kind": "deposit",
            "account": MARKET_MAKER,
            "id": f"demo-mm-deposit-{asset}",
            "asset": asset,
            "amount": amount,
            "ts": now,
        }
        for asset, amount in MARKET_MAKER_FUNDS.items()
    ]
    for symbol, (reference, qty, step) in QUOTES.items():
        market = markets.get(symbol)
        if market is None:
            continue
        for level in range(1, LEVELS + 1):
            for side, sign in (("buy", -1), ("sell", 1)):
                price = _offset(reference, step, sign * level)
                messages.append(
                    _order(market, f"demo-mm-{symbol}-{side}-{level}", side, price, qty, now)
                )
    kinesis = boto3.client("kinesis", config=client_config())
    data = encode_record(messages)
    _put_records(
        kinesis, physical_name(prefix, "orders"), [{"PartitionKey": MARKET_MAKER, "Data": data}]
    )
    return len(messages) - len(MARKET_MAKER_FUNDS)


def _order(
    market: MarketSpec, order_id: str, side: str, price: str, qty: str, ts: int
) -> dict[str, Any]:
    command = {
        "op": "new",
        "id": order_id,
        "account": MARKET_MAKER,
        "symbol": market.symbol,
        "side": side,
        "type": "limit",
        "price": price,
        "qty": qty,
        "tif": "GTC",
        "post_only": False,
        "stp": "cancel_maker",
        "ts": ts,
    }
    return {
        "kind": "new",
        "account": MARKET_MAKER,
        "order": command,
        "market": market.terms(),
        "client_order_id": None,
    }


def _offset(reference: str, step: str, multiple: int) -> str:
    """reference + multiple x step, exactly, with the reference's decimals."""
    exponent = Decimal(reference).as_tuple().exponent
    assert isinstance(exponent, int), f"{reference!r} is not a finite decimal"
    return str(
        (Decimal(reference) + multiple * Decimal(step)).quantize(Decimal(1).scaleb(exponent))
    )


def _fields(spec: MarketSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__dataclass_fields__}


def _put_records(kinesis: Any, stream: str, records: list[dict[str, Any]]) -> None:
    pending = records
    for _ in range(10):
        response = kinesis.put_records(StreamName=stream, Records=pending)
        if not response.get("FailedRecordCount"):
            return
        pending = [
            r
            for r, result in zip(pending, response["Records"], strict=True)
            if "ErrorCode" in result
        ]
        time.sleep(0.2)
    raise RuntimeError(f"could not write {len(pending)} demo records to {stream}")
