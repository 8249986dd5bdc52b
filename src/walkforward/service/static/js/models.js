// The models table: server-side sorting, filters and pagination (only one page is ever fetched).

import {api, query} from './api.js';
import {openCohort} from './cohort.js';
import {decorateModels, initSelection, selectionParam} from './compare.js';
import {tagChips} from './manage.js';
import {pct} from './money.js';
import {columnsFrom, columnsMenu, colsParam, metricColumns, showWhereError, whereField} from './table_columns.js';
import {dateTime, empty, errorBox, h, num, scoreName, shortId, text} from './util.js';

let algorithmsPromise = null;
/** The sort button to focus once the next page is drawn (a keyboard user sorting stays on the header). */
let focusSort = null;
/** The algorithms the server knows (GET /algorithms), fetched once per page load. */
export function algorithms() {
  algorithmsPromise = algorithmsPromise || api('algorithms').catch((err) => { algorithmsPromise = null; throw err; });
  return algorithmsPromise;
}
const FILTERS = ['symbol', 'task', 'algorithm', 'cohort_id', 'parent_model_id', 'tag', 'where'];
const TASKS = ['regression', 'classification'];
const PAGE_SIZES = [25, 50, 100, 200];

/** The table's state from the route's query, with defaults. */
function stateFrom(params) {
  return {
    symbol: params.get('symbol') || '',
    algorithm: params.get('algorithm') || '',
    task: TASKS.includes(params.get('task')) ? params.get('task') : '',
    cohort_id: params.get('cohort_id') || '',
    parent_model_id: params.get('parent_model_id') || '',
    tag: params.get('tag') || '',
    where: params.get('where') || '',
    primary_only: params.get('primary_only') === 'true' ? 'true' : '',
    cols: columnsFrom(params),
    sort: params.get('sort') || 'created_at',
    descending: params.get('descending') !== 'false',
    limit: Math.min(Math.max(Math.trunc(Number(params.get('limit'))) || 50, 1), 200),
    offset: Math.max(Number(params.get('offset')) || 0, 0),
  };
}

function hrefFor(state) {
  const q = {...state, descending: state.descending ? null : 'false', cols: colsParam(state.cols), sel: selectionParam()};
  if (q.sort === 'created_at') delete q.sort;
  if (q.limit === 50) delete q.limit;
  if (!q.offset) delete q.offset;
  return `#/models${query(q)}`;
}

function cohortBadge(m) {
  if (!m.cohort_id) return '-';
  return h('button', {
    type: 'button', class: 'badge cohort', 'data-testid': 'cohort-badge', 'data-cohort-id': m.cohort_id,
    title: `cohort ${m.cohort_id}, rank ${m.cohort_rank ?? '-'}: show siblings`,
    onclick: () => openCohort(m.cohort_id, m.id),
  }, `${shortId(m.cohort_id, 6)}#${m.cohort_rank ?? '-'}`);
}

/** Flash the parent's row when it is on this page, else open the parent's page. */
export function goToParent(parentId) {
  const row = document.querySelector(`tr[data-model-id="${CSS.escape(parentId)}"]`);
  if (!row) {
    location.hash = `#/models/${encodeURIComponent(parentId)}`;
    return;
  }
  row.scrollIntoView({block: 'center', behavior: 'smooth'});
  row.classList.remove('flash');
  void row.offsetWidth; // restart the animation
  row.classList.add('flash');
  clearTimeout(row.flashTimer);
  row.flashTimer = setTimeout(() => row.classList.remove('flash'), 1500);
}

function parentBadge(m) {
  if (!m.parent_model_id) return '-';
  return h('button', {
    type: 'button', class: 'badge parent', 'data-testid': 'parent-badge', 'data-parent-id': m.parent_model_id,
    title: `parent ${m.parent_model_id}`, onclick: () => goToParent(m.parent_model_id),
  }, `↑ ${shortId(m.parent_model_id, 6)}`);
}

