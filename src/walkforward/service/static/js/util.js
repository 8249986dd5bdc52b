// Small DOM and formatting helpers shared by the views.

/** Create an element: h('a', {href: '#/x', class: 'y'}, 'text', child). Null/false children are skipped. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const DASH = '-';

/** A number for display: 4 significant digits, "-" when missing. */
export function num(value, digits = 4) {
  if (value === null || value === undefined || value === '' || Number.isNaN(Number(value))) return DASH;
  const v = Number(value);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

export function text(value) {
  if (value === null || value === undefined || value === '') return DASH;
  if (Array.isArray(value)) return value.length ? value.join(', ') : DASH;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function shortId(id, n = 8) {
  return id ? String(id).slice(0, n) : DASH;
}

export function dateTime(iso) {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const pad = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The score's metric name of a brief model: its metrics tell, else the algorithm's kind. */
export function scoreName(model) {
  const m = model?.metrics || {};
  if (typeof m.score === 'string') return m.score;
  if ('accuracy' in m || 'f1' in m) return 'accuracy';
  if ('r2' in m || 'rmse' in m) return 'r2';
  return /classif/.test(model?.algorithm || '') ? 'accuracy' : 'r2';
}

/** A table from column specs [{label, value: row => node|string, className?}] and rows. */
export function table(columns, rows, {attrs = {}, rowAttrs = () => ({})} = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col', class: c.className}, c.label)))),
    h('tbody', {}, rows.map((row) => h('tr', rowAttrs(row), columns.map((c) => {
      const v = c.value(row);
      return h('td', {class: c.className}, v instanceof Node ? v : text(v));
    })))));
}

export function section(title, ...children) {
  return h('section', {class: 'card'}, h('h2', {}, title), ...children);
}

/**
 * A server message as a UI user can act on it: the CLI's hints (a `walkforward ...` command, an "(or GET /...)")
 * are left out, since the same message serves the command line; what is wrong stays word for word.
 */
export function uiMessage(message) {
  let m = String(message ?? '');
  m = m.replace(/\s*\([^()]*(`walkforward [^`]*`|\b(GET|POST|PUT|DELETE) \/)[^()]*\)/g, '');
  // Drop each clause (after ": " or "; ") that still names a command.
  const parts = m.split(/(?=[:;] )/);
  const kept = parts.filter((p, i) => i === 0 || !/`walkforward /.test(p));
  return kept.join('').replace(/[\s:;,]+$/, '');
}

/** Links out of a dead end: the models list, and the previous page when there is one. */
export function wayBack() {
  return h('p', {class: 'way-back', 'data-testid': 'way-back'},
    h('a', {href: '#/models', 'data-testid': 'back-link'}, '← Back to the models'),
    history.length > 1 ? [' · ', h('a', {href: '#', 'data-testid': 'previous-page',
      onclick: (ev) => { ev.preventDefault(); history.back(); }}, 'previous page')] : null);
}

export function errorBox(err) {
  const message = uiMessage(err?.message || String(err));
  return h('div', {class: 'error', role: 'alert', 'data-testid': 'error'}, message);
}

export function empty(message, ...extra) {
  return h('p', {class: 'muted'}, message, ...extra);
}
