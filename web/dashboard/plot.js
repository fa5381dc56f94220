// Time-series plots on uPlot (the global `uPlot` from /vendor, see uplotReady): a time axis in local
// time, a value axis labelled with the unit, values on hover in the legend, zoom by dragging
// across the plot (double-click resets), width following the container.
import { format, meta, number } from './units.js';

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b',
  '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#ad494a'];

// uPlot's script, loaded once by the first view that plots (index.html starts it early when
// the page opens on such a view and leaves the promise in window.uplotLoading).
export function uplotReady() {
  if (window.uPlot) return Promise.resolve();
  if (!window.uplotLoading) {
    window.uplotLoading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/vendor/uPlot.iife.min.js';
      s.onload = resolve;
      s.onerror = () => reject(new Error('/vendor/uPlot.iife.min.js could not be loaded'));
      document.head.append(s);
    });
  }
  return window.uplotLoading;
}

const axisFont = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

// `metric` decides the unit and formatting; `labels` names one series per data column after
// the first (time). Returns a handle with update(data) and the uPlot instance.
// `span` (seconds) pins the time axis to the last `span` seconds of the data (a rolling view).
export function timePlot(container, { metric, labels, data, height = 220, title = null, sync = null, span = null }) {
  const m = meta(metric);
  const width = Math.max(280, container.clientWidth || 600);
  const opts = {
    width,
    height,
    title: title || undefined,
    cursor: {
      drag: { x: true, y: false, setScale: true },
      sync: sync ? { key: sync } : undefined,
      points: { size: 7 },
    },
    scales: { x: span ? { time: true, range: (u, min, max) => (max === null ? [min, max] : [max - span, max]) } : { time: true }, y: m.max === 100 ? { range: [0, 100] }
      : m.zero ? { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] } : { auto: true } },
    legend: { live: true },
    series: [
      { label: 'Time', value: '{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}' },
      ...labels.map((label, i) => ({
        label,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: true,
        points: { show: (u, si, i0, i1) => i1 - i0 < 120 },
        value: (u, v) => format(metric, v),
      })),
    ],
    axes: [
      { font: axisFont, stroke: '#444', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' } },
      {
        font: axisFont,
        stroke: '#444',
        label: m.unit || 'value',
        labelFont: axisFont,
        labelSize: 18,
        size: 56,
        grid: { stroke: '#eee' },
        ticks: { stroke: '#ddd' },
        values: (u, vals) => vals.map((v) => number(v, 2)),
      },
    ],
    hooks: {
      setSelect: [(u) => { if (u.select.width > 0) handle.zoomed = true; }],
    },
  };
  const handle = { zoomed: false, metric };
  const u = new uPlot(opts, data, container);
  handle.uplot = u;
  u.over.addEventListener('dblclick', () => { handle.zoomed = false; });
  const ro = new ResizeObserver(() => {
    const w = Math.max(280, container.clientWidth);
    if (w !== u.width) u.setSize({ width: w, height });
  });
  ro.observe(container);
  handle.update = (next) => { u.setData(next, !handle.zoomed); };
  handle.destroy = () => { ro.disconnect(); u.destroy(); };
  return handle;
}

// Columns {t: [...], v: [...]} of several series -> uPlot's aligned table [xs, ys1, ys2, ...]
// (missing values null).
export function align(columns) {
  if (columns.length === 1) return [columns[0].t, columns[0].v];
  return uPlot.join(columns.map((c) => [c.t, c.v]));
}
