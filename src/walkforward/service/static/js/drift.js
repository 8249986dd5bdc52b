// The model page's drift panel: the data after the training end against the training rows
// (GET /models/{id}/drift): a status badge with its reasons, the drifting features first with PSI and KS
// against their thresholds, a bar chart of how far each is past its alert threshold, predictions and performance.

import {api} from './api.js';
import {hbarChart} from './charts.js';
import {dateTime, empty, errorBox, h, num, section, table, text} from './util.js';

const TOP = 12;

function badge(status) {
  return h('span', {class: `badge drift-${status}`, 'data-testid': 'drift-status'}, status === 'none' ? 'no new data' : status.toUpperCase());
}

/** Each feature's distance over its alert threshold (PSI or KS, whichever is further): 1 is on the threshold. */
function excessChart(columns) {
  const items = columns.map((c) => ({
    label: c.name, value: c.excess, cls: `bar drift-${c.status}`, text: `${num(c.excess, 2)}×`,
    title: `${c.name}: PSI ${num(c.psi, 3)} (alert ${num(c.psi_alert, 3)}), KS ${num(c.ks, 3)} (alert ${num(c.ks_alert, 3)})`,
  }));
  const hi = Math.max(1.2, ...columns.map((c) => c.excess).filter(Number.isFinite));
  return hbarChart({items, label: 'Distance over the alert threshold (1 = on it), drifting features first',
    testid: 'drift-chart', width: 560, max: hi, reference: {value: 1, label: 'alert'}, margins: {l: 160, r: 56}});
}

function featureTable(columns) {
  const pair = (v, w, a) => h('span', {}, num(v, 3), h('small', {class: 'muted'}, ` / ${num(w, 3)} / ${num(a, 3)}`));
  return table([
    {label: 'feature', value: (c) => (c.counted ? c.name : h('span', {title: 'pruned: not used by the model, not counted'}, `${c.name} (unused)`))},
    {label: 'status', value: (c) => h('span', {class: `drift-text drift-${c.status}`}, c.status)},
    {label: 'PSI / warn / alert', className: 'num', value: (c) => pair(c.psi, c.psi_warn, c.psi_alert)},
    {label: 'KS / warn / alert', className: 'num', value: (c) => pair(c.ks, c.ks_warn, c.ks_alert)},
    {label: 'mean train → new', className: 'num', value: (c) => `${num(c.mean_ref, 3)} → ${num(c.mean_new, 3)}`},
    {label: 'std train → new', className: 'num', value: (c) => `${num(c.std_ref, 3)} → ${num(c.std_new, 3)}`},
  ], columns, {attrs: {class: 'grid compact', 'data-testid': 'drift-table'}, rowAttrs: (c) => ({'data-status': c.status})});
}

function others(d) {
  const rows = [];
  const p = d.predictions?.columns?.[0];
  if (p) rows.push([`${d.predictions.column}s vs out-of-sample`, p.status, `PSI ${num(p.psi, 3)}, KS ${num(p.ks, 3)}`, `alert PSI ${num(p.psi_alert, 3)}, KS ${num(p.ks_alert, 3)}`]);
  const f = d.performance;
  if (f) {
    rows.push([`${f.metric} on ${text(f.rows)} labelled new rows`, f.status,
      `${num(f.value)}${f.z === null ? '' : ` (z ${num(f.z, 3)})`}`,
      f.cv_std === null ? `cv ${num(f.cv)}${f.note ? ` · ${f.note}` : ''}` : `cv ${num(f.cv)} ± ${num(f.cv_std)} (${f.folds} folds)`]);
  }
  if (!rows.length) return null;
  return table([
    {label: 'what', value: (r) => r[0]},
    {label: 'status', value: (r) => h('span', {class: `drift-text drift-${r[1]}`}, r[1])},
    {label: 'value', className: 'num', value: (r) => r[2]},
    {label: 'against', value: (r) => r[3]},
  ], rows, {attrs: {class: 'grid compact', 'data-testid': 'drift-others'}});
}

function render(d) {
  const cols = d.features.columns;
  const meth = d.method;
  return [
    h('p', {class: 'drift-head'}, badge(d.status), ' ',
      h('span', {class: 'muted'}, `${text(d.window.rows)} new rows ${dateTime(d.window.start)} → ${dateTime(d.window.end)} vs ${text(d.training.rows)} training rows · ${d.features.over_warn} of ${cols.filter((c) => c.counted).length} used features over warn, ${d.features.over_alert} over alert`)),
    h('ul', {class: 'notes', 'data-testid': 'drift-reasons'}, [...d.reasons, ...(d.notes || [])].map((r) => h('li', {}, r))),
    h('div', {class: 'figure'}, excessChart(cols.slice(0, TOP))),
    h('div', {class: 'table-wrap'}, featureTable(cols.slice(0, TOP))),
    cols.length > TOP ? h('details', {}, h('summary', {}, `All ${cols.length} features`), h('div', {class: 'table-wrap'}, featureTable(cols))) : null,
    h('div', {class: 'table-wrap'}, others(d)),
    h('p', {class: 'muted small'}, `Thresholds: circular block bootstrap of the training rows (block ${meth.block_length}, ${meth.draws} draws, seed ${meth.seed}), `
      + `family-wise ${num(meth.warn_level * 100, 3)}% / ${num(meth.alert_level * 100, 3)}% over the used features, floors PSI ${meth.psi_warn} / ${meth.psi_alert}, KS ${meth.ks_warn} / ${meth.ks_alert}.`),
  ];
}

/** The drift section of a model page. The comparison is a block bootstrap (seconds of server time), so it
 * runs when asked, not on every visit of the page. */
export function driftPanel(m) {
  const box = section('Drift');
  box.dataset.testid = 'drift';
  const check = async () => {
    box.replaceChildren(h('h2', {}, 'Drift'), h('p', {class: 'muted', 'data-testid': 'drift-pending'},
      'Comparing the data after the training end with the training rows…'));
    try {
      const d = await api(`models/${encodeURIComponent(m.id)}/drift`);
      box.replaceChildren(h('h2', {}, 'Drift'), ...render(d).filter(Boolean), again());
    } catch (err) {
      const none = err.status === 404 && /no data after/.test(err.message);
      box.replaceChildren(h('h2', {}, 'Drift'),
        ...(none ? [h('p', {class: 'drift-head'}, badge('none')), empty(err.message)] : [errorBox(err)]), again());
    }
  };
  const again = () => h('button', {type: 'button', 'data-testid': 'drift-check', onclick: check}, 'Check again');
  box.append(h('p', {class: 'muted'}, 'Compares the bars ingested after this model\'s training end with its training rows ',
    '(PSI and KS per feature against block-bootstrap thresholds; a few seconds).'),
  h('button', {type: 'button', 'data-testid': 'drift-check', onclick: check}, 'Check drift'));
  return box;
}
