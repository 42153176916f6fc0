"""Routes of the orders service: orders, own fills and balances (admin routes: admin_api.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from services.common.errors import OrjsonResponse, error_responses
from services.common.identity import CurrentUser, RequireRead, RequireTrade
from services.orders import queries
from services.orders.schemas import (
    AmendOrder,
    BalanceList,
    FillList,
    OrderList,
    OrderResponse,
    PlaceOrder,
    Transfer,
    TransferResponse,
)
from services.orders.service import OrdersService

# Every route may answer these; routes add their own (404, 409). The gateway adds 413 and 429.
router = APIRouter(tags=["orders"], responses=error_responses(400, 401, 403, 422, 503))


async def get_service(request: Request) -> OrdersService:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
    service: OrdersService = request.app.state.orders
    return service


Service = Annotated[OrdersService, Depends(get_service)]


@router.post(
    "/api/orders", status_code=202, response_model=OrderResponse, responses=error_responses(409)
)
async def place_order(
    body: PlaceOrder,
    user: RequireTrade,
    service: Service,
    wait: Annotated[
        Literal["accepted"] | None,
        Query(description="Wait (5 s at most) for the engines' verdict."),
    ] = None,
) -> OrjsonResponse:
    """Place an order. Answers `202` with status `pending` once the order is on the stream; a
    repeated `client_order_id` answers `200` with the original order."""
    status, order = await service.place(user, body)
    if wait == "accepted" and status == 202:
        item = await service.wait_for_verdict(order["id"])
        if item is not None:
            order = queries.order_from_item(item)
            return OrjsonResponse(
                {"order": order, "freshness": queries.freshness(item)}, status_code=202
            )
    return OrjsonResponse({"order": order}, status_code=status)


@router.get("/api/orders", response_model=OrderList)
async def list_orders(
    user: RequireRead,
    service: Service,
    status: Literal["open", "all"] = "open",
    symbol: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> dict[str, object]:
    """Your orders, newest first. `status=open` lists pending, open and partially filled ones."""
    orders, next_cursor = await queries.list_orders(
        service.orders_table, user.account, status=status, symbol=symbol, limit=limit, cursor=cursor
    )
    return {"orders": orders, "cursor": next_cursor}


@router.get("/api/orders/{order_id}", response_model=OrderResponse, responses=error_responses(404))
async def get_order(order_id: str, user: RequireRead, service: Service) -> dict[str, object]:
    """One of your orders, with `freshness`: the projection may lag the engines a little."""
    item = await service.owned_order(user, order_id)
    if item is None:
        from services.common.errors import NotFound

        raise NotFound(f"No order {order_id!r} (or not visible yet).", code="order_not_found")
    return {"order": queries.order_from_item(item), "freshness": queries.freshness(item)}


@router.delete("/api/orders/{order_id}", status_code=202, responses=error_responses(404, 409))
async def cancel_order(order_id: str, user: RequireTrade, service: Service) -> dict[str, object]:
    """Ask to cancel an order; the result shows in its status (`cancelled`)."""
    return {"order": await service.cancel(user, order_id)}


@router.patch("/api/orders/{order_id}", status_code=202, responses=error_responses(404, 409))
async def amend_order(
    order_id: str, body: AmendOrder, user: RequireTrade, service: Service
) -> dict[str, object]:
    """Ask to change a resting order's price and/or open quantity."""
    return {"order": await service.amend(user, order_id, body)}


@router.get("/api/trades", response_model=FillList, tags=["orders"])
async def list_fills(
    user: RequireRead,
    service: Service,
    symbol: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> dict[str, object]:
    """Your own fills, newest first, with fee and liquidity (maker or taker)."""
    fills, next_cursor = await queries.list_fills(
        service.trades_table, user.account, symbol=symbol, limit=limit, cursor=cursor
    )
    return {"trades": fills, "cursor": next_cursor}


@router.get("/api/balances", response_model=BalanceList, tags=["balances"])
async def balances(user: RequireRead, service: Service) -> dict[str, object]:
    """Your balances per asset: `available` to trade or withdraw, `held` by open orders."""
    return {"balances": await queries.list_balances(service.balances_table, user.account)}


@router.post(
    "/api/balances/deposit", status_code=202, response_model=TransferResponse, tags=["balances"]
)
async def deposit(
    body: Transfer, user: CurrentUser, service: Service, wait: bool = False
) -> dict[str, object]:
    """Credit an account. Admins only, except in demo mode, where anyone may top up their own
    account up to the faucet cap."""
    transfer = await service.transfer(user, "deposit", body)
    if wait:
        transfer = await service.wait_for_transfer(transfer)
    return {"transfer": transfer}


@router.post(
    "/api/balances/withdraw",
    status_code=202,
    response_model=TransferResponse,
    tags=["balances"],
    responses=error_responses(409),
)
async def withdraw(
    body: Transfer, user: CurrentUser, service: Service, wait: bool = False
) -> dict[str, object]:
    """Debit an account (admins only). Never more than is available: the accounts engine
    refuses it otherwise (status `rejected`, reason `insufficient_funds`)."""
    transfer = await service.transfer(user, "withdraw", body)
    if wait:
        transfer = await service.wait_for_transfer(transfer)
    return {"transfer": transfer}
