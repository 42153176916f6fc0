// Order entry and the user's orders and fills.
//
// The form checks every number the way the server will, before sending it: a plain decimal
// string, a whole multiple of the market's tick (price) or lot (qty), and at least the minimum
// notional, all with exact BigInt arithmetic (decimal.js). The request body carries the strings
// as typed (tidied), never a number.

import { compare, group, isMultiple, isPlain, isZero, mul, normalizeInput, stripZeros, trimDecimals } from "./decimal.js";
import { $, $$, describeError, el, stamp, toast } from "./dom.js";

/** Check the form's values against the market; returns { order } or { errors: {field: text} }. */
export function buildOrder(market, values) {
  const errors = {};
  const order = { symbol: market.symbol, side: values.side, type: values.type };
  const price = normalizeInput(values.price);
  const qty = normalizeInput(values.qty);
  const checkNumber = (field, text, step, stepName) => {
    if (text === "") return `Enter a ${field === "quote_qty" ? "amount" : field}.`;
    if (!isPlain(text)) return `Use digits and one point, like ${step === market.tick_size ? "101.25" : "0.5"}.`;
    if (isZero(text)) return "Must be more than zero.";
    if (!isMultiple(text, step)) return `Must be a multiple of the ${stepName} ${stripZeros(step)}.`;
    return null;
  };
  if (values.type === "limit") {
    const priceError = checkNumber("price", price, market.tick_size, "tick");
    if (priceError) errors.price = priceError;
    const qtyError = checkNumber("qty", qty, market.lot_size, "lot");
    if (qtyError) errors.qty = qtyError;
    order.price = price;
    order.qty = qty;
    order.tif = values.tif;
    if (values.postOnly) {
      if (values.tif !== "GTC") errors.tif = "Post-only orders rest on the book: use GTC.";
      order.post_only = true;
    }
    if (!errors.price && !errors.qty && compare(mul(price, qty), market.min_notional) < 0) {
      errors.qty = `Order value ${stripZeros(mul(price, qty))} ${market.quote} is below the minimum ${market.min_notional} ${market.quote}.`;
    }
  } else if (values.amountIn === "quote") {
    const increment = stripZeros(mul(market.tick_size, market.lot_size));
    const error = checkNumber("quote_qty", qty, increment, "increment");
    if (error) errors.qty = error;
    else if (compare(qty, market.min_notional) < 0) errors.qty = `At least ${market.min_notional} ${market.quote}.`;
    order.quote_qty = qty;
  } else {
    const error = checkNumber("qty", qty, market.lot_size, "lot");
    if (error) errors.qty = error;
    order.qty = qty;
  }
  return Object.keys(errors).length ? { errors } : { order };
}

/** The order ticket in the right column. */
export class OrderForm {
  constructor(root, { api, onPlaced }) {
    this.root = root;
    this.api = api;
    this.onPlaced = onPlaced;
    this.market = null;
    this.side = "buy";
    this.type = "limit";
    this.amountIn = "base";
    this.available = {};
    this.bestPrices = { bid: null, ask: null };
    this.bind();
  }

