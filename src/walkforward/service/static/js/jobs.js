// Jobs: the list, and one job polled every second until it ends.

import {api} from './api.js';
import {dateTime, empty, errorBox, h, num, shortId, table, text, wayBack} from './util.js';

export const TERMINAL = new Set(['done', 'failed', 'cancelled', 'interrupted']);
/** Ended without finishing: POST /jobs/{id}/resume queues the request again (it trains only what is missing). */
const RESUMABLE = new Set(['failed', 'cancelled', 'interrupted']);

/**
 * Poll GET /jobs/{id} every `interval` ms until the job ends, calling onUpdate(job) each time; resolves to
 * the ended job, or null once alive() is false (the page was left). A failed poll is thrown.
 */
export async function followJob(id, {onUpdate = () => {}, alive = () => true, interval = 1000} = {}) {
  for (;;) {
    const job = await api(`jobs/${encodeURIComponent(id)}`);
    if (!alive()) return null;
    onUpdate(job);
    if (TERMINAL.has(job.status)) return job;
    await new Promise((resolve) => { setTimeout(resolve, interval); });
    if (!alive()) return null;
  }
}

export function progress(job) {
  const done = Number(job.progress_done) || 0;
  const total = Number(job.progress_total) || 0;
  return h('span', {class: 'progress-wrap'},
    h('progress', {max: total || 1, value: total ? done : (job.status === 'done' ? 1 : 0), 'data-testid': 'job-progress'}),
    h('span', {class: 'muted'}, total ? ` ${done}/${total}` : ''));
}

function statusBadge(status) {
  return h('span', {class: `status ${status || 'unknown'}`, 'data-testid': 'job-status'}, text(status));
}

function best(b) {
  if (b === null || b === undefined) return '-';
  if (typeof b !== 'object') return num(b);
  const parts = [];
  if (b.model_id || b.id) {
    parts.push(h('a', {href: `#/models/${b.model_id || b.id}`, class: 'mono', 'data-testid': 'job-best-link', title: b.model_id || b.id},
      shortId(b.model_id || b.id)));
  }
  const score = b.cv_score ?? b.score;
  if (score !== undefined) parts.push(` ${num(score)}`);
  const hp = b.hyperparameters || b.params;
  if (hp) parts.push(h('small', {class: 'muted'}, ` ${JSON.stringify(hp)}`));
  return parts.length ? h('span', {}, parts) : JSON.stringify(b);
}

function resultBest(r) {
  if (!r || r.kind === 'retrain_schedule') return null;  // a simulation registers nothing
  if (r.best_model_id) return {id: r.best_model_id, cv_score: r.best_score};
  if (r.model_ids?.length === 1 || r.model_id) return {id: r.model_id || r.model_ids[0], cv_score: r.best_score};
  return r.best && typeof r.best === 'object' ? r.best : null;
}

function logText(log) {
  if (Array.isArray(log)) return log.join('\n');
  return log ? String(log) : '';
}

export async function renderJobs(view, ctx) {
  view.replaceChildren(h('h1', {}, 'Jobs'), h('p', {class: 'muted'}, 'Loading…'));
  const load = async () => {
    let page;
    try {
      page = await api('jobs?limit=100');
    } catch (err) {
      view.replaceChildren(h('h1', {}, 'Jobs'), errorBox(err), wayBack());
      return;
    }
    if (!ctx.alive()) return;
    const items = Array.isArray(page) ? page : page?.items || [];
    view.replaceChildren(h('h1', {}, 'Jobs ', h('a', {href: '#/train', class: 'button small'}, 'New training')),
      items.length ? h('div', {class: 'table-wrap'}, table([
        {label: 'id', value: (j) => h('a', {href: `#/jobs/${j.id}`, class: 'mono'}, shortId(j.id))},
        {label: 'kind', value: (j) => text(j.kind)},
        {label: 'trains', value: (j) => h('span', {'data-testid': 'job-trains'}, text(j.trains))},
        {label: 'status', value: (j) => statusBadge(j.status)},
        {label: 'progress', value: progress},
        {label: 'created', value: (j) => dateTime(j.created_at)},
      ], items, {attrs: {class: 'grid', 'data-testid': 'jobs-table'}, rowAttrs: (j) => ({'data-job-id': j.id})})) : empty('No jobs yet.', ' ', h('a', {href: '#/train', 'data-testid': 'empty-train-link'}, 'Train a model'), ' to start one.'));
    if (items.some((j) => !TERMINAL.has(j.status))) ctx.timer(load, 2000);
  };
  await load();
}

