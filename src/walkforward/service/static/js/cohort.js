// The cohort modal: the siblings ranked, their varying hyperparameters, the selection summary and,
// for an elastic net, the regularisation path (cv score against alpha, one line per l1_ratio).

import {api} from './api.js';
import {lineChart, PALETTE} from './charts.js';
import {fetchExplore, renderExplore} from './explore.js';
import {ensembleForm} from './ensemble.js';
import {DASH, empty, errorBox, h, num, scoreName, shortId, table, text} from './util.js';

/** Hyperparameters of each model: from the cohort's rows when present, else from each model's record. */
async function withHyperparameters(models) {
  const missing = models.filter((m) => !m.hyperparameters);
  const queue = [...missing];
  const worker = async () => {
    while (queue.length) {
      const m = queue.shift();
      try {
        const full = await api(`models/${encodeURIComponent(m.id)}`);
        m.hyperparameters = full.hyperparameters || {};
      } catch {
        m.hyperparameters = {};
      }
    }
  };
  if (missing.length <= 200) await Promise.all(Array.from({length: 6}, worker));
  return models;
}

/** The hyperparameter names whose values differ across the models (all of them when none differ). */
export function varyingKeys(models) {
  const keys = [...new Set(models.flatMap((m) => Object.keys(m.hyperparameters || {})))].sort();
  const varying = keys.filter((k) => new Set(models.map((m) => JSON.stringify(m.hyperparameters?.[k]))).size > 1);
  return varying.length ? varying : keys;
}

/** What a sibling fitted instead of what was asked (the elastic net's OLS fallback), or null. */
function fallbackOf(m) {
  const fb = m.fallback;
  return fb ? (fb.fitted || 'fallback') : null;
}

function regularisationPath(models) {
  const byRatio = new Map();
  const fallbacks = [];
  for (const m of models) {
    const hp = m.hyperparameters || {};
    if (hp.alpha === undefined || m.cv_score === null || m.cv_score === undefined) continue;
    if (fallbackOf(m)) {
      // Not an elastic-net result: drawn apart, not joined into its l1_ratio's line.
      fallbacks.push({x: Number(hp.alpha), y: Number(m.cv_score), label: `alpha ${hp.alpha}, l1_ratio ${hp.l1_ratio} (${fallbackOf(m)})`});
      continue;
    }
    const ratio = hp.l1_ratio ?? 'default';
    if (!byRatio.has(ratio)) byRatio.set(ratio, []);
    byRatio.get(ratio).push({x: Number(hp.alpha), y: Number(m.cv_score)});
  }
  if (!byRatio.size && !fallbacks.length) return null;
  const ratios = [...byRatio.keys()].sort((a, b) => Number(a) - Number(b));
  // Lines of equal scores overlap: each l1_ratio's line is drawn a little thinner than the one under it.
  const series = ratios.map((r, i) => ({name: `l1_ratio ${r}`, points: byRatio.get(r), color: PALETTE[i % PALETTE.length],
    r: 3.5 + 1.5 * (ratios.length - 1 - i)}));
  if (fallbacks.length) series.push({name: 'OLS fallback', points: fallbacks, color: '#111827', line: false, r: 5});
  return lineChart({
    series,
    label: 'Regularisation path: cv score against alpha, one line per l1_ratio',
    testid: 'reg-path', xLabel: 'alpha', yLabel: `cv ${scoreName(models[0])}`, logX: true,
  });
}

/** One statistic as a tile: value, label, a line of context, and a verdict colour where a threshold applies. */
function stat(label, value, {sub = '', hint = '', good = null, testid = null} = {}) {
  const verdict = good === null ? '' : good ? ' good' : ' bad';
  return h('div', {class: `stat${verdict}`, title: hint, 'data-testid': testid},
    h('div', {class: 'stat-value'}, value === undefined || value === null || value === '' ? DASH : value),
    h('div', {class: 'stat-label'}, label), sub ? h('div', {class: 'stat-sub'}, sub) : null);
}

function summary(selection, models) {
  const sel = selection || {};
  const top = models.find((m) => m.cohort_rank === 1) || models[0];
  const bestScore = sel.best_score ?? (typeof sel.best === 'number' ? sel.best : sel.best?.cv_score ?? top?.cv_score);
  const pbo = sel.pbo?.pbo;
  const dsr = sel.dsr?.p_value;
  const spa = sel.spa?.p_consistent;
  const finite = (v) => typeof v === 'number' && Number.isFinite(v);
  return h('div', {}, [
    h('div', {class: 'stats', 'data-testid': 'cohort-summary'},
      stat('tried', text(sel.n_tried ?? models.length), {sub: sel.n_sessions ? `${sel.n_sessions} sessions` : ''}),
      stat(`best cv ${scoreName(top)}`, num(bestScore), {sub: top ? h('a', {href: `#/models/${top.id}`, 'data-close-link': true,
        'data-testid': 'cohort-best-link'}, shortId(top.id)) : ''}),
      stat('best net Sharpe', num(sel.best_sharpe_annual, 3), {sub: 'annualised, out-of-sample'}),
      stat('PBO', finite(pbo) ? num(pbo, 3) : 'not computed', {sub: 'overfitting probability (CSCV)',
        hint: 'Probability of backtest overfitting: how often the in-sample best ranks below the median out of sample. Below 0.2 is reassuring.',
        good: finite(pbo) ? pbo < 0.2 : null, testid: 'stat-pbo'}),
      stat('DSR p', finite(dsr) ? num(dsr, 3) : 'not computed', {
        sub: finite(sel.dsr?.n_effective_trials) ? `${num(sel.dsr.n_effective_trials, 3)} effective trials` : 'deflated Sharpe ratio',
        hint: 'p = 1 − deflated Sharpe ratio: the chance the best Sharpe is luck given how many tries were made. Below 0.05 is significant.',
        good: finite(dsr) ? dsr < 0.05 : null, testid: 'stat-dsr'}),
      stat('SPA p', finite(spa) ? num(spa, 3) : 'not computed', {
        sub: finite(sel.spa?.p_upper) ? `upper bound ${num(sel.spa.p_upper, 3)}` : "Hansen's SPA",
        hint: "Hansen's superior predictive ability test against doing nothing (consistent p-value). Below 0.05 is significant.",
        good: finite(spa) ? spa < 0.05 : null, testid: 'stat-spa'})),
    ...(sel.notes || []).map((n) => h('p', {class: 'note', 'data-testid': 'selection-note'}, n)),
  ]);
}

