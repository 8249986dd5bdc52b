// #/shap?symbol=X|cohort=ID[&feature=F][&top=N]: which features matter consistently across models and
// regimes (from the stored mean |SHAP|), and a feature's dependence plot (computed on demand by GET /shap).
import {api, query} from './api.js';
import {hbarChart, lineChart, PALETTE} from './charts.js';
import {empty, errorBox, h, num, section, shortId, table} from './util.js';

const ROWS = 25; // consistency rows shown before "the other features"
const pct = (v) => (v === null || v === undefined ? '-' : `${Math.round(100 * v)}%`);

function link(params, changes) {
  return `#/shap${query({symbol: params.symbol, cohort: params.cohort, top: params.top, ...changes})}`;
}

function form(params) {
  const kind = h('select', {id: 'shap-kind', 'data-testid': 'shap-kind'},
    h('option', {value: 'symbol', selected: !params.cohort}, 'symbol'), h('option', {value: 'cohort', selected: !!params.cohort}, 'cohort'));
  const value = h('input', {id: 'shap-value', 'data-testid': 'shap-value', value: params.cohort || params.symbol || '', placeholder: 'AAPL or a cohort id', required: true});
  const top = h('input', {id: 'shap-top', type: 'number', min: 1, max: 100, value: params.top || 10, 'data-testid': 'shap-top'});
  const submit = (ev) => {
    ev.preventDefault();
    const v = value.value.trim();
    if (v) location.hash = link({top: top.value}, {[kind.value]: v});
  };
  return h('form', {class: 'card', onsubmit: submit, 'data-testid': 'shap-form'},
    h('div', {class: 'field inline'}, h('label', {for: 'shap-kind'}, 'Models of a'), kind, value),
    h('div', {class: 'field inline'}, h('label', {for: 'shap-top'}, 'Consistent when in a model\'s top'), top),
    h('button', {type: 'submit'}, 'Show'));
}

function consistencySection(body, params) {
  const rows = body.features || [];
  const n = body.top;
  const cols = [
    {label: 'feature', value: (f) => h('a', {href: link(params, {feature: f.feature}), 'data-testid': 'shap-feature-link', title: 'dependence plot'}, f.feature)},
    {label: 'models using it', className: 'num', value: (f) => String(f.models)},
    {label: `in top ${n}`, className: 'num', value: (f) => pct(f.top_share)},
    {label: 'mean share', className: 'num', value: (f) => pct(f.mean_normalised)},
    {label: 'mean rank', className: 'num', value: (f) => num(f.mean_rank, 3)},
    {label: `regime cells in top ${n}`, className: 'num', value: (f) => pct(f.regime_top_share)},
  ];
  return section('Consistency across models',
    h('p', {class: 'muted', 'data-testid': 'shap-summary'}, `${body.n_models} model(s) with SHAP, ${body.n_regime_cells} regime cell(s); `
      + `a feature is consistent when it is in a model's top ${n} by mean |SHAP| in most models; mean share is its share of a model's total mean |SHAP|`
      + (body.skipped_models?.length ? `; ${body.skipped_models.length} model(s) without SHAP left out` : '')),
    hbarChart({items: rows.slice(0, 15).map((f) => ({label: f.feature, value: f.top_share})), label: `Share of models with the feature in their top ${n}`, testid: 'shap-consistency-chart'}),
    h('div', {class: 'table-wrap'}, table(cols, rows.slice(0, ROWS), {attrs: {class: 'grid', 'data-testid': 'shap-consistency'}})),
    rows.length > ROWS ? h('details', {}, h('summary', {}, `The other ${rows.length - ROWS} feature(s)`),
      h('div', {class: 'table-wrap'}, table(cols, rows.slice(ROWS), {attrs: {class: 'grid', 'data-testid': 'shap-consistency-rest'}}))) : null);
}

function modelsSection(body) {
  const cols = [
    {label: 'model', value: (m) => h('a', {href: `#/models/${m.id}`, class: 'mono'}, shortId(m.id))},
    {label: 'algorithm', value: (m) => m.algorithm},
    {label: 'cv score', className: 'num', value: (m) => num(m.cv_score)},
    {label: 'top features', value: (m) => m.top_features.slice(0, 5).join(', ')},
  ];
  return section('Models', h('div', {class: 'table-wrap'}, table(cols, body.models || [], {attrs: {class: 'grid', 'data-testid': 'shap-models'}})));
}

function dependenceSection(dep) {
  const ok = dep.models.filter((m) => !m.error);
  const sign = dep.sign || {};
  const direction = {1: 'SHAP rises with the value', '-1': 'SHAP falls as the value rises', 0: 'models disagree'}[sign.sign] || 'no direction';
  return section(`Dependence of ${dep.feature}`,
    h('p', {class: 'muted', 'data-testid': 'shap-dependence-note'}, `${dep.sample}; ${ok.length} of ${dep.models_using} model(s) using it shown; `
      + `${direction}${sign.agreement !== null && sign.agreement !== undefined ? ` (agreement ${pct(sign.agreement)} of ${sign.models})` : ''}`),
    ok.length ? lineChart({series: ok.map((m, i) => ({name: shortId(m.id), color: PALETTE[i % PALETTE.length], line: false, r: 2.5, opacity: 0.6,
      points: m.points.map(([x, y]) => ({x, y}))})), label: `SHAP value of ${dep.feature} against its value`, testid: 'shap-dependence-chart',
    xLabel: dep.feature, yLabel: 'SHAP value', xTicks: 5, width: 720, height: 320}) : empty('No dependence could be computed.'),
    dep.models.filter((m) => m.error).map((m) => errorBox(`${shortId(m.id)}: ${m.error}`)));
}

export async function renderShap(view, search) {
  const params = {symbol: search.get('symbol'), cohort: search.get('cohort'), top: search.get('top'), feature: search.get('feature')};
  view.replaceChildren(h('h1', {}, 'SHAP across models'), form(params));
  if (!params.symbol && !params.cohort) {
    view.append(empty('Pick a symbol or a cohort (a cohort\'s modal links here too).'));
    return;
  }
  const what = params.cohort ? `cohort ${shortId(params.cohort, 12)}` : `symbol ${params.symbol.toUpperCase()}`;
  const status = h('p', {class: 'muted'}, `Loading ${what}…`);
  view.append(status);
  const base = {symbol: params.symbol, cohort: params.cohort, top: params.top};
  let body;
  try {
    body = await api(`shap${query(base)}`);
  } catch (err) {
    status.replaceWith(errorBox(err));
    return;
  }
  const holder = h('div', {'data-testid': 'shap-dependence'});
  status.replaceWith(h('p', {}, `Models of ${what}`), holder, consistencySection(body, params), modelsSection(body));
  if (!params.feature) {
    holder.append(empty('Click a feature for its dependence plot.'));
    return;
  }
  holder.append(h('p', {class: 'muted'}, `Computing the dependence of ${params.feature} (SHAP on up to 200 training rows of up to 3 models)…`));
  try {
    const withDep = await api(`shap${query({...base, feature: params.feature})}`);
    holder.replaceChildren(dependenceSection(withDep.dependence));
  } catch (err) {
    holder.replaceChildren(errorBox(err));
  }
}