  bind() {
    const r = this.root;
    this.fields = {
      price: $("[name=price]", r),
      qty: $("[name=qty]", r),
      tif: $("[name=tif]", r),
      postOnly: $("[name=post_only]", r),
    };
    $$(".side-tabs button", r).forEach((b) => b.addEventListener("click", () => this.setSide(b.dataset.side)));
    $$(".type-tabs button", r).forEach((b) => b.addEventListener("click", () => this.setType(b.dataset.type)));
    $$(".amount-in button", r).forEach((b) => b.addEventListener("click", () => this.setAmountIn(b.dataset.in)));
    for (const input of [this.fields.price, this.fields.qty]) {
      input.addEventListener("input", () => {
        this.clearFieldError(input.name);
        this.updateTotal();
      });
    }
    this.fields.tif.addEventListener("change", () => {
      if (this.fields.tif.value !== "GTC") this.fields.postOnly.checked = false;
      this.fields.postOnly.disabled = this.fields.tif.value !== "GTC";
      this.clearFieldError("tif");
    });
    this.fields.postOnly.addEventListener("change", () => this.clearFieldError("tif"));
    r.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  setMarket(market) {
    this.market = market;
    this.fields.price.value = "";
    this.fields.qty.value = "";
    this.fields.price.placeholder = `tick ${stripZeros(market.tick_size)}`;
    this.showMessage(null);
    this.clearFieldError();
    this.render();
  }

  setSide(side) {
    this.side = side;
    this.render();
  }

  setType(type) {
    this.type = type;
    this.clearFieldError();
    this.render();
  }

  setAmountIn(unit) {
    this.amountIn = unit;
    this.clearFieldError("qty");
    this.render();
  }

  /** A price clicked in the ladder: a limit order at that price. */
  pickPrice(price) {
    if (this.type !== "limit") this.setType("limit");
    this.fields.price.value = price;
    this.clearFieldError("price");
    this.updateTotal();
    this.fields.qty.focus();
  }

  setAvailable(balances) {
    this.available = Object.fromEntries(balances.map((b) => [b.asset, b.available]));
    this.renderAvailable();
  }

  setBest(bid, ask) {
    this.bestPrices = { bid, ask };
    if (this.type === "market") this.updateTotal();
  }

  render() {
    const m = this.market;
    if (!m) return;
    const r = this.root;
    r.dataset.side = this.side;
    r.dataset.type = this.type;
    $$(".side-tabs button", r).forEach((b) => b.classList.toggle("active", b.dataset.side === this.side));
    $$(".type-tabs button", r).forEach((b) => b.classList.toggle("active", b.dataset.type === this.type));
    $$(".amount-in button", r).forEach((b) => {
      b.classList.toggle("active", b.dataset.in === this.amountIn);
      b.textContent = b.dataset.in === "base" ? m.base : m.quote;
    });
    const quoteAmount = this.type === "market" && this.amountIn === "quote";
    $(".unit-price", r).textContent = m.quote;
    $(".unit-qty", r).textContent = quoteAmount ? m.quote : m.base;
    $(".label-qty", r).textContent = quoteAmount ? "Spend" : "Amount";
    this.fields.qty.placeholder = quoteAmount
      ? `min ${m.min_notional}`
      : `lot ${stripZeros(m.lot_size)}`;
    const submit = $("button[type=submit]", r);
    submit.textContent = `${this.side === "buy" ? "Buy" : "Sell"} ${m.base}`;
    submit.className = `submit ${this.side}`;
    $(".market-terms", r).textContent =
      `tick ${stripZeros(m.tick_size)} · lot ${stripZeros(m.lot_size)} · min ${m.min_notional} ${m.quote} · fees ${m.maker_fee_bps}/${m.taker_fee_bps} bp`;
    this.renderAvailable();
    this.updateTotal();
  }

  renderAvailable() {
    const m = this.market;
    if (!m) return;
    const asset = this.side === "buy" ? m.quote : m.base;
    const amount = this.available[asset];
    $(".available", this.root).textContent = `${amount ? group(trimDecimals(amount)) : "0"} ${asset}`;
  }

  updateTotal() {
    const m = this.market;
    const out = $(".order-total", this.root);
    const price = normalizeInput(this.fields.price.value);
    const qty = normalizeInput(this.fields.qty.value);
    out.textContent = "—";
    if (!m || !isPlain(qty)) return;
    if (this.type === "limit" && isPlain(price)) {
      out.textContent = `${group(stripZeros(mul(price, qty)))} ${m.quote}`;
    } else if (this.type === "market") {
      const ref = this.side === "buy" ? this.bestPrices.ask : this.bestPrices.bid;
      if (this.amountIn === "quote") out.textContent = `${group(qty)} ${m.quote}`;
      else if (ref) out.textContent = `≈ ${group(stripZeros(mul(ref, qty)))} ${m.quote}`;
    }
  }

  values() {
    return {
      side: this.side,
      type: this.type,
      amountIn: this.amountIn,
      price: this.fields.price.value,
      qty: this.fields.qty.value,
      tif: this.fields.tif.value,
      postOnly: this.fields.postOnly.checked,
    };
  }

  async submit() {
    if (!this.market) return;
    this.clearFieldError();
    this.showMessage(null);
    const { order, errors } = buildOrder(this.market, this.values());
    if (errors) {
      for (const [field, text] of Object.entries(errors)) this.fieldError(field, text);
      return;
    }
    const button = $("button[type=submit]", this.root);
    button.disabled = true;
    try {
      const placed = await this.api.placeOrder(order);
      this.onPlaced(placed);
      this.showResult(placed);
    } catch (err) {
      this.showMessage(describeError(err), "error");
    } finally {
      button.disabled = false;
    }
  }

  showResult(o) {
    const what = `${o.side === "buy" ? "Buy" : "Sell"} ${o.qty ?? o.quote_qty ?? ""}${o.price ? " @ " + group(o.price) : " at market"}`;
    if (o.status === "rejected") {
      this.showMessage(`Rejected: ${o.reason ?? "unknown reason"} — ${what}`, "error");
    } else if (o.status === "expired" && (!o.filled || isZero(o.filled))) {
      this.showMessage(`Expired without a trade (${o.reason ?? "nothing to match"}) — ${what}`, "warn");
    } else {
      const label = { pending: "sent", open: "open", partially_filled: "partially filled", filled: "filled", expired: "done, rest expired" }[o.status] ?? o.status;
      this.showMessage(`${what}: ${label}`, "ok");
    }
  }

  showMessage(text, kind = "error") {
    const box = $(".form-message", this.root);
    box.textContent = text ?? "";
    box.className = `form-message ${text ? kind : ""}`;
  }

  fieldError(field, text) {
    const input = field === "tif" ? this.fields.tif : this.fields[field];
    input?.classList.add("invalid");
    const hint = $(`.field-error[data-for=${field}]`, this.root);
    if (hint) hint.textContent = text;
  }

  clearFieldError(field = null) {
    for (const hint of $$(".field-error", this.root)) {
      if (!field || hint.dataset.for === field) hint.textContent = "";
    }
    for (const input of $$("input, select", this.root)) {
      if (!field || input.name === field || (field === "tif" && input.name === "tif")) input.classList.remove("invalid");
    }
  }
}

const TERMINAL = new Set(["filled", "cancelled", "expired", "rejected"]);
const STATUS_RANK = { pending: 0, open: 1, partially_filled: 2 };
const PROJECTION_LAG_MS = 5_000;

/**
 * The user's open orders, kept from REST (on sign-in and after a reconnect), the POST answers,
 * and the live `orders` channel. An order that reached a final state is remembered so a late
 * answer (REST lags the engines a little) cannot bring it back.
 */
export class OpenOrders extends EventTarget {
  constructor(root, { api }) {
    super();
    this.root = root;
    this.api = api;
    this.orders = new Map();
    this.finished = new Set();
    this.touched = new Map(); // id -> when the live channel last changed it
    this.body = $("tbody", root);
    $(".cancel-all", root.closest(".panel")).addEventListener("click", () => this.cancelAll());
  }

