// The market picker (one tab per market with its last price and 24-hour change) and the
// selected market's 24-hour statistics, both fed by `ticker:<SYMBOL>` messages.

import { compare, fixed, group } from "./decimal.js";
import { el } from "./dom.js";

export class MarketTabs {
  constructor(root, { onPick }) {
    this.root = root;
    this.onPick = onPick;
    this.tabs = new Map();
  }

  setMarkets(markets) {
    this.tabs = new Map();
    this.root.replaceChildren(
      ...markets.map((m) => {
        const last = el("span", { class: "tab-last num" }, "—");
        const change = el("span", { class: "tab-change num" }, "");
        const tab = el(
          "button",
          { class: "market-tab", type: "button", role: "tab", dataset: { symbol: m.symbol }, title: `${m.base} / ${m.quote}` },
          el("span", { class: "tab-symbol" }, m.symbol),
          last,
          change,
        );
        tab.addEventListener("click", () => this.onPick(m.symbol));
        this.tabs.set(m.symbol, { tab, last, change });
        return tab;
      }),
    );
  }

  select(symbol) {
    for (const [s, { tab }] of this.tabs) {
      tab.classList.toggle("active", s === symbol);
      tab.setAttribute("aria-selected", String(s === symbol));
    }
  }

  update(ticker) {
    const tab = this.tabs.get(ticker.symbol);
    if (!tab) return;
    tab.last.textContent = ticker.last ? group(ticker.last) : "—";
    tab.change.textContent = ticker.change_percent != null ? signed(ticker.change_percent) + "%" : "";
    tab.change.className = `tab-change num ${direction(ticker.change)}`;
  }
}

export class TickerStats {
  constructor(root) {
    this.root = root;
    this.previousLast = null;
    this.cells = {};
    const stat = (key, label) => {
      const value = el("span", { class: "stat-value num" }, "—");
      this.cells[key] = value;
      return el("div", { class: `stat stat-${key}` }, el("span", { class: "stat-label" }, label), value);
    };
    this.lastCell = el("span", { class: "ticker-last num" }, "—");
    this.symbolCell = el("span", { class: "ticker-symbol" }, "");
    this.root.replaceChildren(
      el("div", { class: "ticker-main" }, this.symbolCell, this.lastCell),
      stat("change", "24h change"),
      stat("high", "24h high"),
      stat("low", "24h low"),
      stat("volume", "24h volume"),
      stat("quote_volume", "24h turnover"),
      stat("trades", "24h trades"),
    );
  }

  setMarket(market) {
    this.market = market;
    this.previousLast = null;
    this.symbolCell.textContent = `${market.base}/${market.quote}`;
    this.lastCell.textContent = "—";
    this.lastCell.className = "ticker-last num";
    for (const cell of Object.values(this.cells)) cell.textContent = "—";
  }

  update(t) {
    const m = this.market;
    if (!m || t.symbol !== m.symbol) return;
    const last = t.last ?? null;
    this.lastCell.textContent = last ? group(last) : "—";
    if (last && this.previousLast && last !== this.previousLast) {
      this.lastCell.className = `ticker-last num ${compare(last, this.previousLast) >= 0 ? "up" : "down"}`;
    } else if (!this.previousLast) {
      this.lastCell.className = `ticker-last num ${direction(t.change)}`;
    }
    this.previousLast = last;
    const pct = t.change_percent != null ? ` (${signed(t.change_percent)}%)` : "";
    this.cells.change.textContent = t.change != null ? `${signed(group(t.change))}${pct}` : "—";
    this.cells.change.className = `stat-value num ${direction(t.change)}`;
    this.cells.high.textContent = t.high ? group(t.high) : "—";
    this.cells.low.textContent = t.low ? group(t.low) : "—";
    this.cells.volume.textContent = `${group(t.volume ?? "0")} ${m.base}`;
    this.cells.quote_volume.textContent = `${group(fixed(t.quote_volume ?? "0", 2))} ${m.quote}`;
    this.cells.trades.textContent = String(t.trades ?? 0);
  }
}

function signed(text) {
  const s = String(text);
  return s.startsWith("-") || /^0(\.0*)?$/.test(s) ? s : `+${s}`;
}

function direction(change) {
  if (change == null) return "";
  const s = String(change);
  if (s.startsWith("-")) return "down";
  return /^[0.]+$/.test(s) ? "" : "up";
}
