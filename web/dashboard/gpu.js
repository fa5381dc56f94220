// GPU view: every metric of one GPU over the chosen window, one plot per metric (hover shows
// the values of all plots at the same time), updating live while the window ends at now.
import * as api from './api.js';
import { meta, sortMetrics, format } from './units.js';
import { timePlot } from './plot.js';
import { LiveSeries } from './live.js';
import * as tw from './timewindow.js';
import { el, setHash, refreshSeconds } from './dom.js';

export async function mount(root, { id, params, exposed }) {
  const win = tw.fromParams(params);
  const range = tw.describe(win);
  const live = new LiveSeries(
    async (start, end) => (await api.series(id, { start, end })).series,
    { span: range.span, start: range.start, end: range.end });
  // The GPU's facts and its samples are read at the same time (index.html may have started
  // both requests already).
  const first = win.key === 'custom' ? undefined : api.prefetchedSeriesStart(id, win.key);
  const [info] = await Promise.all([api.gpu(id), live.load(first)]);
  performance.mark('gpu:data');
  const head = el('section', { class: 'gpu-head' },
    el('div', {},
      el('h1', {}, `${info.hostname} · GPU ${info.gpu_index || info.device}`),
      el('p', { class: 'sub' }, `${info.model || 'unknown model'} · ${info.device || ''}`)),
    el('dl', { class: 'facts' },
      el('dt', {}, 'UUID'), el('dd', { class: 'mono' }, info.uuid || info.id),
      el('dt', {}, 'Samples retained'), el('dd', {}, info.samples.toLocaleString('en-US')),
      el('dt', {}, 'First / last sample'),
      el('dd', {}, `${new Date(info.first_seen).toLocaleString()} – ${new Date(info.last_seen).toLocaleString()}`)),
    el('p', { class: 'links' },
      el('a', { href: `#/compare?host=${encodeURIComponent(info.hostname)}` }, `Compare all GPUs of ${info.hostname}`)));
  const controls = el('div', { class: 'controls' },
    tw.selector(win, (next) => {
      const p = new URLSearchParams(params);
      tw.toParams(next, p);
      setHash(`#/gpu/${encodeURIComponent(id)}`, p);
    }),
    el('span', { class: 'live-flag', 'data-live': range.live ? '1' : '0' },
      range.live ? 'Live' : 'Fixed range'),
    el('span', { class: 'hint' }, 'Drag across a plot to zoom, double-click to reset'));
  const grid = el('section', { class: 'plots' });
  root.append(head, controls, grid);

  const plots = {};
  const values = {};
  const bodies = {};
  let waiting = [];  // metrics with a card but no plot yet
  let stopped = false;
  const plot = (metric) => {
    const col = live.columns[metric];
    if (plots[metric] || !col) return;
    plots[metric] = timePlot(bodies[metric], { metric, labels: [meta(metric).label], data: [col.t, col.v], sync: 'gpu' });
  };
  const draw = () => {
    for (const metric of sortMetrics(Object.keys(live.columns))) {
      const col = live.columns[metric];
      const last = col.v.length ? col.v[col.v.length - 1] : null;
      if (!bodies[metric]) {
        const m = meta(metric);
        values[metric] = el('span', { class: 'now' });
        bodies[metric] = el('div', { class: 'plot-body pending' });
        grid.append(el('article', { class: 'card plot-card', 'data-metric': metric },
          el('h2', {}, m.label, ' ', el('small', {}, m.unit ? `(${m.unit})` : ''), values[metric]),
          el('p', { class: 'metric-name mono' }, metric), bodies[metric]));
        waiting.push(metric);
      } else if (plots[metric]) {
        plots[metric].update([col.t, col.v]);
      }
      values[metric].textContent = last === null ? 'no data' : format(metric, last);
    }
    if (!Object.keys(live.columns).length) {
      grid.replaceChildren(el('p', { class: 'empty' }, 'No samples in this window. Try a longer one.'));
    }
    Object.assign(exposed, {
      view: 'gpu', gpu: id, window: { ...win, startISO: live.startISO, endISO: live.end, live: range.live },
      plots,
    });
  };
  draw();
  // The plots in view are drawn before the first paint; the ones below the fold after it, one
  // per task (app.js calls afterPaint), so the page shows its data without waiting for them.
  const fold = window.innerHeight;
  const below = waiting.filter((m) => bodies[m].getBoundingClientRect().top >= fold);
  for (const m of waiting) if (!below.includes(m)) plot(m);
  waiting = [];
  performance.mark('gpu:visible plots');
  exposed.afterPaint = () => new Promise((resolve) => {
    const next = () => {
      const m = below.shift();
      if (stopped || m === undefined) { performance.mark('gpu:all plots'); resolve(); return; }
      plot(m);
      setTimeout(next, 0);
    };
    next();
  });
  document.body.dataset.ready = 'gpu';
  let timer = null;
  let ticks = 0;
  if (range.live) {
    const tick = async () => {
      await live.refresh();
      draw();
      for (const m of waiting.splice(0)) plot(m);  // metrics that appeared now
      document.body.dataset.ticks = String(++ticks);
    };
    timer = setInterval(() => { tick().catch(exposed.onError); }, refreshSeconds(params, 5) * 1000);
  }
  return () => {
    stopped = true;
    clearInterval(timer);
    for (const p of Object.values(plots)) p.destroy();
  };
}
