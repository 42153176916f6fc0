// The order book: a local L2 copy kept in sync from `book:<SYMBOL>` (snapshot + diffs with
// sequence ranges), and the ladder that shows it.
//
// Sync rules (docs/marketdata.md, "Keeping a local book in sync"):
//   snapshot          -> replace the book, seq = snapshot.seq
//   diff, no seq yet  -> ignore (waiting for the snapshot)
//   last_seq <= seq   -> ignore (already reflected)
//   first_seq > seq+1 -> a gap: drop the book and ask for a new snapshot (resubscribe)
//   otherwise         -> set each level's new total ("0" removes it), seq = last_seq
// A dropped connection also drops the book; the reconnect resubscribes and a snapshot follows.

import { add, approx, group, isZero, parse, sub } from "./decimal.js";
import { el } from "./dom.js";

export class BookSync extends EventTarget {
  constructor(symbol, requestSnapshot) {
    super();
    this.symbol = symbol;
    this.requestSnapshot = requestSnapshot;
    this.seq = null;
    this.bids = new Map(); // price -> qty, as the server writes them
    this.asks = new Map();
    this.order = { bids: null, asks: null }; // sorted prices, rebuilt only when a level comes or goes
    this.resyncs = 0;
    this.gaps = 0;
  }

  get synced() {
    return this.seq !== null;
  }

  onMessage(msg) {
    if (msg.type === "snapshot") {
      this.bids = new Map(msg.bids);
      this.asks = new Map(msg.asks);
      this.order = { bids: null, asks: null };
      this.seq = msg.seq;
      this.changed();
    } else if (msg.type === "diff") {
      if (this.seq === null || msg.last_seq <= this.seq) return;
      if (msg.first_seq > this.seq + 1) {
        this.gaps += 1;
        this.resync();
        return;
      }
      if (apply(this.bids, msg.bids)) this.order.bids = null;
      if (apply(this.asks, msg.asks)) this.order.asks = null;
      this.seq = msg.last_seq;
      if (msg.bids.length || msg.asks.length) this.changed(msg);
    }
  }

  /** Forget the book and ask for a fresh snapshot. */
  resync() {
    this.resyncs += 1;
    this.invalidate();
    this.requestSnapshot();
  }

  /** The connection dropped: the book is stale until the next snapshot. */
  invalidate() {
    this.seq = null;
    this.changed();
  }

  changed(diff = null) {
    this.dispatchEvent(new CustomEvent("change", { detail: diff }));
  }

  /** Best-first [price, qty] levels. */
  levels(side, count = Infinity) {
    const map = side === "bids" ? this.bids : this.asks;
    this.order[side] ??= sortPrices([...map.keys()], side);
    return this.order[side].slice(0, count).map((price) => [price, map.get(price)]);
  }

  best(side) {
    return this.levels(side, 1)[0]?.[0] ?? null;
  }
}

/** Set each level's new total; true if a level appeared or went (the price order changed). */
function apply(levels, changes) {
  let reordered = false;
  for (const [price, qty] of changes) {
    if (isZero(qty)) {
      reordered = levels.delete(price) || reordered;
    } else {
      reordered = reordered || !levels.has(price);
      levels.set(price, qty);
    }
  }
  return reordered;
}

/** Prices best first, compared exactly (each parsed once into a BigInt at a common scale). */
function sortPrices(prices, side) {
  const scale = Math.max(0, ...prices.map((p) => (p.split(".")[1] ?? "").length));
  const keyed = prices.map((p) => {
    const { units, scale: own } = parse(p);
    return [units * 10n ** BigInt(scale - own), p];
  });
  const sign = side === "bids" ? -1 : 1;
  keyed.sort((a, b) => (a[0] < b[0] ? -sign : a[0] > b[0] ? sign : 0));
  return keyed.map(([, p]) => p);
}

/**
 * The ladder: asks above, the spread in the middle, bids below; price, size and cumulative
 * total with depth bars. Rows are created once and updated in place. Clicking a row calls
 * `onPick(price, side)`.
 */
export class Ladder {
  constructor(root, { rows = 16, onPick }) {
    this.root = root;
    this.rowsPerSide = rows;
    this.onPick = onPick;
    this.market = null;
    this.book = null;
    this.ownPrices = { bids: new Set(), asks: new Set() };
    this.lastPrice = null;
    this.lastSide = null;
    this.previous = { bids: new Map(), asks: new Map() };
    this.build();
  }

