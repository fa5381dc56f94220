// Pipeline health: streamers, collector and gateway state from /api/v1/pipeline (the
// collector's counters and the gateway's own metrics), and the ingest rate -- stored samples
// per second, the rate of the collector's sample counter between polls -- plotted while the
// page is open.
import * as api from './api.js';
import { timePlot } from './plot.js';
import { el, refreshSeconds } from './dom.js';

const n = (v, digits = 0) => (v === undefined || v === null ? '–'
  : Number(v).toLocaleString('en-US', { maximumFractionDigits: digits }));
const bytes = (b) => (b === undefined ? '–' : b > 1 << 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);
const duration = (s) => (s === undefined ? '–' : s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

function stateClass(state) {
  if (state === 'ok' || state === 'streaming') return 'good';
  if (state && (state.startsWith('unreachable') || state === 'unhealthy' || state.startsWith('unknown'))) return 'bad';
  return 'warn';
}

function card(title, state, rows, note) {
  return el('article', { class: 'card health-card', 'data-part': title.toLowerCase() },
    el('h2', {}, title, el('span', { class: `pill ${stateClass(state)}` }, state)),
    el('dl', { class: 'facts' }, rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
    note ? el('p', { class: 'note' }, note) : null);
}

export async function mount(root, { params, exposed }) {
  const cards = el('section', { class: 'health' });
  const rateNow = el('span', { class: 'now' });
  const plotBox = el('div', { class: 'plot-body' });
  root.append(
    el('section', { class: 'gpu-head' }, el('div', {}, el('h1', {}, 'Pipeline health'),
      el('p', { class: 'sub' }, 'streamer → collector (broker, durable store) → API gateway'))),
    cards,
    el('article', { class: 'card plot-card' },
      el('h2', {}, 'Ingest rate ', el('small', {}, '(samples stored per second, last 2 min)'), rateNow),
      plotBox));
  const history = { t: [], ingest: [], requests: [] };
  let prev = null;
  let plot = null;

  const render = (p) => {
    const c = p.collector;
    const s = c.stats || {};
    const g = p.gateway;
    const gm = g.metrics || {};
    const st = p.streamers;
    const now = Date.parse(p.time) / 1000;
    if (prev && now > prev.time) {
      const dt = now - prev.time;
      if (s.samples !== undefined && prev.samples !== undefined) {
        history.t.push(now);
        history.ingest.push(Math.max(0, (s.samples - prev.samples) / dt));
        history.requests.push(Math.max(0, ((gm.api_gateway_http_requests_total || 0) - prev.requests) / dt));
      }
    }
    prev = { time: now, samples: s.samples, requests: gm.api_gateway_http_requests_total || 0 };
    while (history.t.length && history.t[0] < now - 900) {
      history.t.shift(); history.ingest.shift(); history.requests.shift();
    }
    const rate = history.ingest.length ? history.ingest[history.ingest.length - 1] : null;
    rateNow.textContent = rate === null ? 'measuring…' : `${n(rate, 1)} /s`;
    cards.replaceChildren(
      card('Streamers', st.state, [
        ['Producer connections', n(st.connections_open)],
        ['Newest sample', st.newest_sample ? `${new Date(st.newest_sample).toLocaleTimeString()} (${duration(st.newest_sample_age_seconds)} ago)` : 'none'],
        ['Ingest rate', rate === null ? 'measuring…' : `${n(rate, 1)} samples/s`],
      ], 'Streamers report to the collector; their state is its producer connections and the age of the newest sample.'),
      card('Collector', c.state, [
        ['Address', c.address],
        ['Samples stored', n(s.samples)], ['Batches', n(s.batches)],
        ['Duplicate batches', n(s.duplicate_batches)], ['Bad frames', n(s.bad_frames)],
        ['WAL', `${bytes(s.wal_bytes)}, segment ${n(s.wal_segment)}`],
        ['Checkpoints', `${n(s.checkpoints)} (${n(s.checkpoint_failures)} failed)`],
        ['Uptime', duration(s.uptime_seconds)],
      ], c.error || null),
      card('Gateway', g.state, [
        ['GPUs / hosts', `${n(g.gpus)} / ${n(g.hosts)}`],
        ['Samples retained', n(g.samples_retained)],
        ['Records read', n(gm.api_gateway_follower_records_read)],
        ['Requests served', n(gm.api_gateway_http_requests_total)],
        ['Request rate', history.requests.length ? `${n(history.requests[history.requests.length - 1], 1)} /s` : 'measuring…'],
        ['Uptime', duration(gm.api_gateway_uptime_seconds)],
      ]));
    const data = [history.t, history.ingest];
    if (!plot) plot = timePlot(plotBox, { metric: 'ingest', labels: ['samples/s'], data, height: 240, span: 120 });
    else plot.update(data);
    Object.assign(exposed, { view: 'health', pipeline: p, history });
  };
  render(await api.pipeline());
  document.body.dataset.ready = 'health';
  let ticks = 0;
  const timer = setInterval(() => {
    api.pipeline().then((p) => { render(p); document.body.dataset.ticks = String(++ticks); }, exposed.onError);
  }, refreshSeconds(params, 2) * 1000);
  return () => { clearInterval(timer); if (plot) plot.destroy(); };
}
