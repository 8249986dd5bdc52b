// Exploring a cohort as optuna-dashboard shows a study: parallel coordinates over the varied
// hyperparameters coloured by score, parameter importance (fANOVA, computed by the server), the score
// against each parameter (slices) and the score history with its running best. One request:
// GET /cohorts/{id}/explore (the cohort modal's, with ?selection=true, brings its statistics too).

import {api} from './api.js';
import {lineChart, PALETTE, s} from './charts.js';
import {empty, errorBox, h, num, shortId} from './util.js';

// Viridis at five stops: low scores dark purple, high scores yellow (readable for colour-blind users).
const VIRIDIS = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'];
const NO_SCORE = '#9ca3af';
const FALLBACK = '#111827';

function mix(a, b, t) {
  const p = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  const [x, y] = [p(a), p(b)];
  return `#${x.map((v, i) => Math.round(v + (y[i] - v) * t).toString(16).padStart(2, '0')).join('')}`;
}

/** The colour of a score in [lo, hi] (grey when it has none). */
export function scoreColor(v, lo, hi) {
  if (!Number.isFinite(v)) return NO_SCORE;
  const t = hi > lo ? Math.min(Math.max((v - lo) / (hi - lo), 0), 1) : 1;
  const at = t * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(at), VIRIDIS.length - 2);
  return mix(VIRIDIS[i], VIRIDIS[i + 1], at - i);
}

const label = (v) => (v === null || v === undefined ? 'null' : typeof v === 'boolean' ? String(v) : String(v));

/** Position in [0, 1] of a value on an axis: log or linear numbers, or its category's rank. */
function position(axis, v) {
  const vals = axis.values;
  if (axis.kind === 'categorical') {
    const i = vals.findIndex((c) => label(c) === label(v));
    return vals.length > 1 ? i / (vals.length - 1) : 0.5;
  }
  const f = axis.kind === 'log' ? Math.log10 : (x) => x;
  const [lo, hi] = [f(Number(vals[0])), f(Number(vals[vals.length - 1]))];
  return hi > lo ? (f(Number(v)) - lo) / (hi - lo) : 0.5;
}

function fmtValue(v) {
  return typeof v === 'number' ? num(v, 3) : label(v);
}

/** The range of the scores (of the siblings that fitted what they asked for, unless all=true). */
function scoreRange(trials, all = false) {
  const scores = trials.filter((t) => all || !t.fallback).map((t) => t.score).filter(Number.isFinite);
  return scores.length ? [Math.min(...scores), Math.max(...scores)] : [0, 1];
}

