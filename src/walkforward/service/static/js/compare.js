// Compare 2-6 models: the selection in the models table (kept in the URL as sel=a,b,c, so it survives paging,
// sorting and filtering) and the #/compare?ids=a,b,c page: parameters and metrics side by side with the
// differing rows marked, per-fold overlays, overlaid equity curves and Diebold-Mariano against the first model.

import {api, query} from './api.js';
import {lineChart, PALETTE} from './charts.js';
import {pct} from './money.js';
import {DASH, dateTime, empty, errorBox, h, num, section, shortId, text} from './util.js';

export const MIN_MODELS = 2;
export const MAX_MODELS = 6;
/** Per-fold overlays drawn, in this order, for the metrics the models have (the score's first). */
const FOLD_METRICS = ['r2', 'accuracy', 'sharpe', 'ic', 'hit_rate', 'net_annual_return'];
/** Cross-validated metrics shown first, in this order; the rest follow by name. */
const KEY_METRICS = ['r2', 'rmse', 'rmse_price', 'accuracy', 'f1', 'roc_auc', 'log_loss', 'hit_rate', 'base_rate',
  'sharpe', 'sortino', 'net_annual_return', 'max_drawdown', 'turnover', 'ic', 'rank_ic'];
const PERCENT = new Set(['net_annual_return', 'max_drawdown']);

/** The models picked in the table, in the order they were picked. */
const selected = new Set();

const splitIds = (raw) => String(raw || '').split(',').map((s) => s.trim()).filter(Boolean);

/** The selection from the models route's query (the URL is the truth: a link or a reload restores it). */
export function initSelection(params) {
  selected.clear();
  for (const id of splitIds(params.get('sel'))) selected.add(id);
}

/** The selection as the models route's ``sel`` value ('' when none), for the table's own links. */
export function selectionParam() {
  return [...selected].join(',');
}

