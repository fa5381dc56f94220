// The browser harness itself: Debian's chromium starts headless, loads a page that uses the
// vendored uPlot from <build>/share/remotemedia/web/vendor (so the rm_web copy works), draws a
// plot with labelled axes, and reports no console errors.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { launch, watchConsole, artifactsDir, freePort, binaryDir, check } from './browser.mjs';

const vendor = path.join(binaryDir, 'share', 'remotemedia', 'web', 'vendor');
const page_html = `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/vendor/uPlot.min.css"><script src="/vendor/uPlot.iife.min.js"></script>
<style>body{font:15px system-ui,sans-serif;margin:24px}</style></head>
<body><h1>harness</h1><div id="plot"></div><script>
const xs = [...Array(100).keys()].map((i) => 1700000000 + i * 15);
const ys = xs.map((_, i) => 50 + 40 * Math.sin(i / 8));
new uPlot({ width: 640, height: 300, title: 'GPU utilisation',
  series: [{}, { label: 'util (%)', stroke: '#2b6cb0' }],
  axes: [{ label: 'time' }, { label: '%' }] }, [xs, ys], document.getElementById('plot'));
document.body.dataset.ready = '1';
</script></body></html>`;

const server = http.createServer((req, res) => {
  if (req.url === '/favicon.ico') { res.statusCode = 204; res.end(); return; }
  if (req.url === '/') { res.setHeader('content-type', 'text/html'); res.end(page_html); return; }
  const file = path.join(vendor, path.basename(req.url));
  try {
    const body = readFileSync(file);
    res.setHeader('content-type', file.endsWith('.css') ? 'text/css' : 'text/javascript');
    res.end(body);
  } catch { res.statusCode = 404; res.end(); }
});
const port = await freePort();
await new Promise((r) => server.listen(port, '127.0.0.1', r));
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 720, height: 420 } });
  const errors = watchConsole(page);
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 10000 });
  const canvases = await page.locator('#plot canvas').count();
  check(canvases === 1, `one plot canvas expected, found ${canvases}`);
  const legend = await page.locator('.u-legend').innerText();
  check(legend.includes('util (%)'), `legend names the series: ${legend}`);
  await page.screenshot({ path: path.join(artifactsDir(), 'harness-smoke.png') });
  check(errors.length === 0, `no console errors: ${errors.join('; ')}`);
  console.log(`harness ok: ${await browser.version()}`);
} finally {
  await browser.close();
  server.close();
}