/** One vertical axis per varied hyperparameter and one for the score; one polyline per sibling. */
function parallelCoordinates(data, currentId) {
  const axes = [...data.axes, {name: data.score_label, kind: 'score'}];
  const [lo, hi] = scoreRange(data.trials, true); // the score axis: every sibling where it scored
  const [clo, chi] = scoreRange(data.trials); // the colours: a fallback's score is another model's
  const width = Math.max(520, 170 * axes.length);
  const height = 300;
  const m = {l: 50, r: 60, t: 34, b: 44};
  const x = (i) => m.l + (axes.length > 1 ? (i * (width - m.l - m.r)) / (axes.length - 1) : 0);
  const y = (p) => m.t + (1 - p) * (height - m.t - m.b);
  const pos = (axis, t) => (axis.kind === 'score' ? (hi > lo ? (t.score - lo) / (hi - lo) : 0.5) : position(axis, t.params[axis.name]));
  const el = s('svg', {viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'chart pc',
    'aria-label': `Parallel coordinates: one line per sibling over its hyperparameters, coloured by ${data.score_label}`,
    'data-testid': 'parallel-coords'}, s('title', {}, `Parallel coordinates coloured by ${data.score_label}`));
  const lines = s('g', {class: 'pc-lines'});
  // Best last, so the best lines are drawn on top.
  const ordered = [...data.trials].sort((a, b) => (Number.isFinite(a.score) ? a.score : -Infinity) - (Number.isFinite(b.score) ? b.score : -Infinity));
  for (const t of ordered) {
    const pts = axes.map((a, i) => (a.kind === 'score' && !Number.isFinite(t.score) ? null : [x(i), y(pos(a, t))])).filter(Boolean);
    const d = pts.map(([px, py], j) => `${j ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`).join('');
    const desc = `${trialName(t)}: ${data.axes.map((a) => `${a.name}=${fmtValue(t.params[a.name])}`).join(', ')}`
      + ` → ${num(t.score)}${t.fallback ? ` (${t.fallback} fitted)` : ''}`;
    const path = s('path', {d, stroke: t.fallback ? FALLBACK : scoreColor(t.score, clo, chi),
      class: `pc-line${t.model_id && t.model_id === currentId ? ' current' : ''}${t.fallback ? ' fallback' : ''}${t.model_id ? '' : ' unsaved'}`,
      'data-model-id': t.model_id || null, 'data-testid': 'pc-line'}, s('title', {}, desc));
    // A registered sibling's line opens its model; a configuration the search only scored has none to open.
    lines.append(t.model_id ? s('a', {href: `#/models/${t.model_id}`, 'data-close-link': 'true', class: 'pc-link'}, path) : path);
  }
  el.append(lines);
  axes.forEach((a, i) => {
    const g = s('g', {class: 'pc-axis', 'data-testid': a.kind === 'score' ? 'pc-score-axis' : 'pc-axis', 'data-param': a.kind === 'score' ? null : a.name});
    g.append(s('line', {x1: x(i), x2: x(i), y1: y(0), y2: y(1), class: 'axisline'}));
    const anchor = i === 0 ? 'start' : i === axes.length - 1 ? 'end' : 'middle';
    g.append(s('text', {x: x(i), y: 14, class: 'axis label', 'text-anchor': anchor},
      a.kind === 'score' ? `cv ${data.metric} ↑` : a.name + (a.kind === 'log' ? ' (log)' : '')));
    const ticks = a.kind === 'score' ? [[lo, 0], [hi, 1]] : a.values.length <= 8
      ? a.values.map((v) => [v, position(a, v)]) : [[a.values[0], 0], [a.values[a.values.length - 1], 1]];
    for (const [v, p] of ticks) {
      g.append(s('text', {x: x(i) + (i === axes.length - 1 ? -5 : 5), y: y(p) + 3, class: 'axis',
        'text-anchor': i === axes.length - 1 ? 'end' : 'start'}, fmtValue(v)));
    }
    el.append(g);
  });
  // The colour scale under the chart.
  const gid = `pc-grad-${Math.random().toString(36).slice(2, 8)}`;
  el.append(s('defs', {}, s('linearGradient', {id: gid}, VIRIDIS.map((c, i) => s('stop', {offset: `${(100 * i) / (VIRIDIS.length - 1)}%`, 'stop-color': c})))),
    s('rect', {x: m.l, y: height - 22, width: 160, height: 8, fill: `url(#${gid})`}),
    s('text', {x: m.l, y: height - 4, class: 'axis'}, num(clo, 3)),
    s('text', {x: m.l + 160, y: height - 4, class: 'axis', 'text-anchor': 'end'}, num(chi, 3)),
    s('text', {x: m.l + 168, y: height - 14, class: 'axis'}, data.score_label),
    data.trials.some((t) => t.fallback) ? s('text', {x: m.l + 168, y: height - 2, class: 'axis'}, 'dashed black: fitted a fallback') : null);
  // Hover highlights a line (and dims the others); the link opens its model.
  el.addEventListener('mouseover', (ev) => {
    const line = ev.target.closest?.('.pc-line');
    el.classList.toggle('has-hl', Boolean(line));
    el.querySelectorAll('.pc-line.hl').forEach((p) => p.classList.remove('hl'));
    if (line) line.classList.add('hl');
  });
  el.addEventListener('mouseleave', () => {
    el.classList.remove('has-hl');
    el.querySelectorAll('.pc-line.hl').forEach((p) => p.classList.remove('hl'));
  });
  return h('div', {class: 'pc-wrap'}, el);
}

function importanceList(imp) {
  if (!imp.items?.length) {
    return h('p', {class: 'note', 'data-testid': 'param-importance-note'}, imp.note || 'not enough variation');
  }
  return h('ol', {class: 'importance', 'data-testid': 'param-importance', title: imp.method},
    imp.items.map((it) => h('li', {'data-param': it.name},
      h('span', {class: 'imp-name'}, it.name),
      h('span', {class: 'imp-bar'}, h('span', {style: `width:${Math.max(0, Math.min(1, it.importance)) * 100}%`})),
      h('span', {class: 'imp-value num'}, `${num(it.importance * 100, 3)}%`))));
}

/** A trial's name: its model's short id, or its fingerprint's when the search scored it without saving it. */
function trialName(t) {
  return t.model_id ? shortId(t.model_id) : `${shortId(t.fingerprint)}, not saved`;
}

