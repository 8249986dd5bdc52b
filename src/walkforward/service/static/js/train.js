// The training form: POST /train, then the job's page.

import {api} from './api.js';
import {algorithms} from './models.js';
import {advancedSection, advancedValues, prefillFrom} from './train_advanced.js';
import {errorBox, h, shortId, uiMessage} from './util.js';

const TIMEFRAMES = ['1m', '5m', '15m', '1h', '1d'];
const TRANSFORMS = ['log_return', 'pct_change', 'log', 'none'];
const SEARCHES = ['none', 'auto', 'grid', 'halving', 'optuna'];
/** A search of more combinations than this asks for a second click, with its plan shown. */
export const CONFIRM_ABOVE = 200;

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

export async function renderTrain(view, params = new URLSearchParams()) {
  let specs;
  let names;
  try {
    specs = await algorithms();
    names = specs.map((a) => a.name);
  } catch (err) {
    view.replaceChildren(h('h1', {}, 'Train'), errorBox(err));
    return;
  }
  const datalist = h('datalist', {id: 'symbol-list'});
  const gridsInput = h('textarea', {id: 'grids', name: 'grids', rows: 4, class: 'mono', 'data-testid': 'train-grids',
    placeholder: '{"alpha_grid": [0.0001, 0.001, 0.01], "l1_ratio_grid": [0.5, 0.9]}'});
  const gridsError = h('div', {class: 'field-error', 'data-testid': 'grids-error', 'aria-live': 'polite'});
  const status = h('div', {'data-testid': 'train-status', 'aria-live': 'polite'});
  const parentInput = h('input', {id: 'parent_model_id', name: 'parent_model_id', class: 'mono', placeholder: 'optional id',
    'data-testid': 'train-parent', 'aria-describedby': 'parent-error', autocomplete: 'off'});
  const parentError = h('div', {id: 'parent-error', class: 'field-error', 'data-testid': 'parent-error', 'aria-live': 'polite'});
  parentInput.addEventListener('input', () => { parentError.textContent = ''; parentInput.removeAttribute('aria-invalid'); });
  const advanced = advancedSection();
  const advancedError = advanced.querySelector('[data-testid=advanced-error]');
  const cloneNote = h('div', {class: 'clone-note', 'data-testid': 'clone-note'});
  const submit = h('button', {type: 'submit', 'data-testid': 'train-submit'}, 'Start training');
  const validateGrids = () => {
    const r = parseGrids(gridsInput.value);
    gridsError.textContent = r.error || '';
    gridsInput.setAttribute('aria-invalid', r.error ? 'true' : 'false');
    submit.disabled = Boolean(r.error);
    return r;
  };
  gridsInput.addEventListener('input', validateGrids);
  const plan = h('div', {class: 'plan', 'data-testid': 'train-plan', 'aria-live': 'polite'});
  const defaultGrid = h('input', {type: 'checkbox', id: 'use_default_grid', name: 'use_default_grid', checked: true,
    'data-testid': 'train-default-grid'});
  const defaultGridLabel = h('span', {});
  const preview = h('button', {type: 'submit', class: 'ghost', 'data-testid': 'train-preview'}, 'Preview the search');
  let confirmed = null; // the body (as JSON) the user confirmed a large search for

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
      h('div', {class: 'field'}, h('label', {for: 'parent_model_id'}, 'Parent model'), parentInput, parentError),
      field('search', 'Search', select('search', SEARCHES, 'none'))),
    field('grids', 'Grids (JSON)', gridsInput, 'names such as alpha_grid, l1_ratio_grid, n_estimators_grid'),
    gridsError,
    h('div', {class: 'checks'},
      h('label', {}, defaultGrid, ' ', defaultGridLabel)),
    h('div', {class: 'checks'},
      h('label', {}, h('input', {type: 'checkbox', id: 'save_all_grid_models', name: 'save_all_grid_models', 'data-testid': 'train-save-all'}), ' save every grid model'),
      h('label', {}, h('input', {type: 'checkbox', id: 'explain', name: 'explain', checked: true, 'data-testid': 'train-explain'}), ' explain (permutation, SHAP, regimes)')),
    advanced,
    plan,
    h('div', {class: 'row-end'}, preview, submit),
    status, datalist);
  const algorithmSelect = form.querySelector('#algorithm');
  const updateDefaultGrid = () => {
    const spec = specs.find((a) => a.name === algorithmSelect.value);
    const size = spec?.default_grid_size;
    defaultGridLabel.textContent = `start from the default grid${size ? ` (${size.toLocaleString('en')} combinations)` : ''}: `
      + 'your grids replace its values for the parameters they name and the rest stay; unticked, only your grids are tried';
  };
  algorithmSelect.addEventListener('change', updateDefaultGrid);
  updateDefaultGrid();
  form.addEventListener('change', () => { plan.replaceChildren(); submit.textContent = 'Start training'; });
  gridsInput.addEventListener('input', () => { plan.replaceChildren(); submit.textContent = 'Start training'; });

  /** The search's plan (POST /train?dry_run=true), shown in the form; null when it cannot be had. */
  const showPlan = async (body) => {
    if (body.search === 'none') {
      plan.replaceChildren(h('p', {class: 'muted'}, 'One model with the default hyperparameters: no search.'));
      return null;
    }
    plan.replaceChildren(h('p', {class: 'muted'}, 'Planning the search…'));
    try {
      const p = await api('train?dry_run=true', {method: 'POST', body});
      const large = p.configurations > CONFIRM_ABOVE;
      plan.replaceChildren(h('div', {class: large ? 'note' : 'muted'},
        h('strong', {'data-testid': 'plan-configurations'}, `${p.configurations.toLocaleString('en')} combinations`),
        ` × ${p.folds} folds = ${p.fits.toLocaleString('en')} fits (${p.strategy})`,
        p.registered ? ` · ${p.registered} already registered` : '',
        p.estimate?.text ? h('div', {'data-testid': 'plan-estimate'}, `time: ${p.estimate.text}`) : null,
        (p.notes || []).map((n) => h('div', {class: 'muted'}, n))));
      return p;
    } catch (err) {
      plan.replaceChildren(errorBox(err));
      return null;
    }
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const grids = validateGrids();
    if (grids.error) return;
    const adv = advancedValues(form);
    advancedError.textContent = adv.error || '';
    if (adv.error) { advanced.open = true; return; }
    const d = new FormData(form);
    const numOrNull = (k) => (String(d.get(k) ?? '').trim() === '' ? null : Number(d.get(k)));
    const body = {
      ...adv.value,
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
      use_default_grid: d.get('use_default_grid') === 'on',
    };
    const parent = String(d.get('parent_model_id') || '').trim();
    if (parent) body.parent_model_id = parent;
    if (ev.submitter === preview) {
      await showPlan(body);
      return;
    }
    const key = JSON.stringify(body);
    if (body.search !== 'none' && confirmed !== key) {
      submit.disabled = true;
      const p = await showPlan(body);
      submit.disabled = false;
      if (!p) return;
      if (p.configurations > CONFIRM_ABOVE) {
        confirmed = key;
        submit.textContent = `Start ${p.configurations.toLocaleString('en')} combinations anyway`;
        submit.focus();
        return;
      }
    }
    submit.disabled = true;
    status.replaceChildren(h('p', {class: 'muted'}, 'Submitting…'));
    try {
      const job = await api('train', {method: 'POST', body});
      location.hash = `#/jobs/${encodeURIComponent(job.job_id ?? job.id)}`;
    } catch (err) {
      // The server names the field it refuses; a refused parent is said next to the parent field.
      if (/parent_model_id/.test(err.message)) {
        status.replaceChildren();
        parentError.textContent = uiMessage(err.message);
        parentInput.setAttribute('aria-invalid', 'true');
        parentInput.focus();
      } else status.replaceChildren(errorBox(err));
      submit.disabled = false;
    }
  });

  view.replaceChildren(h('h1', {}, 'Train a model'), cloneNote, form);
  const from = params.get('from');
  if (from) {
    try {
      const m = await api(`models/${encodeURIComponent(from)}`);
      prefillFrom(form, m);
      updateDefaultGrid();
      cloneNote.replaceChildren(h('p', {class: 'note'}, 'Filled from model ', h('a', {href: `#/models/${m.id}`, class: 'mono'}, shortId(m.id)),
        ': its request with its hyperparameters as fixed values. Started unchanged, it gives back that model; change what you want to try.'));
    } catch (err) {
      cloneNote.replaceChildren(errorBox(err), h('p', {class: 'muted'}, 'The form below starts blank.'));
    }
  }
  api('symbols').then((symbols) => {
    const list = Array.isArray(symbols) ? symbols : symbols?.items || [];
    datalist.replaceChildren(...list.map((s) => h('option', {value: s.symbol},
      `${s.first_date ?? ''} – ${s.last_date ?? ''} (${s.days ?? '-'} days)`)));
  }).catch(() => { /* the datalist is a convenience */ });
}
