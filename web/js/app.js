// The trading screen: wires the REST client, the WebSocket and the panels together.
// Module map: api.js (REST + session), ws.js (socket), book.js (book sync + ladder),
// trades.js (tape), chart.js (candles), ticker.js (market tabs + stats), orders.js (ticket,
// open orders, fills), account.js (sign-in, balances, faucet), decimal.js (exact decimals).

import { AuthPanel, Balances } from "./account.js";
import { Api, Session } from "./api.js";
import { BookSync, Ladder } from "./book.js";
import { CandleChart } from "./chart.js";
import { group } from "./decimal.js";
import { $, $$, describeError, toast } from "./dom.js";
import { Fills, OpenOrders, OrderForm } from "./orders.js";
import { MarketTabs, TickerStats } from "./ticker.js";
import { Tape } from "./trades.js";
import { MarketSocket } from "./ws.js";

const LADDER_ROW_PX = 19;

const session = new Session();
const api = new Api(session);
const socket = new MarketSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`, session);

const state = {
  markets: new Map(),
  symbol: null,
  interval: "1m",
  book: null,
  tickers: new Map(),
  history: 0, // bumps on every market switch, so a late REST answer for the old market is dropped
};

const ladder = new Ladder($("#ladder"), { rows: 12, onPick: (price) => orderForm.pickPrice(price) });
const tape = new Tape($("#tape"));
const chart = new CandleChart($("#chart"));
const tabs = new MarketTabs($("#market-tabs"), { onPick: (symbol) => selectMarket(symbol) });
const stats = new TickerStats($("#ticker"));
const orderForm = new OrderForm($("#order-form"), { api, onPlaced: (order) => onOrderPlaced(order) });
const openOrders = new OpenOrders($("#open-orders"), { api });
const fills = new Fills($("#fills"), { api });
const balances = new Balances($("#balances"), { api });
new AuthPanel($("#auth-form"), { session });

// ---- market selection ----------------------------------------------------------------------

function channelsOf(symbol, interval = state.interval) {
  return [`book:${symbol}`, `trades:${symbol}`, `candles:${symbol}:${interval}`];
}

function selectMarket(symbol) {
  const market = state.markets.get(symbol);
  if (!market || symbol === state.symbol) return;
  if (state.symbol) socket.unsubscribe(channelsOf(state.symbol));
  state.symbol = symbol;
  state.history += 1;
  const book = new BookSync(symbol, () => socket.resubscribe(`book:${symbol}`));
  book.addEventListener("change", () => {
    if (book === state.book) renderBookSoon();
  });
  state.book = book;
  tabs.select(symbol);
  stats.setMarket(market);
  if (state.tickers.has(symbol)) stats.update(state.tickers.get(symbol));
  ladder.setMarket(market, book);
  tape.setMarket(market);
  chart.setMarket(market, state.interval);
  orderForm.setMarket(market);
  balances.setMarket(market, assets());
  ladder.setOwnOrders(openOrders.list());
  renderBookState();
  if (location.hash.slice(1) !== symbol) history.replaceState(null, "", `#${symbol}`);
  socket.subscribe(channelsOf(symbol));
  loadHistory();
}

let bookFrame = 0;
/** Draw the ladder at most once a frame, however many diffs arrive. */
function renderBookSoon() {
  if (bookFrame) return;
  bookFrame = requestAnimationFrame(() => {
    bookFrame = 0;
    const book = state.book;
    ladder.render();
    orderForm.setBest(book.best("bids"), book.best("asks"));
    renderBookState();
  });
}

function assets() {
  const all = new Set();
  for (const m of state.markets.values()) all.add(m.quote).add(m.base);
  return [...all].sort();
}

