// Exact decimal strings. Everything the server receives (price, qty, amounts) is checked and
// computed here with BigInt: a JS float cannot even say 0.1, so `0.3 % 0.1` is not 0.
// A decimal is held as { units: BigInt, scale: n } meaning units / 10^scale.

const PLAIN = /^[0-9]+(\.[0-9]+)?$/;

/** True if `text` is a plain non-negative decimal such as "101.25" (what the API accepts). */
export function isPlain(text) {
  return typeof text === "string" && PLAIN.test(text);
}

/** Tidy what a person typed: trim, ".5" -> "0.5", "5." -> "5". Returns "" for blank input. */
export function normalizeInput(text) {
  let value = String(text ?? "").trim();
  if (value.startsWith(".")) value = "0" + value;
  if (value.endsWith(".")) value = value.slice(0, -1);
  return value;
}

export function parse(text) {
  if (!isPlain(text)) throw new Error(`not a decimal: ${text}`);
  const [whole, fraction = ""] = text.split(".");
  return { units: BigInt(whole + fraction), scale: fraction.length };
}

function align(a, b) {
  const scale = Math.max(a.scale, b.scale);
  return [
    a.units * 10n ** BigInt(scale - a.scale),
    b.units * 10n ** BigInt(scale - b.scale),
    scale,
  ];
}

function render(units, scale) {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, "0");
    digits = digits.slice(0, -scale) + "." + digits.slice(-scale);
  }
  return (negative ? "-" : "") + digits;
}

/** "1.2300" -> "1.23", "5.000" -> "5". */
export function stripZeros(text) {
  if (!text.includes(".")) return text;
  return text.replace(/0+$/, "").replace(/\.$/, "");
}

/** Trailing zeros off, but at least `min` decimals: "100000.00000000" -> "100000.00". */
export function trimDecimals(text, min = 2) {
  const [whole, fraction = ""] = text.split(".");
  return `${whole}.${fraction.replace(/0+$/, "").padEnd(min, "0")}`;
}

export function compare(a, b) {
  const [x, y] = align(parse(a), parse(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isZero(text) {
  return parse(text).units === 0n;
}

/** Whether `value` is a whole multiple of `step` (tick or lot), exactly. */
export function isMultiple(value, step) {
  const [x, s] = align(parse(value), parse(step));
  if (s === 0n) return false;
  return x % s === 0n;
}

export function add(a, b) {
  const [x, y, scale] = align(parse(a), parse(b));
  return render(x + y, scale);
}

/** a - b; may be negative ("-0.50"). */
export function sub(a, b) {
  const [x, y, scale] = align(parse(a), parse(b));
  return render(x - y, scale);
}

export function mul(a, b) {
  const x = parse(a);
  const y = parse(b);
  return render(x.units * y.units, x.scale + y.scale);
}

/** Cut (never round up) to `places` decimals, padding with zeros: fixed("1.239", 2) === "1.23". */
export function fixed(text, places) {
  const negative = text.startsWith("-");
  const body = negative ? text.slice(1) : text;
  const [whole, fraction = ""] = body.split(".");
  const cut = fraction.slice(0, places).padEnd(places, "0");
  return (negative ? "-" : "") + (places > 0 ? `${whole}.${cut}` : whole);
}

/** "60025.5" -> "60,025.5" (display only). */
export function group(text) {
  if (text == null) return "";
  const negative = text.startsWith("-");
  const body = negative ? text.slice(1) : text;
  const [whole, fraction] = body.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (negative ? "-" : "") + grouped + (fraction !== undefined ? "." + fraction : "");
}

/** A float for drawing only (chart coordinates, depth-bar widths); never sent anywhere. */
export function approx(text) {
  return Number(text);
}
