"""REST market data: shapes, parameters and errors."""

from __future__ import annotations

import httpx
import pytest

from tests.marketdata.conftest import MARKETS, RunningMarketData
from tests.marketdata.scenario import KNOWN_COMMANDS, T0, replay

MIN = 60_000


@pytest.fixture
async def api(marketdata: RunningMarketData) -> httpx.AsyncClient:
    marketdata.service.apply_executions(replay(KNOWN_COMMANDS))
    async with httpx.AsyncClient(base_url=marketdata.url) as client:
        yield client  # type: ignore[misc]


async def test_markets_list_and_one(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/markets")
    assert response.status_code == 200
    assert response.json() == {"markets": MARKETS}
    assert (await api.get("/api/markets/ETH-USD")).json()["lot_size"] == "0.001"


async def test_book_with_depth_and_seq(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/markets/BTC-USD/book")).json()
    assert body == {
        "symbol": "BTC-USD",
        "seq": 23,
        "bids": [["100.00", "0.2000"], ["99.00", "1.0000"]],
        "asks": [],
    }
    body = (await api.get("/api/markets/BTC-USD/book", params={"depth": 1})).json()
    assert body["bids"] == [["100.00", "0.2000"]]
    empty = (await api.get("/api/markets/ETH-USD/book")).json()
    assert empty == {"symbol": "ETH-USD", "seq": 0, "bids": [], "asks": []}


async def test_trades_newest_first(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/markets/BTC-USD/trades", params={"limit": 2})).json()
    assert [t["id"] for t in body["trades"]] == ["BTC-USD:22", "BTC-USD:14"]
    assert body["trades"][0] == {
        "id": "BTC-USD:22",
        "seq": 22,
        "price": "100.00",
        "qty": "0.1000",
        "side": "sell",
        "ts": T0 + 3_601_000,
    }


async def test_ticker_and_tickers(api: httpx.AsyncClient) -> None:
    ticker = (await api.get("/api/markets/BTC-USD/ticker")).json()
    assert (ticker["open"], ticker["last"], ticker["change_percent"]) == (
        "101.00",
        "100.00",
        "-0.99",
    )
    tickers = (await api.get("/api/tickers")).json()["tickers"]
    assert [t["symbol"] for t in tickers] == ["BTC-USD", "ETH-USD"]
    assert tickers[0] == ticker
    assert tickers[1]["last"] is None and tickers[1]["volume"] == "0"


async def test_candles_interval_range_limit(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/markets/BTC-USD/candles")).json()
    assert body["interval"] == "1m"
    assert [c["start"] for c in body["candles"]] == [T0 + MIN, T0 + 5 * MIN, T0 + 60 * MIN]
    params = {"interval": "5m", "start": T0 + 5 * MIN, "end": T0 + 60 * MIN, "limit": 1}
    body = (await api.get("/api/markets/BTC-USD/candles", params=params)).json()
    assert [c["start"] for c in body["candles"]] == [T0 + 60 * MIN]
    day = (await api.get("/api/markets/BTC-USD/candles", params={"interval": "1d"})).json()
    assert day["candles"] == [
        {
            "start": T0,
            "open": "101.00",
            "high": "101.50",
            "low": "99.00",
            "close": "100.00",
            "volume": "3.1000",
            "quote_volume": "312.250000",
            "trades": 4,
        }
    ]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/markets/DOGE-USD", {}, 404, "unknown_symbol"),
        ("/api/markets/DOGE-USD/book", {}, 404, "unknown_symbol"),
        ("/api/markets/DOGE-USD/trades", {}, 404, "unknown_symbol"),
        ("/api/markets/DOGE-USD/ticker", {}, 404, "unknown_symbol"),
        ("/api/markets/DOGE-USD/candles", {}, 404, "unknown_symbol"),
        ("/api/markets/BTC-USD/book", {"depth": 0}, 422, "validation_failed"),
        ("/api/markets/BTC-USD/book", {"depth": "many"}, 422, "validation_failed"),
        ("/api/markets/BTC-USD/trades", {"limit": 5000}, 422, "validation_failed"),
        ("/api/markets/BTC-USD/candles", {"interval": "2m"}, 400, "bad_interval"),
        ("/api/markets/BTC-USD/candles", {"start": 10, "end": 5}, 400, "bad_range"),
        ("/api/markets/BTC-USD/candles", {"start": -1}, 422, "validation_failed"),
    ],
)
async def test_errors_have_the_error_shape(
    api: httpx.AsyncClient, path: str, params: dict[str, object], status: int, code: str
) -> None:
    response = await api.get(path, params=params)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
