// Compare: one metric of several GPUs (picked one by one, or every GPU of a host) on one plot,
// over the same windows as the GPU view, updating live while the window ends at now.
import * as api from './api.js';
import { meta, sortMetrics } from './units.js';
import { timePlot, align } from './plot.js';
import { LiveSeries } from './live.js';
import * as tw from './timewindow.js';
import { el, setHash, refreshSeconds } from './dom.js';

export async function mount(root, { params, exposed }) {
  const fleet = await api.fleet();
  const byId = new Map(fleet.gpus.map((g) => [g.id, g]));
  const hosts = [...new Set(fleet.gpus.map((g) => g.hostname))]
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const metric = params.get('metric') || 'DCGM_FI_DEV_GPU_UTIL';
  const host = params.get('host') || '';
  let ids = (params.get('gpus') || '').split(',').filter((id) => byId.has(id));
  if (host) ids = fleet.gpus.filter((g) => g.hostname === host).map((g) => g.id);
  if (!ids.length && !host) ids = fleet.gpus.filter((g) => g.hostname === hosts[0]).map((g) => g.id);
  ids.sort((a, b) => {
    const x = byId.get(a); const y = byId.get(b);
    return x.hostname.localeCompare(y.hostname, 'en', { numeric: true }) || Number(x.gpu_index) - Number(y.gpu_index);
  });
  const win = tw.fromParams(params);
  const range = tw.describe(win);
  const go = (change) => {
    const p = new URLSearchParams(params);
    change(p);
    setHash('#/compare', p);
  };

  const metricSel = el('select', { 'aria-label': 'Metric', onchange: (e) => go((p) => p.set('metric', e.target.value)) },
    sortMetrics(fleet.metrics).map((m) => el('option', { value: m, selected: m === metric }, meta(m).label)));
  const hostSel = el('select', { 'aria-label': 'Host', onchange: (e) => go((p) => {
    p.delete('gpus');
    if (e.target.value) p.set('host', e.target.value); else p.delete('host');
  }) }, el('option', { value: '' }, 'GPUs picked below'),
  hosts.map((h) => el('option', { value: h, selected: h === host }, h)));
  const search = el('input', { type: 'search', placeholder: 'Find GPUs (host, UUID)…', 'aria-label': 'Find GPUs' });
  const picker = el('div', { class: 'picker' });
  const renderPicker = () => {
    const q = search.value.trim().toLowerCase();
    const chosen = new Set(ids);
    const shown = fleet.gpus.filter((g) => chosen.has(g.id) ||
      (q && `${g.hostname} ${g.uuid} gpu ${g.gpu_index}`.toLowerCase().includes(q)))
      .sort((a, b) => a.hostname.localeCompare(b.hostname, 'en', { numeric: true }) || Number(a.gpu_index) - Number(b.gpu_index))
      .slice(0, 60);
    picker.replaceChildren(...shown.map((g) => {
      const box = el('input', { type: 'checkbox', value: g.id, checked: chosen.has(g.id) });
      box.addEventListener('change', () => go((p) => {
        p.delete('host');
        const next = box.checked ? [...ids, g.id] : ids.filter((x) => x !== g.id);
        p.set('gpus', next.join(','));
      }));
      return el('label', { class: 'pick', title: g.uuid }, box, ` ${g.hostname} · GPU ${g.gpu_index}`);
    }));
  };
  search.addEventListener('input', renderPicker);
  renderPicker();

  const m = meta(metric);
  const labels = ids.map((id) => { const g = byId.get(id); return `${g.hostname} GPU ${g.gpu_index}`; });
  const plotBox = el('div', { class: 'plot-body' });
  root.append(
    el('section', { class: 'gpu-head' }, el('div', {},
      el('h1', {}, `Compare · ${m.label}`),
      el('p', { class: 'sub' }, host ? `All ${ids.length} GPUs of ${host}` : `${ids.length} GPUs`))),
    el('div', { class: 'controls' },
      tw.selector(win, (next) => go((p) => tw.toParams(next, p))),
      el('span', { class: 'live-flag', 'data-live': range.live ? '1' : '0' }, range.live ? 'Live' : 'Fixed range')),
    el('div', { class: 'compare' },
      el('aside', { class: 'card pick-panel' },
        el('label', {}, 'Metric', metricSel), el('label', {}, 'Host', hostSel), search, picker),
      el('article', { class: 'card plot-card' }, el('h2', {}, m.label, ' ', el('small', {}, m.unit ? `(${m.unit})` : '')),
        ids.length ? plotBox : el('p', { class: 'empty' }, 'Pick GPUs or a host to compare.'))));

  let plot = null;
  let timer = null;
  if (ids.length) {
    const live = new LiveSeries(async (start, end) => {
      const all = await Promise.all(ids.map((id) => api.series(id, { start, end, metrics: [metric] })));
      const out = {};
      all.forEach((r, i) => { out[ids[i]] = r.series[metric] || { t: [], v: [] }; });
      return out;
    }, { span: range.span, start: range.start, end: range.end });
    await live.load();
    const data = () => align(ids.map((id) => live.columns[id] || { t: [], v: [] }));
    plot = timePlot(plotBox, { metric, labels, data: data(), height: 360 });
    Object.assign(exposed, { view: 'compare', metric, gpus: ids, plot, live });
    if (range.live) {
      timer = setInterval(() => {
        live.refresh().then(() => plot.update(data()), exposed.onError);
      }, refreshSeconds(params, 5) * 1000);
    }
  }
  document.body.dataset.ready = 'compare';
  return () => { clearInterval(timer); if (plot) plot.destroy(); };
}
