// The training form: POST /train, then the job's page.

import {api} from './api.js';
import {algorithms} from './models.js';
import {errorBox, h} from './util.js';

const TIMEFRAMES = ['1m', '5m', '15m', '1h', '1d'];
const TRANSFORMS = ['log_return', 'pct_change', 'log', 'none'];
const SEARCHES = ['none', 'grid', 'halving', 'optuna'];

function field(id, label, input, hint = null) {
  return h('div', {class: 'field'}, h('label', {for: id}, label), input, hint ? h('small', {class: 'muted'}, hint) : null);
}

function select(id, options, value) {
  return h('select', {id, name: id, 'data-testid': `train-${id}`}, options.map((o) => h('option', {value: o, selected: o === value}, o)));
}

/** The grids text as an object, or an error message. */
export function parseGrids(textValue) {
  const t = textValue.trim();
  if (!t) return {value: {}};
  try {
    const v = JSON.parse(t);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return {error: 'grids must be a JSON object, e.g. {"alpha_grid": [0.001, 0.01]}'};
    for (const [k, vals] of Object.entries(v)) if (!Array.isArray(vals)) return {error: `grids.${k} must be a list of values`};
    return {value: v};
  } catch (err) {
    return {error: `grids is not valid JSON: ${err.message}`};
  }
}

export async function renderTrain(view) {
  let names;
  try {
    names = (await algorithms()).map((a) => a.name);
  } catch (err) {
    view.replaceChildren(h('h1', {}, 'Train'), errorBox(err));
    return;
  }
  const datalist = h('datalist', {id: 'symbol-list'});
  const gridsInput = h('textarea', {id: 'grids', name: 'grids', rows: 4, class: 'mono', 'data-testid': 'train-grids',
    placeholder: '{"alpha_grid": [0.0001, 0.001, 0.01], "l1_ratio_grid": [0.5, 0.9]}'});
  const gridsError = h('div', {class: 'field-error', 'data-testid': 'grids-error', 'aria-live': 'polite'});
  const status = h('div', {'data-testid': 'train-status', 'aria-live': 'polite'});
  const submit = h('button', {type: 'submit', 'data-testid': 'train-submit'}, 'Start training');
  const validateGrids = () => {
    const r = parseGrids(gridsInput.value);
    gridsError.textContent = r.error || '';
    gridsInput.setAttribute('aria-invalid', r.error ? 'true' : 'false');
    submit.disabled = Boolean(r.error);
    return r;
  };
  gridsInput.addEventListener('input', validateGrids);

  const form = h('form', {class: 'train-form card', 'data-testid': 'train-form', novalidate: true},
    h('div', {class: 'form-grid'},
      field('algorithm', 'Algorithm', select('algorithm', names, 'linear_regression')),
      field('symbol', 'Symbols', h('input', {id: 'symbol', name: 'symbol', required: true, value: 'AAPL,QQQ,VIX', list: 'symbol-list',
        'data-testid': 'train-symbol', autocomplete: 'off'}), 'comma-separated; the first is the target'),
      field('timeframe', 'Timeframe', select('timeframe', TIMEFRAMES, '5m')),
      field('target_transform', 'Target transform', select('target_transform', TRANSFORMS, 'log_return')),
      field('lookforward', 'Lookforward (bars)', h('input', {id: 'lookforward', name: 'lookforward', type: 'number', min: 1, step: 1, value: 1})),
      field('p_value_threshold', 'p-value threshold', h('input', {id: 'p_value_threshold', name: 'p_value_threshold', type: 'number',
        min: 0, max: 1, step: 'any', value: 0.05}), 'blank keeps every feature'),
      field('embargo', 'Embargo (bars)', h('input', {id: 'embargo', name: 'embargo', type: 'number', min: 0, step: 1, placeholder: 'default'})),
      field('parent_model_id', 'Parent model', h('input', {id: 'parent_model_id', name: 'parent_model_id', class: 'mono', placeholder: 'optional id'})),
      field('search', 'Search', select('search', SEARCHES, 'none'))),
    field('grids', 'Grids (JSON)', gridsInput, 'names such as alpha_grid, l1_ratio_grid, n_estimators_grid'),
    gridsError,
    h('div', {class: 'checks'},
      h('label', {}, h('input', {type: 'checkbox', id: 'save_all_grid_models', name: 'save_all_grid_models', 'data-testid': 'train-save-all'}), ' save every grid model'),
      h('label', {}, h('input', {type: 'checkbox', id: 'explain', name: 'explain', checked: true, 'data-testid': 'train-explain'}), ' explain (permutation, SHAP, regimes)')),
    h('div', {class: 'row-end'}, submit),
    status, datalist);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const grids = validateGrids();
    if (grids.error) return;
    const d = new FormData(form);
    const numOrNull = (k) => (String(d.get(k) ?? '').trim() === '' ? null : Number(d.get(k)));
    const body = {
      symbol: String(d.get('symbol') || '').trim(),
      algorithm: d.get('algorithm'),
      timeframe: d.get('timeframe'),
      target_transform: d.get('target_transform'),
      lookforward: numOrNull('lookforward') ?? 1,
      p_value_threshold: numOrNull('p_value_threshold'),
      search: d.get('search'),
      grids: grids.value,
      save_all_grid_models: d.get('save_all_grid_models') === 'on',
      explain: d.get('explain') === 'on',
      embargo: numOrNull('embargo'),
    };
    const parent = String(d.get('parent_model_id') || '').trim();
    if (parent) body.parent_model_id = parent;
    submit.disabled = true;
    status.replaceChildren(h('p', {class: 'muted'}, 'Submitting…'));
    try {
      const job = await api('train', {method: 'POST', body});
      location.hash = `#/jobs/${encodeURIComponent(job.job_id ?? job.id)}`;
    } catch (err) {
      status.replaceChildren(errorBox(err));
      submit.disabled = false;
    }
  });

  view.replaceChildren(h('h1', {}, 'Train a model'), form);
  api('symbols').then((symbols) => {
    const list = Array.isArray(symbols) ? symbols : symbols?.items || [];
    datalist.replaceChildren(...list.map((s) => h('option', {value: s.symbol},
      `${s.first_date ?? ''} – ${s.last_date ?? ''} (${s.days ?? '-'} days)`)));
  }).catch(() => { /* the datalist is a convenience */ });
}
