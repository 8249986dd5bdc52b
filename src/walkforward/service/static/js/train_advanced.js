// The train form's "Advanced" section: every option of the request (walkforward.request.SearchRequest, which
// the CLI's options come from too) that the form's first lines leave out, grouped, with the request's defaults;
// and the filling of the whole form from a registered model ("Clone into form").

import {h} from './util.js';

const VALIDATIONS = ['walk_forward', 'expanding', 'holdout'];

// Each field: name (the request's), label, kind (text, number, date, select, check, json, list), default, hint.
export const GROUPS = [
  {title: 'Data and folds', fields: [
    {name: 'start', label: 'First date', kind: 'date', hint: 'blank: the first stored day'},
    {name: 'end', label: 'Last date', kind: 'date', hint: 'blank: the last stored day'},
    {name: 'target_col', label: 'Target column', kind: 'text', def: 'close'},
    {name: 'data_options', label: 'Feature-set version', kind: 'text', hint: 'blank: the current one'},
    {name: 'validation', label: 'Validation', kind: 'select', options: VALIDATIONS, def: 'walk_forward'},
    {name: 'embargo', label: 'Embargo (bars)', kind: 'number', min: 0, hint: 'blank: none where the scheme needs none'},
    {name: 'strict_embargo', label: 'strict embargo: drop the longest feature lookback after every test block', kind: 'check', def: false},
  ]},
  {title: 'Features and model', fields: [
    {name: 'feature_whitelist', label: 'Feature whitelist', kind: 'list', hint: 'comma-separated names; blank: every feature (or the parent’s)'},
    {name: 'hyperparameters', label: 'Hyperparameters (JSON, fixed values)', kind: 'json', placeholder: '{"alpha": 0.01, "l1_ratio": 0.5}'},
    {name: 'early_stopping_rounds', label: 'Early stopping rounds', kind: 'number', min: 1, hint: 'boosters only; blank: off'},
    {name: 'cluster_threshold', label: 'Cluster features at distance', kind: 'number', min: 0, max: 1, step: 'any',
      hint: 'one feature per correlation cluster (1-|ρ| cut, e.g. 0.3), learned per fold; blank: off'},
  ]},
  {title: 'Search', fields: [
    {name: 'n_trials', label: 'Trials (optuna)', kind: 'number', min: 1, def: 40},
    {name: 'budget', label: 'Budget', kind: 'text', hint: 'wall time (90s, 10m, 2h) or fits (500fits); blank: none'},
    {name: 'auto_threshold', label: 'auto: halving above (combinations)', kind: 'number', min: 1, def: 500},
    {name: 'max_configs', label: 'halving: first-rung configurations', kind: 'number', min: 1, def: 729},
  ]},
  {title: 'Trading evaluation', fields: [
    {name: 'cost_bps', label: 'Cost (bps per turnover)', kind: 'number', min: 0, step: 'any', def: 1},
    {name: 'slippage_bps', label: 'Slippage (bps per turnover)', kind: 'number', min: 0, step: 'any', def: 1},
    {name: 'execution_lag', label: 'Execution lag (bars)', kind: 'number', min: 0, def: 1},
    {name: 'dead_band', label: 'Dead band', kind: 'number', min: 0, max: 1, step: 'any', def: 0},
    {name: 'probability_threshold', label: 'Probability threshold (classifiers)', kind: 'number', min: 0, max: 1, step: 'any', def: 0.5},
    {name: 'long_only', label: 'long only (flat instead of short)', kind: 'check', def: false},
  ]},
];

const FIELDS = GROUPS.flatMap((g) => g.fields);

function control(f) {
  const attrs = {id: f.name, name: f.name, 'data-testid': `train-${f.name}`};
  if (f.kind === 'check') return h('input', {...attrs, type: 'checkbox', checked: f.def === true});
  if (f.kind === 'select') return h('select', attrs, f.options.map((o) => h('option', {value: o, selected: o === f.def}, o)));
  if (f.kind === 'json' || f.kind === 'list') return h('textarea', {...attrs, rows: 2, class: 'mono', placeholder: f.placeholder || ''});
  const type = f.kind === 'number' ? 'number' : f.kind === 'date' ? 'date' : 'text';
  return h('input', {...attrs, type, min: f.min, max: f.max, step: f.kind === 'number' ? f.step || 1 : null,
    value: f.def ?? null, placeholder: f.placeholder || null, autocomplete: 'off'});
}

/** The "Advanced" section (closed), with an error line for the JSON field. */
export function advancedSection() {
  return h('details', {class: 'advanced', 'data-testid': 'train-advanced'},
    h('summary', {}, 'Advanced: dates, validation, embargo, whitelist, fixed hyperparameters, search limits, costs'),
    GROUPS.map((g) => [h('h3', {}, g.title), h('div', {class: 'form-grid'}, g.fields.map((f) => f.kind === 'check'
      ? h('div', {class: 'field checks'}, h('label', {}, control(f), ' ', f.label))
      : h('div', {class: f.kind === 'json' || f.kind === 'list' ? 'field wide' : 'field'}, h('label', {for: f.name}, f.label), control(f),
        f.hint ? h('small', {class: 'muted'}, f.hint) : null)))]),
    h('div', {class: 'field-error', 'data-testid': 'advanced-error', 'aria-live': 'polite'}));
}

/** The advanced fields' values for the request body, or {error} naming the field to fix. */
export function advancedValues(form) {
  const out = {};
  for (const f of FIELDS) {
    const el = form.elements.namedItem(f.name);
    if (!el) continue;
    if (f.kind === 'check') { out[f.name] = el.checked; continue; }
    const raw = String(el.value ?? '').trim();
    if (f.kind === 'json') {
      if (!raw) { out[f.name] = {}; continue; }
      try {
        const v = JSON.parse(raw);
        if (v === null || typeof v !== 'object' || Array.isArray(v)) return {error: `${f.label} must be a JSON object, e.g. {"alpha": 0.01}`};
        out[f.name] = v;
      } catch (err) {
        return {error: `${f.label} is not valid JSON: ${err.message}`};
      }
    } else if (f.kind === 'list') out[f.name] = raw ? raw.split(/[\s,]+/).filter(Boolean) : null;
    else if (f.kind === 'number') out[f.name] = raw === '' ? (f.def ?? null) : Number(raw);
    else out[f.name] = raw === '' ? (f.def ?? null) : raw;
  }
  return {value: out};
}

function setValue(el, value) {
  if (el.type === 'checkbox') el.checked = Boolean(value);
  else if (Array.isArray(value)) el.value = value.join(', ');
  else if (value !== null && typeof value === 'object') el.value = Object.keys(value).length ? JSON.stringify(value) : '';
  else el.value = value ?? '';
}

/**
 * Fill the form from a registered model: its request (what was asked) with its hyperparameters as fixed values
 * and no search, so that starting it unchanged trains that very model (the registry then returns it as is).
 */
export function prefillFrom(form, m) {
  const req = {...(m.request || {}), hyperparameters: m.hyperparameters || {}, search: 'none', grids: ''};
  if (!req.symbol) req.symbol = (m.symbols?.length ? m.symbols : [m.symbol]).join(',');
  for (const [name, value] of Object.entries(req)) {
    const el = form.elements.namedItem(name);
    if (el && typeof el.value === 'string') setValue(el, value);
  }
  const differs = FIELDS.some((f) => {
    const v = req[f.name];
    if (v === undefined || v === null || v === '') return false;
    if (typeof v === 'object') return Object.keys(v).length > 0;
    return f.def === undefined || v !== f.def;
  });
  if (differs) form.querySelector('details.advanced').open = true;
}
