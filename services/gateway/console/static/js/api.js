// The one door to the public API: OAuth2 tokens (password grant, refresh before expiry, logout) and fetch.
// Tokens live in sessionStorage (this tab only, gone when it closes) and in memory; never in a URL.

const KEY = 'console.session';
const listeners = new Set();
let session = load();
let timer = null;
let refreshing = null;

export class ApiError extends Error {
  constructor(status, problem, retryAfter = null) {
    super((problem && (problem.detail || problem.error_description || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.retryAfter = retryAfter;
  }
}

function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY));
    return s && s.access_token ? s : null;
  } catch {
    return null;
  }
}

function decodeClaims(token) {
  // Only to choose what to show; the services verify the signature and decide what the caller may see.
  const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Uint8Array.from(atob(part + '='.repeat((4 - (part.length % 4)) % 4)), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function store(body) {
  session = {
    access_token: body.access_token,
    refresh_token: body.refresh_token || (session && session.refresh_token) || null,
    expires_at: Date.now() + body.expires_in * 1000,
    lifetime: body.expires_in * 1000,
    claims: decodeClaims(body.access_token),
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  schedule();
}

function forget() {
  clearTimeout(timer);
  timer = null;
  session = null;
  sessionStorage.removeItem(KEY);
}

// Refresh when three quarters of the token's life has passed (at most a minute before it expires).
function margin() {
  return Math.min(60_000, session.lifetime / 4);
}

function schedule() {
  clearTimeout(timer);
  if (!session || !session.refresh_token) return;
  const wait = Math.max(0, session.expires_at - Date.now() - margin());
  timer = setTimeout(() => refresh().catch(() => {}), wait);
}

async function tokenRequest(form) {
  const response = await fetch('/auth/token', {
    method: 'POST', body: new URLSearchParams(form), credentials: 'omit', cache: 'no-store',
    headers: { Accept: 'application/json' },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body, response.headers.get('retry-after'));
  return body;
}

export function onSessionEnd(fn) {
  listeners.add(fn);
}

export function claims() {
  return session ? session.claims : null;
}

export function expiresAt() {
  return session ? session.expires_at : null;
}

export async function login(username, password) {
  forget();
  store(await tokenRequest({ grant_type: 'password', username, password }));
  return session.claims;
}

// One refresh at a time; a failed refresh ends the session (back to the login page).
export function refresh() {
  if (!session || !session.refresh_token) return Promise.reject(new ApiError(401, null));
  if (!refreshing) {
    const token = session.refresh_token;
    refreshing = tokenRequest({ grant_type: 'refresh_token', refresh_token: token })
      .then((body) => store(body))
      .catch((error) => {
        forget();
        listeners.forEach((fn) => fn('expired'));
        throw error;
      })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

// Forget the tokens (the gateway offers no revocation endpoint; the refresh token dies with this tab's storage).
export async function logout() {
  forget();
  listeners.forEach((fn) => fn('logout'));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// request('GET', '/registry/v1/stats', {params, json, body, headers, raw})
export async function request(method, path, options = {}) {
  if (!session) throw new ApiError(401, null);
  if (session.expires_at - Date.now() < 5_000) await refresh();
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(options.params || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const headers = { Accept: 'application/json', ...(options.headers || {}) };
  let body = options.body;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(url, {
      method, body, credentials: 'omit', cache: 'no-store',
      headers: { ...headers, Authorization: `Bearer ${session.access_token}` },
    });
    if (response.status === 401 && attempt === 0 && session.refresh_token) {
      await refresh();
      continue;
    }
    if (response.status === 429 && attempt < 3) {
      await sleep(1000 * Number(response.headers.get('retry-after') || 1));
      continue;
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      throw new ApiError(response.status, problem);
    }
    if (options.raw) return response;
    const type = response.headers.get('content-type') || '';
    return type.includes('json') ? response.json() : response;
  }
}

export const get = (path, params) => request('GET', path, { params });
export const post = (path, json, options = {}) => request('POST', path, { json, ...options });

// Every item of a cursor-paginated list, for lists that are small by nature (stations, calls, projects).
export async function all(path, params = {}, limit = 500) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path, { ...params, limit, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

// The file name a response's Content-Disposition gives (filename="..."), if any.
function attachmentName(response) {
  const match = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') || '');
  return match ? match[1] : null;
}

// Save a response body as a file (exports): fetched with the token, handed to the browser as a blob; named
// `filename`, else as the server names it.
export async function download(path, params, filename) {
  const response = await request('GET', path, { params, raw: true, headers: { Accept: '*/*' } });
  filename = filename || attachmentName(response) || 'download';
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

if (session) schedule();
