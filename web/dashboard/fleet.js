// Fleet view: every GPU grouped by host with its model, UUID and current utilisation,
// temperature, power and memory; a utilisation heatmap of the whole fleet on top; the table
// sorts by any column and filters by host, model, UUID or device. Refreshes every few seconds.
import * as api from './api.js';
import { heat, heatText, heatStops, format, gib, ago } from './units.js';
import { el, refreshSeconds } from './dom.js';

const UTIL = 'DCGM_FI_DEV_GPU_UTIL';
// Widths (relative) let the table use a fixed layout: the browser does not measure every
// cell of 247 rows to size the columns.
const COLUMNS = [
  { key: 'host', label: 'Host', type: 'text', width: 15 },
  { key: 'index', label: 'GPU', type: 'num', width: 4 },
  { key: 'model', label: 'Model', type: 'text', cls: 'wide-only', width: 16 },
  { key: 'uuid', label: 'UUID', type: 'text', cls: 'wide-only', width: 26 },
  { key: 'util', label: 'Util %', type: 'num', width: 6 },
  { key: 'temp', label: 'Temp °C', type: 'num', width: 7 },
  { key: 'power', label: 'Power W', type: 'num', width: 7 },
  { key: 'mem', label: 'Memory used', type: 'num', width: 11 },
  { key: 'seen', label: 'Last sample', type: 'num', cls: 'wide-only', width: 9 },
];

function rows(fleet) {
  return fleet.gpus.map((g) => {
    const l = g.latest;
    const used = l.DCGM_FI_DEV_FB_USED;
    const free = l.DCGM_FI_DEV_FB_FREE;
    return {
      id: g.id, uuid: g.uuid || g.id, host: g.hostname, index: Number(g.gpu_index), device: g.device,
      model: g.model, util: l[UTIL], temp: l.DCGM_FI_DEV_GPU_TEMP, power: l.DCGM_FI_DEV_POWER_USAGE,
      mem: used, memTotal: used !== undefined && free !== undefined ? used + free : undefined,
      seen: Date.parse(g.last_seen), seenISO: g.last_seen,
    };
  });
}

function compare(key, dir) {
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    const missing = (v) => v === undefined || v === null || Number.isNaN(v);
    if (missing(x) || missing(y)) return missing(x) - missing(y);
    const c = typeof x === 'string' ? x.localeCompare(y, 'en', { numeric: true }) : x - y;
    return dir * c || a.host.localeCompare(b.host, 'en', { numeric: true }) || a.index - b.index;
  };
}

const gpuLink = (r) => `#/gpu/${encodeURIComponent(r.id)}`;