/** The columns; a row's tag chips filter this table by their tag (other filters kept, first page). */
const columnsFor = (state) => [
  {label: 'id', value: (m) => h('span', {}, h('a', {href: `#/models/${m.id}`, class: 'mono'}, shortId(m.id)), ' ',
    tagChips(m.tags, (tag) => hrefFor({...state, tag, offset: 0})))},
  {label: 'created', sort: 'created_at', value: (m) => dateTime(m.created_at)},
  {label: 'symbols', sort: 'symbol', value: (m) => text(m.symbols?.length ? m.symbols : m.symbol)},
  {label: 'algorithm', sort: 'algorithm', value: (m) => text(m.algorithm)},
  {label: 'timeframe', value: (m) => text(m.timeframe)},
  {label: 'score', sort: 'cv_score', className: 'num',
    value: (m) => h('span', {}, num(m.cv_score), ' ', h('small', {class: 'muted'}, scoreName(m)))},
  {metrics: true}, // the metric columns the user picked (table_columns.js)
  {label: 'features', className: 'num', value: (m) => text(m.features)},
  {label: 'cohort', sort: 'cohort_rank', value: cohortBadge},
  {label: 'parent', value: parentBadge},
];

/** The table's columns with the picked metric columns in place of the marker. */
function columnsOf(state) {
  return columnsFor(state).flatMap((c) => (c.metrics ? metricColumns(state.cols) : [c]));
}

function header(state, columns) {
  return h('tr', {}, columns.map((c) => {
    if (!c.sort) return h('th', {scope: 'col', class: c.className, title: c.title}, c.label);
    const active = state.sort === c.sort;
    const next = {...state, sort: c.sort, offset: 0, descending: active ? !state.descending : !c.ascendingFirst && c.sort !== 'algorithm' && c.sort !== 'symbol' && c.sort !== 'cohort_rank'};
    return h('th', {scope: 'col', class: c.className, title: c.title, 'aria-sort': active ? (state.descending ? 'descending' : 'ascending') : null},
      h('button', {type: 'button', class: 'sort', 'data-sort': c.sort, 'data-testid': `sort-${c.sort.replace('metrics.', '')}`,
        onclick: () => { focusSort = c.sort; location.hash = hrefFor(next); }},
      c.label, active ? (state.descending ? ' ▼' : ' ▲') : ''));
  }));
}

function filters(state, names) {
  const field = (name, label, input) => h('div', {class: 'field'}, h('label', {for: `f-${name}`}, label), input);
  const form = h('form', {class: 'filters', 'data-testid': 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const next = {...state, offset: 0};
    for (const k of FILTERS) next[k] = String(data.get(k) || '').trim();
    next.primary_only = data.get('primary_only') ? 'true' : '';
    location.hash = hrefFor(next);
  }},
  field('symbol', 'Symbol', h('input', {id: 'f-symbol', name: 'symbol', value: state.symbol, placeholder: 'AAPL',
    title: 'any symbol the model was trained on, primary or context'})),
  h('label', {class: 'field inline-check', title: 'match the symbol against the primary symbol only'},
    h('input', {type: 'checkbox', name: 'primary_only', checked: state.primary_only === 'true', 'data-testid': 'primary-only'}),
    ' primary only'),
  field('task', 'Task', h('select', {id: 'f-task', name: 'task', 'data-testid': 'task-filter',
    onchange: () => form.requestSubmit()},
  h('option', {value: ''}, 'any'), TASKS.map((t) => h('option', {value: t, selected: t === state.task}, t)))),
  field('algorithm', 'Algorithm', h('select', {id: 'f-algorithm', name: 'algorithm'},
    h('option', {value: ''}, 'any'),
    names.map((a) => h('option', {value: a, selected: a === state.algorithm}, a)))),
  field('cohort_id', 'Cohort', h('input', {id: 'f-cohort_id', name: 'cohort_id', value: state.cohort_id, class: 'mono'})),
  field('parent_model_id', 'Parent', h('input', {id: 'f-parent_model_id', name: 'parent_model_id', value: state.parent_model_id, class: 'mono'})),
  field('tag', 'Tag', h('input', {id: 'f-tag', name: 'tag', value: state.tag, class: 'mono', placeholder: 'baseline',
    'data-testid': 'tag-filter', autocomplete: 'off', spellcheck: 'false', title: 'models tagged with this (any case); click a tag to set it'})),
  whereField(state.where),
  h('div', {class: 'field buttons'},
    h('button', {type: 'submit', 'data-testid': 'filter-apply'}, 'Filter'),
    h('button', {type: 'button', class: 'ghost', onclick: () => { location.hash = hrefFor({...stateFrom(new URLSearchParams()), cols: state.cols}); }}, 'Clear')),
  columnsMenu(state.cols, (cols) => { location.hash = hrefFor({...state, cols}); }));
  return form;
}

