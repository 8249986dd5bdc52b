// The JSON API client: one fetch wrapper, the optional bearer token, errors as {"detail": ...}.

const TOKEN_KEY = 'walkforward.token';

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

export function getToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage unavailable: the token lives for this page only */ }
}

let pendingPrompt = null;

/** Ask for a token once, however many requests are waiting for it; resolves to true when one was given. */
export function promptToken({rejected = false} = {}) {
  if (pendingPrompt) return pendingPrompt;
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  input.value = getToken();
  document.getElementById('token-reason').textContent = rejected ? 'The server rejected the stored token: enter another.' : '';
  pendingPrompt = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      pendingPrompt = null;
      if (dialog.returnValue === 'save') {
        setToken(input.value.trim());
        resolve(Boolean(input.value.trim()));
      } else resolve(false);
    }, {once: true});
    dialog.showModal();
    input.focus();
  });
  return pendingPrompt;
}

/** The query string of the non-empty values of params. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Call the API: path is relative to the page ("models?limit=50"). JSON in, JSON out; a 401 asks for a token
 * and retries; any other error throws ApiError with the server's "detail" verbatim.
 */
export async function api(path, {method = 'GET', body, raw = false} = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = {Accept: raw ? '*/*' : 'application/json'};
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    // The server refuses a state change that is neither JSON nor marked as a script's (cross-site form protection).
    if (method !== 'GET' && method !== 'HEAD') headers['X-Requested-With'] = 'walkforward';
    let res;
    try {
      res = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (err) {
      throw new ApiError(0, `cannot reach the server: ${err.message}`);
    }
    if (res.status === 401 && attempt < 3) {
      if (await promptToken({rejected: Boolean(token)})) continue;
      throw new ApiError(401, 'an API token is required');
    }
    if (!res.ok) {
      let detail = `${res.status} ${res.statusText}`;
      try {
        const payload = await res.json();
        if (payload && payload.detail !== undefined) detail = payload.detail;
      } catch { /* not JSON: keep the status line */ }
      throw new ApiError(res.status, detail);
    }
    if (raw) return res;
    if (res.status === 204) return null;
    const type = res.headers.get('content-type') || '';
    return type.includes('json') ? res.json() : null;
  }
}

/** A PNG (or other binary) endpoint as an object URL, sent with the token; null when missing. */
export async function blobUrl(path) {
  try {
    const res = await api(path, {raw: true});
    return URL.createObjectURL(await res.blob());
  } catch {
    return null;
  }
}
