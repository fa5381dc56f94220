// The streaming page end to end: `remotemedia serve` with the transcription pipeline (Silero VAD
// in C++, PocketSphinx in Docker, clean-up in a host Python process), Debian's chromium with its
// fake microphone playing the LibriVox speech of the demo. The page streams it through the
// AudioWorklet; the transcripts must appear in #outputs within the transcription test's WER
// bound. Screenshot in the artifacts directory; no IPC files or containers are left behind.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { launch, watchConsole, artifactsDir, freePort, startServer, stopProcess, sourceDir, binaryDir, check } from './browser.mjs';

const MAX_WER = 0.35;  // as tests/integration/transcription/transcription_test.py
const NORMALISE = { mr: 'mister', mrs: 'missus', dr: 'doctor' };
const CLIPS = '/usr/share/pocketsphinx/test/data/librivox';
const log = (m) => console.log(`[${(performance.now() / 1000).toFixed(1)}s] ${m}`);

const words = (s) => s.toLowerCase().split(/\s+/).filter(Boolean).map((w) => NORMALISE[w] || w);
function editDistance(ref, hyp) {
  let prev = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const cur = [i];
    for (let j = 1; j <= hyp.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ref[i - 1] !== hyp[j - 1] ? 1 : 0));
    }
    prev = cur;
  }
  return prev[hyp.length];
}
function referenceWords() {
  const refs = {};
  for (const line of readFileSync(path.join(CLIPS, 'transcription'), 'utf8').split('\n')) {
    const m = line.trim().match(/^(.*)\(([^)]+)\)$/);
    if (m) refs[m[2].trim()] = words(m[1]).filter((w) => w !== '<s>' && w !== '</s>');
  }
  return readdirSync(CLIPS).filter((f) => f.endsWith('.wav')).sort().flatMap((c) => refs[c.slice(0, -4)]);
}
function dockerGet(p) {
  return new Promise((resolve, reject) => {
    http.get({ socketPath: '/var/run/docker.sock', path: p }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rm-stream-browser-'));
const ipcDir = mkdtempSync('/dev/shm/rm-stream-browser-');
const speech = path.join(tmp, 'speech.wav');
execFileSync('bash', [path.join(sourceDir, 'scripts/librivox-speech.sh'), speech]);
const speechSeconds = (statSync(speech).size - 44) / 32000;  // 16 kHz mono s16
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const server = await startServer(path.join(binaryDir, 'apps/remotemedia/remotemedia'),
  ['serve', '--listen', `127.0.0.1:${port}`, '--pipelines',
    `transcription=${path.join(sourceDir, 'examples/transcription/pipeline.yaml')}`],
  {
    env: {
      REMOTEMEDIA_NODE_PATH: path.join(sourceDir, 'examples/transcription/nodes'),
      REMOTEMEDIA_PYTHON: '/usr/bin/python3',
      RM_IPC_DIR: ipcDir,
    },
    readyUrl: `${url}/health`,
  });
const browser = await launch({
  args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${speech}`, '--autoplay-policy=no-user-gesture-required'],
});
let failure = null;
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
  const errors = watchConsole(page);
  await page.goto(`${url}/?pipeline=transcription`);
  await page.waitForSelector('#pipeline option[value="transcription"]', { state: 'attached' });
  await page.click('#start');
  // The first run builds the ASR image: allow for it.
  await page.waitForSelector('body[data-streaming="1"]', { timeout: 20 * 60 * 1000 });
  log(`streaming; playing ${speechSeconds.toFixed(1)} s of speech`);
  await page.waitForTimeout((speechSeconds + 1.5) * 1000);
  await page.click('#stop');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Done'), null, { timeout: 60000 });
  const transcripts = await page.$$eval('#outputs li[data-node="cleanup"]', (lis) =>
    lis.map((li) => ({ t: Number(li.dataset.timestampUs), text: li.querySelector('.text').textContent })));
  // The fake device loops the file: score the first pass only.
  const firstPass = transcripts.filter((x) => x.t < speechSeconds * 1e6);
  log(`${transcripts.length} transcripts (${firstPass.length} in the first pass): ${firstPass.map((x) => x.text).join(' | ')}`);
  await page.screenshot({ path: path.join(artifactsDir(), 'stream-transcription.png'), fullPage: true });
  const ref = referenceWords();
  const hyp = words(firstPass.map((x) => x.text).join(' '));
  const wer = editDistance(ref, hyp) / ref.length;
  log(`WER ${wer.toFixed(3)} (${ref.length} reference words), bound ${MAX_WER}`);
  check(firstPass.length >= 3, `at least 3 transcripts expected, got ${firstPass.length}`);
  check(firstPass.every((x) => x.text === x.text.toLowerCase().trim()), 'transcripts went through the cleanup node');
  check(wer <= MAX_WER, `word error rate ${wer.toFixed(3)} above ${MAX_WER}`);
  check(errors.length === 0, `no console errors: ${errors.join('; ')}`);
} catch (e) {
  failure = e;
} finally {
  await browser.close();
  const pid = server.child.pid;
  const code = await stopProcess(server.child);
  const left = readdirSync(ipcDir);
  const containers = await dockerGet(`/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`remotemedia.owner=${pid}`] }))}`);
  rmSync(tmp, { recursive: true, force: true });
  rmSync(ipcDir, { recursive: true, force: true });
  if (!failure) {
    try {
      check(code === 0, `server exited with ${code}:\n${server.output()}`);
      check(left.length === 0, `IPC entries left: ${left.join(', ')}`);
      check(containers.length === 0, `containers left: ${containers.map((c) => c.Names).join(', ')}`);
    } catch (e) { failure = e; }
  }
}
if (failure) {
  console.error(failure.stack || String(failure));
  process.exit(1);
}
log('stream page transcription ok');
