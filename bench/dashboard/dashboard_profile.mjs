// Where a dashboard load spends its time, from a Chromium trace (devtools.timeline) and the
// page's own Performance API entries, for the two benchmarked views (fleet of 247 GPUs, a GPU
// with 10 x 10,000 points), each loaded in a fresh browser context:
//   - every request: start, time to first byte, end, transfer size (Resource Timing);
//   - the dashboard's user-timing marks (data received/parsed, view built, plots drawn);
//   - the renderer main thread's top-level trace events summed by name (script, style,
//     layout, paint, HTML/JSON parse ...), and the wall time to "painted".
//   node bench/dashboard/dashboard_profile.mjs [runs] [trace.json]   (RM_BINARY_DIR=build)
import { writeFileSync } from 'node:fs';
import { launch } from '../../tests/browser/browser.mjs';
import { startStack } from '../../tests/browser/dashboard/stack.mjs';

const runs = Number(process.argv[2] || 3);
const traceOut = process.argv[3] || null;
const CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink.user_timing'];

// Top-level complete events of the renderer main thread, summed by name (nested events are
// folded into their parent so nothing counts twice).
function mainThreadSummary(trace) {
  const events = trace.traceEvents;
  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain' &&
    events.some((x) => x.pid === e.pid && x.name === 'EvaluateScript'));
  if (!main) return {};
  const mine = events.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur)
    .sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const sums = {};
  let end = -Infinity;
  for (const e of mine) {
    if (e.ts < end) continue;  // nested in the previous top-level event
    end = e.ts + e.dur;
    const name = e.name === 'FunctionCall' || e.name === 'EvaluateScript' || e.name === 'v8.callFunction' ? 'script'
      : e.name;
    sums[name] = (sums[name] || 0) + e.dur / 1000;
  }
  return sums;
}

async function profile(browser, url, ready, label) {
  const rows = [];
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    const page = await ctx.newPage();
    await browser.startTracing(page, { categories: CATEGORIES });
    await page.goto(url);
    await page.waitForSelector(`body[data-complete][data-ready="${ready}"]`, { timeout: 30000 });
    const buf = await browser.stopTracing();
    const trace = JSON.parse(buf.toString());
    if (traceOut && i === runs - 1) writeFileSync(traceOut.replace(/\.json$/, `-${ready}.json`), buf);
    const perf = await page.evaluate(() => ({
      painted: window.dashboard.timing.paintedAt,
      resources: performance.getEntriesByType('resource').map((r) => ({
        name: new URL(r.name).pathname, start: r.startTime, ttfb: r.responseStart, end: r.responseEnd,
        size: r.encodedBodySize,
      })),
      nav: (({ responseStart, responseEnd, domContentLoadedEventEnd }) => ({ responseStart, responseEnd, domContentLoadedEventEnd }))(
        performance.getEntriesByType('navigation')[0]),
      marks: performance.getEntriesByType('mark').map((m) => ({ name: m.name, t: m.startTime })),
      measures: performance.getEntriesByType('measure').map((m) => ({ name: m.name, start: m.startTime, dur: m.duration })),
    }));
    rows.push({ perf, main: mainThreadSummary(trace) });
    await ctx.close();
  }
  const last = rows[rows.length - 1].perf;
  console.log(`\n== ${label}: painted at ${rows.map((r) => r.perf.painted.toFixed(0)).join(', ')} ms`);
  console.log(`document: first byte ${last.nav.responseStart.toFixed(1)}, DOMContentLoaded ${last.nav.domContentLoadedEventEnd.toFixed(1)} ms`);
  for (const r of last.resources) {
    console.log(`  ${r.name.padEnd(36)} start ${r.start.toFixed(1).padStart(7)}  first byte ${r.ttfb.toFixed(1).padStart(7)}  end ${r.end.toFixed(1).padStart(7)}  ${(r.size / 1024).toFixed(1).padStart(8)} KiB`);
  }
  for (const m of last.marks) console.log(`  mark ${m.name.padEnd(31)} ${m.t.toFixed(1).padStart(7)} ms`);
  for (const m of last.measures) console.log(`  measure ${m.name.padEnd(28)} ${m.start.toFixed(1).padStart(7)} +${m.dur.toFixed(1)} ms`);
  const names = new Set(rows.flatMap((r) => Object.keys(r.main)));
  const avg = [...names].map((n) => [n, rows.reduce((s, r) => s + (r.main[n] || 0), 0) / rows.length])
    .sort((a, b) => b[1] - a[1]).filter(([, ms]) => ms >= 0.5);
  console.log(`  main thread, mean of ${rows.length} loads (top-level trace events):`);
  for (const [n, ms] of avg) console.log(`    ${n.padEnd(30)} ${ms.toFixed(1).padStart(7)} ms`);
}

const browser = await launch();
try {
  let stack = await startStack({ points: 30, stepMs: 60000 });
  try {
    await profile(browser, `${stack.url}/`, 'fleet', 'fleet view, 247 GPUs');
  } finally {
    await stack.stop();
  }
  stack = await startStack({ points: 10000, stepMs: 1000, gpus: 1, maxEntries: 200000 });
  try {
    const fleet = await (await fetch(`${stack.url}/api/v1/fleet`)).json();
    const id = fleet.gpus[0].id;
    await profile(browser, `${stack.url}/#/gpu/${encodeURIComponent(id)}?w=all`, 'gpu', 'GPU view, 10 x 10,000 points');
  } finally {
    await stack.stop();
  }
} finally {
  await browser.close();
}