  build() {
    this.askRows = [];
    this.bidRows = [];
    const asks = el("div", { class: "ladder-side asks" });
    const bids = el("div", { class: "ladder-side bids" });
    for (let i = 0; i < this.rowsPerSide; i++) {
      const a = makeRow("asks", this.onPick);
      const b = makeRow("bids", this.onPick);
      this.askRows.push(a);
      this.bidRows.push(b);
      asks.append(a.node);
      bids.append(b.node);
    }
    this.spreadLast = el("span", { class: "spread-last num" }, "—");
    this.spreadInfo = el("span", { class: "spread-info num" }, "");
    this.mid = el("div", { class: "ladder-mid" }, this.spreadLast, this.spreadInfo);
    const m = this.market;
    this.root.replaceChildren(
      el(
        "div",
        { class: "ladder-head" },
        el("span", {}, m ? `Price (${m.quote})` : "Price"),
        el("span", {}, m ? `Size (${m.base})` : "Size"),
        el("span", {}, "Total"),
      ),
      asks,
      this.mid,
      bids,
    );
  }

  setMarket(market, book) {
    this.market = market;
    this.book = book;
    this.previous = { bids: new Map(), asks: new Map() };
    this.lastPrice = null;
    this.build();
    this.render();
  }

  /** Show `rows` levels a side (the ladder fills the height it is given). */
  setRows(rows) {
    if (rows === this.rowsPerSide) return;
    this.rowsPerSide = rows;
    this.build();
    this.render();
  }

  setOwnOrders(orders) {
    const own = { bids: new Set(), asks: new Set() };
    for (const o of orders) {
      if (o.symbol === this.market?.symbol && o.price) own[o.side === "buy" ? "bids" : "asks"].add(o.price);
    }
    this.ownPrices = own;
    this.render();
  }

  setLast(price, side) {
    this.lastPrice = price;
    this.lastSide = side;
    this.renderMid();
  }

  render() {
    const book = this.book;
    this.root.classList.toggle("stale", !book?.synced);
    if (!book) return;
    const asks = book.levels("asks", this.rowsPerSide);
    const bids = book.levels("bids", this.rowsPerSide);
    const askTotals = cumulative(asks);
    const bidTotals = cumulative(bids);
    const deepest = Math.max(approx(askTotals.at(-1) ?? "0"), approx(bidTotals.at(-1) ?? "0"), 1e-18);
    // Asks are listed best-last so the best ask sits right above the spread.
    for (let i = 0; i < this.rowsPerSide; i++) {
      const a = asks.length - this.rowsPerSide + i;
      this.fill(this.askRows[i], asks[a], askTotals[a], deepest, "asks");
      this.fill(this.bidRows[i], bids[i], bidTotals[i], deepest, "bids");
    }
    this.previous = { bids: new Map(bids), asks: new Map(asks) };
    this.renderMid();
  }

  fill(row, level, total, deepest, side) {
    if (!level) {
      row.node.classList.add("empty");
      row.price.textContent = "";
      row.size.textContent = "";
      row.total.textContent = "";
      row.bar.style.width = "0";
      row.node.dataset.price = "";
      row.node.classList.remove("own");
      return;
    }
    const [price, qty] = level;
    row.node.classList.remove("empty");
    row.node.dataset.price = price;
    row.price.textContent = group(price);
    row.size.textContent = qty;
    row.total.textContent = total;
    row.bar.style.width = `${Math.min(100, (approx(total) / deepest) * 100).toFixed(1)}%`;
    row.node.classList.toggle("own", this.ownPrices[side].has(price));
    const before = this.previous[side].get(price);
    if (before !== undefined && before !== qty) flash(row.node);
  }

  renderMid() {
    const book = this.book;
    if (!book || !book.synced) {
      this.spreadLast.textContent = book ? "syncing…" : "—";
      this.spreadInfo.textContent = "";
      return;
    }
    this.spreadLast.textContent = this.lastPrice ? group(this.lastPrice) : "—";
    this.spreadLast.className = `spread-last num ${this.lastSide === "sell" ? "down" : this.lastSide ? "up" : ""}`;
    const bid = book.best("bids");
    const ask = book.best("asks");
    if (bid && ask) {
      const spread = sub(ask, bid);
      const pct = ((approx(spread) / approx(ask)) * 100).toFixed(3);
      this.spreadInfo.textContent = `spread ${group(spread)} (${pct}%)`;
    } else {
      this.spreadInfo.textContent = bid || ask ? "one-sided book" : "empty book";
    }
  }
}

function makeRow(side, onPick) {
  const bar = el("div", { class: "bar" });
  const price = el("span", { class: "price num" });
  const size = el("span", { class: "size num" });
  const total = el("span", { class: "total num" });
  const node = el("div", { class: `level ${side} empty`, role: "button", tabindex: "-1" }, bar, price, size, total);
  node.addEventListener("click", () => {
    if (node.dataset.price) onPick(node.dataset.price, side);
  });
  return { node, bar, price, size, total };
}

function cumulative(levels) {
  const totals = [];
  let running = "0";
  for (const [, qty] of levels) {
    running = add(running, qty);
    totals.push(running);
  }
  return totals;
}

function flash(node) {
  node.classList.remove("flash");
  void node.offsetWidth; // restart the animation
  node.classList.add("flash");
}
