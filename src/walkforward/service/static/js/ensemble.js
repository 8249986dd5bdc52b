// "Build ensemble" in the cohort modal: method and K, POST /ensembles, then a link to the new (or reused) model.

import {api} from './api.js';
import {errorBox, h, num, section, shortId, table} from './util.js';

const METHODS = [
  ['average', 'average (equal weights)'],
  ['inverse_variance', 'inverse variance (1/MSE on earlier folds)'],
  ['stacking', 'stacking (meta-model on earlier folds)'],
];

/** The form for a cohort of `size` models: each fold's top K and weights are chosen on earlier folds only. */
export function ensembleForm(cohortId, size) {
  const method = h('select', {id: 'ensemble-method', 'data-testid': 'ensemble-method'},
    METHODS.map(([value, label]) => h('option', {value}, label)));
  const top = h('input', {id: 'ensemble-top', type: 'number', min: 1, max: size, value: Math.min(3, size), 'data-testid': 'ensemble-top'});
  const result = h('div', {'data-testid': 'ensemble-result', 'aria-live': 'polite'});
  const button = h('button', {type: 'submit', 'data-testid': 'ensemble-build'}, 'Build ensemble');
  const form = h('form', {class: 'ensemble-form', 'data-testid': 'ensemble-form'},
    h('div', {class: 'field'}, h('label', {for: 'ensemble-method'}, 'Ensemble method'), method),
    h('div', {class: 'field'}, h('label', {for: 'ensemble-top'}, `Top K (of ${size})`), top),
    h('div', {class: 'field buttons'}, button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    result.replaceChildren(h('p', {class: 'muted'}, 'Building…'));
    try {
      const built = await api('ensembles', {method: 'POST', body: {from_cohort: cohortId, top: Number(top.value), method: method.value}});
      const id = built.model.id;
      result.replaceChildren(h('p', {},
        built.reused ? 'Already registered: ' : 'Registered ensemble ',
        h('a', {href: `#/models/${id}`, 'data-close-link': true, class: 'mono', 'data-testid': 'ensemble-link'}, shortId(id)),
        ` (${built.method}, top ${built.top}; first fold: ${built.first_fold_policy})`));
    } catch (err) {
      result.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return h('div', {class: 'card', 'data-testid': 'ensemble-card'},
    h('h3', {}, 'Build ensemble'),
    h('p', {class: 'muted'}, 'For each fold, the best K and their weights are chosen on earlier folds only; the first fold uses equal weights over every model.'),
    form, result);
}

/** An ensemble's model page: for each fold, which members and weights (or meta-model) combined it and which
 * earlier folds chose them; the final choice (on every fold) is what predicts new data. Nothing for other models. */
export function ensembleChoices(m) {
  const e = m.derived?.ensemble;
  if (!e?.folds) return null;
  const members = (c) => h('span', {}, c.members.map((id, i) => [i ? ', ' : '',
    h('a', {href: `#/models/${id}`, class: 'mono'}, shortId(id)),
    c.weights ? ` ${num(c.weights[i], 3)}` : '']));
  const rows = [...e.folds, {...e.final, fold: 'final'}];
  return section('Ensemble: choice per fold',
    h('p', {class: 'muted'}, `${e.method}, top ${e.top} of ${e.candidates.length}. Each fold's members and weights were chosen `
      + `on earlier folds only (their last ${e.purged_rows_per_fold} rows left out); the final choice, on every fold, predicts new data.`),
    h('div', {class: 'table-wrap'}, table([
      {label: 'fold', className: 'num', value: (c) => String(c.fold)},
      {label: 'chosen on folds', value: (c) => (c.trained_on_folds.length ? c.trained_on_folds.join(', ') : 'none')},
      {label: 'members (weight)', value: members},
      {label: 'meta-model', value: (c) => (c.meta_model ? `${c.meta_model.estimator} coef ${c.meta_model.coef.map((v) => num(v, 3)).join(', ')}` : '-')},
      {label: 'basis', value: (c) => (c.skipped ? `${c.basis} (skipped)` : c.basis)},
    ], rows, {attrs: {class: 'grid compact', 'data-testid': 'ensemble-folds'}, rowAttrs: (c) => ({'data-fold': String(c.fold)})})));
}
