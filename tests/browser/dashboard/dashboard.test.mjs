// The dashboard in headless Chromium against the real pipeline (collector, seeded history from
// the real DCGM export, api-gateway, a live telemetry-streamer):
//   fleet view lists exactly the GPUs and hosts the API lists, filters and sorts;
//   a GPU's plots hold exactly the points the API returns for the window, for 6 h, 1 h,
//   15 min and a custom range picked with the window selector;
//   live updates add the streamer's new points and stay equal to the API;
//   compare plots every GPU of a host; pipeline health shows the collector and the ingest rate;
//   Swagger UI lists every operation of /openapi.json;
//   a gateway over a read-only copy of DATA_DIR serves the dashboard with caching headers;
//   the fleet view fits a phone's width; no console errors anywhere.
// Screenshots: <artifacts>/dashboard-*.png (docs/dashboard.md shows copies).
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, watchConsole, artifactsDir, check } from '../browser.mjs';
import { startStack, startGateway, getJSON, pagedTelemetry, until } from './stack.mjs';

const shots = artifactsDir();
const log = (...a) => console.log('dashboard test:', ...a);
const UTIL = 'DCGM_FI_DEV_GPU_UTIL';

const stack = await startStack({ points: 120, stepMs: 180000 });
log(`seeded ${stack.seeded.samples} samples of ${stack.seeded.gpus} GPUs`);
const browser = await launch({ env: { ...process.env, TZ: 'UTC' } });
const errors = [];
let readOnly = null;

// The page's plot data for a metric: {t, v} of its uPlot instance.
const plotted = (page) => page.evaluate(() => {
  const out = {};
  for (const [m, p] of Object.entries(window.dashboard.plots)) {
    out[m] = { t: Array.from(p.uplot.data[0]), v: Array.from(p.uplot.data[1]) };
  }
  return out;
});

// The plots hold exactly the API's points for [start, end], metric by metric.
function sameAsApi(label, page, api) {
  const metrics = Object.keys(api).sort();
  check(JSON.stringify(Object.keys(page).sort()) === JSON.stringify(metrics),
    `${label}: plots for ${Object.keys(page).sort()} but the API has ${metrics}`);
  let total = 0;
  for (const m of metrics) {
    const a = api[m];
    const p = page[m];
    check(p.t.length === a.t.length, `${label}: ${m} plots ${p.t.length} points, the API returns ${a.t.length}`);
    for (let i = 0; i < a.t.length; i++) {
      check(Math.abs(p.t[i] - a.t[i]) < 1e-5, `${label}: ${m}[${i}] at ${p.t[i]}, API ${a.t[i]}`);
      check(p.v[i] === a.v[i], `${label}: ${m}[${i}] = ${p.v[i]}, API ${a.v[i]}`);
    }
    total += a.t.length;
  }
  return total;
}

async function windowOf(page) {
  return page.evaluate(() => window.dashboard.window);
}