const shapLink = (id) => h('p', {}, h('a', {href: `#/shap?cohort=${encodeURIComponent(id)}`, 'data-close-link': true, 'data-testid': 'cohort-shap-link'}, 'SHAP across this cohort →'));

/** The summary's place while the selection statistics are computed (seconds the first time a server shows a cohort). */
const pending = () => h('div', {class: 'stats', 'data-testid': 'cohort-summary', 'data-state': 'computing'},
  h('p', {class: 'muted', 'data-testid': 'selection-pending'}, 'Computing selection statistics (PBO, DSR, SPA)…'));

/** Open the modal for a cohort; highlight currentId among the siblings.
 *
 * Two requests whatever the cohort's size. First the siblings with their hyperparameters and the
 * selection statistics only if the server keeps them already (GET /cohorts/{id}?selection=kept: one
 * registry query and at most a small file, never the statistics stack); the table is drawn from it.
 * Then, started as soon as it arrives, the explore view, with the statistics when they were not kept
 * (GET /cohorts/{id}/explore?selection=true: seconds the first time); both fill their places.
 * Started together, the second would share a cold server's interpreter (imports) with the first.
 */
export async function openCohort(cohortId, currentId = null) {
  const dialog = document.getElementById('cohort-dialog');
  const body = document.getElementById('cohort-body');
  document.getElementById('cohort-title').textContent = `Cohort ${shortId(cohortId, 12)}`;
  dialog.dataset.cohortId = cohortId;
  body.replaceChildren(shapLink(cohortId), h('p', {class: 'muted'}, 'Loading…'));
  if (!dialog.open) dialog.showModal();
  try {
    const cohort = await api(`cohorts/${encodeURIComponent(cohortId)}?selection=kept`);
    const known = cohort.selection !== null && cohort.selection !== undefined;
    const analysis = cohort.models?.length ? fetchExplore(cohortId, {selection: !known}) : null;
    const models = await withHyperparameters([...(cohort.models || [])]);
    models.sort((a, b) => (a.cohort_rank ?? 1e9) - (b.cohort_rank ?? 1e9));
    const keys = varyingKeys(models);
    const metric = models.length ? scoreName(models[0]) : 'score';
    const columns = [
      {label: 'rank', value: (m) => (m.cohort_rank ?? DASH)},
      {label: 'id', value: (m) => h('span', {}, h('a', {href: `#/models/${m.id}`, 'data-close-link': true}, shortId(m.id)),
        fallbackOf(m) ? [' ', h('span', {class: 'badge fallback', 'data-testid': 'fallback-badge',
          title: `${m.fallback.reason || 'fallback'}: ${fallbackOf(m)} was fitted instead`}, `${fallbackOf(m)} fitted`)] : null)},
      ...keys.map((k) => ({label: k, value: (m) => text(m.hyperparameters?.[k]), className: 'num'})),
      {label: `cv ${metric}`, value: (m) => num(m.cv_score), className: 'num'},
      {label: 'features', value: (m) => text(m.features), className: 'num'},
    ];
    const isElasticNet = models.some((m) => m.algorithm === 'elasticnet_regression');
    const statistics = h('div', {'data-testid': 'cohort-statistics'}, known ? summary(cohort.selection, models) : pending());
    body.replaceChildren(...[
      statistics,
      shapLink(cohortId),
      models.length
        ? h('div', {class: 'table-wrap'}, table(columns, models, {
          attrs: {class: 'grid', 'data-testid': 'cohort-siblings'},
          rowAttrs: (m) => ({'data-model-id': m.id, 'data-testid': 'cohort-sibling', class: m.id === currentId ? 'current' : null}),
        }))
        : empty('This cohort has no models.'),
      models.length > 1 ? ensembleForm(cohortId, models.length) : null,
      isElasticNet ? h('figure', {class: 'figure'}, regularisationPath(models) || empty('No alpha values to plot.'),
        h('figcaption', {}, 'Regularisation path: cv score against alpha')) : null,
      models.length ? h('section', {class: 'explore', 'data-testid': 'cohort-explore'}) : null,
    ].filter(Boolean));
    const explore = body.querySelector('[data-testid=cohort-explore]');
    if (!analysis || !explore) return;
    const drawn = renderExplore(explore, analysis, currentId);
    if (!known) {
      const data = await analysis;
      statistics.replaceChildren(data.error ? errorBox(data.error) : summary(data.selection, models));
    }
    await drawn;
  } catch (err) {
    body.replaceChildren(errorBox(err));
  }
}

export function setupCohortDialog() {
  const dialog = document.getElementById('cohort-dialog');
  dialog.addEventListener('click', (ev) => {
    if (ev.target === dialog || ev.target.closest('[data-close]') || ev.target.closest('[data-close-link]')) dialog.close();
  });
}
