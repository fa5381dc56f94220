// Browser-test harness: Debian's chromium driven by playwright-core (from web/node_modules).
//
//   import { launch, watchConsole, artifactsDir, startServer, freePort } from './browser.mjs';
//   const browser = await launch();
//   const page = await browser.newPage();
//   const errors = watchConsole(page);          // console errors, page errors, failed requests
//   ...
//   await page.screenshot({ path: `${artifactsDir()}/view.png` });
//
// Chromium runs headless with the flags this closed network needs (no background networking,
// component updates, sync or first-run calls that would dial out) and a fresh temporary
// profile per launch (playwright creates and removes it). RM_CHROMIUM overrides the binary.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = process.env.RM_SOURCE_DIR || path.resolve(here, '../..');
export const binaryDir = process.env.RM_BINARY_DIR || path.join(sourceDir, 'build');
const require = createRequire(path.join(sourceDir, 'web', 'package.json'));
const { chromium } = require('playwright-core');

export const chromiumFlags = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--metrics-recording-only',
];

export async function launch({ args = [], ...options } = {}) {
  return chromium.launch({
    executablePath: process.env.RM_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...chromiumFlags, ...args],
    ...options,
  });
}

// Collects everything that went wrong on a page; assert it is empty at the end of a test.
export function watchConsole(page) {
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()} (${msg.location()?.url ?? ''})`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on('response', (res) => { if (res.status() >= 500) errors.push(`HTTP ${res.status()}: ${res.url()}`); });
  return errors;
}

export function artifactsDir() {
  const dir = process.env.RM_ARTIFACTS_DIR || path.join(binaryDir, 'artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

// A TCP port nobody listens on right now, below the ephemeral range (as tests/support/free_port.hpp).
export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const ok = await new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port found');
}

// Starts a server process and waits until `readyUrl` answers (any status < 500), or fails
// with the process' output. The process is killed when the test process exits.
export async function startServer(command, args, { env = {}, readyUrl, timeoutMs = 30000 } = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  process.on('exit', () => { try { child.kill('SIGKILL'); } catch { /* gone */ } });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(readyUrl);
      if (res.status < 500) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${command} did not answer ${readyUrl} within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => output, stop: () => stopProcess(child) };
}

export async function stopProcess(child, signal = 'SIGTERM', timeoutMs = 10000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const done = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await done;
  clearTimeout(timer);
  return code;
}

// Minimal assertion helper with a readable failure.
export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}
