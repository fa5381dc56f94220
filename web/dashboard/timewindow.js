// The time window of the GPU and compare views: 15 min, 1 h, 6 h, the whole retained history,
// or a custom range. Kept in the URL hash (w=1h, or w=custom&from=..&to=..) so a view can be
// linked and reloaded. A window that ends at now updates live.

export const SPANS = { '15m': 15 * 60, '1h': 3600, '6h': 6 * 3600, all: null };
const LABELS = { '15m': '15 min', '1h': '1 h', '6h': '6 h', all: 'All', custom: 'Custom' };

export function fromParams(params) {
  const key = params.get('w') || '1h';
  if (key === 'custom') {
    return { key, from: params.get('from') || '', to: params.get('to') || '' };
  }
  return { key: key in SPANS ? key : '1h' };
}

export function toParams(win, params) {
  params.set('w', win.key);
  params.delete('from');
  params.delete('to');
  if (win.key === 'custom') {
    if (win.from) params.set('from', win.from);
    if (win.to) params.set('to', win.to);
  }
}

// Span in seconds for a sliding window (null: no start bound), and whether it ends at now.
export function describe(win) {
  if (win.key !== 'custom') return { span: SPANS[win.key], live: true, start: null, end: null };
  const start = win.from ? new Date(win.from) : null;
  const end = win.to ? new Date(win.to) : null;
  return {
    span: null,
    live: !end,
    start: start && !Number.isNaN(start.getTime()) ? start.toISOString() : null,
    end: end && !Number.isNaN(end.getTime()) ? end.toISOString() : null,
  };
}

// datetime-local value (local time, minutes) of a Date.
function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// Renders the selector; `onChange(win)` is called with the new window.
export function selector(win, onChange) {
  const box = document.createElement('div');
  box.className = 'window-select';
  box.setAttribute('role', 'group');
  box.setAttribute('aria-label', 'Time window');
  for (const key of ['15m', '1h', '6h', 'all', 'custom']) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = LABELS[key];
    b.dataset.window = key;
    b.className = key === win.key ? 'active' : '';
    b.addEventListener('click', () => {
      if (key !== 'custom') { onChange({ key }); return; }
      const now = new Date();
      onChange({ key, from: localInput(new Date(now - 3600e3)), to: '' });
    });
    box.append(b);
  }
  if (win.key === 'custom') {
    const form = document.createElement('form');
    form.className = 'custom-range';
    form.innerHTML = `<label>From <input type="datetime-local" name="from" step="1"></label>
      <label>To <input type="datetime-local" name="to" step="1" placeholder="now"></label>
      <button type="submit">Apply</button><span class="hint">leave “To” empty to follow now</span>`;
    form.from.value = win.from || '';
    form.to.value = win.to || '';
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      onChange({ key: 'custom', from: form.from.value, to: form.to.value });
    });
    box.append(form);
  }
  return box;
}