/** REST history for what the channels only push from now on: recent trades and candles. */
function loadHistory() {
  const { symbol, history: generation } = state;
  api
    .trades(symbol, 60)
    .then((trades) => {
      if (generation !== state.history) return;
      const newest = tape.add(trades);
      if (newest) ladder.setLast(newest.price, newest.side);
      updateTitle();
    })
    .catch(() => {});
  loadCandles();
}

function loadCandles() {
  const { symbol, interval } = state;
  api
    .candles(symbol, interval, 500)
    .then((candles) => {
      if (symbol === state.symbol && interval === state.interval) chart.update(candles);
    })
    .catch(() => {});
}

function selectInterval(interval) {
  if (interval === state.interval) return;
  socket.unsubscribe([`candles:${state.symbol}:${state.interval}`]);
  state.interval = interval;
  $$("#intervals button").forEach((b) => b.classList.toggle("active", b.dataset.interval === interval));
  chart.setMarket(state.markets.get(state.symbol), interval);
  socket.subscribe([`candles:${state.symbol}:${interval}`]);
  loadCandles();
}

// ---- live messages -------------------------------------------------------------------------

socket.addEventListener("message", (event) => {
  const msg = event.detail;
  const [kind, symbol, interval] = msg.channel.split(":");
  switch (kind) {
    case "book":
      if (symbol === state.symbol) state.book.onMessage(msg);
      break;
    case "trades":
      if (symbol === state.symbol) {
        const newest = tape.add(msg.data, { live: true });
        if (newest) ladder.setLast(newest.price, newest.side);
        updateTitle();
      }
      break;
    case "ticker":
      state.tickers.set(msg.data.symbol, msg.data);
      tabs.update(msg.data);
      stats.update(msg.data);
      break;
    case "candles":
      if (symbol === state.symbol && interval === state.interval) chart.update(msg.data);
      break;
    case "orders": {
      const note = openOrders.onMessage(msg);
      if (note) toast(note.text, note.kind);
      if (["filled", "cancelled", "expired", "rejected", "order_rejected"].includes(msg.type)) balances.pollSoon();
      break;
    }
    case "fills": {
      const fill = fills.onMessage(msg);
      if (fill) {
        fills.reloadSoon();
        const market = state.markets.get(fill.symbol);
        toast(`${fill.side === "buy" ? "Bought" : "Sold"} ${fill.qty} ${market?.base ?? ""} at ${group(fill.price)} (${fill.role})`, fill.side === "buy" ? "up" : "down");
        balances.pollSoon();
      }
      break;
    }
    case "balances":
      if (msg.type === "ledger") balances.onMessage(msg);
      break;
    default:
      break;
  }
});

// A new connection (first or after a drop): every channel is resubscribed and each book gets a
// fresh snapshot; until then the book on screen is stale. Whatever was pushed while we were away
// (trades, candles, private updates) is fetched again over REST.
socket.addEventListener("open", () => {
  state.book?.invalidate();
  if (socket.connects > 1) {
    loadHistory();
    reloadPrivate();
  }
});

socket.addEventListener("status", () => {
  if (socket.status !== "live") state.book?.invalidate(); // shown dimmed until the next snapshot
  renderBookState();
});

let socketRefreshAt = 0;
socket.addEventListener("error", (event) => {
  const error = event.detail ?? {};
  if ((error.code === "invalid_token" || error.code === "token_expired") && Date.now() - socketRefreshAt > 60_000) {
    socketRefreshAt = Date.now(); // at most once a minute, so a token the socket keeps refusing cannot loop
    session.refresh().catch(() => {});
  } else if (error.code === "auth_unavailable") {
    setTimeout(() => socket.authenticate(), 3_000); // the service has no signing keys yet
  } else {
    console.warn("server:", error.code, error.message);
  }
});

function renderBookState() {
  const conn = $("#conn");
  const status = socket.status;
  conn.dataset.state = status;
  $(".conn-text", conn).textContent = { live: "live", connecting: "connecting", reconnecting: "reconnecting…" }[status] ?? status;
  const book = state.book;
  $("#book-state").textContent = !book ? "" : book.synced ? `seq ${book.seq}` : "syncing…";
}

