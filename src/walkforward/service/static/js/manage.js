// Run management on a model's page: tags and a note, downloads, clone into the train form, delete (with a
// confirmation naming what goes). The server checks everything again; this only saves a round trip.

import {api, query} from './api.js';
import {errorBox, h, shortId, text, uiMessage} from './util.js';

/** The server's tag rule (registry/notes.py TAG_PATTERN), to say what is wrong before sending. */
const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,31}$/;
const MAX_TAGS = 20;

/** Tags as small chips (the models table and the model page), each a link to the models it tags (`hrefOf`). */
export function tagChips(tags, hrefOf = (t) => `#/models${query({tag: t})}`) {
  if (!tags?.length) return null;
  return h('span', {class: 'tags', 'data-testid': 'tags'}, tags.map((t) =>
    h('a', {class: 'tag', href: hrefOf(t), 'data-tag': t, title: `show the models tagged ${t}`}, t)));
}

/** "a, b c" -> ["a", "b", "c"]: commas or spaces separate tags. */
export function parseTags(value) {
  return [...new Set(String(value).split(/[\s,]+/).map((t) => t.trim()).filter(Boolean))];
}

function notesEditor(m) {
  const notes = m.notes || {tags: [], note: ''};
  const tags = h('input', {id: 'notes-tags', class: 'mono', value: (notes.tags || []).join(', '), 'data-testid': 'notes-tags',
    placeholder: 'baseline, to-review', autocomplete: 'off', 'aria-describedby': 'notes-error'});
  const note = h('textarea', {id: 'notes-note', rows: 3, 'data-testid': 'notes-note', maxlength: 4000,
    placeholder: 'What this model is for, what to try next…'});
  note.value = notes.note || '';
  const error = h('div', {id: 'notes-error', class: 'field-error', 'data-testid': 'notes-error', 'aria-live': 'polite'});
  const status = h('span', {class: 'muted', 'data-testid': 'notes-status', 'aria-live': 'polite'},
    notes.updated_at ? `saved ${new Date(notes.updated_at).toLocaleString()}` : '');
  const shown = h('div', {}, tagChips(notes.tags));
  const save = h('button', {type: 'submit', 'data-testid': 'notes-save'}, 'Save tags and note');
  const form = h('form', {class: 'notes', 'data-testid': 'notes-form', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    const list = parseTags(tags.value);
    const bad = list.find((t) => !TAG_RE.test(t));
    error.textContent = bad ? `"${bad}" is not a tag: 1-32 letters, digits or _ - . : / +, starting with a letter or digit`
      : list.length > MAX_TAGS ? `${list.length} tags: at most ${MAX_TAGS}` : '';
    tags.setAttribute('aria-invalid', error.textContent ? 'true' : 'false');
    if (error.textContent) return;
    save.disabled = true;
    status.textContent = 'Saving…';
    try {
      const saved = await api(`models/${encodeURIComponent(m.id)}/notes`, {method: 'PUT', body: {tags: list, note: note.value}});
      tags.value = saved.tags.join(', ');
      note.value = saved.note;
      shown.replaceChildren(tagChips(saved.tags) || '');
      status.textContent = saved.updated_at ? 'Saved.' : 'Cleared.';
    } catch (err) {
      status.textContent = '';
      error.textContent = uiMessage(err.message);
    } finally {
      save.disabled = false;
    }
  }},
  h('div', {class: 'form-grid'},
    h('div', {class: 'field'}, h('label', {for: 'notes-tags'}, 'Tags'), tags,
      h('small', {class: 'muted'}, 'commas or spaces between tags; letters, digits, _ - . : / +')),
    h('div', {class: 'field wide'}, h('label', {for: 'notes-note'}, 'Note'), note)),
  error, h('div', {class: 'row-end'}, shown, status, save));
  return form;
}

/** Fetch a file with the token and hand it to the browser as a download; resolves to the file's name. */
async function download(path, fallbackName) {
  const res = await api(path, {raw: true});
  const blob = await res.blob();
  const named = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') || '');
  const name = named ? named[1] : fallbackName;
  const url = URL.createObjectURL(blob);
  const a = h('a', {href: url, download: name, hidden: true});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return {name, sha256: res.headers.get('x-content-sha256') || '', bytes: blob.size};
}

