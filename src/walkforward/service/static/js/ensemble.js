// "Build ensemble" in the cohort modal: method and K, POST /ensembles, then a link to the new (or reused) model.

import {api} from './api.js';
import {errorBox, h, shortId} from './util.js';

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
