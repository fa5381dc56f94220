// Dashboard benchmarks in headless Chromium, on the browser-test harness and pipeline
// (tests/browser/browser.mjs, tests/browser/dashboard/stack.mjs):
//   fleet: the fleet view of all 247 GPUs of the real DCGM export, from navigation start to the
//          first frame painted with the table and heatmap (fresh browser context each run, so
//          nothing is cached), and again in a warm context;
//   gpu:   a GPU view with 10,000 points per metric (10 metrics, 100,000 points): navigation
//          start -> painted, and switching to it inside the loaded page (hashchange -> painted).
//   node bench/dashboard/dashboard_bench.mjs [runs]      (RM_BINARY_DIR=build by default)
import { launch } from '../../tests/browser/browser.mjs';
import { startStack } from '../../tests/browser/dashboard/stack.mjs';

const runs = Number(process.argv[2] || 10);
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const report = (name, xs) => console.log(
  `${name.padEnd(44)} median ${quantile(xs, 0.5).toFixed(1)} ms  p90 ${quantile(xs, 0.9).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms  (${xs.length} runs)`);

async function measure(page, url, ready) {
  await page.goto(url);
  await page.waitForSelector(`body[data-painted][data-ready="${ready}"]`, { timeout: 30000 });
  return page.evaluate(() => window.dashboard.timing);
}

const browser = await launch();
try {
  // ---- Fleet of 247 GPUs
  let stack = await startStack({ points: 30, stepMs: 60000 });
  try {
    const cold = [];
    const warm = [];
    const ctxWarm = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    const warmPage = await ctxWarm.newPage();
    await measure(warmPage, `${stack.url}/`, 'fleet');
    for (let i = 0; i < runs; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 } });
      const page = await ctx.newPage();
      cold.push((await measure(page, `${stack.url}/`, 'fleet')).paintedAt);
      const rows = await page.locator('tr[data-gpu]').count();
      if (rows !== 247) throw new Error(`fleet shows ${rows} GPUs, expected 247`);
      await ctx.close();
      await warmPage.reload();
      await warmPage.waitForSelector('body[data-painted][data-ready="fleet"]');
      warm.push(await warmPage.evaluate(() => window.dashboard.timing.paintedAt));
    }
    await ctxWarm.close();
    report('fleet view, 247 GPUs, cold (nav -> painted)', cold);
    report('fleet view, 247 GPUs, warm cache', warm);
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
    const load = [];
    const sw = [];
    const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    const page = await ctx.newPage();
    for (let i = 0; i < runs; i++) {
      await page.goto('about:blank');
      load.push((await measure(page, url, 'gpu')).paintedAt);
      const plotted = await page.evaluate(() => Object.values(window.dashboard.plots).map((p) => p.uplot.data[0].length));
      if (plotted.some((n) => n !== 10000)) throw new Error(`plots hold ${plotted}`);
      // In-page switch: fleet, then back to the GPU view through the hash.
      await page.evaluate(() => { window.location.hash = '#/'; });
      await page.waitForSelector('body[data-painted][data-ready="fleet"]');
      await page.evaluate((h) => { window.location.hash = h; }, url.slice(url.indexOf('#')));
      await page.waitForSelector('body[data-painted][data-ready="gpu"]');
      sw.push(await page.evaluate(() => window.dashboard.timing.renderMs));
    }
    await ctx.close();
    report('GPU view, 10 x 10,000 points, page load', load);
    report('GPU view, 10 x 10,000 points, in-page switch', sw);
    const bytes = JSON.stringify(series).length;
    console.log(`series response for the GPU view: ${(bytes / 1e6).toFixed(2)} MB, ${series.count} points`);
  } finally {
    await stack.stop();
  }
} finally {
  await browser.close();
}