function results(job) {
  const r = job.result || {};
  const ids = r.model_ids || (r.model_id ? [r.model_id] : []);
  const parts = [];
  if (r.kind?.startsWith('retrain') && r.message) parts.push(h('p', {'data-testid': 'job-message'}, r.message));
  if (r.cohort_id) {
    parts.push(h('p', {}, 'Cohort: ', h('a', {href: `#/models?cohort_id=${encodeURIComponent(r.cohort_id)}`, 'data-testid': 'job-cohort-link', class: 'mono'}, r.cohort_id)));
  }
  if (ids.length) {
    const label = r.kind === 'retrain' ? 'Child model' : `Saved model${ids.length > 1 ? 's' : ''}`;
    parts.push(h('p', {}, `${label}: `,
      ids.map((id, i) => [i ? ', ' : '', h('a', {href: `#/models/${id}`, class: 'mono', 'data-testid': 'job-model-link'}, shortId(id))])));
  }
  return parts.length ? h('div', {'data-testid': 'job-results'}, parts) : null;
}

export async function renderJob(view, id, ctx) {
  const title = h('h1', {}, 'Job ', h('span', {class: 'mono'}, shortId(id, 12)));
  view.replaceChildren(title, h('p', {class: 'muted'}, 'Loading…'));
  const poll = async () => {
    let job;
    try {
      job = await api(`jobs/${encodeURIComponent(id)}`);
    } catch (err) {
      if (ctx.alive()) view.replaceChildren(title, errorBox(err), h('p', {}, h('a', {href: '#/jobs', 'data-testid': 'back-link'}, '← Back to the jobs')));
      return;
    }
    if (!ctx.alive()) return;
    const finished = TERMINAL.has(job.status);
    const cancel = h('button', {type: 'button', class: 'danger', 'data-testid': 'job-cancel', disabled: finished,
      onclick: async () => {
        cancel.disabled = true;
        try { await api(`jobs/${encodeURIComponent(id)}/cancel`, {method: 'POST'}); } catch (err) { view.append(errorBox(err)); }
      }}, 'Cancel');
    const resume = h('button', {type: 'button', 'data-testid': 'job-resume',
      title: 'Queue the same request again: only what is missing is trained',
      onclick: async () => {
        resume.disabled = true;
        try {
          const next = await api(`jobs/${encodeURIComponent(id)}/resume`, {method: 'POST', body: {}});
          location.hash = `#/jobs/${encodeURIComponent(next.job_id)}`;
        } catch (err) {
          resume.disabled = false;
          view.append(errorBox(err));
        }
      }}, 'Resume');
    // The page is redrawn every second: keep the keyboard focus on the same control.
    const focused = view.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
    view.replaceChildren(title,
      h('section', {class: 'card', 'data-testid': 'job', 'data-status': job.status},
        h('dl', {class: 'facts'},
          h('dt', {}, 'status'), h('dd', {}, statusBadge(job.status)),
          h('dt', {}, 'kind'), h('dd', {}, text(job.kind)),
          h('dt', {}, 'trains'), h('dd', {'data-testid': 'job-trains'}, text(job.trains)),
          h('dt', {}, 'progress'), h('dd', {}, progress(job)),
          h('dt', {}, finished ? 'best' : 'best so far'),
          h('dd', {'data-testid': 'job-best'}, best((finished ? resultBest(job.result) : null) ?? job.best)),
          h('dt', {}, 'created'), h('dd', {}, dateTime(job.created_at))),
        job.error ? h('div', {class: 'error', role: 'alert', 'data-testid': 'job-error'}, text(job.error)) : null,
        finished ? results(job) : null,
        h('div', {class: 'row-end'}, RESUMABLE.has(job.status) ? resume : null, cancel)),
      h('section', {class: 'card'}, h('h2', {}, 'Log'),
        h('pre', {class: 'log', 'data-testid': 'job-log'}, logText(job.log) || '(no output yet)')));
    if (focused) view.querySelector(`[data-testid="${CSS.escape(focused)}"]`)?.focus();
    const log = view.querySelector('pre.log');
    log.scrollTop = log.scrollHeight;
    if (!finished) ctx.timer(poll, 1000);
  };
  await poll();
}
