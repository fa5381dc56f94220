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
  performance.clearMarks(`received ${url}`);
  performance.clearMeasures(`parse ${url}`);
  performance.mark(`received ${url}`);
  let body;
  try {
    body = JSON.parse(text);
    performance.measure(`parse ${url}`, `received ${url}`);
  } catch {
    throw new Error(`${url}: HTTP ${res.status}, not JSON`);
  }
  if (!res.ok) throw new Error(`${url}: ${body.message || `HTTP ${res.status}`}`);
  return body;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// A request index.html started while the modules loaded, taken once by the first call for
// the same URL (window.dashboardPrefetch: fleet, gpu, series).
function prefetched(name, url) {
  const pre = window.dashboardPrefetch || {};
  const p = pre[name];
  if (!p || p.url !== url) return null;
  delete pre[name];
  return p.response;
}
const get = (name, url) => getJSON(url, prefetched(name, url));

export const fleet = () => get('fleet', '/api/v1/fleet');
export const gpu = (id) => get('gpu', `/api/v1/gpus/${encodeURIComponent(id)}`);
export const pipeline = () => getJSON('/api/v1/pipeline');

// The start of the series request index.html started for this GPU, if any (undefined if none):
// the GPU view's window then starts there.
export function prefetchedSeriesStart(id, windowKey) {
  const p = (window.dashboardPrefetch || {}).series;
  if (!p || p.window !== windowKey || !p.url.startsWith(`/api/v1/gpus/${encodeURIComponent(id)}/series`)) return undefined;
  return p.start;
}

// Samples of one GPU as columns per metric: {series: {metric: {t: [unix s], v: [...]}}}.
// start/end are RFC 3339 strings or null (open).
export function series(id, { start = null, end = null, metrics = [] } = {}) {
  return get('series', `/api/v1/gpus/${encodeURIComponent(id)}/series` +
    query({ start_time: start, end_time: end, metric: metrics }));
}