try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  errors.push(...[]);
  const pageErrors = watchConsole(page);
  const api = await getJSON(`${stack.url}/api/v1/gpus`);
  const hosts = await getJSON(`${stack.url}/api/v1/hosts`);
  check(api.count === 247 && hosts.count === 31, `the export has 247 GPUs on 31 hosts, the API lists ${api.count} on ${hosts.count}`);

  // ---- Fleet view
  await page.goto(`${stack.url}/`);
  await page.waitForSelector('body[data-ready="fleet"]', { timeout: 20000 });
  const listed = await page.$$eval('tr[data-gpu]', (rows) => rows.map((r) => r.dataset.gpu));
  check(listed.length === api.count, `fleet lists ${listed.length} GPUs, the API ${api.count}`);
  check(JSON.stringify([...listed].sort()) === JSON.stringify(api.gpus.map((g) => g.id).sort()),
    'fleet lists exactly the GPUs of /api/v1/gpus');
  const hostRows = await page.$$eval('tr.host-row', (rows) => rows.map((r) => r.querySelector('a').textContent));
  check(JSON.stringify(hostRows) === JSON.stringify(hosts.hosts.map((h) => h.hostname)),
    `fleet groups by the API's hosts: ${hostRows.length} groups`);
  check(await page.locator('.hm-cell').count() === 247, 'the heatmap has a cell per GPU');
  // Every GPU row shows the UUID and links to its GPU view.
  const uuidLinks = await page.$$eval('td.uuid a', (as) => as.map((a) => a.getAttribute('href')));
  check(uuidLinks.length === 247 && uuidLinks.every((h) => h.startsWith('#/gpu/GPU-')), 'every row links its UUID to the GPU view');
  await page.screenshot({ path: path.join(shots, 'dashboard-fleet.png') });

  // Filter: one host's GPUs, as /api/v1/hosts/{host}/gpus lists them.
  const host = hosts.hosts[10].hostname;
  const hostGpus = await getJSON(`${stack.url}/api/v1/hosts/${host}/gpus`);
  await page.fill('input.filter', host);
  const filtered = await page.$$eval('tr[data-gpu]', (rows) => rows.map((r) => r.dataset.gpu));
  check(JSON.stringify(filtered.sort()) === JSON.stringify(hostGpus.gpus.map((g) => g.id).sort()),
    `filter '${host}' shows its ${hostGpus.count} GPUs, got ${filtered.length}`);
  await page.fill('input.filter', '');
  // Sort by utilisation, descending, ungrouped: the column reads as a descending list.
  await page.uncheck('#group');
  await page.click('button[data-sort="util"]');
  const utils = await page.$$eval('tr[data-gpu] td.heat', (tds) => tds.map((td) => Number(td.textContent)));
  check(utils.length === 247 && utils.every((u, i) => i === 0 || utils[i - 1] >= u), 'sorted by utilisation, descending');
  log('fleet ok: 247 GPUs, 31 hosts, filter and sort');

  // ---- GPU view: the window selector and exact points
  const gpu = api.gpus.find((g) => g.hostname === host);
  await page.goto(`${stack.url}/#/gpu/${encodeURIComponent(gpu.id)}?w=6h&refresh=1`);
  await page.waitForSelector('body[data-complete][data-ready="gpu"]', { timeout: 20000 });
  const counts = {};
  for (const w of ['6h', '1h', '15m']) {
    if (w !== '6h') {
      await page.click(`button[data-window="${w}"]`);
      await page.waitForFunction((x) => document.body.dataset.ready === 'gpu' && document.body.dataset.complete && window.dashboard.window?.key === x, w);
    }
    const win = await windowOf(page);
    const want = await pagedTelemetry(stack.url, gpu.id, { start: win.startISO });
    counts[w] = sameAsApi(`window ${w}`, await plotted(page), want);
    check(Object.keys(want).length === 10, `${w}: all 10 DCGM metrics plotted`);
  }
  check(counts['6h'] > counts['1h'] && counts['1h'] > counts['15m'] && counts['15m'] > 0,
    `longer windows hold more points: ${JSON.stringify(counts)}`);
  log(`GPU view ok: points per window ${JSON.stringify(counts)}`);

  // Live: the streamer's new points appear without reloading, then equal the API again.
  await page.click('button[data-window="1h"]');
  await page.waitForFunction(() => document.body.dataset.ready === 'gpu' && document.body.dataset.complete && window.dashboard.window?.key === '1h');
  const before = (await plotted(page))[UTIL].t;
  const seededEnd = stack.seeded.last_ns / 1e9;
  stack.startStreamer(500);
  await until('live points in the plot', async () => {
    const now = (await plotted(page))[UTIL].t;
    return now.length > before.length + 2 && now[now.length - 1] > seededEnd;
  }, 40000, 250);
  await page.screenshot({ path: path.join(shots, 'dashboard-gpu.png') });

  // ---- Pipeline health while the streamer runs.
  const health = await browser.newPage({ viewport: { width: 1360, height: 760 } });
  const healthErrors = watchConsole(health);
  await health.goto(`${stack.url}/#/health?refresh=1`);
  await health.waitForSelector('body[data-ready="health"]');
  await until('an ingest rate', async () => health.evaluate(() => {
    const h = window.dashboard.history;
    return h && h.ingest.length >= 6 && h.ingest[h.ingest.length - 1] > 0;
  }), 20000, 250);
  const states = await health.$$eval('.health-card', (cs) => cs.map((c) => `${c.dataset.part}=${c.querySelector('.pill').textContent}`));
  check(JSON.stringify(states) === JSON.stringify(['streamers=streaming', 'collector=ok', 'gateway=ok']),
    `pipeline states: ${states}`);
  const stats = await getJSON(`http://127.0.0.1:${stack.collectorPort}/stats`);
  const shown = await health.evaluate(() => window.dashboard.pipeline.collector.stats.samples);
  check(shown <= stats.samples && shown >= stack.seeded.samples, `health shows the collector's sample count (${shown}, now ${stats.samples})`);
  await health.screenshot({ path: path.join(shots, 'dashboard-health.png') });
  await health.close();
  log('pipeline health ok:', states.join(', '));

  const streamerExit = await stack.stopStreamer();
  check(streamerExit === 0, `the streamer exits cleanly on SIGTERM (exit ${streamerExit})`);
  // Everything the streamer published is stored (it exits after its acks); wait for the
  // gateway to hold it, then for two more page refreshes.
  const total = async () => (await getJSON(`${stack.url}/api/v1/fleet`)).gpus.reduce((s, g) => s + g.samples, 0);
  const stored = (await getJSON(`http://127.0.0.1:${stack.collectorPort}/stats`)).samples;
  await until('the gateway holds every stored sample', async () => (await total()) === stored, 20000);
  const tick = Number(await page.evaluate(() => document.body.dataset.ticks || 0));
  await page.waitForFunction((t) => Number(document.body.dataset.ticks || 0) >= t + 2, tick, { timeout: 20000 });
  const liveWin = await windowOf(page);
  const liveCount = sameAsApi('after live updates', await plotted(page),
    await pagedTelemetry(stack.url, gpu.id, { start: liveWin.startISO }));
  check(liveCount > counts['1h'], `live updates added points: ${counts['1h']} -> ${liveCount}`);
  log(`live ok: ${counts['1h']} -> ${liveCount} points in 1 h`);

  // Custom range through the form: a fixed window two to one hours ago.
  const from = new Date(Date.now() - 2 * 3600e3).toISOString().slice(0, 19);
  const to = new Date(Date.now() - 3600e3).toISOString().slice(0, 19);
  await page.click('button[data-window="custom"]');
  await page.waitForSelector('form.custom-range');
  await page.fill('form.custom-range input[name=from]', from);
  await page.fill('form.custom-range input[name=to]', to);
  await page.click('form.custom-range button[type=submit]');
  await page.waitForFunction(() => document.body.dataset.ready === 'gpu' && document.body.dataset.complete && window.dashboard.window?.key === 'custom' && window.dashboard.window.to);
  const cw = await windowOf(page);
  check(cw.live === false && await page.locator('.live-flag[data-live="0"]').count() === 1, 'a range that ends in the past is not live');
  const customCount = sameAsApi('custom range', await plotted(page),
    await pagedTelemetry(stack.url, gpu.id, { start: cw.startISO, end: cw.endISO }));
  check(customCount >= 190 && customCount <= 210, `one hour of 3-minute history is ~200 points, got ${customCount}`);
  log(`custom range ok: ${customCount} points`);

  // Zoom by dragging across a plot narrows its time axis.
  const over = page.locator('article[data-metric="DCGM_FI_DEV_GPU_TEMP"] .u-over');
  const box = await over.boundingBox();
  const xBefore = await page.evaluate(() => { const s = window.dashboard.plots.DCGM_FI_DEV_GPU_TEMP.uplot.scales.x; return s.max - s.min; });
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  const xAfter = await page.evaluate(() => { const s = window.dashboard.plots.DCGM_FI_DEV_GPU_TEMP.uplot.scales.x; return s.max - s.min; });
  check(xAfter < xBefore * 0.5, `dragging zooms in: ${xBefore} s -> ${xAfter} s`);
  // Hovering shows values in the legend.
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
  const legend = await page.locator('article[data-metric="DCGM_FI_DEV_GPU_TEMP"] .u-legend .u-value').nth(1).textContent();
  check(/°C$/.test(legend), `hover shows the value with its unit: '${legend}'`);

  // ---- Compare: every GPU of a host on one plot, each with exactly its API points.
  await page.goto(`${stack.url}/#/compare?host=${host}&w=1h&metric=${UTIL}`);
  await page.waitForSelector('body[data-ready="compare"]');
  const cmp = await page.evaluate(() => ({ gpus: window.dashboard.gpus, start: window.dashboard.live.startISO,
    data: window.dashboard.plot.uplot.data.map((c) => Array.from(c)) }));
  check(cmp.gpus.length === hostGpus.count && cmp.data.length === hostGpus.count + 1, `compare plots the ${hostGpus.count} GPUs of ${host}`);
  for (let i = 0; i < cmp.gpus.length; i++) {
    const want = (await pagedTelemetry(stack.url, cmp.gpus[i], { start: cmp.start, metric: UTIL }))[UTIL];
    const got = cmp.data[i + 1].filter((v) => v !== null && v !== undefined);
    check(got.length === want.v.length && got.every((v, k) => v === want.v[k]), `compare: ${cmp.gpus[i]} has its ${want.v.length} API points (got ${got.length})`);
  }
  await page.screenshot({ path: path.join(shots, 'dashboard-compare.png') });
  log(`compare ok: ${cmp.gpus.length} GPUs of ${host}`);

  // ---- Swagger UI on the generated OpenAPI document.
  const doc = await getJSON(`${stack.url}/openapi.json`);
  const ops = Object.values(doc.paths).reduce((s, item) => s + Object.keys(item).length, 0);
  await page.goto(`${stack.url}/docs/`);
  await page.waitForSelector('body[data-ready="docs"]', { timeout: 20000 });
  await page.waitForSelector('.opblock');
  const shownOps = await page.locator('.opblock').count();
  check(shownOps === ops, `Swagger UI shows ${shownOps} operations, the document has ${ops}`);
  await page.screenshot({ path: path.join(shots, 'dashboard-docs.png') });
  log(`swagger ok: ${ops} operations`);

  // ---- Read-only DATA_DIR: a second gateway over a copy nobody may write.
  const roDir = mkdtempSync(path.join(os.tmpdir(), 'rm-dashboard-ro-'));
  cpSync(stack.dataDir, roDir, { recursive: true });
  const lock = (p) => {
    for (const e of readdirSync(p)) { const q = path.join(p, e); if (statSync(q).isDirectory()) lock(q); else chmodSync(q, 0o444); }
    chmodSync(p, 0o555);
  };
  lock(roDir);
  readOnly = { dir: roDir, gateway: await startGateway(roDir) };
  const ro = readOnly.gateway.url;
  await until('read-only gateway loaded', async () => (await getJSON(`${ro}/api/v1/gpus`)).count === 247, 30000);
  const first = await fetch(`${ro}/app.js`);
  const etag = first.headers.get('etag');
  check(first.status === 200 && /max-age|no-cache/.test(first.headers.get('cache-control') || '') && etag,
    `static files carry caching headers (cache-control '${first.headers.get('cache-control')}', etag '${etag}')`);
  const again = await fetch(`${ro}/app.js`, { headers: { 'if-none-match': etag } });
  check(again.status === 304, `a revalidation with the ETag is a 304 (got ${again.status})`);
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  const phoneErrors = watchConsole(phone);
  await phone.goto(`${ro}/`);
  await phone.waitForSelector('body[data-ready="fleet"]');
  check(await phone.locator('tr[data-gpu]').count() === 247, 'the read-only gateway lists all 247 GPUs');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the fleet view fits a 390 px phone screen (overflow ${overflow} px)`);
  await phone.screenshot({ path: path.join(shots, 'dashboard-phone.png') });
  check(phoneErrors.length === 0, `no console errors on the phone: ${phoneErrors.join('; ')}`);
  await phone.close();
  log('read-only DATA_DIR and phone layout ok');

  errors.push(...pageErrors, ...healthErrors);
  check(errors.length === 0, `no console errors: ${errors.join('; ')}`);
  log('all checks passed');
} finally {
  await browser.close();
  if (readOnly) {
    await readOnly.gateway.stop();
    chmodSync(readOnly.dir, 0o755);
    const unlock = (p) => { chmodSync(p, 0o755); for (const e of readdirSync(p)) { const q = path.join(p, e); if (statSync(q).isDirectory()) unlock(q); } };
    unlock(readOnly.dir);
    rmSync(readOnly.dir, { recursive: true, force: true });
  }
  await stack.stop();
}
