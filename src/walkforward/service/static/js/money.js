// The money on a model's page, all out-of-sample: the trading table (per fold, overall, buy-and-hold) with
// the settings it assumed, the cumulative net return against buy-and-hold with the drawdown under it,
// predicted against actual per fold, and for classifiers the calibration curve and the confusion matrix.

import {api} from './api.js';
import {lineChart, PALETTE} from './charts.js';
import {DASH, empty, errorBox, h, num, section, table, text} from './util.js';

/** Most points drawn per fold in the predicted-vs-actual scatter (every k-th row beyond that). */
const MAX_POINTS_PER_FOLD = 400;

export function pct(v, digits = 1) {
  return Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : DASH;
}

function sampleLabel(inSample) {
  return inSample
    ? h('span', {class: 'badge in-sample', 'data-testid': 'sample-label'}, 'in-sample')
    : h('span', {class: 'badge oos', 'data-testid': 'sample-label'}, 'out-of-sample');
}

/** The trading settings as one sentence: costs, lag, position rule, annualisation. */
export function settingsText(st, classifier = false) {
  if (!st) return 'settings not recorded';
  const cost = (Number(st.commission_bps) || 0) + (Number(st.slippage_bps) || 0);
  const lag = Number(st.lag);
  return [
    `costs ${num(cost)} bp per unit of turnover (commission ${num(st.commission_bps)} + slippage ${num(st.slippage_bps)})`,
    `execution lag ${text(st.lag)} bar${lag === 1 ? '' : 's'}`,
    st.long_only ? 'long-only' : 'long-short',
    `lookforward ${text(st.lookforward)}`,
    classifier ? `long above probability ${num(st.threshold)}` : 'position: sign of the forecast',
    `dead band ${num(st.dead_band)}`,
    `Sharpe on daily net P&L × √${text(st.periods_per_year)}`,
  ].join(' · ');
}

const TRADING_COLUMNS = [
  ['Sharpe', (r) => num(r.sharpe, 3)],
  ['net / yr', (r) => pct(r.annual_return)],
  ['total', (r) => pct(r.total_return, 2)],
  ['max DD', (r) => pct(Number.isFinite(r.max_drawdown) ? -Math.abs(r.max_drawdown) : NaN, 2)],
  ['turnover / day', (r) => num(r.turnover_daily, 3)],
  ['exposure', (r) => pct(r.exposure, 0)],
  ['hit rate', (r) => pct(r.hit_rate)],
  ['IC', (r) => num(r.ic, 3)],
];

function tradingTable(tr) {
  const overall = tr.overall || {};
  const rows = [
    ...(tr.folds || []).map((f) => ({...f, label: `fold ${f.fold}`, kind: 'fold'})),
    {...overall, label: 'overall', kind: 'overall'},
    {...(overall.benchmark || {}), label: 'buy-and-hold', kind: 'benchmark'},
  ];
  return h('div', {class: 'table-wrap'}, table([
    {label: '', value: (r) => h('strong', {}, r.label)},
    ...TRADING_COLUMNS.map(([label, value]) => ({label, className: 'num', value})),
  ], rows, {attrs: {class: 'grid compact', 'data-testid': 'trading-table'},
    rowAttrs: (r) => ({'data-row': r.kind, class: r.kind === 'fold' ? null : `row-${r.kind}`})}));
}

