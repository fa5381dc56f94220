// The streaming page without Docker: `remotemedia serve` with examples/server/passthrough.yaml,
// chromium's fake microphone playing a 440 Hz tone. The page must list the pipelines, stream
// 20 ms chunks at 16 kHz once the session is ready, and show every echoed chunk in #outputs
// as it comes back; "Stop" ends the session cleanly (done, close 1000). Then the session-params
// form: chunked.yaml with chunker.chunk_size set to 640 in the page streams 40 ms chunks back,
// and the list then holds that session's outputs only (a new session clears #outputs).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, watchConsole, artifactsDir, freePort, startServer, stopProcess, sourceDir, binaryDir, check } from './browser.mjs';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rm-stream-page-'));
const tone = path.join(tmp, 'tone.wav');
execFileSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', tone, 'synth', '3', 'sine', '440', 'vol', '0.5']);
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const server = await startServer(path.join(binaryDir, 'apps/remotemedia/remotemedia'),
  ['serve', '--listen', `127.0.0.1:${port}`, '--pipelines', path.join(sourceDir, 'examples/server')],
  { readyUrl: `${url}/health` });
const browser = await launch({
  args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${tone}`],
});
let failure = null;
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  const errors = watchConsole(page);
  await page.goto(`${url}/`);
  await page.waitForSelector('#pipeline option[value="passthrough"]', { state: 'attached' });
  await page.selectOption('#pipeline', 'passthrough');
  check(await page.isHidden('#params'), 'no params form for a pipeline that allows none');
  const details = await page.textContent('#details');
  check(details.includes('16000 Hz'), `details name the rate: ${details}`);
  await page.click('#start');
  await page.waitForSelector('body[data-streaming="1"]', { timeout: 20000 });
  await page.waitForTimeout(1500);
  await page.click('#stop');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Done'), null, { timeout: 20000 });
  const status = await page.textContent('#status');
  const items = await page.$$eval('#outputs li', (lis) => lis.map((li) => ({
    node: li.dataset.node, t: Number(li.dataset.timestampUs), text: li.textContent })));
  await page.screenshot({ path: path.join(artifactsDir(), 'stream-page-passthrough.png'), fullPage: false });
  // "Done: N chunks sent, M outputs." and one element per output, every one an echoed 20 ms chunk.
  const [, sent, outs] = status.match(/Done: (\d+) chunks sent, (\d+) outputs/) || [];
  check(Number(sent) >= 40, `about 1.5 s of 20 ms chunks sent, got ${status}`);
  check(Number(outs) === Number(sent), `every chunk came back: ${status}`);
  check(items.length === Number(outs), `${items.length} elements in #outputs for ${outs} outputs`);
  check(items.every((x) => x.node === 'echo' && x.text.includes('audio · 20 ms · 16000 Hz')), `outputs: ${items[0]?.text}`);
  check(items.every((x, i) => i === 0 || x.t > items[i - 1].t), 'outputs arrive in media-time order');

  // A session param from the form: 640 frames = 40 ms chunks instead of the manifest's 320.
  await page.selectOption('#pipeline', 'chunked');
  await page.waitForSelector('#params:not([hidden])');
  check(await page.inputValue('#param-chunker\\.chunk_size') === '320', 'the field shows the manifest value');
  await page.fill('#param-chunker\\.chunk_size', '640');
  await page.click('#start');
  await page.waitForSelector('body[data-streaming="1"]', { timeout: 20000 });
  await page.waitForTimeout(1500);
  await page.click('#stop');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Done'), null, { timeout: 20000 });
  const chunkedStatus = await page.textContent('#status');
  const chunked = await page.$$eval('#outputs li', (lis) => lis.map((li) => ({
    node: li.dataset.node, text: li.textContent })));
  // The screenshot after the run: the form with 640 and this session's outputs, 40 ms each.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(artifactsDir(), 'stream-page-params.png'), fullPage: false });
  // The new session started with an empty list: only its own outputs are shown, counted.
  const [, , chunkedOuts] = chunkedStatus.match(/Done: (\d+) chunks sent, (\d+) outputs/) || [];
  check(chunked.length === Number(chunkedOuts), `${chunked.length} elements in #outputs for ${chunkedStatus}`);
  check(await page.textContent('#count') === chunkedOuts, 'the output count restarted with the session');
  check(chunked.length >= 15, `about 1.5 s in 40 ms chunks, got ${chunked.length}`);
  // Every chunk but a shorter last one (the remainder at end of stream) is 40 ms.
  check(chunked.slice(0, -1).every((x) => x.node === 'chunker' && x.text.includes('audio · 40 ms · 16000 Hz')),
    `chunked outputs: ${chunked[0]?.text}`);
  check(errors.length === 0, `no console errors: ${errors.join('; ')}`);
  console.log(`stream page ok: ${status}; ${chunked.length} chunks of 40 ms with chunker.chunk_size=640`);
} catch (e) {
  failure = e;
} finally {
  await browser.close();
  const code = await stopProcess(server.child);
  rmSync(tmp, { recursive: true, force: true });
  if (!failure && code !== 0) failure = new Error(`server exited with ${code}:\n${server.output()}`);
}
if (failure) {
  console.error(failure.stack || String(failure));
  process.exit(1);
}