  async reload() {
    const started = Date.now();
    const rows = await this.api.openOrders();
    const next = new Map();
    for (const o of rows) if (!this.finished.has(o.id)) next.set(o.id, o);
    for (const [id, o] of this.orders) {
      // Kept if it changed lately: the projection behind REST may not have it yet.
      if ((this.touched.get(id) ?? 0) >= started - PROJECTION_LAG_MS && !next.has(id)) next.set(id, o);
    }
    this.orders = next;
    this.changed();
  }

  clear() {
    this.orders = new Map();
    this.finished = new Set();
    this.changed();
  }

  upsert(order) {
    if (this.finished.has(order.id)) return;
    if (TERMINAL.has(order.status)) {
      this.finish(order.id);
      return;
    }
    const known = this.orders.get(order.id);
    const merged = { ...known, ...order };
    if (known) {
      // Answers can arrive out of order (the POST answer after the live events): never go back.
      if ((STATUS_RANK[known.status] ?? 0) > (STATUS_RANK[order.status] ?? 0)) merged.status = known.status;
      if (known.filled && order.filled && compare(known.filled, order.filled) > 0) merged.filled = known.filled;
    }
    this.orders.set(order.id, merged);
    this.touched.set(order.id, Date.now());
    this.changed();
  }

  finish(id) {
    this.finished.add(id);
    this.touched.delete(id);
    if (this.orders.delete(id)) this.changed();
  }

  /** A message of the `orders` channel. Returns a line to tell the user, if any. */
  onMessage(msg) {
    const id = msg.order_id;
    const known = this.orders.get(id);
    switch (msg.type) {
      case "accepted":
        this.upsert({
          id, symbol: msg.symbol, side: msg.side, type: msg.order_type, tif: msg.tif,
          price: msg.price ?? null, qty: msg.qty ?? null, quote_qty: msg.quote_qty ?? null,
          post_only: msg.post_only, status: "pending", filled: known?.filled ?? "0", created: known?.created ?? msg.ts,
        });
        return null;
      case "rested":
        this.upsert({ id, symbol: msg.symbol, side: msg.side, price: msg.price, open: msg.open_qty, filled: msg.filled, status: isZero(msg.filled) ? "open" : "partially_filled" });
        return null;
      case "trade":
        if (known) {
          const update = { id, filled: msg.filled, status: "partially_filled" };
          if (msg.remaining !== undefined) update.open = msg.remaining;
          this.upsert(update);
        }
        return null;
      case "amended":
        this.upsert({ id, price: msg.price, open: msg.qty });
        return null;
      case "filled":
        this.finish(id);
        return null;
      case "cancelled":
        this.finish(id);
        return { text: `Cancelled ${msg.side} ${msg.open_qty} ${msg.symbol} @ ${group(msg.price)}`, kind: "info" };
      case "expired":
        this.finish(id);
        return msg.remaining && !isZero(msg.remaining)
          ? { text: `${msg.symbol}: ${msg.remaining} not filled, expired (${msg.reason})`, kind: "info" }
          : null;
      case "rejected":
      case "order_rejected":
        if (id) this.finish(id);
        return { text: `Order rejected: ${msg.reason}${msg.message ? " — " + msg.message : ""}`, kind: "error" };
      default:
        return null;
    }
  }

