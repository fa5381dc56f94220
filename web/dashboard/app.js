// The dashboard's router: the URL hash picks the view (#/, #/gpu/<id>, #/compare, #/health),
// its query part the view's options. Each view's mount() returns a function that stops its
// timers. `window.dashboard` exposes the current view's state (window, plots) to the browser
// tests and benchmarks.
// Views are imported when first shown (index.html preloads the modules of the view the page
// opens with); uPlot is loaded for the views that plot.
import { el } from './dom.js';
import { uplotReady } from './plot.js';

const VIEWS = {
  fleet: { load: () => import('./fleet.js'), plots: false },
  gpu: { load: () => import('./gpu.js'), plots: true },
  compare: { load: () => import('./compare.js'), plots: true },
  health: { load: () => import('./health.js'), plots: true },
};

const root = document.getElementById('view');
const status = document.getElementById('status');
let unmount = null;
let generation = 0;

function showError(err) {
  status.textContent = err.message;
  status.className = 'status error';
}

function parse() {
  const hash = window.location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

// Resolves after the next frame has been painted.
const painted = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

async function route() {
  const mine = ++generation;
  const routeStart = performance.now();
  if (unmount) { unmount(); unmount = null; }
  delete document.body.dataset.ready;
  delete document.body.dataset.ticks;
  delete document.body.dataset.painted;
  delete document.body.dataset.complete;
  const box = el('div', { class: 'view' });
  root.replaceChildren(box);
  status.textContent = '';
  status.className = 'status';
  const { parts, params } = parse();
  const exposed = { onError: showError };
  window.dashboard = exposed;
  let key = 'fleet';
  let args = { params, exposed };
  if (parts[0] === 'gpu' && parts[1]) { key = 'gpu'; args = { ...args, id: parts[1] }; }
  else if (parts[0] === 'compare' || parts[0] === 'health') key = parts[0];
  const name = key === 'gpu' ? 'fleet' : key;
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === name);
  }
  try {
    const [view] = await Promise.all([VIEWS[key].load(), VIEWS[key].plots ? uplotReady() : null]);
    if (mine !== generation) return;
    const stop = await view.mount(box, args);
    if (mine !== generation) { stop(); return; }
    unmount = stop;
    // Timings for the benchmarks: ms since navigation start, and since this view was asked for.
    await painted();
    exposed.timing = { paintedAt: performance.now(), renderMs: performance.now() - routeStart };
    document.body.dataset.painted = String(generation);
    performance.mark(`${key}:painted`);
    // Views that draw part of their content after the first paint (the GPU view's plots below
    // the fold) do it in exposed.afterPaint; data-complete says everything is drawn.
    if (exposed.afterPaint) await exposed.afterPaint();
    if (mine !== generation) return;
    exposed.timing.completeAt = performance.now();
    exposed.timing.completeMs = performance.now() - routeStart;
    document.body.dataset.complete = String(generation);
  } catch (err) {
    if (mine !== generation) return;
    box.replaceChildren(el('section', { class: 'card error-card' }, el('h2', {}, 'Could not load this view'),
      el('p', {}, err.message), el('p', {}, el('a', { href: '#/' }, 'Back to the fleet'))));
    document.body.dataset.ready = 'error';
  }
}

window.addEventListener('hashchange', route);
route();
