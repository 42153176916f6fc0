// Candle chart on a canvas: OHLC candles on a time grid (one slot per interval; a bucket without
// trades stays empty, as the server keeps no candle for it), volume underneath, a price axis on
// the right, a dashed last-price line, and a crosshair with an OHLCV readout. Mouse wheel zooms.
// Coordinates are floats; prices on the axis are labels only: nothing here is sent anywhere.

import { approx, group } from "./decimal.js";

export const INTERVALS = { "1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "1d": 86_400_000 };

const AXIS_W = 72;
const TIME_H = 22;
const TOP_PAD = 26;

export class CandleChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.candles = new Map(); // start -> candle
    this.interval = "1m";
    this.priceDecimals = 2;
    this.slot = null; // px per interval; null = fit the candles we have (until the user zooms)
    this.fitted = 9;
    this.hover = null;
    this.colors = readColors();
    this.pending = false;
    new ResizeObserver(() => this.draw()).observe(canvas.parentElement);
    canvas.addEventListener("mousemove", (e) => {
      const rect = canvas.getBoundingClientRect();
      this.hover = { x: e.clientX - rect.left, y: e.clientY - rect.top };
      this.draw();
    });
    canvas.addEventListener("mouseleave", () => {
      this.hover = null;
      this.draw();
    });
    canvas.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const current = this.slot ?? this.fitted;
        this.slot = Math.max(3, Math.min(40, current * (e.deltaY > 0 ? 0.85 : 1.18)));
        this.draw();
      },
      { passive: false },
    );
  }

  setMarket(market, interval) {
    this.interval = interval;
    this.priceDecimals = (market.tick_size.split(".")[1] ?? "").replace(/0+$/, "").length;
    this.candles = new Map();
    this.slot = null;
    this.draw();
  }

  /** Merge candles (from REST or the `candles:` channel); a newer version of a bucket wins. */
  update(candles) {
    for (const c of candles) {
      const known = this.candles.get(c.start);
      if (!known || (c.trades ?? 0) >= (known.trades ?? 0)) this.candles.set(c.start, c);
    }
    this.draw();
  }

  draw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.paint();
    });
  }

  paint() {
    const { canvas, ctx, colors } = this;
    const box = canvas.parentElement.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(100, Math.floor(box.width));
    const height = Math.max(120, Math.floor(box.height));
    if (canvas.width !== width * ratio || canvas.height !== height * ratio) {
      canvas.width = width * ratio;
      canvas.height = height * ratio;
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = `11px ${colors.mono}`;

    const plotW = width - AXIS_W;
    const plotH = height - TIME_H;
    const volumeH = Math.round(plotH * 0.18);
    const priceH = plotH - volumeH - TOP_PAD - 6;
    const step = INTERVALS[this.interval];
    const starts = [...this.candles.keys()].sort((a, b) => a - b);
    const latest = Math.max(starts.at(-1) ?? 0, Math.floor(Date.now() / step) * step);
    if (this.slot === null) {
      // A young market has few candles: widen them so they fill most of the chart.
      const span = starts.length ? (latest - starts[0]) / step + 1 : 1;
      this.fitted = Math.max(6, Math.min(22, (plotW * 0.75) / span));
    }
    const slotW = this.slot ?? this.fitted;
    const slots = Math.floor((plotW - 8) / slotW);
    const first = latest - (slots - 1) * step;
    const visible = starts.filter((s) => s >= first).map((s) => this.candles.get(s));
    const xOf = (start) => plotW - 8 - ((latest - start) / step) * slotW - slotW / 2;

    // Price range of what is visible.
    let lo = Infinity;
    let hi = -Infinity;
    let volMax = 0;
    for (const c of visible) {
      lo = Math.min(lo, approx(c.low));
      hi = Math.max(hi, approx(c.high));
      volMax = Math.max(volMax, approx(c.volume));
    }
    if (!visible.length) {
      this.paintAxesFrame(width, height, plotW, plotH);
      this.paintTimeAxis(first, latest, step, xOf, plotW, plotH, slotW);
      ctx.fillStyle = colors.dim;
      ctx.textAlign = "center";
      ctx.fillText("No trades in this interval yet", plotW / 2, plotH / 2);
      return;
    }
    if (hi === lo) {
      const pad = hi === 0 ? 1 : Math.abs(hi) * 0.002;
      hi += pad;
      lo -= pad;
    }
    const pad = (hi - lo) * 0.08;
    hi += pad;
    lo -= pad;
    const yOf = (price) => TOP_PAD + ((hi - price) / (hi - lo)) * priceH;
    const priceOf = (y) => hi - ((y - TOP_PAD) / priceH) * (hi - lo);

    this.paintAxesFrame(width, height, plotW, plotH);
    // Horizontal grid + price labels.
    const ticks = niceTicks(lo, hi, Math.max(3, Math.floor(priceH / 48)));
    const lastY = yOf(approx(visible.at(-1).close));
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const t of ticks) {
      const y = Math.round(yOf(t)) + 0.5;
      ctx.strokeStyle = colors.grid;
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(plotW, y);
      ctx.stroke();
      if (Math.abs(y - lastY) < 14) continue; // the last-price tag sits there
      ctx.fillStyle = colors.dim;
      ctx.fillText(group(t.toFixed(this.priceDecimals)), plotW + 6, y);
    }
    this.paintTimeAxis(first, latest, step, xOf, plotW, plotH, slotW);

    // Volume bars and candles.
    const body = Math.max(1, Math.floor(slotW * 0.7));
    const volTop = plotH - volumeH;
    for (const c of visible) {
      const x = xOf(c.start);
      const open = approx(c.open);
      const close = approx(c.close);
      const up = close >= open;
      const colour = up ? colors.up : colors.down;
      ctx.fillStyle = up ? colors.upVol : colors.downVol;
      const vh = volMax > 0 ? (approx(c.volume) / volMax) * (volumeH - 4) : 0;
      ctx.fillRect(Math.round(x - body / 2), plotH - vh, body, vh);
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      ctx.beginPath();
      ctx.moveTo(Math.round(x) + 0.5, yOf(approx(c.high)));
      ctx.lineTo(Math.round(x) + 0.5, yOf(approx(c.low)));
      ctx.stroke();
      const top = yOf(Math.max(open, close));
      const h = Math.max(1, Math.abs(yOf(open) - yOf(close)));
      ctx.fillRect(Math.round(x - body / 2), Math.round(top), body, Math.round(h));
    }
    ctx.strokeStyle = colors.grid;
    ctx.beginPath();
    ctx.moveTo(0, volTop + 0.5);
    ctx.lineTo(plotW, volTop + 0.5);
    ctx.stroke();

    // Last price: dashed line and a tag on the axis.
    const last = visible.at(-1);
    const lastUp = approx(last.close) >= approx(last.open);
    ctx.setLineDash([3, 3]);
    ctx.strokeStyle = lastUp ? colors.up : colors.down;
    ctx.beginPath();
    ctx.moveTo(0, Math.round(lastY) + 0.5);
    ctx.lineTo(plotW, Math.round(lastY) + 0.5);
    ctx.stroke();
    ctx.setLineDash([]);
    tag(ctx, plotW, lastY, group(last.close), lastUp ? colors.up : colors.down, "#0b0e11");

    // Crosshair and the readout of the hovered (or latest) candle.
    let shown = last;
    if (this.hover && this.hover.x < plotW && this.hover.y < plotH) {
      const { x, y } = this.hover;
      ctx.strokeStyle = colors.cross;
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(Math.round(x) + 0.5, 0);
      ctx.lineTo(Math.round(x) + 0.5, plotH);
      ctx.moveTo(0, Math.round(y) + 0.5);
      ctx.lineTo(plotW, Math.round(y) + 0.5);
      ctx.stroke();
      ctx.setLineDash([]);
      if (y >= TOP_PAD && y <= TOP_PAD + priceH) {
        tag(ctx, plotW, y, group(priceOf(y).toFixed(this.priceDecimals)), colors.tagBg, colors.text);
      }
      const slotsBack = Math.round((plotW - 8 - slotW / 2 - x) / slotW);
      shown = this.candles.get(latest - slotsBack * step) ?? null;
    }
    if (shown) this.paintReadout(shown);
  }

  paintAxesFrame(width, height, plotW, plotH) {
    const { ctx, colors } = this;
    ctx.fillStyle = colors.axisBg;
    ctx.fillRect(plotW, 0, width - plotW, height);
    ctx.fillRect(0, plotH, width, height - plotH);
    ctx.strokeStyle = colors.grid;
    ctx.beginPath();
    ctx.moveTo(plotW + 0.5, 0);
    ctx.lineTo(plotW + 0.5, plotH);
    ctx.moveTo(0, plotH + 0.5);
    ctx.lineTo(width, plotH + 0.5);
    ctx.stroke();
  }

  paintTimeAxis(first, latest, step, xOf, plotW, plotH, slotW) {
    const { ctx, colors } = this;
    const every = Math.max(1, Math.ceil(90 / slotW)); // a label every ~90 px
    const unit = step * niceCount(every, step);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let t = Math.ceil(first / unit) * unit; t <= latest; t += unit) {
      const x = xOf(t);
      if (x < 20 || x > plotW - 20) continue;
      ctx.strokeStyle = colors.grid;
      ctx.beginPath();
      ctx.moveTo(Math.round(x) + 0.5, 0);
      ctx.lineTo(Math.round(x) + 0.5, plotH);
      ctx.stroke();
      ctx.fillStyle = colors.dim;
      ctx.fillText(timeLabel(t, step), x, plotH + TIME_H / 2);
    }
  }

  paintReadout(c) {
    const { ctx, colors } = this;
    const up = approx(c.close) >= approx(c.open);
    const parts = [
      ["", timeLabel(c.start, INTERVALS[this.interval], true)],
      ["O ", group(c.open)],
      ["H ", group(c.high)],
      ["L ", group(c.low)],
      ["C ", group(c.close)],
      ["V ", c.volume],
    ];
    let x = 8;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const [label, value] of parts) {
      ctx.fillStyle = colors.dim;
      ctx.fillText(label, x, 12);
      x += ctx.measureText(label).width;
      ctx.fillStyle = label ? (up ? colors.up : colors.down) : colors.dim;
      ctx.fillText(value, x, 12);
      x += ctx.measureText(value).width + 10;
    }
  }
}

