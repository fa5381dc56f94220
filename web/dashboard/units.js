// What the dashboard knows about DCGM metrics: a readable name, the unit and how to format a
// value. Metrics it does not know are shown with their raw name and no unit.

const KNOWN = {
  DCGM_FI_DEV_GPU_UTIL: { label: 'GPU utilisation', unit: '%', digits: 0, max: 100 },
  DCGM_FI_DEV_MEM_COPY_UTIL: { label: 'Memory copy utilisation', unit: '%', digits: 0, max: 100 },
  DCGM_FI_DEV_ENC_UTIL: { label: 'Encoder utilisation', unit: '%', digits: 0, max: 100 },
  DCGM_FI_DEV_DEC_UTIL: { label: 'Decoder utilisation', unit: '%', digits: 0, max: 100 },
  DCGM_FI_DEV_GPU_TEMP: { label: 'GPU temperature', unit: '°C', digits: 0 },
  DCGM_FI_DEV_POWER_USAGE: { label: 'Power draw', unit: 'W', digits: 1 },
  DCGM_FI_DEV_FB_USED: { label: 'Framebuffer used', unit: 'MiB', digits: 0 },
  DCGM_FI_DEV_FB_FREE: { label: 'Framebuffer free', unit: 'MiB', digits: 0 },
  DCGM_FI_DEV_SM_CLOCK: { label: 'SM clock', unit: 'MHz', digits: 0 },
  DCGM_FI_DEV_MEM_CLOCK: { label: 'Memory clock', unit: 'MHz', digits: 0 },
  ingest: { label: 'Ingest rate', unit: 'samples/s', digits: 1, zero: true },
};

// Plot order on the GPU view: the fleet columns first, then the rest by name.
const ORDER = ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE',
  'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_MEM_COPY_UTIL', 'DCGM_FI_DEV_FB_FREE',
  'DCGM_FI_DEV_SM_CLOCK', 'DCGM_FI_DEV_MEM_CLOCK', 'DCGM_FI_DEV_ENC_UTIL', 'DCGM_FI_DEV_DEC_UTIL'];

export function meta(metric) {
  return KNOWN[metric] || { label: metric, unit: '', digits: 2 };
}

export function sortMetrics(names) {
  const rank = (m) => { const i = ORDER.indexOf(m); return i < 0 ? ORDER.length : i; };
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

// Intl formatters are costly to create; one per number of digits.
const formatters = new Map();
export function number(value, digits) {
  let f = formatters.get(digits);
  if (!f) formatters.set(digits, (f = new Intl.NumberFormat('en-US', { maximumFractionDigits: digits })));
  return f.format(value);
}

export function format(metric, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const m = meta(metric);
  const text = number(value, m.digits);
  return m.unit ? `${text} ${m.unit}` : text;
}

export function gib(mib) {
  return mib === undefined ? '–' : `${(mib / 1024).toFixed(1)} GiB`;
}

// Colour of a utilisation (0..100) on a light-to-hot sequential scale (the heatmap legend).
const STOPS = [[0, [232, 240, 248]], [10, [198, 219, 239]], [30, [107, 174, 214]],
  [50, [254, 217, 118]], [75, [253, 141, 60]], [100, [189, 0, 38]]];
export function heat(value) {
  if (value === undefined || value === null || Number.isNaN(value)) return '#f4f4f5';
  const v = Math.max(0, Math.min(100, value));
  for (let i = 1; i < STOPS.length; i++) {
    const [x1, c1] = STOPS[i];
    const [x0, c0] = STOPS[i - 1];
    if (v <= x1) {
      const f = (v - x0) / (x1 - x0);
      const c = c0.map((a, k) => Math.round(a + (c1[k] - a) * f));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return 'rgb(189,0,38)';
}
export const heatStops = STOPS.map(([x]) => x);
// Text colour readable on heat(value).
export const heatText = (value) => (value >= 70 ? '#fff' : '#111');

export function ago(iso) {
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (!Number.isFinite(s)) return '–';
  if (s < 2) return 'just now';
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