function heatmap(list) {
  const byHost = new Map();
  for (const r of list) {
    if (!byHost.has(r.host)) byHost.set(r.host, []);
    byHost.get(r.host).push(r);
  }
  const hosts = [...byHost.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  // The part every hostname shares (up to a '-'), hidden on narrow screens.
  let prefix = hosts.length > 1 ? hosts[0] : '';
  for (const h of hosts) while (!h.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, prefix.lastIndexOf('-') + 1);
  const grid = el('div', { class: 'heatmap', role: 'list' });
  for (const h of hosts) {
    const gpus = byHost.get(h).sort((a, b) => a.index - b.index);
    const mean = gpus.reduce((s, r) => s + (r.util || 0), 0) / gpus.length;
    grid.append(el('div', { class: 'hm-row', role: 'listitem' },
      el('span', { class: 'hm-host', title: `${h}: mean ${Math.round(mean)} %` },
        el('span', { class: 'hm-prefix' }, h.slice(0, prefix.length)), h.slice(prefix.length)),
      el('span', { class: 'hm-cells' }, gpus.map((r) => el('a', {
        class: 'hm-cell', href: gpuLink(r), style: `background:${heat(r.util)};color:${heatText(r.util)}`,
        title: `${r.host} GPU ${r.index}: ${format(UTIL, r.util)}, ${format('DCGM_FI_DEV_GPU_TEMP', r.temp)}`,
      }, r.util === undefined ? '–' : Math.round(r.util))))));
  }
  const legend = el('div', { class: 'hm-legend' }, 'Utilisation',
    el('span', { class: 'hm-scale' }, heatStops.map((s) => el('span', { style: `background:${heat(s)};color:${heatText(s)}` }, `${s}`))),
    '%');
  return el('section', { class: 'card' }, el('h2', {}, 'Utilisation across the fleet',
    prefix ? el('small', { class: 'narrow-only' }, `hosts ${prefix}…`) : null), grid, legend);
}

function summary(list, hosts) {
  const utils = list.map((r) => r.util).filter((v) => v !== undefined);
  const mean = utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : 0;
  const busy = utils.filter((v) => v >= 50).length;
  const power = list.reduce((s, r) => s + (r.power || 0), 0);
  const stat = (value, label) => el('div', { class: 'stat' }, el('b', {}, value), el('span', {}, label));
  return el('section', { class: 'stats' },
    stat(list.length, 'GPUs'), stat(hosts, 'hosts'), stat(`${Math.round(mean)} %`, 'mean utilisation'),
    stat(busy, 'GPUs ≥ 50 % busy'), stat(`${(power / 1000).toFixed(1)} kW`, 'power draw'));
}

export async function mount(root, { params, exposed }) {
  const state = { sort: params.get('sort') || 'host', dir: params.get('dir') === 'desc' ? -1 : 1,
    filter: params.get('q') || '', grouped: params.get('group') !== 'off' };
  const top = el('div');
  const filter = el('input', { type: 'search', placeholder: 'Filter by host, model, UUID, device…',
    'aria-label': 'Filter GPUs', value: state.filter, class: 'filter' });
  const group = el('input', { type: 'checkbox', id: 'group' });
  group.checked = state.grouped;
  const count = el('span', { class: 'count' });
  const table = el('table', { class: 'fleet' });
  root.append(top,
    el('section', { class: 'card' },
      el('div', { class: 'table-tools' }, filter, el('label', { for: 'group' }, group, ' Group by host'), count),
      el('div', { class: 'table-wrap' }, table)));
  let data = [];

  const renderTable = () => {
    const q = state.filter.trim().toLowerCase();
    const shown = data.filter((r) => !q || [r.host, r.model, r.uuid, r.device, `gpu ${r.index}`]
      .some((s) => (s || '').toLowerCase().includes(q)));
    shown.sort(compare(state.sort, state.dir));
    count.textContent = shown.length === data.length ? `${data.length} GPUs` : `${shown.length} of ${data.length} GPUs`;
    const head = el('tr', {}, COLUMNS.map((c) => el('th', {
      class: [c.cls, c.type === 'num' ? 'num' : ''].filter(Boolean).join(' '), scope: 'col',
      'aria-sort': state.sort === c.key ? (state.dir > 0 ? 'ascending' : 'descending') : 'none',
    }, el('button', { type: 'button', 'data-sort': c.key, onclick: () => {
      state.dir = state.sort === c.key ? -state.dir : (c.type === 'num' && c.key !== 'index' ? -1 : 1);
      state.sort = c.key;
      renderTable();
    } }, c.label, state.sort === c.key ? (state.dir > 0 ? ' ▲' : ' ▼') : ''))));
    const body = el('tbody');
    let groups = [['', shown]];
    if (state.grouped) {
      const m = new Map();
      for (const r of shown) { if (!m.has(r.host)) m.set(r.host, []); m.get(r.host).push(r); }
      groups = [...m.entries()];
    }
    for (const [host, list] of groups) {
      if (host) {
        const mean = list.reduce((s, r) => s + (r.util || 0), 0) / list.length;
        body.append(el('tr', { class: 'host-row' }, el('th', { colspan: COLUMNS.length, scope: 'rowgroup' },
          el('a', { href: `#/compare?host=${encodeURIComponent(host)}`, title: 'Compare the GPUs of this host' }, host),
          el('span', { class: 'host-meta' }, `${list.length} GPU${list.length === 1 ? '' : 's'} · mean ${Math.round(mean)} %`))));
      }
      for (const r of list) {
        const pct = r.memTotal ? Math.round((100 * r.mem) / r.memTotal) : null;
        body.append(el('tr', { 'data-gpu': r.id },
          el('td', {}, r.host),
          el('td', { class: 'num' }, el('a', { href: gpuLink(r) }, `${r.index}`)),
          el('td', { class: 'wide-only' }, r.model),
          el('td', { class: 'wide-only mono uuid' }, el('a', { href: gpuLink(r) }, r.uuid)),
          el('td', { class: 'num heat', style: `background:${heat(r.util)};color:${heatText(r.util)}` },
            r.util === undefined ? '–' : Math.round(r.util)),
          el('td', { class: 'num' }, r.temp === undefined ? '–' : Math.round(r.temp)),
          el('td', { class: 'num' }, r.power === undefined ? '–' : r.power.toFixed(1)),
          el('td', { class: 'num mem' }, gib(r.mem),
            pct === null ? null : el('span', { class: 'bar', title: `${pct} % of ${gib(r.memTotal)}` },
              el('span', { style: `width:${pct}%` }))),
          el('td', { class: 'wide-only num', title: r.seenISO }, ago(r.seenISO))));
      }
    }
    const cols = el('colgroup', {}, COLUMNS.map((c) => el('col', { class: c.cls, style: `width:${c.width}%` })));
    table.replaceChildren(cols, el('thead', {}, head), body);
  };

  const load = async () => {
    const fleet = await api.fleet();
    const t0 = performance.now();
    data = rows(fleet);
    const hosts = new Set(data.map((r) => r.host)).size;
    top.replaceChildren(summary(data, hosts), heatmap(data));
    renderTable();
    exposed.buildMs = performance.now() - t0;
    Object.assign(exposed, { view: 'fleet', gpus: data.length, hosts });
  };
  filter.addEventListener('input', () => { state.filter = filter.value; renderTable(); });
  group.addEventListener('change', () => { state.grouped = group.checked; renderTable(); });
  await load();
  document.body.dataset.ready = 'fleet';
  let ticks = 0;
  const timer = setInterval(() => {
    load().then(() => { document.body.dataset.ticks = String(++ticks); }, exposed.onError);
  }, refreshSeconds(params, 5) * 1000);
  return () => clearInterval(timer);
}
