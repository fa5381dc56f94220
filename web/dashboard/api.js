// Calls to the API gateway. Every failure becomes an Error naming the URL and the gateway's
// message, so views can show it instead of an empty page.

async function getJSON(url, pending = null) {
  let res;
  try {
    res = await (pending || fetch(url, { headers: { accept: 'application/json' } }));
  } catch (err) {
    throw new Error(`${url}: gateway unreachable (${err.message})`);
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url}: HTTP ${res.status}, not JSON`);
  }
  if (!res.ok) throw new Error(`${url}: ${body.message || `HTTP ${res.status}`}`);
  return body;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// The first call may use the request index.html started while the modules loaded.
export function fleet() {
  const pending = window.fleetPrefetch;
  window.fleetPrefetch = null;
  return getJSON('/api/v1/fleet', pending);
}
export const gpu = (id) => getJSON(`/api/v1/gpus/${encodeURIComponent(id)}`);
export const pipeline = () => getJSON('/api/v1/pipeline');

// Samples of one GPU as columns per metric: {series: {metric: {t: [unix s], v: [...]}}}.
// start/end are RFC 3339 strings or null (open).
export function series(id, { start = null, end = null, metrics = [] } = {}) {
  return getJSON(`/api/v1/gpus/${encodeURIComponent(id)}/series` +
    query({ start_time: start, end_time: end, metric: metrics }));
}
