// The hash router: #/models, #/models/<id>, #/compare?ids=a,b, #/jobs, #/jobs/<id>, #/train,
// #/shap?symbol=|cohort=.

import {ApiError, api, promptToken, setToken, getToken} from './api.js';
import {setupCohortDialog} from './cohort.js';
import {renderCompare} from './compare.js';
import {renderJob, renderJobs} from './jobs.js';
import {renderModel} from './model.js';
import {renderModels} from './models.js';
import {renderShap} from './shapview.js';
import {renderTrain} from './train.js';
import {errorBox, h, wayBack} from './util.js';

let generation = 0;
let timers = [];

/** What a view gets to know whether it is still shown and to schedule its polling. */
function context() {
  const mine = ++generation;
  for (const t of timers) clearTimeout(t);
  timers = [];
  return {
    alive: () => mine === generation,
    timer: (fn, ms) => { if (mine === generation) timers.push(setTimeout(fn, ms)); },
  };
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/models';
  const [path, q = ''] = raw.split('?');
  return {parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(q)};
}

async function route() {
  // Each route renders into a fresh element, so a late answer for a page already left lands nowhere.
  const view = h('div', {class: 'page'});
  document.getElementById('view').replaceChildren(view);
  const ctx = context();
  const {parts, params} = parseHash();
  const [section = 'models', id] = parts;
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === section);
  const dialog = document.getElementById('cohort-dialog');
  if (dialog.open) dialog.close();
  try {
    if (section === 'models' && id) await renderModel(view, id);
    else if (section === 'models') await renderModels(view, params);
    else if (section === 'jobs' && id) await renderJob(view, id, ctx);
    else if (section === 'jobs') await renderJobs(view, ctx);
    else if (section === 'train') await renderTrain(view, params);
    else if (section === 'compare') await renderCompare(view, params);
    else if (section === 'shap') await renderShap(view, params);
    else view.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, `There is no page ${location.hash}.`), wayBack());
  } catch (err) {
    // A refusal (4xx) is the page's message; anything else is a defect worth the console.
    if (!(err instanceof ApiError && err.status < 500)) console.error(err);
    view.replaceChildren(errorBox(err), wayBack());
  }
  document.title = `walkforward · ${section}`;
}

function health() {
  const el = document.getElementById('health');
  api('health').then((hh) => {
    el.textContent = hh?.status ? `server ${hh.status}` : 'server up';
  }).catch(() => { el.textContent = 'server unreachable'; });
}

document.getElementById('token-button').addEventListener('click', async () => {
  if (getToken() && confirm('Forget the stored API token?')) { setToken(''); return; }
  if (await promptToken()) route();
});
setupCohortDialog();
window.addEventListener('hashchange', route);
route();
health();
