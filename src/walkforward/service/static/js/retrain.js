// The model page's "Retraining" panel: what a retrained model was trained on, a Retrain button (a job,
// followed here), and a simulation of a retraining schedule (frozen vs refitted every N sessions, same
// rows, same costs).

import {api} from './api.js';
import {TERMINAL, followJob, progress} from './jobs.js';
import {DASH, errorBox, h, num, section, shortId, table, text} from './util.js';

function pct(v) {
  return v === null || v === undefined ? DASH : `${(100 * Number(v)).toFixed(3)}%`;
}

/** Where a retrained model came from and which rows it used (nothing for a model trained from scratch). */
function origin(m) {
  const from = m.derived?.retrained_from;
  const info = m.derived?.retrain || {};
  if (!from) return null;
  return h('div', {'data-testid': 'retrained-from'},
    h('p', {}, 'Retrained from ', h('a', {href: `#/models/${from}`, class: 'badge parent mono'}, `↻ ${shortId(from)}`),
      ` on ${text(info.rows)} (${text(info.rows_used)} rows, data end ${text(info.data_end)}).`),
    h('p', {class: 'muted'}, `Metrics: ${text(info.metrics)}.`));
}

function jobLink(id, testid = 'retrain-job') {
  return h('a', {href: `#/jobs/${id}`, class: 'mono', 'data-testid': testid}, `job ${shortId(id)}`);
}

/** A running job's line: status, progress done/total, its link and its last log line. */
function running(job, doing = 'Retraining on the data up to now', testid = 'retrain-job') {
  const last = job.log?.length ? job.log[job.log.length - 1].replace(/^\d\d:\d\d:\d\d /, '') : '';
  return h('p', {class: 'muted', 'data-testid': `${testid.split('-')[0]}-progress`, 'data-status': job.status},
    `${doing} (${job.status}) `, progress(job), ' ', jobLink(job.id, testid), last ? ` · ${last}` : '');
}

/** POST the retrain (a job: 202 with its id), then follow the job on this page until it ends. */
async function retrain(m, out, button) {
  button.disabled = true;
  out.replaceChildren(h('p', {class: 'muted'}, 'Submitting the retrain…'));
  try {
    const queued = await api(`models/${encodeURIComponent(m.id)}/retrain`, {method: 'POST', body: {}});
    const job = await followJob(queued.job_id, {
      alive: () => out.isConnected,  // the page was left: stop polling (the job goes on; #/jobs has it)
      onUpdate: (j) => { if (!TERMINAL.has(j.status)) out.replaceChildren(running(j)); },
    });
    if (!job) return;
    const done = job.result;
    if (job.status === 'done' && done) {
      out.replaceChildren(h('p', {'data-testid': 'retrain-result'}, done.message, ' ',
        h('a', {href: `#/models/${done.model_id}`, class: 'mono', 'data-testid': 'retrain-child'}, `→ ${shortId(done.model_id)}`),
        ' ', h('small', {class: 'muted'}, '(', jobLink(job.id), ')')));
    } else {
      out.replaceChildren(errorBox(job.error || `the retrain job ended ${job.status}`),
        h('p', {}, jobLink(job.id), ` ended ${job.status}: its page can resume it.`));
    }
  } catch (err) {
    out.replaceChildren(errorBox(err));
  } finally {
    button.disabled = false;
  }
}

function scheduleTable(r) {
  const rows = ['frozen', 'retrained'].map((arm) => ({arm, ...r[arm]}));
  const d = r.difference || {};
  return [
    h('div', {class: 'table-wrap'}, table([
      {label: 'arm', value: (x) => x.arm},
      {label: 'net return', className: 'num', value: (x) => pct(x.net_return)},
      {label: 'annual net', className: 'num', value: (x) => pct(x.net_annual_return)},
      {label: 'Sharpe', className: 'num', value: (x) => num(x.sharpe)},
      {label: 'max drawdown', className: 'num', value: (x) => pct(x.max_drawdown)},
      {label: 'sessions', className: 'num', value: (x) => text(x.sessions)},
    ], rows, {attrs: {class: 'grid', 'data-testid': 'schedule-table'}})),
    h('p', {'data-testid': 'schedule-difference'}, `Retrained − frozen: ${pct(d.mean_daily)} a day`,
      d.ci95 ? `, 95% CI [${pct(d.ci95[0])}, ${pct(d.ci95[1])}]` : '', d.p_value !== null && d.p_value !== undefined ? `, p = ${num(d.p_value, 3)}` : '',
      ` (${text(d.test)}); ${r.refits?.length ?? 0} refit(s) every ${r.every} session(s) after ${r.initial_days}.`),
    h('p', {class: 'muted'}, r.meaning),
  ];
}

/** POST the simulation (a job: 202 with its id), follow it, then show the report (or the job's error). */
async function simulate(m, form, out) {
  const every = Number(form.querySelector('[name=every]').value);
  const initial = form.querySelector('[name=initial_days]').value;
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  out.replaceChildren(h('p', {class: 'muted'}, 'Submitting the simulation…'));
  try {
    const body = {every, ...(initial ? {initial_days: Number(initial)} : {})};
    const queued = await api(`models/${encodeURIComponent(m.id)}/retrain/simulate`, {method: 'POST', body});
    const job = await followJob(queued.job_id, {
      alive: () => out.isConnected,
      onUpdate: (j) => { if (!TERMINAL.has(j.status)) out.replaceChildren(running(j, 'Simulating', 'schedule-job')); },
    });
    if (!job) return;
    if (job.status === 'done' && job.result) {
      out.replaceChildren(...scheduleTable(job.result), h('p', {class: 'muted'}, jobLink(job.id, 'schedule-job')));
    } else {
      out.replaceChildren(errorBox(job.error || `the simulation job ended ${job.status}`),
        h('p', {}, jobLink(job.id, 'schedule-job'), ` ended ${job.status}.`));
    }
  } catch (err) {
    out.replaceChildren(errorBox(err));
  } finally {
    button.disabled = false;
  }
}

export function retrainPanel(m) {
  const out = h('div', {'aria-live': 'polite'});
  const button = h('button', {type: 'button', 'data-testid': 'retrain-button'}, 'Retrain on new data');
  button.addEventListener('click', () => retrain(m, out, button));
  const simOut = h('div', {'aria-live': 'polite', 'data-testid': 'schedule-result'});
  const form = h('form', {class: 'inline', 'data-testid': 'schedule-form'},
    h('label', {}, 'Refit every ', h('input', {name: 'every', type: 'number', min: 1, value: 5, style: 'width:5em'}), ' sessions'),
    ' ',
    h('label', {}, 'after ', h('input', {name: 'initial_days', type: 'number', min: 1, placeholder: 'data end', style: 'width:7em'}), ' initial sessions'),
    ' ', h('button', {type: 'submit', class: 'ghost'}, 'Simulate'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); simulate(m, form, simOut); });
  const box = section('Retraining', origin(m),
    h('p', {}, button, ' ', h('small', {class: 'muted'},
      'Refits this request on every row up to now (test-labelled ones included; the lock box excluded) as a child model.')),
    out, h('h3', {}, 'Retraining schedule (simulation)'), form, simOut);
  box.dataset.testid = 'retraining';
  return box;
}
