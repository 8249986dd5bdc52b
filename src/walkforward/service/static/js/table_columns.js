// The models table's metric columns (picked by the user, kept in localStorage and the URL's `cols`)
// and the metric filter box (`where`, e.g. "sharpe > 1 and ic > 0", parsed and run by the server).

import {pct} from './money.js';
import {h, num} from './util.js';

/** The metrics a list row carries (model_summary.LISTED_METRICS), in that order, with how they are shown. */
export const METRICS = [
  {name: 'r2', label: 'R²', title: 'cross-validated R² (regressors)'},
  {name: 'rmse', label: 'RMSE', title: 'cross-validated RMSE of the target', lowerIsBetter: true},
  {name: 'rmse_price', label: 'RMSE price', title: 'cross-validated RMSE in price terms', lowerIsBetter: true},
  {name: 'hit_rate', label: 'hit rate', title: 'share of test rows whose direction was forecast right', percent: true},
  {name: 'accuracy', label: 'accuracy', title: 'cross-validated accuracy (classifiers)'},
  {name: 'f1', label: 'F1', title: 'cross-validated F1 (classifiers)'},
  {name: 'base_rate', label: 'base rate', title: 'share of the majority class (what always guessing it scores)'},
  {name: 'sharpe', label: 'Sharpe', title: 'out-of-sample Sharpe of the daily net P&L, annualised', digits: 3},
  {name: 'net_annual_return', label: 'net / yr', title: 'out-of-sample net return a year, after costs', percent: true},
  {name: 'ic', label: 'IC', title: 'information coefficient: correlation of forecast and outcome', digits: 3},
];
const BY_NAME = new Map(METRICS.map((m) => [m.name, m]));
export const DEFAULT_COLUMNS = ['sharpe', 'net_annual_return', 'ic'];
const STORAGE_KEY = 'walkforward.models.columns';

/** Known metric names of a comma-separated list, in the table's order, once each; null when nothing is given. */
function parseColumns(raw) {
  if (raw === null || raw === undefined) return null;
  const wanted = new Set(String(raw).split(',').map((s) => s.trim()).filter(Boolean));
  return METRICS.map((m) => m.name).filter((n) => wanted.has(n));
}

function stored() {
  try { return parseColumns(localStorage.getItem(STORAGE_KEY)); } catch { return null; }
}

function store(columns) {
  try { localStorage.setItem(STORAGE_KEY, columns.join(',')); } catch { /* storage unavailable: the URL keeps them */ }
}

/** The metric columns to show: the URL's `cols`, else the last choice in this browser, else the defaults. */
export function columnsFrom(params) {
  return parseColumns(params.get('cols')) ?? stored() ?? [...DEFAULT_COLUMNS];
}

/** The `cols` value for a URL: omitted (null) for the defaults. */
export function colsParam(columns) {
  return columns.join(',') === DEFAULT_COLUMNS.join(',') ? null : columns.join(',');
}

/** Table column definitions (as models.js columnsFor) of the picked metrics; each sorts by metrics.<name>. */
export function metricColumns(columns) {
  return columns.map((name) => {
    const m = BY_NAME.get(name);
    return {
      label: m.label, title: m.title, className: 'num', sort: `metrics.${name}`, ascendingFirst: Boolean(m.lowerIsBetter),
      value: (row) => (m.percent ? pct(row.metrics?.[name]) : num(row.metrics?.[name], m.digits ?? 4)),
    };
  });
}

/** Whether the next drawing of the menu is open: after a box is ticked, so several can be ticked in a row. */
let keepOpen = false;

/** The "Columns" menu: one checkbox per listed metric; a change is saved and navigated to with `go(columns)`. */
export function columnsMenu(columns, go) {
  const chosen = new Set(columns);
  const open = keepOpen;
  keepOpen = false;
  return h('details', {class: 'columns-menu', 'data-testid': 'columns-menu', open},
  h('summary', {'data-testid': 'columns-button'}, `Columns (${columns.length})`),
  h('div', {class: 'columns-list', role: 'group', 'aria-label': 'Metric columns'},
    METRICS.map((m) => h('label', {title: m.title},
      h('input', {type: 'checkbox', value: m.name, checked: chosen.has(m.name), 'data-testid': `column-${m.name}`,
        onchange: (ev) => {
          if (ev.target.checked) chosen.add(m.name); else chosen.delete(m.name);
          const next = METRICS.map((x) => x.name).filter((n) => chosen.has(n));
          store(next);
          keepOpen = true;
          go(next);
        }}),
      ` ${m.label}`)),
    h('button', {type: 'button', class: 'ghost', 'data-testid': 'columns-reset',
      onclick: () => { store(DEFAULT_COLUMNS); go([...DEFAULT_COLUMNS]); }}, 'Defaults')));
}

/** The metric filter field: the expression box and, under it, the server's message about a bad one. */
export function whereField(value) {
  return h('div', {class: 'field where'},
    h('label', {for: 'f-where'}, 'Metric filter'),
    h('input', {id: 'f-where', name: 'where', value, class: 'mono', 'data-testid': 'where-input',
      placeholder: 'sharpe > 1 and ic > 0', 'aria-describedby': 'where-error', autocomplete: 'off', spellcheck: 'false'}),
    h('div', {id: 'where-error', class: 'field-error', 'data-testid': 'where-error', 'aria-live': 'polite'}));
}

/** Show a refused filter's message under the box (and mark the box invalid); true if it was a filter error. */
export function showWhereError(root, err) {
  const box = root.querySelector('#f-where');
  const out = root.querySelector('#where-error');
  if (!box || !out || err?.status !== 422 || !String(err.message).startsWith('invalid filter')) return false;
  out.textContent = err.message;
  box.setAttribute('aria-invalid', 'true');
  return true;
}
