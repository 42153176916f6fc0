"""The accounts engine: balances, holds and settlement for the accounts of one shard.

A deterministic state machine (DESIGN.md, "The order path"). Its one input is the `orders` stream
(partition key = account): orders, cancels, amends, deposits and withdrawals from the orders API,
the matching engine's events relayed per account, and fee credits. For each message it returns the
messages to publish:

* risk-checked commands to `matching` (partition key = symbol);
* `order`, `fill`, `ledger`, `transfer` and `request_rejected` messages to `accounts`
  (partition key = account) for the projector and private channels;
* `fee_credit` messages to `orders` (partition key = `fees`), so the fees account, which may live
  on another shard, is credited by its own owner.

No I/O, no clock, no randomness: time comes from the messages. Every input is applied at most
once: order and transfer ids are remembered, a relayed event is applied only if its `seq` is above
the last one applied to its order, and fee credits carry a per-source counter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard

import msgspec

from services.orders.accounts.money import (
    MarketTerms,
    MoneyError,
    fee_ceiling,
    format_units,
    notional_units,
    parse_units,
)
from services.orders.accounts.orders import (
    BUY,
    LIMIT,
    MARKET,
    SELL,
    LiveOrder,
    OrderStatus,
    Reason,
)

FEES_ACCOUNT = "fees"
"""The account every trading fee is credited to."""

Output = tuple[str, str, dict[str, Any]]
"""(logical stream, partition key, message), as the stream runtime publishes it."""

MAX_NAME = 128
_SNAPSHOT_VERSION = 1


def _name(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME


class AccountsEngine:
    """Balances (available, held) per account and asset, the live orders, and what was applied."""

    def __init__(self) -> None:
        # account -> asset -> [available, held, ledger seq]
        self.balances: dict[str, dict[str, list[int]]] = {}
        self.orders: dict[str, LiveOrder] = {}
        self.seen_orders: set[str] = set()
        self.transfers: set[str] = set()
        self.fee_credits_sent: dict[str, int] = {}
        """Per source account: how many fee credits it has sent (the next one's number - 1)."""
        self.fee_credits_applied: dict[str, int] = {}
        """At the fees account: the highest fee credit number applied, per source account."""
        self.ignored = 0
        """Inputs that changed nothing (duplicates, late or unknown events); a metric, not state."""

    # -- queries ---------------------------------------------------------------------------------

    def balance(self, account: str, asset: str) -> tuple[int, int]:
        """(available, held) in 1e-8 units."""
        entry = self.balances.get(account, {}).get(asset)
        return (entry[0], entry[1]) if entry else (0, 0)

    def totals(self) -> dict[str, int]:
        """Per asset, the sum of available + held over every account (fees included)."""
        out: dict[str, int] = {}
        for assets in self.balances.values():
            for asset, entry in assets.items():
                out[asset] = out.get(asset, 0) + entry[0] + entry[1]
        return out

    # -- input -----------------------------------------------------------------------------------

    def apply(self, message: dict[str, Any]) -> list[Output]:
        """Apply one `orders` stream message; return what to publish, in order."""
        out: list[Output] = []
        kind = message.get("kind") if isinstance(message, dict) else None
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        account = message.get("account") if isinstance(message, dict) else None
        if handler is None or not _name(account):
            self.ignored += 1
            return out
        handler(self, message, out)
        return out

    # -- orders from the API ---------------------------------------------------------------------

    def _new(self, msg: dict[str, Any], out: list[Output]) -> None:
        account: str = msg["account"]
        command = msg.get("order")
        if not isinstance(command, dict) or not _name(command.get("id")):
            self.ignored += 1
            return
        order_id: str = command["id"]
        if order_id in self.seen_orders:
            self.ignored += 1  # a producer retry or replay of the same order
            return
        self.seen_orders.add(order_id)
        ts = command.get("ts")
        order = self._parse_order(msg, command, account)
        if isinstance(order, str):
            return self._reject_order(out, msg, command, account, order, ts)
        forward = {k: v for k, v in command.items() if v is not None}
        forward["op"] = "new"
        forward["account"] = account
        available, _ = self.balance(account, order.hold_asset)
        t = order.terms
        if (
            order.type == MARKET
            and order.side == BUY
            and order.price is None
            and order.quote_qty is None
        ):
            # Market buy by quantity with no protection price: hold the whole quote balance and
            # cap the spend at what it pays for, fees included (the engine takes both caps).
            cap = available * 10_000 // (10_000 + t.max_fee_bps)
            step = t.notional_step
            cap -= cap % step
            while cap > 0 and cap + fee_ceiling(cap * t.max_fee_bps) > available:
                cap -= step
            if cap <= 0:
                return self._reject_order(out, msg, command, account, Reason.INSUFFICIENT_FUNDS, ts)
            order.quote_cap = cap
            forward["quote_qty"] = t.quote_amount(cap)
        if order.type == MARKET and order.side == SELL and order.qty is None:
            # Market sell for a quote amount: the base it needs is unknown; cap it at the balance.
            cap_qty = available - available % t.lot_units
            if cap_qty <= 0:
                return self._reject_order(out, msg, command, account, Reason.INSUFFICIENT_FUNDS, ts)
            order.open = cap_qty
            forward["qty"] = t.qty(cap_qty)
        need = order.hold_needed()
        if need > available:
            return self._reject_order(out, msg, command, account, Reason.INSUFFICIENT_FUNDS, ts)
        self.orders[order_id] = order
        self._hold(out, order, need, ts)
        out.append(("matching", order.symbol, forward))
        self._emit_order(out, order, ts)

    def _parse_order(
        self, msg: dict[str, Any], command: dict[str, Any], account: str
    ) -> LiveOrder | Reason:
        get = command.get
        try:
            terms = MarketTerms.from_wire(msg.get("market"))
        except MoneyError:
            return Reason.MALFORMED_MESSAGE
        side, order_type, symbol = get("side"), get("type"), get("symbol")
        if side not in (BUY, SELL) or order_type not in (LIMIT, MARKET) or not _name(symbol):
            return Reason.MALFORMED_MESSAGE
        if get("account") not in (None, account):
            return Reason.MALFORMED_MESSAGE
        try:
            price = _grid(get("price"), terms.tick_units, Reason.PRICE_OFF_TICK)
            qty = _grid(get("qty"), terms.lot_units, Reason.QTY_OFF_LOT)
            quote_qty = None if get("quote_qty") is None else parse_units(get("quote_qty"))
        except (MoneyError, _OffGrid) as exc:
            return exc.args[0] if isinstance(exc, _OffGrid) else Reason.MALFORMED_MESSAGE
        if order_type == LIMIT and (price is None or qty is None or quote_qty is not None):
            return Reason.MALFORMED_MESSAGE
        if order_type == MARKET and (qty is None) == (quote_qty is None):
            return Reason.MALFORMED_MESSAGE
        client_order_id = msg.get("client_order_id")
        return LiveOrder(
            id=command["id"],
            account=account,
            symbol=symbol,
            side=side,
            type=order_type,
            tif=get("tif"),
            post_only=bool(get("post_only")),
            stp=get("stp"),
            client_order_id=client_order_id if isinstance(client_order_id, str) else None,
            terms=terms,
            price=price,
            qty=qty,
            quote_qty=quote_qty,
            quote_cap=quote_qty if side == BUY else None,
            open=qty,
            created=get("ts"),
            updated=get("ts"),
        )

    def _reject_order(
        self,
        out: list[Output],
        msg: dict[str, Any],
        command: dict[str, Any],
        account: str,
        reason: Reason,
        ts: Any,
    ) -> None:
        get = command.get
        market = msg.get("market")
        view = {
            "id": get("id"),
            "account": account,
            "symbol": get("symbol"),
            "side": get("side"),
            "type": get("type"),
            "tif": get("tif"),
            "price": get("price"),
            "qty": get("qty"),
            "quote_qty": get("quote_qty"),
            "post_only": bool(get("post_only")),
            "stp": get("stp"),
            "client_order_id": msg.get("client_order_id"),
            "status": str(OrderStatus.REJECTED),
            "reason": str(reason),
            "filled": "0",
            "open": "0",
            "filled_quote": "0",
            "avg_price": None,
            "fees": "0",
            "fee_asset": market.get("quote") if isinstance(market, dict) else None,
            "held": "0",
            "hold_asset": None,
            "created": ts,
            "updated": ts,
            "version": 1,
        }
        out.append(
            (
                "accounts",
                account,
                {"kind": "order", "id": f"{get('id')}:1", "account": account, "order": view},
            )
        )
        out.append(
            (
                "accounts",
                account,
                {
                    "kind": "order_rejected",
                    "id": f"{get('id')}:rejected",
                    "account": account,
                    "order_id": get("id"),
                    "symbol": get("symbol"),
                    "client_order_id": msg.get("client_order_id"),
                    "reason": str(reason),
                    "ts": ts,
                },
            )
        )

    def _cancel(self, msg: dict[str, Any], out: list[Output]) -> None:
        order = self._requested_order(msg, out, "cancel")
        if order is None:
            return
        order.requests.append(["cancel"])
        out.append(
            (
                "matching",
                order.symbol,
                {
                    "op": "cancel",
                    "id": order.id,
                    "account": order.account,
                    "symbol": order.symbol,
                    "ts": msg.get("ts"),
                },
            )
        )

    def _amend(self, msg: dict[str, Any], out: list[Output]) -> None:
        order = self._requested_order(msg, out, "amend")
        if order is None:
            return
        ts = msg.get("ts")
        if order.type != LIMIT or order.tif not in (None, "GTC"):
            return self._reject_request(out, msg, order.account, "amend", Reason.NOT_AMENDABLE)
        try:
            price = _grid(msg.get("price"), order.terms.tick_units, Reason.PRICE_OFF_TICK)
            qty = _grid(msg.get("qty"), order.terms.lot_units, Reason.QTY_OFF_LOT)
        except MoneyError:
            return self._reject_request(out, msg, order.account, "amend", Reason.MALFORMED_MESSAGE)
        except _OffGrid as exc:
            return self._reject_request(out, msg, order.account, "amend", exc.args[0])
        if price is None and qty is None:
            return self._reject_request(out, msg, order.account, "amend", Reason.MALFORMED_MESSAGE)
        order.requests.append(["amend", price, qty])
        need = order.hold_needed()
        if need > order.held:
            available, _ = self.balance(order.account, order.hold_asset)
            if need - order.held > available:
                order.requests.pop()
                return self._reject_request(
                    out, msg, order.account, "amend", Reason.INSUFFICIENT_FUNDS
                )
            self._hold(out, order, need - order.held, ts)
        command: dict[str, Any] = {
            "op": "amend",
            "id": order.id,
            "account": order.account,
            "symbol": order.symbol,
        }
        if price is not None:
            command["price"] = order.terms.price(price)
        if qty is not None:
            command["qty"] = order.terms.qty(qty)
        if isinstance(msg.get("request_id"), str):
            # The engine applies an amend id once, so a replay of this message after a crash
            # cannot reset an open quantity that fills have reduced since.
            command["request_id"] = msg["request_id"]
        command["ts"] = ts
        out.append(("matching", order.symbol, command))

    def _requested_order(
        self, msg: dict[str, Any], out: list[Output], request: str
    ) -> LiveOrder | None:
        order_id = msg.get("id")
        order = self.orders.get(order_id) if isinstance(order_id, str) else None
        if order is None:
            reason = (
                Reason.ORDER_NOT_OPEN if order_id in self.seen_orders else Reason.ORDER_NOT_FOUND
            )
            self._reject_request(out, msg, msg["account"], request, reason)
            return None
        if order.account != msg["account"]:
            self._reject_request(out, msg, msg["account"], request, Reason.NOT_ORDER_OWNER)
            return None
        return order

    def _reject_request(
        self, out: list[Output], msg: dict[str, Any], account: str, request: str, reason: str
    ) -> None:
        request_id = msg.get("request_id") or f"{msg.get('id')}:{request}:{msg.get('ts')}"
        out.append(
            (
                "accounts",
                account,
                {
                    "kind": "request_rejected",
                    "id": f"{request_id}:rejected",
                    "account": account,
                    "order_id": msg.get("id"),
                    "request": request,
                    "reason": str(reason),
                    "ts": msg.get("ts"),
                },
            )
        )

    # -- deposits, withdrawals and fee credits ---------------------------------------------------

    def _transfer(self, msg: dict[str, Any], out: list[Output]) -> None:
        account: str = msg["account"]
        transfer_id, asset = msg.get("id"), msg.get("asset")
        if not _name(transfer_id) or transfer_id in self.transfers:
            self.ignored += 1
            return
        self.transfers.add(transfer_id)
        kind, ts = msg["kind"], msg.get("ts")
        result: dict[str, Any] = {
            "kind": "transfer",
            "id": f"transfer:{transfer_id}",
            "account": account,
            "transfer_id": transfer_id,
            "direction": kind,
            "asset": asset,
            "amount": msg.get("amount"),
            "ts": ts,
        }
        try:
            if not isinstance(asset, str) or not 0 < len(asset) <= 16:
                raise MoneyError("bad asset")
            amount = parse_units(msg.get("amount"))
        except MoneyError:
            out.append(
                (
                    "accounts",
                    account,
                    {**result, "status": "rejected", "reason": str(Reason.MALFORMED_MESSAGE)},
                )
            )
            return
        if kind == "withdraw":
            available, _ = self.balance(account, asset)
            if amount > available:
                out.append(
                    (
                        "accounts",
                        account,
                        {**result, "status": "rejected", "reason": str(Reason.INSUFFICIENT_FUNDS)},
                    )
                )
                return
            amount = -amount
        self._ledger(out, account, asset, amount, 0, kind, transfer_id, ts)
        out.append(("accounts", account, {**result, "status": "applied", "reason": None}))

    def _fee_credit(self, msg: dict[str, Any], out: list[Output]) -> None:
        source, number, asset = msg.get("source"), msg.get("n"), msg.get("asset")
        if not _name(source) or not isinstance(number, int) or not _name(asset):
            self.ignored += 1
            return
        if number <= self.fee_credits_applied.get(source, 0):
            self.ignored += 1
            return
        self.fee_credits_applied[source] = number
        try:
            amount = parse_units(msg.get("amount"))
        except MoneyError:
            self.ignored += 1
            return
        self._ledger(out, msg["account"], asset, amount, 0, "fee", msg.get("ref"), msg.get("ts"))

    # -- settlement: the matching engine's events, relayed per account ---------------------------

    def _execution(self, msg: dict[str, Any], out: list[Output]) -> None:
        event = msg.get("event")
        if not isinstance(event, dict):
            self.ignored += 1
            return
        kind = event.get("type")
        if kind == "trade":
            role = msg.get("role")
            order_id = event.get(f"{role}_order_id") if role in ("maker", "taker") else None
        else:
            order_id = event.get("order_id")
        order = self.orders.get(order_id) if isinstance(order_id, str) else None
        seq = event.get("seq")
        if (
            order is None
            or order.account != msg["account"]
            or not isinstance(seq, int)
            or seq <= order.last_seq
        ):
            self.ignored += 1  # unknown, finished, foreign, or already applied
            return
        handler = _EVENT_HANDLERS.get(kind)  # type: ignore[arg-type]
        if handler is None:
            self.ignored += 1
            return
        order.last_seq = seq
        ts = event.get("ts")
        try:
            handler(self, order, event, msg, out, ts)
        except MoneyError:
            self.ignored += 1

    def _on_accepted(
        self,
        order: LiveOrder,
        event: dict[str, Any],
        msg: dict[str, Any],
        out: list[Output],
        ts: Any,
    ) -> None:
        order.matched = True

    def _on_trade(
        self,
        order: LiveOrder,
        event: dict[str, Any],
        msg: dict[str, Any],
        out: list[Output],
        ts: Any,
    ) -> None:
        order.matched = True
        role: str = msg["role"]
        t = order.terms
        price, qty = parse_units(event["price"]), parse_units(event["qty"])
        notional = notional_units(price, qty)
        bps = t.maker_fee_bps if role == "maker" else t.taker_fee_bps
        order.fee_numerator += notional * bps
        charged = fee_ceiling(order.fee_numerator)
        fee, order.fees = charged - order.fees, charged
        trade_id = event.get("id") or f"{event.get('symbol')}:{event['seq']}"
        account = order.account
        if order.side == BUY:
            self._spend(out, order, notional, "trade", trade_id, ts)
            self._spend(out, order, fee, "fee", trade_id, ts)
            self._ledger(out, account, t.base, qty, 0, "trade", trade_id, ts)
        else:
            self._spend(out, order, qty, "trade", trade_id, ts)
            self._ledger(out, account, t.quote, notional, 0, "trade", trade_id, ts)
            self._ledger(out, account, t.quote, -fee, 0, "fee", trade_id, ts)
        if fee:
            number = self.fee_credits_sent.get(account, 0) + 1
            self.fee_credits_sent[account] = number
            out.append(
                (
                    "orders",
                    FEES_ACCOUNT,
                    {
                        "kind": "fee_credit",
                        "account": FEES_ACCOUNT,
                        "id": f"{account}:fee:{number}",
                        "source": account,
                        "n": number,
                        "asset": t.quote,
                        "amount": format_units(fee),
                        "ref": trade_id,
                        "ts": ts,
                    },
                )
            )
        order.filled += qty
        order.filled_quote += notional
        if order.open is not None:
            order.open = max(0, order.open - qty)
        out.append(
            (
                "accounts",
                account,
                {
                    "kind": "fill",
                    "id": f"{trade_id}:{role}",
                    "account": account,
                    "trade_id": trade_id,
                    "order_id": order.id,
                    "symbol": order.symbol,
                    "side": order.side,
                    "price": t.price(price),
                    "qty": t.qty(qty),
                    "quote_qty": t.quote_amount(notional),
                    "fee": format_units(fee),
                    "fee_asset": t.quote,
                    "liquidity": role,
                    "ts": ts,
                },
            )
        )
        order.status = OrderStatus.PARTIALLY_FILLED
        self._release_excess(out, order, ts)
        self._emit_order(out, order, ts)

    def _on_rested(
        self,
        order: LiveOrder,
        event: dict[str, Any],
        msg: dict[str, Any],
        out: list[Output],
        ts: Any,
    ) -> None:
        order.matched = True
        order.open = parse_units(event["open_qty"], allow_zero=True)
        order.status = OrderStatus.PARTIALLY_FILLED if order.filled else OrderStatus.OPEN
        self._release_excess(out, order, ts)
        self._emit_order(out, order, ts)

    def _on_amended(
        self,
        order: LiveOrder,
        event: dict[str, Any],
        msg: dict[str, Any],
        out: list[Output],
        ts: Any,
    ) -> None:
        self._answer_request(order, "amend")
        order.price = parse_units(event["price"])
        order.open = parse_units(event["qty"], allow_zero=True)
        self._release_excess(out, order, ts)
        self._emit_order(out, order, ts)

    def _on_rejected(
        self,
        order: LiveOrder,
        event: dict[str, Any],
        msg: dict[str, Any],
        out: list[Output],
        ts: Any,
    ) -> None:
        if event.get("reason") == "duplicate_order_id":
            return  # the echo of a replayed `new`; the original is what counts
        if not order.matched:
            order.reason = event.get("reason")
            return self._finish(out, order, OrderStatus.REJECTED, ts)
        request = self._answer_request(order, None)
        self._release_excess(out, order, ts)
        self._reject_request(
            out,
            {"id": order.id, "ts": ts, "request_id": f"{event.get('id')}"},
            order.account,
            request or "request",
            event.get("reason", "rejected"),
        )

    def _on_filled(
        self,
        order: LiveOrder,
        event: dict[str, Any],
        msg: dict[str, Any],
        out: list[Output],
        ts: Any,
    ) -> None:
        self._finish(out, order, OrderStatus.FILLED, ts)

    def _on_cancelled(
        self,
        order: LiveOrder,
        event: dict[str, Any],
        msg: dict[str, Any],
        out: list[Output],
        ts: Any,
    ) -> None:
        order.reason = event.get("reason")
        self._finish(out, order, OrderStatus.CANCELLED, ts)

    def _on_expired(
        self,
        order: LiveOrder,
        event: dict[str, Any],
        msg: dict[str, Any],
        out: list[Output],
        ts: Any,
    ) -> None:
        order.reason = event.get("reason")
        self._finish(out, order, OrderStatus.EXPIRED, ts)

    # -- holds and the ledger --------------------------------------------------------------------

    def _answer_request(self, order: LiveOrder, kind: str | None) -> str | None:
        """Drop the oldest pending request (of `kind`, if given) now that matching answered it."""
        for index, request in enumerate(order.requests):
            if kind is None or request[0] == kind:
                del order.requests[index]
                return str(request[0])
        return None

    def _finish(self, out: list[Output], order: LiveOrder, status: OrderStatus, ts: Any) -> None:
        order.status = status
        order.requests.clear()
        if order.held:
            self._release(out, order, order.held, ts)
        if order.open is not None:
            order.open = 0
        del self.orders[order.id]
        self._emit_order(out, order, ts)

    def _release_excess(self, out: list[Output], order: LiveOrder, ts: Any) -> None:
        excess = order.held - order.hold_needed()
        if excess > 0:
            self._release(out, order, excess, ts)

    def _hold(self, out: list[Output], order: LiveOrder, amount: int, ts: Any) -> None:
        order.held += amount
        self._ledger(out, order.account, order.hold_asset, -amount, amount, "hold", order.id, ts)

    def _release(self, out: list[Output], order: LiveOrder, amount: int, ts: Any) -> None:
        order.held -= amount
        self._ledger(out, order.account, order.hold_asset, amount, -amount, "release", order.id, ts)

    def _spend(
        self, out: list[Output], order: LiveOrder, amount: int, cause: str, ref: str, ts: Any
    ) -> None:
        """Pay out of the order's hold. Holds always cover fills; if a bug ever broke that, the
        shortfall comes out of available funds, where the audit's no-negative check sees it."""
        from_hold = min(amount, order.held)
        order.held -= from_hold
        self._ledger(
            out, order.account, order.hold_asset, from_hold - amount, -from_hold, cause, ref, ts
        )

    def _ledger(
        self,
        out: list[Output],
        account: str,
        asset: str,
        available_delta: int,
        held_delta: int,
        cause: str,
        ref: Any,
        ts: Any,
    ) -> None:
        if not available_delta and not held_delta:
            return
        entry = self.balances.setdefault(account, {}).setdefault(asset, [0, 0, 0])
        entry[0] += available_delta
        entry[1] += held_delta
        entry[2] += 1
        out.append(
            (
                "accounts",
                account,
                {
                    "kind": "ledger",
                    "id": f"{account}:{asset}:{entry[2]}",
                    "account": account,
                    "asset": asset,
                    "seq": entry[2],
                    "available_delta": format_units(available_delta),
                    "held_delta": format_units(held_delta),
                    "available": format_units(entry[0]),
                    "held": format_units(entry[1]),
                    "cause": cause,
                    "ref": ref,
                    "ts": ts,
                },
            )
        )

    def _emit_order(self, out: list[Output], order: LiveOrder, ts: Any) -> None:
        order.version += 1
        if ts is not None:
            order.updated = ts
        out.append(
            (
                "accounts",
                order.account,
                {
                    "kind": "order",
                    "id": f"{order.id}:{order.version}",
                    "account": order.account,
                    "order": order.view(),
                },
            )
        )

    # -- snapshots -------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole state as bytes (msgpack, sorted keys: equal states give equal bytes)."""
        state = {
            "v": _SNAPSHOT_VERSION,
            "balances": self.balances,
            "orders": [self.orders[k].to_state() for k in sorted(self.orders)],
            "seen_orders": sorted(self.seen_orders),
            "transfers": sorted(self.transfers),
            "fee_credits_sent": self.fee_credits_sent,
            "fee_credits_applied": self.fee_credits_applied,
        }
        return msgspec.msgpack.Encoder(order="sorted").encode(state)

    @classmethod
    def restore(cls, data: bytes) -> AccountsEngine:
        state = msgspec.msgpack.decode(data)
        if state.get("v") != _SNAPSHOT_VERSION:
            raise ValueError(f"unsupported accounts snapshot version {state.get('v')!r}")
        engine = cls()
        engine.balances = state["balances"]
        for item in state["orders"]:
            order = LiveOrder.from_state(item)
            engine.orders[order.id] = order
        engine.seen_orders = set(state["seen_orders"])
        engine.transfers = set(state["transfers"])
        engine.fee_credits_sent = state["fee_credits_sent"]
        engine.fee_credits_applied = state["fee_credits_applied"]
        return engine


class _OffGrid(Exception):
    pass


def _grid(text: Any, step: int, reason: Reason) -> int | None:
    """Parse an optional price or quantity and check it is a whole number of `step` units."""
    if text is None:
        return None
    units = parse_units(text)
    if units % step:
        raise _OffGrid(reason)
    return units


_HANDLERS: dict[str, Callable[[AccountsEngine, dict[str, Any], list[Output]], None]] = {
    "new": AccountsEngine._new,
    "cancel": AccountsEngine._cancel,
    "amend": AccountsEngine._amend,
    "deposit": AccountsEngine._transfer,
    "withdraw": AccountsEngine._transfer,
    "fee_credit": AccountsEngine._fee_credit,
    "execution": AccountsEngine._execution,
}

_EventHandler = Callable[
    [AccountsEngine, LiveOrder, dict[str, Any], dict[str, Any], list[Output], Any], None
]
_EVENT_HANDLERS: dict[str, _EventHandler] = {
    "accepted": AccountsEngine._on_accepted,
    "trade": AccountsEngine._on_trade,
    "rested": AccountsEngine._on_rested,
    "amended": AccountsEngine._on_amended,
    "rejected": AccountsEngine._on_rejected,
    "filled": AccountsEngine._on_filled,
    "cancelled": AccountsEngine._on_cancelled,
    "expired": AccountsEngine._on_expired,
}