function pager(state, total) {
  const past = total > 0 && state.offset >= total; // an offset beyond the last model (an old link, a hand-edited URL)
  const from = total && !past ? state.offset + 1 : 0;
  const to = past ? 0 : Math.min(state.offset + state.limit, total);
  const go = (offset) => () => { location.hash = hrefFor({...state, offset}); };
  const sizes = [...new Set([...PAGE_SIZES, state.limit])].sort((a, b) => a - b);
  return h('div', {class: 'pager', 'data-testid': 'pager'},
    h('button', {type: 'button', class: 'ghost', disabled: state.offset <= 0, onclick: go(Math.max(state.offset - state.limit, 0))}, '‹ Prev'),
    h('span', {'data-testid': 'page-info'}, past ? `past the last of ${total}` : `${from}–${to} of ${total}`),
    past ? h('button', {type: 'button', class: 'ghost', 'data-testid': 'first-page', onclick: go(0)}, 'First page') : null,
    h('button', {type: 'button', class: 'ghost', disabled: to >= total, onclick: go(state.offset + state.limit), 'data-testid': 'next-page'}, 'Next ›'),
    h('label', {for: 'page-size'}, 'per page'),
    h('select', {id: 'page-size', onchange: (ev) => { location.hash = hrefFor({...state, limit: Number(ev.target.value), offset: 0}); }},
      sizes.map((n) => h('option', {value: n, selected: n === state.limit}, n))));
}

export async function renderModels(view, params) {
  const state = stateFrom(params);
  initSelection(params);
  // Columns remembered in this browser but absent from the link: put them in the URL (no new navigation).
  if (!params.has('cols') && colsParam(state.cols)) history.replaceState(null, '', hrefFor(state));
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  // The page and the algorithm names are asked for at once (the names are cached after the first time).
  const pending = api(`models${query({
    symbol: state.symbol, primary_only: state.primary_only, algorithm: state.algorithm, task: state.task,
    cohort_id: state.cohort_id, parent_model_id: state.parent_model_id, tag: state.tag, where: state.where, sort: state.sort,
    descending: String(state.descending), limit: state.limit, offset: state.offset,
  })}`);
  pending.catch(() => {}); // handled below, once the filters are drawn
  let names = [];
  try { names = (await algorithms()).map((a) => a.name); } catch { /* the filter then offers "any" only */ }
  view.replaceChildren(h('h1', {}, 'Models'), filters(state, names), body);
  let page;
  try {
    page = await pending;
  } catch (err) {
    body.replaceChildren(showWhereError(view, err) ? empty('Fix the metric filter above.')
      : h('div', {}, errorBox(err), h('p', {}, h('a', {href: '#/models', 'data-testid': 'clear-filters'}, 'Show all models'))));
    return;
  }
  const columns = columnsOf(state);
  const items = page?.items || [];
  const total = page?.total ?? items.length;
  const rows = items.map((m) => h('tr', {'data-model-id': m.id, 'data-testid': 'model-row'},
    columns.map((c) => { const v = c.value(m); return h('td', {class: c.className}, v instanceof Node ? v : text(v)); })));
  body.replaceChildren(...[
    state.sort === 'cv_score' && !state.task && new Set(items.map(scoreName)).size > 1
      ? h('p', {class: 'note', 'data-testid': 'mixed-score-note'},
        'This page mixes R² (regressors) and accuracy (classifiers), which do not compare: choose a task to sort by score.')
      : null,
    h('div', {class: 'table-wrap'}, h('table', {class: 'grid', 'data-testid': 'models-table'},
      h('thead', {}, header(state, columns)), h('tbody', {}, rows))),
    items.length ? null : empty(total ? 'No models on this page.' : 'No models match.', ' ',
      h('a', {href: '#/models', 'data-testid': 'clear-filters'}, 'Show all models'), ' · ',
      h('a', {href: '#/train'}, 'Train one')),
    pager(state, total)].filter(Boolean));
  decorateModels(body);
  if (focusSort) body.querySelector(`button.sort[data-sort="${CSS.escape(focusSort)}"]`)?.focus();
  focusSort = null;
}