/** Put the selection into the current URL without drawing the page again. */
function rememberSelection() {
  const [path, q = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(q);
  if (selected.size) params.set('sel', selectionParam());
  else params.delete('sel');
  const s = params.toString();
  history.replaceState(history.state, '', `#${path || '/models'}${s ? `?${s}` : ''}`);
}

function compareHref(ids) {
  return `#/compare${query({ids: ids.join(',')})}`;
}

function backHref(ids) {
  return `#/models${query({sel: ids.join(',')})}`;
}

/**
 * Add a selection checkbox to each row of the drawn models table (inside its id cell, so the columns keep their
 * places) and the Compare bar above it. ``body`` is the element the table was drawn into.
 */
export function decorateModels(body) {
  const wrap = body.querySelector('.table-wrap');
  if (!wrap) return;
  const button = h('button', {type: 'button', 'data-testid': 'compare-button'});
  const hint = h('span', {class: 'muted', 'data-testid': 'compare-hint', 'aria-live': 'polite'});
  const clear = h('button', {type: 'button', class: 'ghost', 'data-testid': 'compare-clear'}, 'Clear selection');
  const boxes = [];
  const update = () => {
    const n = selected.size;
    button.textContent = `Compare (${n})`;
    button.disabled = n < MIN_MODELS || n > MAX_MODELS;
    const here = boxes.filter((b) => b.checked).length;
    const elsewhere = n - here;
    hint.textContent = [
      n < MIN_MODELS ? `select ${MIN_MODELS} to ${MAX_MODELS} models to compare` : null,
      n > MAX_MODELS ? `${n} selected: compare takes at most ${MAX_MODELS}` : null,
      elsewhere > 0 ? `${elsewhere} selected on other pages` : null,
    ].filter(Boolean).join(' · ');
    clear.hidden = n === 0;
  };
  button.addEventListener('click', () => { location.hash = compareHref([...selected]); });
  clear.addEventListener('click', () => {
    selected.clear();
    for (const b of boxes) b.checked = false;
    rememberSelection();
    update();
  });
  for (const row of body.querySelectorAll('tr[data-model-id]')) {
    const id = row.dataset.modelId;
    const box = h('input', {type: 'checkbox', class: 'pick', 'data-testid': 'compare-pick',
      'aria-label': `select model ${id} to compare`, checked: selected.has(id)});
    box.addEventListener('change', () => {
      if (box.checked) selected.add(id);
      else selected.delete(id);
      row.classList.toggle('picked', box.checked);
      rememberSelection();
      update();
    });
    row.classList.toggle('picked', box.checked);
    boxes.push(box);
    row.querySelector('td')?.prepend(box, ' ');
  }
  update();
  wrap.before(h('div', {class: 'compare-bar', 'data-testid': 'compare-bar'}, button, clear, hint));
}

// ------------------------------------------------------------------------------------------- the compare page

const color = (i) => PALETTE[i % PALETTE.length];
// Short: the chart legends give a name 130 px; the table's column heads pair each colour with its algorithm.
const label = (m) => shortId(m.id);
const same = (values) => new Set(values.map((v) => JSON.stringify(v ?? null))).size <= 1;

function valueText(v) {
  if (typeof v === 'number') return num(v);
  return text(v);
}

function metricText(key, v) {
  if (PERCENT.has(key) && Number.isFinite(v)) return pct(v, 2);
  return num(v);
}

/** A row of the side-by-side table: the name, one cell per model, marked when the values differ. */
function row(name, values, differs, format = valueText, group = '') {
  return h('tr', {class: differs ? 'differs' : null, 'data-differs': String(differs), 'data-key': name, 'data-group': group},
    h('th', {scope: 'row'}, differs ? h('span', {class: 'diff-mark', title: 'the models differ here', 'aria-label': 'differs'}, '≠ ') : null, name),
    values.map((v) => h('td', {class: typeof v === 'number' ? 'num' : null}, format(v))));
}

function groupRow(title, n) {
  return h('tr', {class: 'group'}, h('th', {scope: 'rowgroup', colspan: n + 1}, title));
}

function headRow(models) {
  return h('tr', {}, h('th', {scope: 'col'}, ''), models.map((m, i) => h('th', {scope: 'col', 'data-model-id': m.id},
    h('span', {class: 'swatch', style: `background:${color(i)}`}), ' ',
    h('a', {href: `#/models/${encodeURIComponent(m.id)}`, class: 'mono', title: m.id}, shortId(m.id)),
    h('div', {class: 'muted'}, text(m.algorithm)))));
}

function parameterTable(data) {
  const models = data.models;
  const n = models.length;
  const identity = [
    ['algorithm', (m) => m.algorithm], ['symbols', (m) => (m.symbols?.length ? m.symbols : m.symbol)],
    ['timeframe', (m) => m.timeframe], ['target transform', (m) => m.target_transform],
    ['cohort', (m) => (m.cohort_id ? `${shortId(m.cohort_id, 6)}#${m.cohort_rank ?? DASH}` : null)],
    ['parent', (m) => (m.parent_model_id ? shortId(m.parent_model_id) : null)],
    ['features', (m) => m.features], ['created', (m) => dateTime(m.created_at)],
    ['predictions kept', (m) => (m.predictions_kept ? 'yes' : 'no')],
  ];
  const rows = [groupRow('Model', n)];
  for (const [name, get] of identity) {
    const values = models.map(get);
    // The creation time always differs: marking it would only add noise.
    rows.push(row(name, values, name !== 'created' && !same(values), valueText, 'model'));
  }
  for (const [group, title] of [['hyperparameters', 'Hyperparameters'], ['request', 'Request']]) {
    const keys = [...new Set(models.flatMap((m) => Object.keys(m[group] || {})))];
    if (group === 'request') keys.sort();
    const differing = new Set(data.differences?.[group] || []);
    rows.push(groupRow(title, n));
    if (!keys.length) rows.push(h('tr', {}, h('td', {colspan: n + 1, class: 'muted'}, 'none')));
    for (const k of keys) rows.push(row(k, models.map((m) => m[group]?.[k]), differing.has(k), valueText, group));
  }
  return h('table', {class: 'grid compare', 'data-testid': 'compare-params'}, h('thead', {}, headRow(models)), h('tbody', {}, rows));
}

function metricTable(data) {
  const models = data.models;
  const all = new Set(models.flatMap((m) => Object.keys(m.cv || {})));
  const base = [...all].filter((k) => !(k.endsWith('_std') && all.has(k.slice(0, -4))));
  const order = (k) => (KEY_METRICS.includes(k) ? KEY_METRICS.indexOf(k) : KEY_METRICS.length);
  base.sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  const differing = new Set(data.differences?.cv || []);
  const cell = (k) => (m) => {
    const v = m.cv?.[k];
    const sd = m.cv?.[`${k}_std`];
    return v === undefined ? DASH : `${metricText(k, v)}${Number.isFinite(sd) && m.folds.length > 1 ? ` ± ${metricText(k, sd)}` : ''}`;
  };
  const rows = base.map((k) => {
    const r = row(k, models.map(cell(k)), differing.has(k) || differing.has(`${k}_std`), String, 'cv');
    for (const td of r.querySelectorAll('td')) td.classList.add('num');
    return r;
  });
  if (!rows.length) rows.push(h('tr', {}, h('td', {colspan: models.length + 1, class: 'muted'}, 'No metrics were recorded.')));
  return h('table', {class: 'grid compare', 'data-testid': 'compare-metrics'}, h('thead', {}, headRow(models)), h('tbody', {}, rows));
}

function foldCharts(models) {
  const present = (k) => models.some((m) => m.folds.some((f) => Number.isFinite(f[k])));
  const keys = FOLD_METRICS.filter(present);
  if (!keys.length) return empty('No per-fold metrics were recorded.');
  return h('div', {class: 'charts', 'data-testid': 'compare-fold-charts'}, keys.map((k) => {
    const series = models.map((m, i) => ({name: label(m), color: color(i),
      points: m.folds.filter((f) => Number.isFinite(f[k])).map((f) => ({x: Number(f.fold), y: f[k], label: `fold ${f.fold}`}))}))
      .filter((sr) => sr.points.length);
    const without = models.filter((m) => !m.folds.some((f) => Number.isFinite(f[k])));
    return h('figure', {class: 'figure'},
      lineChart({series, label: `${k} per fold, one line per model`, testid: `compare-fold-chart-${k}`, xLabel: 'fold',
        xFormat: (v) => `fold ${v}`, yFormat: PERCENT.has(k) ? (v) => pct(v) : undefined, width: 420, height: 250 + 16 * Math.ceil(series.length / 4)}),
      h('figcaption', {}, `${k} per fold`, without.length ? ` (no ${k}: ${without.map((m) => shortId(m.id)).join(', ')})` : ''));
  }));
}

/** One equity line per model with kept predictions (fetched in parallel); the others say they have none. */
function equitySection(models) {
  const box = h('div', {'data-testid': 'compare-equity'}, h('p', {class: 'muted'}, 'Loading the out-of-sample predictions…'));
  const kept = models.map((m, i) => ({m, i})).filter(({m}) => m.predictions_kept);
  const notes = models.filter((m) => !m.predictions_kept).map((m) => h('li', {'data-testid': 'no-equity', 'data-model-id': m.id},
    h('span', {class: 'mono'}, shortId(m.id)), ': no out-of-sample predictions were kept (registered before they were); ',
    'train it again with the same request to see its equity curve.'));
  Promise.allSettled(kept.map(({m}) => api(`models/${encodeURIComponent(m.id)}/equity`))).then((answers) => {
    const series = [];
    answers.forEach((a, j) => {
      const {m, i} = kept[j];
      if (a.status === 'rejected') {
        notes.push(h('li', {'data-testid': 'equity-error', 'data-model-id': m.id}, h('span', {class: 'mono'}, shortId(m.id)), `: ${a.reason?.message || a.reason}`));
        return;
      }
      const eq = a.value;
      series.push({name: label(m), color: color(i), dots: (eq.sessions || []).length <= 40,
        points: (eq.sessions || []).map((d, k) => ({x: Date.parse(d), y: Number(eq.net?.[k]), label: d}))});
    });
    const day = (v) => (Number.isFinite(v) ? new Date(v).toISOString().slice(0, 10) : '');
    box.replaceChildren(...[
      series.length ? h('figure', {class: 'figure'},
        lineChart({series, label: 'Cumulative net return, out-of-sample, one line per model', testid: 'compare-equity-chart',
          xTicks: 5, xFormat: day, yFormat: (v) => pct(v), yLabel: 'cumulative net return', includeZero: true,
          width: 760, height: 270 + 16 * Math.ceil(series.length / 4)}),
        h('figcaption', {}, 'Compounded daily net return after costs, per session of each model\'s test folds')) : null,
      notes.length ? h('ul', {class: 'notes'}, notes) : null,
      !series.length && !notes.length ? empty('No equity to show.') : null].filter(Boolean));
  });
  return box;
}

function dmRow(first, other, answer) {
  const pair = h('th', {scope: 'row'}, h('span', {class: 'mono'}, shortId(first.id)), ' vs ', h('span', {class: 'mono'}, shortId(other.id)));
  const attrs = {'data-testid': 'dm-row', 'data-model-id': other.id};
  if (answer.status === 'rejected') {
    const err = answer.reason;
    const why = /share no out-of-sample row/.test(err?.message || '') ? 'their out-of-sample rows do not overlap: no test'
      : err?.status === 404 ? 'not testable: a model has no kept predictions' : 'not testable';
    return h('tr', attrs, pair, h('td', {colspan: 6}, h('strong', {}, why), h('div', {class: 'muted'}, err?.message || String(err))));
  }
  const r = answer.value;
  const dm = r.diebold_mariano || {};
  const better = dm.mean_difference < 0 ? first : other;
  return h('tr', attrs, pair, h('td', {class: 'num'}, text(r.rows)), h('td', {}, text(r.loss)),
    h('td', {class: 'num'}, `${num(r.mean_loss_a)} / ${num(r.mean_loss_b)}`), h('td', {class: 'num'}, num(dm.statistic, 3)),
    h('td', {class: 'num'}, num(dm.p_value, 3)), h('td', {class: 'mono'}, shortId(better.id)));
}

/** Diebold-Mariano of the first model against each other one (GET /models/{a}/compare/{b}). */
function dmSection(models) {
  const [first, ...others] = models;
  const body = h('tbody', {}, h('tr', {}, h('td', {colspan: 7, class: 'muted'}, 'Testing…')));
  Promise.allSettled(others.map((o) => api(`models/${encodeURIComponent(first.id)}/compare/${encodeURIComponent(o.id)}`)))
    .then((answers) => body.replaceChildren(...answers.map((a, j) => dmRow(first, others[j], a))));
  return h('div', {class: 'table-wrap'}, h('table', {class: 'grid compact', 'data-testid': 'compare-dm'},
    h('thead', {}, h('tr', {}, ['pair', 'shared rows', 'loss', 'mean loss (first / other)', 'DM statistic', 'p-value', 'lower loss']
      .map((c) => h('th', {scope: 'col'}, c)))), body));
}

function onlyDifferences(view, on) {
  view.classList.toggle('only-diff', on);
  const [path, q = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(q);
  if (on) params.set('diff', '1');
  else params.delete('diff');
  history.replaceState(history.state, '', `#${path}?${params.toString()}`);
}

function wrongCount(view, ids) {
  view.replaceChildren(h('h1', {}, 'Compare models'),
    h('p', {class: 'note', 'data-testid': 'compare-count'},
      `Compare takes ${MIN_MODELS} to ${MAX_MODELS} models; ${ids.length === 1 ? 'one was' : `${ids.length} were`} given. `,
      'Tick the models to compare in the table, then press Compare.'),
    h('p', {}, h('a', {href: backHref(ids.slice(0, MAX_MODELS)), 'data-testid': 'back-link'}, '← Back to the models')));
}

export async function renderCompare(view, params) {
  const ids = splitIds(params.get('ids'));
  if (ids.length < MIN_MODELS || ids.length > MAX_MODELS) {
    wrongCount(view, ids);
    return;
  }
  const back = h('a', {href: backHref(ids), 'data-testid': 'back-link'}, '← Back to the models (selection kept)');
  view.replaceChildren(h('h1', {}, `Compare ${ids.length} models`), h('p', {class: 'muted'}, 'Loading…'));
  let data;
  try {
    data = await api(`compare${query({ids: ids.join(',')})}`);
  } catch (err) {
    view.replaceChildren(h('h1', {}, 'Compare models'), errorBox(err), h('p', {}, back));
    return;
  }
  const models = data.models || [];
  const diffOn = params.get('diff') === '1';
  const toggle = h('label', {class: 'toggle'}, h('input', {type: 'checkbox', 'data-testid': 'only-diff', checked: diffOn,
    onchange: (ev) => onlyDifferences(view, ev.target.checked)}), ' Only differences');
  const nDiff = Object.values(data.differences || {}).reduce((a, keys) => a + keys.length, 0);
  view.classList.toggle('only-diff', diffOn);
  view.replaceChildren(
    h('h1', {}, `Compare ${models.length} models`),
    h('div', {class: 'compare-bar'}, back, toggle,
      h('span', {class: 'muted', 'data-testid': 'compare-summary'}, `${nDiff} parameters and metrics differ (marked ≠)`)),
    section('Parameters', h('div', {class: 'table-wrap', 'data-testid': 'compare-params-wrap'}, parameterTable(data))),
    section('Metrics, cross-validated (out-of-sample)', h('div', {class: 'table-wrap'}, metricTable(data))),
    section('Metrics per fold', h('p', {class: 'muted'}, 'One line per model across its folds; models with other validation settings test other dates under the same fold number.'),
      foldCharts(models)),
    section('Cumulative net return', equitySection(models)),
    section(`Diebold-Mariano: ${shortId(models[0]?.id)} against each other model`,
      h('p', {class: 'muted'}, 'Squared-error (or Brier) losses on the out-of-sample rows both models scored; a small p-value says the lower loss is not luck.'),
      dmSection(models)));
}