function equityCharts(eq) {
  const sessions = eq.sessions || [];
  const at = (i) => sessions[Math.round(i)] ?? '';
  const series = (name, values, color, extra = {}) => ({name, color, dots: sessions.length <= 60,
    points: (values || []).map((v, i) => ({x: i, y: Number(v), label: sessions[i]})), ...extra});
  const ticks = Math.min(sessions.length, 5);
  return h('div', {class: 'charts stack'},
    h('figure', {class: 'figure'},
      lineChart({series: [series('strategy (net)', eq.net, PALETTE[0]), series('buy-and-hold', eq.benchmark, '#6b7280', {dashed: true})],
        label: 'Cumulative net return against buy-and-hold', testid: 'equity-chart', xTicks: ticks, xFormat: at,
        yFormat: (v) => pct(v), yLabel: 'cumulative return', includeZero: true, width: 760, height: 250}),
      h('figcaption', {}, `Cumulative net return per session, compounded (${sessions.length} sessions)`)),
    h('figure', {class: 'figure'},
      lineChart({series: [series('drawdown', eq.drawdown, '#dc2626')], label: 'Drawdown of the net return',
        testid: 'drawdown-chart', xTicks: ticks, xFormat: at, yFormat: (v) => pct(v), yLabel: 'drawdown',
        area: true, includeZero: true, width: 760, height: 150}),
      h('figcaption', {}, 'Drawdown from the running peak (≤ 0)')));
}

/** Predicted against actual per fold: the forecast (a classifier's probability) against what followed. */
function predictedVsActual(pred, classifier) {
  const c = pred.columns || {};
  const folds = new Map();
  const xs = classifier ? c.probability : c.prediction;
  const ys = classifier ? c.realised : c.y;
  (c.fold || []).forEach((f, i) => {
    if (!folds.has(f)) folds.set(f, []);
    folds.get(f).push(i);
  });
  const series = [...folds.entries()].map(([f, idx], k) => {
    const step = Math.max(1, Math.ceil(idx.length / MAX_POINTS_PER_FOLD));
    const points = idx.filter((_, j) => j % step === 0).map((i) => ({x: Number(xs?.[i]), y: Number(ys?.[i]), label: c.ts?.[i]}))
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    return {name: `fold ${f}`, color: PALETTE[k % PALETTE.length], line: false, r: 2.5, opacity: 0.6, points};
  });
  const xLabel = classifier ? 'predicted probability of up' : 'predicted';
  const yLabel = classifier ? 'realised return' : 'actual';
  return h('figure', {class: 'figure'},
    lineChart({series, label: `Predicted against actual per fold (${pred.rows} test rows)`, testid: 'pred-actual',
      xTicks: 5, xLabel, yLabel, width: 520, height: 300}),
    h('figcaption', {}, `${xLabel} against ${yLabel}, one colour per fold, ${pred.rows} test rows`));
}

function calibration(cal) {
  if (!cal) return section('Calibration', empty('No calibration was recorded for this classifier.'));
  const rel = cal.reliability || {};
  const points = (rel.prob_pred || []).map((p, i) => ({x: Number(p), y: Number(rel.prob_true?.[i]),
    label: `predicted ${num(p, 3)}, ${text(rel.count?.[i])} rows`}));
  const chart = lineChart({
    series: [
      {name: 'perfectly calibrated', color: '#9ca3af', dashed: true, dots: false, points: [{x: 0, y: 0}, {x: 1, y: 1}]},
      {name: 'model', color: PALETTE[0], points},
    ],
    label: 'Calibration: observed frequency of up against predicted probability', testid: 'calibration-chart',
    xLabel: 'predicted probability', yLabel: 'observed frequency', xTicks: 5, domain: {x: [0, 1], y: [0, 1]},
    width: 360, height: 300,
  });
  return section('Calibration',
    h('p', {'data-testid': 'brier'}, `Brier score ${num(cal.brier, 4)} · skill against the base rate ${num(cal.brier_skill, 3)}`,
      ` · base rate ${num(cal.base_rate, 3)} · ${text(cal.n)} rows `, sampleLabel(false)),
    h('figure', {class: 'figure'}, chart, h('figcaption', {}, 'Reliability: rows binned by predicted probability')));
}

/** A 2×2 (or k×k) confusion matrix: rows are the actual class, columns the predicted one. */
export function confusionTable(cm, testid) {
  const k = cm.length;
  const name = (i) => (k === 2 ? ['down (0)', 'up (1)'][i] : String(i));
  return h('table', {class: 'grid compact confusion', 'data-testid': testid},
    h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'actual ↓ / predicted →'), cm.map((_, j) => h('th', {scope: 'col', class: 'num'}, name(j))))),
    h('tbody', {}, cm.map((row, i) => h('tr', {}, h('th', {scope: 'row'}, name(i)),
      row.map((v, j) => h('td', {class: `num${i === j ? ' diag' : ''}`}, text(v)))))));
}