function updateTitle() {
  const last = tape.trades[0]?.price;
  document.title = last ? `${group(last)} ${state.symbol} · Tradestack` : `${state.symbol} · Tradestack`;
}

// ---- the signed-in user --------------------------------------------------------------------

function onOrderPlaced(order) {
  openOrders.upsert(order);
  balances.pollSoon();
}

openOrders.addEventListener("change", () => ladder.setOwnOrders(openOrders.list()));
balances.addEventListener("change", () => orderForm.setAvailable(balances.list()));

async function reloadPrivate() {
  if (!session.signedIn) return;
  const results = await Promise.allSettled([openOrders.reload(), fills.reload(), balances.reload()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed && session.signedIn) toast(describeError(failed.reason), "error");
}

function renderSession() {
  const signedIn = session.signedIn;
  $("#auth-form").hidden = signedIn;
  $("#order-form").hidden = !signedIn;
  $("#balances").hidden = !signedIn;
  $("#user").hidden = !signedIn;
  $("#user-email").textContent = session.email ?? "";
  document.body.classList.toggle("signed-in", signedIn);
}

let wasSignedIn = session.signedIn;
session.addEventListener("change", (event) => {
  const reason = event.detail?.reason;
  renderSession();
  if (session.signedIn && !wasSignedIn) {
    reloadPrivate();
  } else if (!session.signedIn) {
    openOrders.clear();
    fills.clear();
    balances.clear();
    if (reason) {
      const message = $("#auth-form .form-message");
      message.textContent = reason;
      message.className = "form-message error";
    }
  }
  wasSignedIn = session.signedIn;
});

$("#logout").addEventListener("click", () => session.logout());

$$(".account-tabs button").forEach((button) =>
  button.addEventListener("click", () => {
    $$(".account-tabs button").forEach((b) => b.classList.toggle("active", b === button));
    $$(".account-body table").forEach((t) => (t.hidden = t.dataset.tab !== button.dataset.tab));
    $(".account-panel .cancel-all").hidden = button.dataset.tab !== "open";
  }),
);

$$("#intervals button").forEach((b) => b.addEventListener("click", () => selectInterval(b.dataset.interval)));

// The ladder shows as many levels as fit its panel.
new ResizeObserver(([entry]) => {
  const rows = Math.floor((entry.contentRect.height - 54) / (2 * LADDER_ROW_PX));
  ladder.setRows(Math.max(5, Math.min(40, rows)));
}).observe($("#ladder"));

window.addEventListener("hashchange", () => selectMarket(location.hash.slice(1)));

// ---- start ---------------------------------------------------------------------------------

async function start() {
  renderSession();
  await session.resume();
  let markets = null;
  for (let attempt = 0; !markets; attempt++) {
    try {
      markets = await api.markets();
    } catch (err) {
      $("#conn .conn-text").textContent = "venue unreachable";
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 1_000 * 2 ** attempt)));
    }
  }
  for (const m of markets) state.markets.set(m.symbol, m);
  tabs.setMarkets(markets);
  socket.subscribe(markets.map((m) => `ticker:${m.symbol}`));
  api
    .tickers()
    .then((list) => list.forEach((t) => state.tickers.has(t.symbol) || (state.tickers.set(t.symbol, t), tabs.update(t), stats.update(t))))
    .catch(() => {});
  const wanted = location.hash.slice(1);
  selectMarket(state.markets.has(wanted) ? wanted : markets[0]?.symbol);
  socket.connect();
  reloadPrivate();
}

// For tests and the curious: the live socket (closing it simulates a dropped connection) and
// the book being followed.
window.__tradestack = {
  get ws() {
    return socket.ws;
  },
  socket,
  get book() {
    return state.book;
  },
  chart,
  balances,
  session,
};

start();