  async cancel(id, button) {
    if (button) button.disabled = true;
    try {
      await this.api.cancelOrder(id);
      const row = this.orders.get(id);
      if (row) this.upsert({ id, cancelling: true });
    } catch (err) {
      if (err.code === "order_not_open") this.finish(id);
      toast(describeError(err), "error");
      if (button) button.disabled = false;
    }
  }

  async cancelAll() {
    await Promise.all([...this.orders.keys()].map((id) => this.cancel(id)));
  }

  list() {
    return [...this.orders.values()].sort((a, b) => (b.created ?? 0) - (a.created ?? 0));
  }

  changed() {
    this.render();
    this.dispatchEvent(new Event("change"));
  }

  render() {
    const rows = this.list();
    const count = this.root.closest(".panel").querySelector(".count-open");
    if (count) count.textContent = rows.length ? `(${rows.length})` : "";
    if (!rows.length) {
      this.body.replaceChildren(el("tr", { class: "empty-row" }, el("td", { colspan: 9 }, "No open orders")));
      return;
    }
    this.body.replaceChildren(
      ...rows.map((o) => {
        const cancel = el("button", { class: "link-button", type: "button", title: "Cancel this order" }, o.cancelling ? "cancelling…" : "Cancel");
        cancel.disabled = Boolean(o.cancelling);
        cancel.addEventListener("click", () => this.cancel(o.id, cancel));
        const type = o.type === "market" ? "market" : `${o.post_only ? "post-only" : "limit"}${o.tif && o.tif !== "GTC" ? " " + o.tif : ""}`;
        return el(
          "tr",
          { dataset: { id: o.id } },
          el("td", { class: "mono" }, stamp(o.created)),
          el("td", {}, o.symbol),
          el("td", { class: o.side === "buy" ? "up" : "down" }, o.side),
          el("td", {}, type),
          el("td", { class: "num" }, o.price ? group(o.price) : "market"),
          el("td", { class: "num" }, o.qty ?? o.quote_qty ?? ""),
          el("td", { class: "num" }, o.filled ?? "0"),
          el("td", { class: "status" }, (o.status ?? "").replace("_", " ")),
          el("td", { class: "actions" }, cancel),
        );
      }),
    );
  }
}

/** The user's own fills: REST history, then the live `fills` channel. */
export class Fills {
  constructor(root, { api }) {
    this.root = root;
    this.api = api;
    this.fills = new Map(); // "trade id:role" -> fill
    this.body = $("tbody", root);
  }

  async reload() {
    const rows = await this.api.fills(50);
    for (const f of rows) {
      this.fills.set(`${f.id}:${f.liquidity}`, {
        key: `${f.id}:${f.liquidity}`, trade_id: f.id, symbol: f.symbol, side: f.side, price: f.price, qty: f.qty,
        fee: f.fee, fee_asset: f.fee_asset, role: f.liquidity, ts: f.time,
      });
    }
    this.render();
  }

  clear() {
    this.fills = new Map();
    this.render();
  }

  /** Live fills carry no fee; the REST fill (projected a moment later) does. */
  reloadSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload().catch(() => {}), 1_500);
  }

  /** A `fill` message; returns it if new. */
  onMessage(msg) {
    const key = `${msg.trade_id}:${msg.role}`;
    if (this.fills.has(key)) return null;
    const fill = { key, ...msg };
    this.fills.set(key, fill);
    this.render(key);
    return fill;
  }

  render(fresh = null) {
    const rows = [...this.fills.values()].sort((a, b) => (b.ts ?? 0) - (a.ts ?? 0) || (b.seq ?? 0) - (a.seq ?? 0)).slice(0, 100);
    if (!rows.length) {
      this.body.replaceChildren(el("tr", { class: "empty-row" }, el("td", { colspan: 7 }, "No fills yet")));
      return;
    }
    this.body.replaceChildren(
      ...rows.map((f) =>
        el(
          "tr",
          { class: f.key === fresh ? "flash" : "", dataset: { trade: f.trade_id } },
          el("td", { class: "mono" }, stamp(f.ts)),
          el("td", {}, f.symbol),
          el("td", { class: f.side === "buy" ? "up" : "down" }, f.side),
          el("td", { class: "num" }, group(f.price)),
          el("td", { class: "num" }, f.qty),
          el("td", { class: "num dim" }, f.fee ? `${stripZeros(f.fee)} ${f.fee_asset}` : "…"),
          el("td", { class: "dim" }, f.role),
        ),
      ),
    );
  }
}
