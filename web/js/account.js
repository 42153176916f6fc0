// Signing in and up, the user's balances, and the demo faucet.

import { group, trimDecimals } from "./decimal.js";
import { $, $$, describeError, el } from "./dom.js";

/** The log in / sign up card shown instead of the order ticket when nobody is signed in. */
export class AuthPanel {
  constructor(root, { session }) {
    this.root = root;
    this.session = session;
    this.mode = "login";
    $$(".auth-tabs button", root).forEach((b) => b.addEventListener("click", () => this.setMode(b.dataset.mode)));
    root.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  setMode(mode) {
    this.mode = mode;
    this.root.dataset.mode = mode;
    $$(".auth-tabs button", this.root).forEach((b) => b.classList.toggle("active", b.dataset.mode === mode));
    $("button[type=submit]", this.root).textContent = mode === "login" ? "Log in" : "Create account";
    $("[name=password]", this.root).autocomplete = mode === "login" ? "current-password" : "new-password";
    this.message(null);
  }

  message(text, kind = "error") {
    const box = $(".form-message", this.root);
    box.textContent = text ?? "";
    box.className = `form-message ${text ? kind : ""}`;
  }

  async submit() {
    const email = $("[name=email]", this.root).value.trim();
    const password = $("[name=password]", this.root).value;
    if (!email || !password) {
      this.message("Enter your e-mail and a password.");
      return;
    }
    const button = $("button[type=submit]", this.root);
    button.disabled = true;
    this.message(this.mode === "login" ? "Signing in…" : "Creating your account…", "info");
    try {
      if (this.mode === "signup") await this.session.signup(email, password);
      else await this.session.login(email, password);
      $("[name=password]", this.root).value = "";
      this.message(null);
    } catch (err) {
      this.message(describeError(err));
    } finally {
      button.disabled = false;
    }
  }
}

/** Amounts the "Get demo funds" button asks the faucet for (the faucet caps each asset). */
const FAUCET_AMOUNTS = { USD: "100000", BTC: "2", ETH: "25", SOL: "500" };
const FAUCET_FALLBACK = "1000";
const LIVE_WINDOW_MS = 5_000;

/**
 * Balances per asset. Live `ledger` messages carry each asset's new `available` and `held`,
 * ordered by a per-asset `seq`; REST loads fill in the rest (and are ignored for an asset that
 * the live channel updated moments ago, since the REST projection may lag it).
 */
export class Balances extends EventTarget {
  constructor(root, { api }) {
    super();
    this.root = root;
    this.api = api;
    this.rows = new Map(); // asset -> { asset, available, held }
    this.seqs = new Map();
    this.liveAt = new Map();
    this.lastLedgerAt = 0;
    this.market = null;
    this.body = $("tbody", root);
    $(".faucet-button", root).addEventListener("click", () => this.faucet());
    $(".faucet-form", root).addEventListener("submit", (e) => {
      e.preventDefault();
      const asset = $("[name=asset]", root).value;
      const amount = $("[name=amount]", root).value.trim();
      this.deposit([[asset, amount]]);
    });
  }

  setMarket(market, assets) {
    this.market = market;
    const select = $("[name=asset]", this.root);
    const current = select.value;
    select.replaceChildren(...assets.map((a) => el("option", { value: a }, a)));
    select.value = assets.includes(current) ? current : market.quote;
    $(".faucet-button", this.root).textContent =
      `Get demo funds: ${group(faucetAmount(market.quote))} ${market.quote} + ${faucetAmount(market.base)} ${market.base}`;
  }

  async reload() {
    const rows = await this.api.balances();
    const now = Date.now();
    for (const b of rows) {
      if (now - (this.liveAt.get(b.asset) ?? 0) < LIVE_WINDOW_MS) continue;
      this.rows.set(b.asset, b);
    }
    this.changed();
  }

  clear() {
    this.rows = new Map();
    this.seqs = new Map();
    this.changed();
  }

  /** A `ledger` message of the `balances` channel. */
  onMessage(msg) {
    this.lastLedgerAt = Date.now();
    const seen = this.seqs.get(msg.asset) ?? -1;
    if (msg.seq !== undefined && msg.seq <= seen) return;
    if (msg.seq !== undefined) this.seqs.set(msg.asset, msg.seq);
    if (msg.available === undefined) return;
    this.liveAt.set(msg.asset, Date.now());
    this.rows.set(msg.asset, { asset: msg.asset, available: msg.available, held: msg.held ?? "0" });
    this.changed(msg.asset);
  }

  /** True if the live channel said something lately. */
  get live() {
    return Date.now() - this.lastLedgerAt < LIVE_WINDOW_MS;
  }

  /** After something that moves money: if the `balances` channel stays silent, read them over
   *  REST instead (the projection follows the engines within a moment). */
  pollSoon() {
    this.pollTimers?.forEach(clearTimeout);
    this.pollTimers = [1_000, 3_000].map((ms) =>
      setTimeout(() => {
        if (!this.live && this.api.session.signedIn) this.reload().catch(() => {});
      }, ms),
    );
  }

  list() {
    return [...this.rows.values()].sort((a, b) => a.asset.localeCompare(b.asset));
  }

  changed(fresh = null) {
    const rows = this.list();
    if (!rows.length) {
      this.body.replaceChildren(el("tr", { class: "empty-row" }, el("td", { colspan: 3 }, "No funds yet — use the faucet below")));
    } else {
      this.body.replaceChildren(
        ...rows.map((b) =>
          el(
            "tr",
            { class: b.asset === fresh ? "flash" : "", dataset: { asset: b.asset } },
            el("td", {}, b.asset),
            el("td", { class: "num available" }, group(trimDecimals(b.available))),
            el("td", { class: "num held dim" }, group(trimDecimals(b.held))),
          ),
        ),
      );
    }
    this.dispatchEvent(new Event("change"));
  }

  faucet() {
    const m = this.market;
    if (!m) return;
    this.deposit([
      [m.quote, faucetAmount(m.quote)],
      [m.base, faucetAmount(m.base)],
    ]);
  }

  async deposit(pairs) {
    const message = $(".faucet-message", this.root);
    const buttons = $$(".faucet button", this.root);
    buttons.forEach((b) => (b.disabled = true));
    message.className = "faucet-message form-message info";
    message.textContent = "Depositing…";
    const done = [];
    const failed = [];
    for (const [asset, amount] of pairs) {
      try {
        const transfer = await this.api.deposit(asset, amount);
        if (transfer.status === "rejected") failed.push(`${asset}: ${transfer.reason}`);
        else done.push(`${group(amount)} ${asset}`);
      } catch (err) {
        failed.push(err.code === "admin_required" ? "The faucet is open only when the venue runs in demo mode." : `${asset}: ${describeError(err)}`);
      }
    }
    buttons.forEach((b) => (b.disabled = false));
    message.className = `faucet-message form-message ${failed.length ? "error" : "ok"}`;
    message.textContent = [done.length ? `Deposited ${done.join(" and ")}.` : "", ...failed].filter(Boolean).join(" ");
    await this.reload().catch(() => {});
    this.pollSoon();
  }
}

function faucetAmount(asset) {
  return FAUCET_AMOUNTS[asset] ?? FAUCET_FALLBACK;
}
