// The one WebSocket to `/ws`: subscriptions that survive reconnects, auth for the private
// channels, reconnect with backoff, and a watchdog for connections that die silently.
//
// Events (EventTarget): "message" (detail = a pushed message with `channel`), "status"
// (detail = "connecting" | "live" | "reconnecting"), "open" (a fresh connection: every channel
// is being resubscribed, books will get new snapshots), "error" (detail = the server's error).

const PRIVATE = ["orders", "fills", "balances"];
const SILENCE_MS = 40_000; // the server sends a heartbeat every 15 s
const MAX_BACKOFF_MS = 10_000;

export class MarketSocket extends EventTarget {
  constructor(url, session) {
    super();
    this.url = url;
    this.session = session;
    this.channels = new Set(); // public channels we want, kept across reconnects
    this.ws = null;
    this.status = "connecting";
    this.attempt = 0;
    this.nextId = 1;
    this.lastMessageAt = Date.now();
    this.account = null;
    this.connects = 0;
    this.retry = null;
    this.watchdog = setInterval(() => this.checkAlive(), 5_000);
    session.addEventListener("change", () => this.onSessionChange());
  }

  connect() {
    clearTimeout(this.retry);
    this.setStatus(this.connects === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => this.onOpen(ws);
    ws.onmessage = (event) => this.onMessage(ws, event);
    ws.onclose = (event) => this.onClose(ws, event);
    ws.onerror = () => {}; // onclose follows and says what to do
  }

  send(request) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ id: this.nextId++, ...request }));
    return true;
  }

  subscribe(channels) {
    const fresh = channels.filter((c) => !this.channels.has(c));
    fresh.forEach((c) => this.channels.add(c));
    if (fresh.length) this.send({ op: "subscribe", channels: fresh });
  }

  unsubscribe(channels) {
    const known = channels.filter((c) => this.channels.delete(c));
    if (known.length) this.send({ op: "unsubscribe", channels: known });
  }

  /** Ask again for a channel, e.g. a book after a gap: the server answers with a snapshot. */
  resubscribe(channel) {
    this.send({ op: "unsubscribe", channels: [channel] });
    this.send({ op: "subscribe", channels: [channel] });
  }

  async onOpen(ws) {
    if (ws !== this.ws) return;
    this.attempt = 0;
    this.connects += 1;
    this.lastMessageAt = Date.now();
    this.account = null;
    this.setStatus("live");
    this.dispatchEvent(new Event("open"));
    if (this.channels.size) this.send({ op: "subscribe", channels: [...this.channels] });
    await this.authenticate();
  }

  async authenticate() {
    if (!this.session.signedIn) return;
    try {
      const token = await this.session.freshToken();
      if (token) this.send({ op: "auth", token });
    } catch {
      // The session ended (the Session says so); public channels go on.
    }
  }

  onMessage(ws, event) {
    if (ws !== this.ws) return;
    this.lastMessageAt = Date.now();
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    if (msg.channel) {
      this.dispatchEvent(new CustomEvent("message", { detail: msg }));
    } else if (msg.type === "authenticated") {
      const first = this.account === null;
      this.account = msg.account;
      if (first) this.send({ op: "subscribe", channels: PRIVATE });
    } else if (msg.type === "error") {
      this.dispatchEvent(new CustomEvent("error", { detail: msg.error }));
    }
  }

  onClose(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.account = null;
    if (event.code === 4001 && this.session.signedIn) {
      // Token expired on the server's clock: refresh, then reconnect at once.
      this.session.refresh().catch(() => {}).finally(() => this.connect());
      this.setStatus("reconnecting");
      return;
    }
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.setStatus("reconnecting");
    this.retry = setTimeout(() => this.connect(), delay);
  }

  checkAlive() {
    if (this.ws?.readyState === WebSocket.OPEN && Date.now() - this.lastMessageAt > SILENCE_MS) {
      this.ws.close(); // half-open connection: start over
    }
  }

  onSessionChange() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.session.signedIn) {
      this.authenticate(); // a new token extends the connection; a first one opens private channels
    } else if (this.account) {
      this.ws.close(1000, "signed out"); // the only way to drop private channels; we reconnect
    }
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }
}