function confusion(m) {
  const cv = m.metrics?.cv || {};
  const folds = (m.metrics?.folds || []).filter((f) => Array.isArray(f.confusion_matrix));
  if (!Array.isArray(cv.confusion_matrix)) return section('Confusion matrix', empty('No confusion matrix was recorded.'));
  const base = Number(cv.base_rate);
  const majority = Number.isFinite(base) ? Math.max(base, 1 - base) : NaN;
  const below = Number.isFinite(majority) && Number(cv.accuracy) < majority;
  return section('Confusion matrix',
    h('p', {class: below ? 'warn' : 'muted', 'data-testid': 'majority-baseline'},
      `accuracy ${pct(Number(cv.accuracy))} against ${pct(majority)} for always predicting the majority class`,
      below ? ' — below the majority-class baseline' : ''),
    h('div', {class: 'charts'},
      h('figure', {class: 'figure'}, confusionTable(cv.confusion_matrix, 'confusion-matrix'), h('figcaption', {}, 'all folds')),
      folds.map((f) => h('figure', {class: 'figure'}, confusionTable(f.confusion_matrix, `confusion-fold-${f.fold}`),
        h('figcaption', {}, `fold ${f.fold}`)))));
}

/** Save a file from the API (sent with the token, which a plain link would not carry). */
async function download(path, filename) {
  const res = await api(path, {raw: true});
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', {href: url, download: filename});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Is this model a classifier (its score is accuracy, or its metrics carry a calibration)? */
export function isClassifier(m) {
  return m.metrics?.score === 'accuracy' || Boolean(m.metrics?.calibration) || /classif/.test(m.algorithm || '');
}

/** The money sections of a model page: trading table now, charts when the kept predictions arrive. */
export function moneySections(m) {
  const tr = m.metrics?.trading;
  const charts = h('div', {'data-testid': 'money-charts'}, h('p', {class: 'muted'}, 'Loading the out-of-sample predictions…'));
  const classifier = isClassifier(m);
  const main = section('Trading, out-of-sample',
    h('p', {class: 'muted', 'data-testid': 'trading-settings'}, sampleLabel(false), ' ', settingsText(tr?.settings, classifier)),
    tr ? tradingTable(tr) : empty('No trading evaluation was recorded for this model (trained before it existed).'),
    charts);
  main.dataset.testid = 'money';
  const id = encodeURIComponent(m.id);
  Promise.allSettled([api(`models/${id}/equity`), api(`models/${id}/predictions`)]).then(([eq, pred]) => {
    const missing = [eq, pred].find((r) => r.status === 'rejected' && r.reason?.status === 404);
    if (missing) {
      charts.replaceChildren(h('p', {class: 'note', 'data-testid': 'money-note'},
        'No out-of-sample predictions were kept for this model: it was registered before they were. ',
        'Train it again with the same request to see its equity curve and predicted against actual.'));
      return;
    }
    const failed = [eq, pred].find((r) => r.status === 'rejected');
    if (failed) {
      charts.replaceChildren(errorBox(failed.reason));
      return;
    }
    charts.replaceChildren(
      h('h3', {}, 'Cumulative net return and drawdown ', sampleLabel(eq.value.in_sample)),
      equityCharts(eq.value),
      h('h3', {}, 'Predicted against actual ', sampleLabel(pred.value.in_sample)),
      predictedVsActual(pred.value, classifier),
      h('p', {}, h('button', {type: 'button', class: 'ghost', 'data-testid': 'predictions-download',
        onclick: () => download(`models/${id}/predictions?format=parquet`, `${m.id}.predictions.parquet`)},
      `Download the ${pred.value.rows} predictions (Parquet)`)));
  });
  return classifier ? [main, calibration(m.metrics?.calibration), confusion(m)] : [main];
}
