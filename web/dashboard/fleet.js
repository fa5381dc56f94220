// Fleet view: every GPU grouped by host with its model, UUID and current utilisation,
// temperature, power and memory; a utilisation heatmap of the whole fleet on top; the table
// sorts by any column and filters by host, model, UUID or device. Refreshes every few seconds.
import * as api from './api.js';
import { heat, heatText, heatStops, format, gib, ago } from './units.js';
import { el, esc, refreshSeconds } from './dom.js';

const UTIL = 'DCGM_FI_DEV_GPU_UTIL';
// Column widths (style.css, col.c-<key>) let the tables use a fixed layout: the browser does
// not measure every cell of 247 rows to size the columns.
const COLUMNS = [
  { key: 'host', label: 'Host', type: 'text' },
  { key: 'index', label: 'GPU', type: 'num' },
  { key: 'model', label: 'Model', type: 'text', cls: 'wide-only' },
  { key: 'uuid', label: 'UUID', type: 'text', cls: 'wide-only' },
  { key: 'util', label: 'Util %', type: 'num' },
  { key: 'temp', label: 'Temp °C', type: 'num' },
  { key: 'power', label: 'Power W', type: 'num' },
  { key: 'mem', label: 'Memory used', type: 'num' },
  { key: 'seen', label: 'Last sample', type: 'num', cls: 'wide-only' },
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

// One collator for every comparison (localeCompare with options builds one per call).
const collator = new Intl.Collator('en', { numeric: true });

function compare(key, dir) {
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    const missing = (v) => v === undefined || v === null || Number.isNaN(v);
    if (missing(x) || missing(y)) return missing(x) - missing(y);
    const c = typeof x === 'string' ? collator.compare(x, y) : x - y;
    return dir * c || collator.compare(a.host, b.host) || a.index - b.index;
  };
}

const gpuLink = (r) => `#/gpu/${encodeURIComponent(r.id)}`;

// The heatmap and the table are written as one HTML string each (one DOM write instead of
// ~2,500 createElement calls for 247 GPUs).
function heatmap(list) {
  const byHost = new Map();
  for (const r of list) {
    if (!byHost.has(r.host)) byHost.set(r.host, []);
    byHost.get(r.host).push(r);
  }
  const hosts = [...byHost.keys()].sort(collator.compare);
  // The part every hostname shares (up to a '-'), hidden on narrow screens.
  let prefix = hosts.length > 1 ? hosts[0] : '';
  for (const h of hosts) while (!h.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, prefix.lastIndexOf('-') + 1);
  let html = '';
  for (const h of hosts) {
    const gpus = byHost.get(h).sort((a, b) => a.index - b.index);
    const mean = gpus.reduce((s, r) => s + (r.util || 0), 0) / gpus.length;
    html += `<div class="hm-row" role="listitem"><span class="hm-host" title="${esc(h)}: mean ${Math.round(mean)} %">` +
      `<span class="hm-prefix">${esc(h.slice(0, prefix.length))}</span>${esc(h.slice(prefix.length))}</span><span class="hm-cells">`;
    for (const r of gpus) {
      html += `<a class="hm-cell" href="${esc(gpuLink(r))}" style="background:${heat(r.util)};color:${heatText(r.util)}" ` +
        `title="${esc(`${r.host} GPU ${r.index}: ${format(UTIL, r.util)}, ${format('DCGM_FI_DEV_GPU_TEMP', r.temp)}`)}">` +
        `${r.util === undefined ? '–' : Math.round(r.util)}</a>`;
    }
    html += '</span></div>';
  }
  const grid = el('div', { class: 'heatmap', role: 'list' });
  grid.innerHTML = html;
  const legend = el('div', { class: 'hm-legend' }, 'Utilisation',
    el('span', { class: 'hm-scale' }, heatStops.map((s) => el('span', { style: `background:${heat(s)};color:${heatText(s)}` }, `${s}`))),
    '%');
  return el('section', { class: 'card' }, el('h2', {}, 'Utilisation across the fleet',
    prefix ? el('small', { class: 'narrow-only' }, `hosts ${prefix}…`) : null), grid, legend);
}

