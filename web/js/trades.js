// The trades tape: recent public trades of the market, newest on top, price coloured by the
// taker's side. History comes from REST, then `trades:<SYMBOL>` pushes; both are merged by seq,
// so the overlap between the two (and a refetch after a reconnect) shows each trade once.

import { group } from "./decimal.js";
import { clock, el } from "./dom.js";

const KEEP = 60;

export class Tape {
  constructor(root) {
    this.root = root;
    this.trades = []; // newest first
    this.seen = new Set();
    this.list = el("div", { class: "tape-rows" });
    this.root.replaceChildren(
      el("div", { class: "tape-head" }, el("span", {}, "Price"), el("span", {}, "Size"), el("span", {}, "Time")),
      this.list,
    );
    this.empty = el("div", { class: "empty-note" }, "No trades yet");
    this.list.append(this.empty);
  }

  setMarket(market) {
    this.trades = [];
    this.seen = new Set();
    const [priceHead, sizeHead] = this.root.querySelectorAll(".tape-head span");
    priceHead.textContent = `Price (${market.quote})`;
    sizeHead.textContent = `Size (${market.base})`;
    this.render(new Set());
  }

  /** Add trades (any order); returns the newest one added, if any. */
  add(trades, { live = false } = {}) {
    const fresh = trades.filter((t) => !this.seen.has(t.seq));
    if (!fresh.length) return null;
    fresh.forEach((t) => this.seen.add(t.seq));
    this.trades = [...fresh, ...this.trades].sort((a, b) => b.seq - a.seq).slice(0, KEEP);
    this.seen = new Set(this.trades.map((t) => t.seq));
    this.render(live ? new Set(fresh.map((t) => t.seq)) : new Set());
    return this.trades[0];
  }

  render(highlight) {
    if (!this.trades.length) {
      this.list.replaceChildren(this.empty);
      return;
    }
    this.list.replaceChildren(
      ...this.trades.map((t) =>
        el(
          "div",
          { class: `tape-row ${t.side === "buy" ? "buy" : "sell"}${highlight.has(t.seq) ? " flash" : ""}`, dataset: { seq: t.seq } },
          el("span", { class: "price num" }, group(t.price)),
          el("span", { class: "num" }, t.qty),
          el("span", { class: "num dim" }, clock(t.ts)),
        ),
      ),
    );
  }
}
