"""Order entry: validate against the market, assign ids, publish to the `orders` stream.

The hot path of `POST /api/orders` is one cached market lookup and one message for the batched
producer (PutRecords), plus one conditional DynamoDB put only when a `client_order_id` is given.
Funds are checked asynchronously by the accounts engine; its verdict shows in the order's status.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson

from services.common.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from services.common.identity import AuthenticatedUser
from services.common.item_batcher import ItemBatcher
from services.common.markets import MarketCache, MarketSpec, decimals
from services.common.streams import StreamProducer
from services.orders import queries
from services.orders.accounts.money import MoneyError, format_units, parse_units
from services.orders.ids import id_time_ms, new_id
from services.orders.projection import unpack
from services.orders.schemas import AmendOrder, PlaceOrder, Transfer
from services.orders.settings import OrdersSettings

TERMINAL = ("filled", "cancelled", "expired", "rejected")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class OrdersService:
    """Everything a request needs: settings, tables (aioboto3 resource Tables), producers."""

    settings: OrdersSettings
    orders_table: Any
    trades_table: Any
    balances_table: Any
    ledger_table: Any
    markets_table: Any
    orders_stream: StreamProducer
    matching_stream: StreamProducer
    markets: MarketCache
    order_items: ItemBatcher
    """Reads of projected orders (cancel, amend, GET, idempotent retries), coalesced."""

    async def order_item(self, order_id: str) -> dict[str, Any] | None:
        """The projected order, or None if it is not (yet) projected."""
        item = await self.order_items.get(queries.order_key(order_id))
        return None if item is None else unpack(item)

    # -- publishing ------------------------------------------------------------------------------

    async def publish(self, producer: StreamProducer, key: str, message: dict[str, Any]) -> None:
        """Put one message and return once Kinesis has it (batched with concurrent requests)."""
        try:
            number = await producer.put(key, message)
            await producer.wait_durable(number, key)
        except Exception as exc:  # the producer failed for good: say so, never pretend success
            raise ServiceUnavailable(
                "The order stream is unavailable; try again.", code="stream_unavailable"
            ) from exc

    # -- orders ----------------------------------------------------------------------------------

    async def place(
        self, user: AuthenticatedUser, request: PlaceOrder
    ) -> tuple[int, dict[str, Any]]:
        """Validate and publish a new order. Returns (HTTP status, order view)."""
        market = await self.markets.get(request.symbol)
        if market is None:
            raise ValidationFailed(f"No market {request.symbol!r}.", code="unknown_symbol")
        command = validate_order(request, market)
        ts = now_ms()
        order_id = new_id(ts)
        account = user.account
        command.update({"op": "new", "id": order_id, "account": account, "ts": ts})
        message = {
            "kind": "new",
            "account": account,
            "order": command,
            "market": market.terms(),
            "client_order_id": request.client_order_id,
        }
        if request.client_order_id:
            original = await self._claim_client_id(account, request.client_order_id, message, ts)
            if original is not None:
                return 200, original
        await self.publish(self.orders_stream, account, message)
        return 202, pending_view(message)

    async def _claim_client_id(
        self, account: str, client_order_id: str, message: dict[str, Any], ts: int
    ) -> dict[str, Any] | None:
        """Claim the client order id; if it was claimed before, return that original order (and
        publish the original again if it never reached the projection, which is harmless: the
        accounts engine ignores an order id it has seen)."""
        item = {
            **queries.client_key(account, client_order_id),
            "order_id": message["order"]["id"],
            "message": orjson.dumps(message).decode(),
            "created_ms": ts,
            "expires_at": ts // 1000 + self.settings.orders_client_id_ttl_s,
        }
        try:
            await self.orders_table.put_item(
                Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
            return None
        except Exception as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
        response = await self.orders_table.get_item(
            Key=queries.client_key(account, client_order_id), ConsistentRead=True
        )
        claimed = response.get("Item")
        if claimed is None:  # expired between the two calls
            raise Conflict(
                "client_order_id is being reused; retry.", code="duplicate_client_order_id"
            )
        original = await self.order_item(claimed["order_id"])
        if original is not None:
            return queries.order_from_item(original)
        first = orjson.loads(claimed["message"])
        await self.publish(self.orders_stream, account, first)
        return pending_view(first)

    async def wait_for_verdict(self, order_id: str) -> dict[str, Any] | None:
        """Poll the projection until the order leaves `pending` (bounded); the last item seen."""
        deadline = time.monotonic() + self.settings.orders_wait_timeout_s
        delay = 0.01
        item = None
        while True:
            item = await self.order_item(order_id)
            if item is not None and item.get("status") != "pending":
                return item
            if time.monotonic() >= deadline:
                return item
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def owned_order(self, user: AuthenticatedUser, order_id: str) -> dict[str, Any] | None:
        """The projected order if the caller owns it; None if it is not (yet) projected."""
        item = await self.order_item(order_id)
        if item is not None and item.get("account") != user.account and not user.is_admin:
            raise Forbidden("This order belongs to another account.", code="not_order_owner")
        return item

    async def cancel(self, user: AuthenticatedUser, order_id: str) -> dict[str, Any]:
        item = await self.owned_order(user, order_id)
        if item is None:
            self._require_recent(order_id)
        elif item.get("status") in TERMINAL:
            raise Conflict(f"The order is already {item['status']}.", code="order_not_open")
        account = item["account"] if item else user.account
        message = {
            "kind": "cancel",
            "account": account,
            "id": order_id,
            "request_id": new_id(),
            "ts": now_ms(),
        }
        if item:
            message["symbol"] = item["symbol"]
        await self.publish(self.orders_stream, account, message)
        view = queries.order_from_item(item) if item else {"id": order_id, "status": "pending"}
        return {**view, "cancel": "requested"}

    async def amend(
        self, user: AuthenticatedUser, order_id: str, request: AmendOrder
    ) -> dict[str, Any]:
        if request.price is None and request.qty is None:
            raise ValidationFailed("Give a new price, a new qty, or both.", code="empty_amend")
        item = await self.owned_order(user, order_id)
        if item is None:
            raise NotFound("No such order (or not visible yet).", code="order_not_found")
        if item.get("status") in TERMINAL:
            raise Conflict(f"The order is already {item['status']}.", code="order_not_open")
        if item.get("type") != "limit" or item.get("tif") not in (None, "GTC"):
            raise ValidationFailed(
                "Only resting GTC limit orders can be amended.", code="not_amendable"
            )
        market = await self.markets.get(item["symbol"])
        if market is None:
            raise ValidationFailed("The order's market no longer exists.", code="unknown_symbol")
        if request.price is not None:
            check_grid(request.price, market.tick_size, "price", "price_off_tick")
        if request.qty is not None:
            check_grid(request.qty, market.lot_size, "qty", "qty_off_lot")
        message: dict[str, Any] = {
            "kind": "amend",
            "account": item["account"],
            "id": order_id,
            "request_id": new_id(),
            "ts": now_ms(),
        }
        if request.price is not None:
            message["price"] = request.price
        if request.qty is not None:
            message["qty"] = request.qty
        await self.publish(self.orders_stream, item["account"], message)
        return {**queries.order_from_item(item), "amend": "requested"}

    def _require_recent(self, order_id: str) -> None:
        made = id_time_ms(order_id)
        window_ms = self.settings.orders_recent_id_window_s * 1000
        if made is None or now_ms() - made > window_ms:
            raise NotFound(f"No order {order_id!r}.", code="order_not_found")

    # -- transfers -------------------------------------------------------------------------------

    async def transfer(
        self, user: AuthenticatedUser, direction: str, request: Transfer
    ) -> dict[str, Any]:
        account = request.account or user.account
        assets = {a for m in (await self.markets.all()).values() for a in (m.base, m.quote)}
        if request.asset not in assets:
            raise ValidationFailed(f"No market trades {request.asset!r}.", code="unknown_asset")
        try:
            amount = parse_units(request.amount)
        except MoneyError as exc:
            raise ValidationFailed(
                "amount has more than 8 decimals.", code="invalid_amount"
            ) from exc
        if not user.is_admin:
            if direction != "deposit" or not self.settings.demo_mode:
                raise Forbidden("This needs the admin role.", code="admin_required")
            if account != user.account:
                raise Forbidden(
                    "The faucet only pays into your own account.", code="admin_required"
                )
            await self._check_faucet_cap(account, request.asset, amount)
        if direction == "withdraw":
            available, _ = await queries.get_balance(self.balances_table, account, request.asset)
            if amount > parse_units(available, allow_zero=True):
                raise Conflict(
                    f"Only {available} {request.asset} is available.", code="insufficient_funds"
                )
        transfer_id = new_id()
        message = {
            "kind": direction,
            "account": account,
            "id": transfer_id,
            "asset": request.asset,
            "amount": format_units(amount),
            "ts": now_ms(),
        }
        await self.publish(self.orders_stream, account, message)
        return {
            "id": transfer_id,
            "account": account,
            "direction": direction,
            "asset": request.asset,
            "amount": message["amount"],
            "status": "pending",
            "reason": None,
        }

    async def _check_faucet_cap(self, account: str, asset: str, amount: int) -> None:
        cap_text = self.settings.orders_faucet_caps.get(asset)
        cap = parse_units(cap_text, allow_zero=True) if cap_text else 0
        available, held = await queries.get_balance(self.balances_table, account, asset)
        total = parse_units(available, allow_zero=True) + parse_units(held, allow_zero=True)
        if total + amount > cap:
            raise ValidationFailed(
                f"The demo faucet tops {asset} up to {cap_text or '0'} at most; you hold "
                f"{format_units(total)}.",
                code="faucet_cap_exceeded",
            )

    async def wait_for_transfer(self, transfer: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.settings.orders_wait_timeout_s
        while time.monotonic() < deadline:
            item = await queries.get_transfer(self.ledger_table, transfer["id"])
            if item is not None:
                return {**transfer, "status": item["status"], "reason": item.get("reason")}
            await asyncio.sleep(0.05)
        return transfer

    # -- markets ---------------------------------------------------------------------------------

    async def publish_market(self, spec: MarketSpec) -> None:
        self.markets.invalidate()
        await self.publish(self.matching_stream, spec.symbol, spec.engine_command(now_ms()))


def validate_order(request: PlaceOrder, market: MarketSpec) -> dict[str, Any]:
    """The engine `new` command fields for a request, or ValidationFailed / Conflict with a
    precise code. Mirrors the matching engine's own checks, so a client hears about a bad price
    at once instead of from a rejected order."""
    if market.status != "trading":
        raise Conflict(f"{market.symbol} is halted.", code="market_halted")
    command: dict[str, Any] = {"symbol": market.symbol, "side": request.side, "type": request.type}
    if request.type == "limit":
        if request.price is None or request.qty is None or request.quote_qty is not None:
            raise ValidationFailed(
                "A limit order needs price and qty (and no quote_qty).", code="invalid_order"
            )
        tif = request.tif or "GTC"
        if request.post_only and tif != "GTC":
            raise ValidationFailed("post_only needs tif GTC.", code="invalid_order")
    else:
        if (request.qty is None) == (request.quote_qty is None):
            raise ValidationFailed(
                "A market order needs exactly one of qty and quote_qty.", code="invalid_order"
            )
        if request.tif not in (None, "IOC"):
            raise ValidationFailed("Market orders are IOC.", code="invalid_order")
        if request.post_only:
            raise ValidationFailed("A market order cannot be post_only.", code="invalid_order")
        tif = "IOC"
    if request.price is not None:
        check_grid(request.price, market.tick_size, "price", "price_off_tick")
        command["price"] = request.price
    if request.qty is not None:
        check_grid(request.qty, market.lot_size, "qty", "qty_off_lot")
        command["qty"] = request.qty
    if request.quote_qty is not None:
        step = parse_units(market.tick_size) * parse_units(market.lot_size) // 10**8
        step_text = format_units(step, decimals(market.tick_size) + decimals(market.lot_size))
        check_grid(request.quote_qty, step_text, "quote_qty", "quote_qty_off_increment")
        command["quote_qty"] = request.quote_qty
    floor = parse_units(market.min_notional, allow_zero=True)
    notional = None
    if request.price is not None and request.qty is not None and request.type == "limit":
        notional = parse_units(request.price) * parse_units(request.qty) // 10**8
    elif request.quote_qty is not None:
        notional = parse_units(request.quote_qty)
    if notional is not None and notional < floor:
        raise ValidationFailed(
            f"Order value is below the minimum notional of {market.min_notional} {market.quote}.",
            code="notional_below_minimum",
        )
    command.update({"tif": tif, "post_only": request.post_only, "stp": request.stp})
    return command


def check_grid(value: str, step: str, field: str, code: str) -> None:
    """Refuse a value that is not a whole multiple of the market's step (tick, lot, ...)."""
    try:
        units, step_units = parse_units(value), parse_units(step)
    except MoneyError as exc:
        raise ValidationFailed(f"{field} has more than 8 decimals.", code=code) from exc
    if units % step_units:
        raise ValidationFailed(f"{field} {value} is not a multiple of {step}.", code=code)


def pending_view(message: dict[str, Any]) -> dict[str, Any]:
    order = message["order"]
    return {
        "id": order["id"],
        "client_order_id": message.get("client_order_id"),
        "account": order["account"],
        "symbol": order["symbol"],
        "side": order["side"],
        "type": order["type"],
        "tif": order.get("tif"),
        "price": order.get("price"),
        "qty": order.get("qty"),
        "quote_qty": order.get("quote_qty"),
        "post_only": order.get("post_only"),
        "stp": order.get("stp"),
        "status": "pending",
        "created": order["ts"],
        "updated": order["ts"],
    }


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None