function downloads(m) {
  const status = h('span', {class: 'muted', 'data-testid': 'download-status', 'aria-live': 'polite'});
  const kept = m.derived?.predictions;
  const run = (path, fallback) => async () => {
    status.textContent = 'Downloading…';
    try {
      const got = await download(path, fallback);
      status.textContent = `${got.name}: ${got.bytes.toLocaleString('en')} bytes, sha256 ${shortId(got.sha256, 12)}… checked by the server`;
    } catch (err) {
      status.replaceChildren(errorBox(err));
    }
  };
  const id = encodeURIComponent(m.id);
  return h('div', {class: 'actions'},
    h('button', {type: 'button', class: 'ghost', 'data-testid': 'download-artifact', title: 'The fitted pipeline (joblib): load it only from a registry you trust',
      onclick: run(`models/${id}/artifact`, `${m.id}.joblib`)}, '⤓ Artifact'),
    h('button', {type: 'button', class: 'ghost', 'data-testid': 'download-predictions', disabled: !kept,
      title: kept ? `${text(kept.rows)} out-of-sample rows (Parquet)` : 'registered before out-of-sample predictions were kept',
      onclick: run(`models/${id}/predictions${query({format: 'parquet'})}`, `${m.id}.predictions.parquet`)}, '⤓ Predictions'),
    h('a', {href: `#/train${query({from: m.id})}`, class: 'button ghost', 'data-testid': 'clone-model',
      title: 'Open the train form filled with this model’s request and hyperparameters'}, 'Clone into form'),
    status);
}

let dialog = null;

/** Ask before deleting: a modal naming what goes; resolves to true when the user confirms. */
export function confirmDelete(title, items) {
  if (!dialog) {
    dialog = h('dialog', {class: 'modal small', 'data-testid': 'confirm-dialog', 'aria-labelledby': 'confirm-title'});
    document.body.append(dialog);
  }
  const cancel = h('button', {type: 'submit', value: 'cancel', class: 'ghost', 'data-testid': 'confirm-cancel', autofocus: true}, 'Cancel');
  dialog.replaceChildren(h('form', {method: 'dialog'},
    h('h2', {id: 'confirm-title'}, title),
    h('p', {}, 'This cannot be undone. What goes:'),
    h('ul', {'data-testid': 'confirm-items'}, items.map((it) => h('li', {}, it))),
    h('div', {class: 'row-end'}, cancel,
      h('button', {type: 'submit', value: 'delete', class: 'danger', 'data-testid': 'confirm-delete'}, 'Delete'))));
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'delete'), {once: true});
    dialog.showModal();
    cancel.focus();
  });
}

async function deleteModel(m, status) {
  const id = encodeURIComponent(m.id);
  const lin = await api(`models/${id}/lineage`).catch(() => null);
  const children = (lin?.descendants || []).filter((d) => d.parent_model_id === m.id).length;
  const kept = m.derived?.predictions;
  const items = [
    `the registry row of model ${m.id} (${text(m.algorithm)} on ${text(m.symbols?.length ? m.symbols : m.symbol)})`,
    `its artifact file ${m.id}.joblib`,
    kept ? `its out-of-sample predictions (${text(kept.rows)} rows)` : null,
    m.notes?.tags?.length || m.notes?.note ? 'its tags and note' : null,
    children ? `${children} model(s) name it as their parent: they stay, and their lineage will end at a deleted parent` : null,
    lin?.used_in_ensembles?.length ? `${lin.used_in_ensembles.length} ensemble(s) were built on it: they stay and predict as before (their artifacts hold its fitted pipeline)` : null,
    m.lockbox ? 'its lock-box record stays: the lock box is looked at once per model, even one trained again' : null,
  ].filter(Boolean);
  if (!await confirmDelete(`Delete model ${shortId(m.id)}?`, items)) return;
  try {
    await api(`models/${id}`, {method: 'DELETE'});
    location.hash = '#/models';
  } catch (err) {
    status.replaceChildren(errorBox(err));
  }
}

async function deleteCohort(m, status) {
  const cid = m.cohort_id;
  const page = await api(`models${query({cohort_id: cid, limit: 5})}`).catch(() => null);
  const total = page?.total ?? '?';
  const items = [
    `all ${total} model(s) of cohort ${cid}: ${(page?.items || []).map((b) => shortId(b.id)).join(', ')}${total > 5 ? ', …' : ''}`,
    'their artifact files, out-of-sample predictions, tags and notes',
    'the cohort’s file of every scored combination (its selection statistics)',
  ];
  if (!await confirmDelete(`Delete cohort ${shortId(cid)}?`, items)) return;
  try {
    await api(`cohorts/${encodeURIComponent(cid)}`, {method: 'DELETE'});
    location.hash = '#/models';
  } catch (err) {
    status.replaceChildren(errorBox(err));
  }
}

/** The model page's "Manage" card. */
export function manageSection(m) {
  const status = h('div', {'data-testid': 'delete-status', 'aria-live': 'polite'});
  return h('section', {class: 'card', 'data-testid': 'manage'},
    h('h2', {}, 'Tags, note and files'),
    notesEditor(m),
    downloads(m),
    h('div', {class: 'actions danger-zone'},
      h('button', {type: 'button', class: 'danger', 'data-testid': 'delete-model', onclick: () => deleteModel(m, status)}, 'Delete model…'),
      m.cohort_id ? h('button', {type: 'button', class: 'danger ghost', 'data-testid': 'delete-cohort',
        onclick: () => deleteCohort(m, status)}, 'Delete its cohort…') : null),
    status);
}
