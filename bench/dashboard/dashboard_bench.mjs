// Dashboard benchmarks in headless Chromium, on the browser-test harness and pipeline
// (tests/browser/browser.mjs, tests/browser/dashboard/stack.mjs):
//   fleet: the fleet view of all 247 GPUs of the real DCGM export, from navigation start to the
//          first frame painted with the table and heatmap (fresh browser context each run, so
//          nothing is cached), and again in a warm context;
//   gpu:   a GPU view with 10,000 points per metric (10 metrics, 100,000 points): navigation
//          start -> painted with its data (the header and every plot in the viewport drawn with
//          all its points), and switching to it inside the loaded page (hashchange -> painted);
//          and until the plots below the fold are drawn too (data-complete).
// Each line gives the wall time and, from the DevTools protocol (Performance.getMetrics), the
// CPU time the page's main thread spent (ThreadTime delta): on a shared, loaded machine the wall
// time mostly measures waiting for a core, the CPU time what the page itself costs.
//   node bench/dashboard/dashboard_bench.mjs [runs]      (RM_BINARY_DIR=build by default)
import { launch } from '../../tests/browser/browser.mjs';
import { startStack } from '../../tests/browser/dashboard/stack.mjs';

const runs = Number(process.argv[2] || 10);
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const stats = (xs) => `median ${quantile(xs, 0.5).toFixed(1)} ms, p90 ${quantile(xs, 0.9).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
const report = (name, wall, cpu) => console.log(
  `${name.padEnd(44)} wall ${stats(wall)} | main-thread CPU ${stats(cpu)} (${wall.length} runs)`);
const reportComplete = (name, complete) => console.log(`${name.padEnd(44)} wall ${stats(complete)}`);

async function threadTime(cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  return metrics.find((m) => m.name === 'ThreadTime').value * 1000;
}

// Navigates (or runs `trigger`) and waits for the view to be painted; returns
// {wall: ms from navigation start (or from the route change, inPage), cpu: main-thread ms}.
async function measure(page, cdp, url, ready, { trigger = null, inPage = false } = {}) {
  const cpu0 = await threadTime(cdp);
  if (trigger) await trigger(); else await page.goto(url);
  await page.waitForSelector(`body[data-complete][data-ready="${ready}"]`, { timeout: 30000 });
  const timing = await page.evaluate(() => window.dashboard.timing);
  const cpu1 = await threadTime(cdp);
  // A navigation may start a new renderer whose counters begin at zero.
  return { wall: inPage ? timing.renderMs : timing.paintedAt, cpu: cpu1 >= cpu0 ? cpu1 - cpu0 : cpu1,
    complete: inPage ? timing.completeMs : timing.completeAt };
}

async function newPage(ctx) {
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  return { page, cdp };
}

const browser = await launch();
try {
  // ---- Fleet of 247 GPUs
  let stack = await startStack({ points: 30, stepMs: 60000 });
  try {
    const cold = { wall: [], cpu: [] };
    const warm = { wall: [], cpu: [] };
    const add = (acc, m) => { acc.wall.push(m.wall); acc.cpu.push(m.cpu); };
    const ctxWarm = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    const w = await newPage(ctxWarm);
    await measure(w.page, w.cdp, `${stack.url}/`, 'fleet');
    for (let i = 0; i < runs; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 } });
      const c = await newPage(ctx);
      add(cold, await measure(c.page, c.cdp, `${stack.url}/`, 'fleet'));
      const rows = await c.page.locator('tr[data-gpu]').count();
      if (rows !== 247) throw new Error(`fleet shows ${rows} GPUs, expected 247`);
      await ctx.close();
      add(warm, await measure(w.page, w.cdp, null, 'fleet', { trigger: async () => {
        await w.page.evaluate(() => { document.body.removeAttribute('data-complete'); });
        await w.page.reload();
      } }));
    }
    await ctxWarm.close();
    report('fleet view, 247 GPUs, cold (nav -> painted)', cold.wall, cold.cpu);
    report('fleet view, 247 GPUs, warm cache', warm.wall, warm.cpu);
  } finally {
    await stack.stop();
  }

  // ---- GPU view, 10,000 points per metric
  stack = await startStack({ points: 10000, stepMs: 1000, gpus: 1, maxEntries: 200000 });
  try {
    const fleet = await (await fetch(`${stack.url}/api/v1/fleet`)).json();
    const id = fleet.gpus[0].id;
    const series = await (await fetch(`${stack.url}/api/v1/gpus/${id}/series`)).json();
    const perMetric = Object.values(series.series).map((c) => c.t.length);
    if (perMetric.length !== 10 || perMetric.some((n) => n !== 10000)) throw new Error(`expected 10 x 10000 points, got ${perMetric}`);
    const url = `${stack.url}/#/gpu/${encodeURIComponent(id)}?w=all`;
    const load = { wall: [], cpu: [], complete: [] };
    const sw = { wall: [], cpu: [], complete: [] };
    const add = (acc, m) => { acc.wall.push(m.wall); acc.cpu.push(m.cpu); acc.complete.push(m.complete); };
    const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    const { page, cdp } = await newPage(ctx);
    for (let i = 0; i < runs; i++) {
      await page.goto('about:blank');
      add(load, await measure(page, cdp, url, 'gpu'));
      const plotted = await page.evaluate(() => Object.values(window.dashboard.plots).map((p) => p.uplot.data[0].length));
      if (plotted.length !== 10 || plotted.some((n) => n !== 10000)) throw new Error(`plots hold ${plotted}`);
      // In-page switch: fleet, then back to the GPU view through the hash.
      await page.evaluate(() => { window.location.hash = '#/'; });
      await page.waitForSelector('body[data-complete][data-ready="fleet"]');
      add(sw, await measure(page, cdp, null, 'gpu', { inPage: true,
        trigger: () => page.evaluate((h) => { window.location.hash = h; }, url.slice(url.indexOf('#'))) }));
    }
    await ctx.close();
    report('GPU view, 10 x 10,000 points, page load', load.wall, load.cpu);
    report('GPU view, 10 x 10,000 points, in-page switch', sw.wall, sw.cpu);
    reportComplete('GPU view, page load -> all 10 plots drawn', load.complete);
    reportComplete('GPU view, in-page switch -> all 10 plots', sw.complete);
    const bytes = JSON.stringify(series).length;
    console.log(`series response for the GPU view: ${(bytes / 1e6).toFixed(2)} MB, ${series.count} points`);
  } finally {
    await stack.stop();
  }
} finally {
  await browser.close();
}
