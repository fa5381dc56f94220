// Small DOM helpers shared by the views.

// el('a', {href: '#/'}, 'text', child, ...): attributes set as attributes (class, data-*,
// aria-*), `on*` functions as listeners; null/false children skipped.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function setHash(path, params) {
  const q = params && [...params].length ? `?${params}` : '';
  window.location.hash = `${path}${q}`;
}

// Live refresh period: `refresh=<seconds>` in the hash overrides the view's default.
export function refreshSeconds(params, fallback) {
  const v = Number(params.get('refresh'));
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

// Text for HTML written as a string (element content and quoted attribute values).
const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
