// The real telemetry pipeline for the dashboard's browser tests and benchmarks: a collector
// on free 127.0.0.1 ports with a temporary DATA_DIR, hours of history published through the
// broker by dashboard_seed_history from the real DCGM export, an api-gateway following the
// DATA_DIR read-only, and on demand a telemetry-streamer replaying the export live.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { binaryDir, sourceDir, freePort, startServer, stopProcess } from '../browser.mjs';

export const csvFile = process.env.RM_DCGM_CSV ||
  path.join(sourceDir, 'tests', 'data', 'dcgm_metrics_20250718_134233.csv');
const bin = (rel) => path.join(binaryDir, rel);
export const binaries = {
  collector: bin('apps/telemetry-collector/telemetry-collector'),
  gateway: bin('apps/api-gateway/api-gateway'),
  streamer: bin('apps/telemetry-streamer/telemetry-streamer'),
  seed: bin('tests/browser/dashboard/dashboard_seed_history'),
};

export function run(command, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(command)} ${args.join(' ')} exited with ${code}:\n${err}${out}`));
    });
  });
}

export async function getJSON(url) {
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export async function until(what, fn, timeoutMs = 30000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// Starts an api-gateway over `dataDir`; resolves with {url, stop}.
export async function startGateway(dataDir, { collectorPort = 1, maxEntries = 10000 } = {}) {
  const port = await freePort();
  const gw = await startServer(binaries.gateway, [], {
    env: { DATA_DIR: dataDir, PORT: String(port), METRICS_PORT: '0', HOST: '127.0.0.1',
      COLLECTOR_HOST: '127.0.0.1', COLLECTOR_PORT: String(collectorPort), MAX_ENTRIES: String(maxEntries),
      RM_LOG_LEVEL: 'warn' },
    readyUrl: `http://127.0.0.1:${port}/health`,
  });
  return { url: `http://127.0.0.1:${port}`, process: gw, stop: () => gw.stop() };
}

// Collector + seeded history + gateway. `points` rounds of every GPU and metric of the export,
// `stepMs` apart, ending now; `gpus` limits the seeded GPUs (0 = all 247).
export async function startStack({ points = 120, stepMs = 180000, gpus = 0, maxEntries = 10000 } = {}) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rm-dashboard-'));
  const [health, broker] = [await freePort(), await freePort()];
  const collector = await startServer(binaries.collector, [], {
    env: { DATA_DIR: dataDir, HEALTH_PORT: String(health), BROKER_PORT: String(broker), METRICS_PORT: '0',
      COLLECTOR_ID: 'c1', BIND: '127.0.0.1', MAX_ENTRIES: String(maxEntries), RM_LOG_LEVEL: 'warn' },
    readyUrl: `http://127.0.0.1:${health}/ready`,
  });
  await until('collector ready', async () => (await fetch(`http://127.0.0.1:${health}/ready`)).ok);
  const seeded = JSON.parse(await run(binaries.seed, ['--csv', csvFile, '--broker-port', String(broker),
    '--points', String(points), '--step-ms', String(stepMs), '--gpus', String(gpus)]));
  const gateway = await startGateway(dataDir, { collectorPort: health, maxEntries });
  // The gateway has caught up when it holds every seeded sample.
  await until('gateway caught up with the seeded history', async () => {
    const f = await getJSON(`${gateway.url}/api/v1/fleet`);
    return f.gpus.reduce((s, g) => s + g.samples, 0) === seeded.samples;
  }, 60000);
  let streamer = null;
  const stack = {
    dataDir, seeded, gateway, url: gateway.url, brokerPort: broker, collectorPort: health,
    // A telemetry-streamer replaying the export at `rate` rows/s per worker (2 workers).
    startStreamer(rate = 500) {
      streamer = spawn(binaries.streamer, [], {
        env: { ...process.env, CSV_FILE: csvFile, BROKER_HOST: '127.0.0.1', BROKER_PORT: String(broker),
          RATE: String(rate), WORKERS: '2', LOOPS: '0', PRODUCER_ID: 'browser-test', RM_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      process.on('exit', () => { try { streamer.kill('SIGKILL'); } catch { /* gone */ } });
      return streamer;
    },
    async stopStreamer() {
      if (!streamer) return null;
      const code = await stopProcess(streamer);
      streamer = null;
      return code;
    },
    async stop() {
      await stack.stopStreamer();
      await gateway.stop();
      await collector.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

// Every point of one GPU in [start, end] through the paginated REST API, per metric:
// {metric: {t: [unix s], v: [...]}}.
export async function pagedTelemetry(url, id, { start = null, end = null, metric = null } = {}) {
  const out = {};
  let cursor = null;
  do {
    const q = new URLSearchParams({ limit: '10000' });
    if (start) q.set('start_time', start);
    if (end) q.set('end_time', end);
    if (metric) q.set('metric', metric);
    if (cursor) q.set('cursor', cursor);
    const page = await getJSON(`${url}/api/v1/gpus/${encodeURIComponent(id)}/telemetry?${q}`);
    for (const p of page.points) {
      const col = out[p.metric] || (out[p.metric] = { t: [], v: [] });
      col.t.push(Date.parse(p.timestamp) / 1000 + fractionBeyondMs(p.timestamp));
      col.v.push(p.value);
    }
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

// Date.parse keeps milliseconds; the rest of an RFC 3339 fraction, in seconds.
function fractionBeyondMs(ts) {
  const m = /\.(\d+)Z$/.exec(ts);
  if (!m || m[1].length <= 3) return 0;
  return Number(`0.000${m[1].slice(3)}`);
}