/** Score against one parameter: a scatter on the parameter's own scale (categories in their order). */
function slice(data, axis) {
  const cat = axis.kind === 'categorical';
  const point = (t) => ({
    x: cat ? axis.values.findIndex((c) => label(c) === label(t.params[axis.name])) : Number(t.params[axis.name]),
    y: t.score, label: `${axis.name}=${fmtValue(t.params[axis.name])} (${trialName(t)})`});
  const scored = data.trials.filter((t) => Number.isFinite(t.score));
  const [lo, hi] = scoreRange(data.trials);
  const own = scored.filter((t) => !t.fallback).map(point);
  const fallbacks = scored.filter((t) => t.fallback).map(point);
  const series = [{name: `cv ${data.metric}`, points: own, line: false, color: PALETTE[0]}];
  if (fallbacks.length) series.push({name: 'fitted a fallback', points: fallbacks, line: false, color: FALLBACK});
  const chart = lineChart({series, label: `${data.score_label} against ${axis.name}`, testid: `slice-${axis.name}`,
    xLabel: axis.name, yLabel: `cv ${data.metric} ↑`, logX: axis.kind === 'log', width: 360, height: 240,
    xFormat: cat ? (i) => label(axis.values[i]) : undefined});
  // Dots take the parallel coordinates' colours, so a sibling is the same colour everywhere.
  chart.querySelectorAll('g.dots')[0]?.querySelectorAll('circle').forEach((c, i) => c.setAttribute('fill', scoreColor(own[i]?.y, lo, hi)));
  return h('figure', {class: 'figure', 'data-testid': 'slice'}, chart, h('figcaption', {}, `${data.score_label} against ${axis.name}`));
}

function history(data) {
  const hist = data.history;
  const pts = hist.points.filter((p) => Number.isFinite(p.score));
  if (!pts.length) return empty('No scored sibling: no history.');
  const fallback = new Set(data.trials.filter((t) => t.fallback).map((t) => t.model_id));
  const dot = (p) => ({x: p.n, y: p.score, label: `#${p.n} ${trialName(p)}`});
  const series = [
    {name: `cv ${data.metric}`, points: pts.filter((p) => !fallback.has(p.model_id)).map(dot), line: false, color: PALETTE[0]},
    {name: 'best so far', points: pts.map((p) => ({x: p.n, y: p.best})), dots: false, color: PALETTE[1]},
  ];
  if (fallback.size) {
    series.push({name: 'fitted a fallback', points: pts.filter((p) => fallback.has(p.model_id)).map(dot), line: false, color: FALLBACK});
  }
  const xName = hist.order === 'grid' ? 'grid position' : ['trial', 'scored'].includes(hist.order) ? 'trial' : 'registration';
  return h('figure', {class: 'figure'},
    lineChart({series, label: `History: ${data.score_label} by ${xName} with the running best`, testid: 'history',
      xLabel: xName, yLabel: `cv ${data.metric} ↑`, xTicks: Math.min(pts.length, 8), xFormat: (v) => String(Math.round(v))}),
    h('figcaption', {'data-testid': 'history-order'}, `History by ${hist.label}.`));
}

/** Start fetching a cohort's explore view (with its selection statistics when selection): a promise
 * of the data, or of {error} (it never rejects). */
export function fetchExplore(cohortId, {selection = false} = {}) {
  const query = selection ? '?selection=true' : '';
  return api(`cohorts/${encodeURIComponent(cohortId)}/explore${query}`).catch((error) => ({error}));
}

/** The explore sections into container (replacing its content), from a fetchExplore promise. */
export async function renderExplore(container, exploring, currentId = null) {
  container.replaceChildren(h('p', {class: 'muted'}, 'Loading the explore view…'));
  const data = await exploring;
  if (data.error) {
    container.replaceChildren(errorBox(data.error));
    return;
  }
  const fixed = Object.entries(data.fixed || {});
  container.replaceChildren(...[
    h('h3', {}, 'Explore'),
    h('p', {class: 'muted', 'data-testid': 'explore-score'},
      `Score: ${data.score_label}, the cohort's selection score.`,
      fixed.length ? ` Same in every sibling: ${fixed.map(([k, v]) => `${k}=${fmtValue(v)}`).join(', ')}.` : ''),
    data.n_unregistered ? h('p', {class: 'muted', 'data-testid': 'explore-counts'},
      `${data.n_registered} registered model(s) and ${data.n_unregistered} configuration(s) the searches scored without saving (thin lines: nothing to open).`,
      ...(data.notes || []).map((n) => ` ${n}.`)) : null,
    data.axes.length
      ? h('figure', {class: 'figure'}, parallelCoordinates(data, currentId),
        h('figcaption', {}, `Parallel coordinates: one line per configuration, coloured by ${data.score_label}; hover a line to pick it out, click a registered one to open its model.`))
      : empty('No hyperparameter differs between the siblings.'),
    h('h4', {}, 'Parameter importance'),
    importanceList(data.importance),
    data.importance.left_out ? h('p', {class: 'note', 'data-testid': 'param-importance-left-out'}, data.importance.left_out) : null,
    h('p', {class: 'muted small'}, data.importance.method, data.importance.sampled ? `, ${data.importance.sampled}` : ''),
    data.axes.length ? h('h4', {}, 'Score against each parameter') : null,
    data.axes.length ? h('div', {class: 'charts', 'data-testid': 'slices'}, data.axes.map((a) => slice(data, a))) : null,
    h('h4', {}, 'History'),
    history(data),
  ].filter(Boolean));
}
