// Small DOM helpers. Text from the server always goes in through textContent, never innerHTML.

/** el("div", {class: "x", onclick: fn}, child, "text", ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function $$(selector, root = document) {
  return [...root.querySelectorAll(selector)];
}

const pad = (n) => String(n).padStart(2, "0");

/** Local wall-clock time of an epoch-ms timestamp: "14:03:27". */
export function clock(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "11-24 14:03:27" */
export function stamp(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

/** A short-lived notice in the corner (fills, rejections, connection news). */
export function toast(text, kind = "info", ms = 4_000) {
  const box = $("#toasts");
  if (!box) return;
  const node = el("div", { class: `toast ${kind}`, role: "status" }, text);
  box.prepend(node);
  while (box.children.length > 4) box.lastChild.remove();
  setTimeout(() => node.classList.add("gone"), ms);
  setTimeout(() => node.remove(), ms + 400);
}

/** Turn an ApiError (or anything thrown) into one readable line: "code: message". */
export function describeError(err) {
  if (err?.code && err?.message) return `${err.message} (${err.code})`;
  return err?.message || String(err);
}
