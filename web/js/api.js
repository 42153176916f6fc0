// REST client for the gateway's `/api`, and the signed-in session (tokens).
//
// Tokens live in sessionStorage (see docs/web.md): a reload keeps you signed in, the tab's
// session is its own (refresh tokens rotate, and two tabs sharing one would trip the server's
// reuse detection and sign both out), and closing the tab forgets them.

const STORAGE_KEY = "tradestack.session";
const REFRESH_MARGIN_MS = 60_000; // refresh this long before the access token expires

/** An API failure: `{"error": {"code", "message"}}` with its HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function call(method, path, { body, token, signal } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network_error", "The venue cannot be reached. Check your connection.");
  }
  if (response.status === 204) return null;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const error = payload?.error;
    if (error?.code) throw new ApiError(response.status, error.code, error.message, error);
    const detail = Array.isArray(payload?.detail) ? payload.detail[0]?.msg : payload?.detail;
    throw new ApiError(response.status, `http_${response.status}`, detail || response.statusText);
  }
  return payload;
}

/**
 * The signed-in user: tokens, automatic refresh before expiry, and authenticated calls.
 * Listeners get "change" (signed in/out, new token) events.
 */
export class Session extends EventTarget {
  constructor(storage = window.sessionStorage) {
    super();
    this.storage = storage;
    this.tokens = null; // { access_token, refresh_token, expires_at (ms), email }
    this.timer = null;
    this.refreshing = null;
    try {
      this.tokens = JSON.parse(storage.getItem(STORAGE_KEY) || "null");
    } catch {
      this.tokens = null;
    }
  }

  get signedIn() {
    return this.tokens !== null;
  }

  get email() {
    return this.tokens?.email ?? null;
  }

  get accessToken() {
    return this.tokens?.access_token ?? null;
  }

  /** Call once at start: refresh now if the stored token is (nearly) expired, else schedule it. */
  async resume() {
    if (!this.tokens) return;
    if (this.tokens.expires_at - Date.now() < REFRESH_MARGIN_MS) {
      await this.refresh().catch(() => {});
    } else {
      this.schedule();
    }
  }

  async signup(email, password) {
    await call("POST", "/api/auth/signup", { body: { email, password } });
    return this.login(email, password);
  }

  async login(email, password) {
    const pair = await call("POST", "/api/auth/login", { body: { email, password } });
    this.store(pair, email);
  }

  async logout() {
    const refreshToken = this.tokens?.refresh_token;
    this.clear();
    if (refreshToken) {
      await call("POST", "/api/auth/logout", { body: { refresh_token: refreshToken } }).catch(() => {});
    }
  }

  store(pair, email) {
    this.tokens = {
      access_token: pair.access_token,
      refresh_token: pair.refresh_token,
      expires_at: Date.now() + pair.expires_in * 1000,
      email: email ?? this.tokens?.email ?? null,
    };
    this.storage.setItem(STORAGE_KEY, JSON.stringify(this.tokens));
    this.schedule();
    this.dispatchEvent(new Event("change"));
  }

  clear(reason = null) {
    clearTimeout(this.timer);
    this.tokens = null;
    this.storage.removeItem(STORAGE_KEY);
    this.dispatchEvent(new CustomEvent("change", { detail: { reason } }));
  }

  schedule() {
    clearTimeout(this.timer);
    if (!this.tokens) return;
    const lifetime = this.tokens.expires_at - Date.now();
    // Refresh a minute early, or at 80% of a short lifetime.
    const wait = Math.max(1_000, Math.min(lifetime - REFRESH_MARGIN_MS, lifetime * 0.8));
    this.timer = setTimeout(() => this.refresh().catch(() => {}), wait);
  }

  /** Swap the refresh token for a new pair. One refresh at a time: concurrent callers share it
   *  (a second refresh with the same token would be taken for a stolen token). */
  refresh() {
    if (this.refreshing) return this.refreshing;
    const current = this.tokens;
    if (!current) return Promise.reject(new ApiError(401, "not_authenticated", "Sign in first."));
    this.refreshing = call("POST", "/api/auth/refresh", { body: { refresh_token: current.refresh_token } })
      .then((pair) => this.store(pair, current.email))
      .catch((err) => {
        if (err.status === 401) this.clear("Your session ended; please sign in again.");
        throw err;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** A fresh access token (refreshing first if it is about to expire, e.g. after the tab slept). */
  async freshToken() {
    if (!this.tokens) return null;
    if (this.tokens.expires_at - Date.now() < 15_000) await this.refresh();
    return this.tokens?.access_token ?? null;
  }
}

/** The venue's REST API. Authenticated calls retry once after a refresh on an expired token. */
export class Api {
  constructor(session) {
    this.session = session;
  }

  get(path, options) {
    return call("GET", path, options);
  }

  async authed(method, path, body) {
    const token = await this.session.freshToken();
    if (!token) throw new ApiError(401, "not_authenticated", "Sign in first.");
    try {
      return await call(method, path, { body, token });
    } catch (err) {
      if (err.status === 401 && ["token_expired", "invalid_token"].includes(err.code) && this.session.signedIn) {
        await this.session.refresh();
        return call(method, path, { body, token: this.session.accessToken });
      }
      throw err;
    }
  }

  markets() {
    return this.get("/api/markets").then((r) => r.markets);
  }

  tickers() {
    return this.get("/api/tickers").then((r) => r.tickers);
  }

  trades(symbol, limit = 60) {
    return this.get(`/api/markets/${encodeURIComponent(symbol)}/trades?limit=${limit}`).then((r) => r.trades);
  }

  candles(symbol, interval, limit = 500) {
    const query = `interval=${interval}&limit=${limit}`;
    return this.get(`/api/markets/${encodeURIComponent(symbol)}/candles?${query}`).then((r) => r.candles);
  }

  balances() {
    return this.authed("GET", "/api/balances").then((r) => r.balances);
  }

  openOrders() {
    return this.authed("GET", "/api/orders?status=open&limit=200").then((r) => r.orders);
  }

  fills(limit = 50) {
    return this.authed("GET", `/api/trades?limit=${limit}`).then((r) => r.trades);
  }

  /** Place an order and wait (5 s at most) for the engines' verdict: open, filled, rejected... */
  placeOrder(order) {
    return this.authed("POST", "/api/orders?wait=accepted", order).then((r) => r.order);
  }

  cancelOrder(id) {
    return this.authed("DELETE", `/api/orders/${encodeURIComponent(id)}`).then((r) => r.order);
  }

  deposit(asset, amount) {
    return this.authed("POST", "/api/balances/deposit?wait=true", { asset, amount }).then((r) => r.transfer);
  }
}