function tag(ctx, plotW, y, text, bg, fg) {
  const h = 18;
  ctx.fillStyle = bg;
  ctx.fillRect(plotW + 1, Math.round(y - h / 2), AXIS_W - 2, h);
  ctx.fillStyle = fg;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  ctx.fillText(text, plotW + 6, Math.round(y) + 0.5);
}

/** Round tick values (1, 2, 5 x 10^k apart) covering [lo, hi]. */
function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
  return ticks;
}

/** Label spacing in whole, readable multiples of the interval (e.g. every 15 or 30 minutes). */
function niceCount(minimum, step) {
  const choices = step >= 86_400_000 ? [1, 2, 7, 14, 30] : step >= 3_600_000 ? [1, 2, 3, 6, 12, 24] : [1, 2, 3, 5, 10, 15, 30, 60, 120, 240];
  return choices.find((c) => c >= minimum) ?? choices.at(-1);
}

function timeLabel(ms, step, full = false) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  const md = `${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  if (full) return step >= 86_400_000 ? md : `${md} ${hm}`;
  if (step >= 86_400_000) return md;
  return d.getHours() === 0 && d.getMinutes() === 0 ? md : hm;
}

function readColors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    up: v("--up", "#0ecb81"),
    down: v("--down", "#f6465d"),
    upVol: v("--up-vol", "rgba(14,203,129,.35)"),
    downVol: v("--down-vol", "rgba(246,70,93,.35)"),
    grid: v("--grid", "#1e2329"),
    dim: v("--dim", "#848e9c"),
    text: v("--text", "#eaecef"),
    cross: v("--cross", "#5e6673"),
    axisBg: v("--panel", "#12161c"),
    tagBg: v("--tag", "#2b3139"),
    mono: v("--mono", "ui-monospace, monospace"),
  };
}
