// One model's page: facts, per-fold metrics, feature importance, per-regime importance, fold timeline,
// pruning and lineage.

import {api, blobUrl, query} from './api.js';
import {barChart, foldTimeline, groupedBars, hbarChart, PALETTE} from './charts.js';
import {clusterSection} from './clusters.js';
import {openCohort} from './cohort.js';
import {driftPanel} from './drift.js';
import {ensembleChoices} from './ensemble.js';
import {manageSection} from './manage.js';
import {moneySections} from './money.js';
import {regimeAbout, regimeLevelLabel} from './regimes.js';
import {retrainPanel} from './retrain.js';
import {DASH, dateTime, empty, errorBox, h, num, section, shortId, table, text, wayBack} from './util.js';

const BAR_SECONDS = {'1m': 60, '5m': 300, '15m': 900, '1h': 3600, '1d': 86400};
const TOP_FEATURES = 20;
/** Where a coin toss lands, drawn as a reference line on that metric's per-fold chart. */
const CHANCE = {hit_rate: 0.5, roc_auc: 0.5};

function facts(m) {
  const req = m.request || {};
  const cv = m.metrics?.cv || {};
  const score = m.metrics?.score || 'score';
  const nFolds = (m.metrics?.folds || []).length;
  const rows = [
    ['algorithm', text(m.algorithm)],
    ['status', text(m.status)],
    ['symbols', text(m.symbols?.length ? m.symbols : m.symbol)],
    ['timeframe', text(m.timeframe)],
    ['target', `${text(req.target_col)} · ${text(m.target_transform)} · lookforward ${text(req.lookforward)}`],
    [`cv ${score}`, nFolds > 1 ? `${num(m.cv_score)} ± ${num(cv[`${score}_std`])}` : `${num(m.cv_score)} (one fold: no spread)`],
    ['validation', `${text(m.folds?.scheme || req.validation)} · embargo ${text(m.folds?.embargo ?? req.embargo)}`],
    ['final train rows', text(m.folds?.final_train_rows)],
    ['features', `${m.features?.length ?? DASH} of ${m.derived?.input_features?.length ?? DASH} (p ≤ ${text(req.p_value_threshold)})`],
    ['hyperparameters', Object.keys(m.hyperparameters || {}).length ? Object.entries(m.hyperparameters).map(([k, v]) => `${k}=${text(v)}`).join(', ') : DASH],
    ['created', dateTime(m.created_at)],
    ['fingerprint', h('span', {class: 'mono', title: m.fingerprint || ''}, shortId(m.fingerprint, 16))],
    ['cohort', m.cohort_id ? h('button', {type: 'button', class: 'badge cohort', 'data-testid': 'cohort-badge',
      onclick: () => openCohort(m.cohort_id, m.id)}, `${shortId(m.cohort_id, 6)}#${m.cohort_rank ?? DASH}`) : DASH],
    ['parent', m.parent_model_id ? h('a', {href: `#/models/${m.parent_model_id}`, class: 'badge parent'}, `↑ ${shortId(m.parent_model_id, 6)}`) : DASH],
    ...(m.derived?.retrained_from ? [['retrained from', h('a', {href: `#/models/${m.derived.retrained_from}`, class: 'mono', 'data-testid': 'fact-retrained-from'}, `↻ ${shortId(m.derived.retrained_from)}`)]] : []),
  ];
  return h('dl', {class: 'facts wide', 'data-testid': 'model-facts'}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function foldMetrics(m) {
  const folds = m.metrics?.folds || [];
  if (!folds.length) return section('Metrics per fold', empty('No fold metrics.'));
  const cv = m.metrics?.cv || {};
  // Scalars only: the confusion matrix (a nested list) has its own section.
  const keys = [...new Set(folds.flatMap((f) => Object.keys(f)))]
    .filter((k) => k !== 'fold' && folds.some((f) => typeof f[k] === 'number' || f[k] === null) && !folds.some((f) => Array.isArray(f[k])));
  const cols = [{label: 'fold', value: (f) => text(f.fold)}, ...keys.map((k) => ({label: k, className: 'num', value: (f) => num(f[k])}))];
  const mean = {fold: 'cv mean', ...Object.fromEntries(keys.map((k) => [k, cv[k]]))};
  const score = m.metrics?.score || (keys.includes('r2') ? 'r2' : keys[0]);
  const secondary = ['hit_rate', 'rmse', 'f1', 'accuracy'].find((k) => k !== score && keys.includes(k));
  const chart = (k) => h('figure', {class: 'figure'},
    barChart({labels: folds.map((f) => `fold ${f.fold}`), values: folds.map((f) => Number(f[k])), reference: Number(cv[k]),
      baseline: CHANCE[k] ?? null, label: `${k} per fold`, testid: `fold-chart-${k}`}),
    h('figcaption', {}, `${k} per fold (red dashes: cv mean${k in CHANCE ? `; grey: chance ${CHANCE[k]}` : ''})`));
  return section('Metrics per fold',
    h('div', {class: 'charts', 'data-testid': 'fold-metrics-charts'}, chart(score), secondary ? chart(secondary) : null),
    h('div', {class: 'table-wrap'}, table(cols, [...folds, mean], {attrs: {class: 'grid', 'data-testid': 'fold-metrics'}})));
}

function importance(m) {
  const details = m.feature_details;
  if (!details || !Object.keys(details).length) return section('Feature importance', empty('No explanations were computed for this model.'));
  const entries = Object.entries(details);
  const useShap = entries.some(([, d]) => Number.isFinite(d.shap_mean_abs));
  const key = useShap ? 'shap_mean_abs' : 'permutation_mean';
  const ranked = entries.map(([f, d]) => ({label: f, value: Number(d[key])})).filter((d) => Number.isFinite(d.value))
    .sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  const cols = [
    {label: 'feature', value: ([f]) => f},
    {label: 'coefficient', className: 'num', value: ([, d]) => num(d.coefficient)},
    {label: 'tree importance', className: 'num', value: ([, d]) => num(d.tree_importance)},
    {label: 'permutation', className: 'num', value: ([, d]) => `${num(d.permutation_mean)} ± ${num(d.permutation_std)}`},
    {label: 'mean |SHAP|', className: 'num', value: ([, d]) => num(d.shap_mean_abs)},
  ];
  const sorted = [...entries].sort((a, b) => Math.abs(b[1][key] ?? 0) - Math.abs(a[1][key] ?? 0));
  return section('Feature importance',
    h('p', {class: 'muted'}, `${useShap ? 'mean |SHAP|' : 'permutation importance'}, top ${Math.min(TOP_FEATURES, ranked.length)} of ${ranked.length}`),
    hbarChart({items: ranked.slice(0, TOP_FEATURES), label: `Feature importance (${key})`, testid: 'importance-chart'}),
    h('details', {}, h('summary', {}, 'All features: coefficients, tree importance, permutation, SHAP'),
      h('div', {class: 'table-wrap'}, table(cols, sorted, {attrs: {class: 'grid', 'data-testid': 'importance-table'}}))));
}

function regimeChart(byLevel, column = '') {
  const levels = Object.keys(byLevel).sort();
  const totals = new Map();
  for (const lv of levels) for (const [f, v] of Object.entries(byLevel[lv] || {})) totals.set(f, (totals.get(f) || 0) + Math.abs(Number(v) || 0));
  const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([f]) => f);
  return groupedBars({
    categories: top,
    series: levels.map((lv, i) => ({name: regimeLevelLabel(column, lv), color: PALETTE[i % PALETTE.length], values: top.map((f) => Number(byLevel[lv]?.[f]))})),
    label: 'Feature importance per regime level', testid: 'regime-chart',
  });
}

function regimes(m) {
  const ri = m.regime_importance;
  const names = ri ? Object.keys(ri).filter((k) => Object.keys(ri[k] || {}).length) : [];
  if (!names.length) return section('Importance per regime', empty('No per-regime importance for this model.'));
  const about = (n) => h('figcaption', {'data-testid': 'regime-about'}, regimeAbout(n, m.symbol) || `${n}: levels as stored.`);
  const draw = (n) => [regimeChart(ri[n], n), about(n)];
  const holder = h('div', {class: 'figure'}, draw(names[0]));
  const select = h('select', {id: 'regime-select', 'data-testid': 'regime-select', onchange: (ev) => holder.replaceChildren(...draw(ev.target.value))},
    names.map((n) => h('option', {value: n}, n)));
  return section('Importance per regime',
    h('div', {class: 'field inline'}, h('label', {for: 'regime-select'}, 'Regime column'), select),
    holder);
}

function timeline(m) {
  const folds = m.folds?.folds || [];
  if (!folds.length) return section('Fold timeline', empty('No folds recorded.'));
  const notes = m.folds?.notes || [];
  return section('Fold timeline',
    foldTimeline({folds, barSeconds: BAR_SECONDS[m.timeframe] || 60, label: 'Folds: train, purged, embargoed and test spans', testid: 'fold-timeline'}),
    h('div', {class: 'table-wrap'}, table([
      {label: 'fold', value: (f) => text(f.fold)},
      {label: 'train', value: (f) => `${text(f.train_start)} → ${text(f.train_end)}`},
      {label: 'train rows', className: 'num', value: (f) => text(f.train_rows)},
      {label: 'purged', className: 'num', value: (f) => text(f.purged)},
      {label: 'embargoed', className: 'num', value: (f) => text(f.embargoed)},
      {label: 'test', value: (f) => `${text(f.test_start)} → ${text(f.test_end)}`},
      {label: 'test rows', className: 'num', value: (f) => text(f.test_rows)},
    ], folds, {attrs: {class: 'grid compact'}})),
    notes.length ? h('ul', {class: 'notes'}, notes.map((n) => h('li', {}, n))) : null);
}

function pruning(m) {
  const p = m.derived?.pruning;
  const fb = m.derived?.fallback || m.derived?.ols_fallback;
  const fallback = fb && (fb.fitted ? `${fb.fitted} fitted instead of ${fb.requested} (${fb.reason})` : fb.reason);
  if (!p || !Object.keys(p).length) return section('Pruning', empty('No p-value pruning was recorded.'));
  const rows = Object.entries(p).sort((a, b) => (a[1].p_value ?? 2) - (b[1].p_value ?? 2));
  const kept = rows.filter(([, r]) => r.kept).length;
  return section('Pruning',
    h('p', {class: 'muted'}, `${kept} of ${rows.length} kept at p ≤ ${text(m.request?.p_value_threshold)}`,
      fallback ? ` · OLS fallback: ${text(fallback)}` : ''),
    h('div', {class: 'table-wrap scroll'}, table([
      {label: 'feature', value: ([f]) => f},
      {label: 'beta', className: 'num', value: ([, r]) => num(r.beta)},
      {label: 'p-value', className: 'num', value: ([, r]) => num(r.p_value)},
      {label: 'kept', value: ([, r]) => h('span', {class: r.kept ? 'yes' : 'no'}, r.kept ? '✓ kept' : '✗ dropped')},
    ], rows, {attrs: {class: 'grid compact', 'data-testid': 'pruning-table'}})));
}

function modelLink(b) {
  return h('span', {class: 'lineage-item'}, h('a', {href: `#/models/${b.id}`, class: 'mono'}, shortId(b.id)),
    ' ', h('small', {class: 'muted'}, `${text(b.algorithm)} · ${num(b.cv_score)}`),
    b.retrained_from ? [' ', h('small', {class: 'badge retrained', 'data-testid': 'lineage-retrained'}, `retrained from ${shortId(b.retrained_from)}`)] : null);
}

function lineage(m) {
  const box = section('Lineage', h('p', {class: 'muted'}, 'Loading…'));
  box.dataset.testid = 'lineage';
  api(`models/${encodeURIComponent(m.id)}/lineage`).then((lin) => {
    const chain = [...(lin.ancestors || [])].reverse();
    const desc = lin.descendants || [];
    box.replaceChildren(h('h2', {}, 'Lineage'),
      h('p', {class: 'chain', 'data-testid': 'ancestors'}, chain.length
        ? [chain.map((a) => [modelLink(a), ' → ']), h('strong', {}, shortId(m.id))]
        : 'No ancestors (a root model).'),
      h('h3', {}, `Descendants (${desc.length})`),
      desc.length ? h('ul', {'data-testid': 'descendants'}, desc.map((d) => h('li', {}, modelLink(d)))) : empty('None.'),
      ...(lin.members?.length ? [h('h3', {}, `Ensemble members (${lin.members.length})`),
        h('ul', {'data-testid': 'ensemble-members'}, lin.members.map((d) => h('li', {}, modelLink(d))))] : []),
      ...(lin.used_in_ensembles?.length ? [h('h3', {}, `Used in ensembles (${lin.used_in_ensembles.length})`),
        h('ul', {'data-testid': 'used-in-ensembles'}, lin.used_in_ensembles.map((e) => h('li', {'data-model-id': e.id},
          modelLink(e), ' ', h('small', {class: `badge ${e.final_member ? 'final-member' : 'candidate-only'}`, title: e.final_member ? 'the ensemble predicts with this model'
            : 'a candidate the ensemble did not pick in its final choice'}, e.final_member ? 'final member' : 'candidate only'))))] : []));
  }).catch((err) => box.replaceChildren(h('h2', {}, 'Lineage'), errorBox(err)));
  return box;
}

function serverPlots(m) {
  const det = h('details', {class: 'card'}, h('summary', {}, 'Server-rendered plots (PNG)'));
  let loaded = false;
  det.addEventListener('toggle', async () => {
    if (!det.open || loaded) return;
    loaded = true;
    const regimesKept = Object.values(m.regime_importance || {}).some((v) => v && Object.keys(v).length);
    for (const name of regimesKept ? ['importance', 'regimes'] : ['importance']) {
      const url = await blobUrl(`models/${encodeURIComponent(m.id)}/plots/${name}.png`);
      det.append(url ? h('img', {src: url, alt: `${name} plot`, class: 'plot'}) : empty(`No ${name} plot.`));
    }
  });
  return det;
}

/** A section that cannot take the page down: an unexpected shape shows an error in its place. */
function safe(title, build, m) {
  try {
    return build(m);
  } catch (err) {
    console.error(err);
    return section(title, errorBox(`cannot show this part: ${err.message}`));
  }
}

function safeAll(title, build, m) {
  try {
    return build(m);
  } catch (err) {
    console.error(err);
    return [section(title, errorBox(`cannot show this part: ${err.message}`))];
  }
}

/** A short id as shown (a prefix): go to its model when one matches, list them when several do. */
async function resolvePrefix(view, prefix) {
  let page;
  try {
    page = await api(`models${query({id_prefix: prefix, limit: 20})}`);
  } catch {
    return false;
  }
  const items = page?.items || [];
  if (items.length === 1) {
    location.replace(`#/models/${encodeURIComponent(items[0].id)}`);
    return true;
  }
  if (items.length < 2) return false;
  view.replaceChildren(h('h1', {}, 'Models starting with ', h('span', {class: 'mono'}, prefix)),
    h('p', {}, `${page.total} models match: pick one.`),
    h('ul', {'data-testid': 'prefix-matches'}, items.map((b) => h('li', {}, h('a', {href: `#/models/${b.id}`, class: 'mono'}, b.id),
      ' ', h('small', {class: 'muted'}, `${text(b.algorithm)} · ${dateTime(b.created_at)}`)))),
    h('p', {}, h('a', {href: '#/models', 'data-testid': 'back-link'}, '← Back to the models')));
  return true;
}

export async function renderModel(view, id) {
  view.replaceChildren(h('h1', {}, 'Model ', h('span', {class: 'mono'}, shortId(id))), h('p', {class: 'muted'}, 'Loading…'));
  let m;
  try {
    m = await api(`models/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status === 404 && await resolvePrefix(view, id)) return;
    view.replaceChildren(h('h1', {}, 'Model ', h('span', {class: 'mono'}, shortId(id))), errorBox(err),
      err.status === 404 ? h('p', {}, 'It may have been deleted, or the link is cut short: the models list has every registered model.') : null,
      wayBack());
    return;
  }
  const parts = [
    h('h1', {}, 'Model ', h('span', {class: 'mono', 'data-testid': 'model-id', title: m.id}, m.id)),
    h('section', {class: 'card'}, safe('Facts', facts, m)),
    safe('Tags, note and files', manageSection, m),
    ...safeAll('Trading', moneySections, m),
    safe('Metrics per fold', foldMetrics, m),
    safe('Ensemble: choice per fold', ensembleChoices, m),
    safe('Drift', driftPanel, m),
    safe('Feature importance', importance, m),
    safe('Importance per regime', regimes, m),
    safe('Feature clusters', clusterSection, m),
    safe('Fold timeline', timeline, m),
    safe('Pruning', pruning, m),
    lineage(m),
    m.algorithm === 'ensemble' ? null : safe('Retraining', retrainPanel, m),  // retrain its members instead
    serverPlots(m),
  ];
  view.replaceChildren(...parts.filter(Boolean));
}