const ROW_PX = 31;
const CHUNK = 32;  // rows per table when not grouped by host
const colgroup = `<colgroup>${COLUMNS.map((c) => `<col class="c-${c.key}${c.cls ? ` ${c.cls}` : ''}">`).join('')}</colgroup>`;

function headHTML(state) {
  return `<table class="fleet fleet-head">${colgroup}<thead><tr>${COLUMNS.map((c) => {
    const sorted = state.sort === c.key;
    const cls = [c.cls, c.type === 'num' ? 'num' : ''].filter(Boolean).join(' ');
    return `<th class="${cls}" scope="col" aria-sort="${sorted ? (state.dir > 0 ? 'ascending' : 'descending') : 'none'}">` +
      `<button type="button" data-sort="${c.key}">${esc(c.label)}${sorted ? (state.dir > 0 ? ' ▲' : ' ▼') : ''}</button></th>`;
  }).join('')}</tr></thead></table>`;
}

function rowHTML(r) {
  const pct = r.memTotal ? Math.round((100 * r.mem) / r.memTotal) : null;
  const link = esc(gpuLink(r));
  return `<tr data-gpu="${esc(r.id)}"><td>${esc(r.host)}</td>` +
    `<td class="num"><a href="${link}">${r.index}</a></td>` +
    `<td class="wide-only">${esc(r.model)}</td>` +
    `<td class="wide-only mono uuid"><a href="${link}">${esc(r.uuid)}</a></td>` +
    `<td class="num heat" style="background:${heat(r.util)};color:${heatText(r.util)}">${r.util === undefined ? '–' : Math.round(r.util)}</td>` +
    `<td class="num">${r.temp === undefined ? '–' : Math.round(r.temp)}</td>` +
    `<td class="num">${r.power === undefined ? '–' : r.power.toFixed(1)}</td>` +
    `<td class="num mem">${gib(r.mem)}${pct === null ? ''
      : `<span class="bar" title="${pct} % of ${gib(r.memTotal)}"><span style="width:${pct}%"></span></span>`}</td>` +
    `<td class="wide-only num" title="${esc(r.seenISO)}">${ago(r.seenISO)}</td></tr>`;
}

// One table per host group (or per CHUNK rows), each in a block the browser lays out only
// once it comes near the viewport (content-visibility: auto): most of the 247 rows start
// below the fold. The fixed layout and shared <colgroup> keep the columns of all tables aligned.
function chunkHTML(rowsHtml, nRows, hostRow = '') {
  const px = nRows * ROW_PX + (hostRow ? ROW_PX + 3 : 0);
  return `<div class="rows-chunk" style="contain-intrinsic-size:auto ${px}px"><table class="fleet">${colgroup}` +
    `<tbody>${hostRow}${rowsHtml}</tbody></table></div>`;
}

function bodyHTML(shown, grouped) {
  let html = '';
  if (grouped) {
    const m = new Map();
    for (const r of shown) { if (!m.has(r.host)) m.set(r.host, []); m.get(r.host).push(r); }
    for (const [host, list] of m) {
      const mean = list.reduce((s, r) => s + (r.util || 0), 0) / list.length;
      const head = `<tr class="host-row"><th colspan="${COLUMNS.length}" scope="rowgroup">` +
        `<a href="#/compare?host=${esc(encodeURIComponent(host))}" title="Compare the GPUs of this host">${esc(host)}</a>` +
        `<span class="host-meta">${list.length} GPU${list.length === 1 ? '' : 's'} · mean ${Math.round(mean)} %</span></th></tr>`;
      html += chunkHTML(list.map(rowHTML).join(''), list.length, head);
    }
  } else {
    for (let i = 0; i < shown.length; i += CHUNK) {
      const part = shown.slice(i, i + CHUNK);
      html += chunkHTML(part.map(rowHTML).join(''), part.length);
    }
  }
  return html;
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
  const table = el('div', { class: 'fleet-tables' });
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
    table.innerHTML = headHTML(state) + bodyHTML(shown, state.grouped);
  };
  table.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-sort]');
    if (!b) return;
    const c = COLUMNS.find((x) => x.key === b.dataset.sort);
    state.dir = state.sort === c.key ? -state.dir : (c.type === 'num' && c.key !== 'index' ? -1 : 1);
    state.sort = c.key;
    renderTable();
  });

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
