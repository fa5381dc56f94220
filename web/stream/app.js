// The live-stream page: pick a pipeline, start the microphone, watch outputs arrive.
// Protocol: docs/streaming.md (JSON control frames, envelope data frames).
import { decode, encodeAudio } from './envelope.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const token = params.get('token') || '';
const withToken = (path) => (token ? `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : path);

let pipelines = [];
let session = null;  // { ws, ctx, stream, node, sent }: one streaming session
let outputCount = 0;

function setStatus(text) { $('status').textContent = text; }

function describe(p) {
  const kinds = [...new Set(p.nodes.map((n) => n.kind))].join(', ');
  return `${p.description || p.name} · inputs: ${p.inputs.join(', ')} · outputs: ${p.outputs.join(', ')}` +
    ` · ${p.nodes.length} node${p.nodes.length === 1 ? "" : "s"} (${kinds}) · audio sent at ${p.input_sample_rate} Hz`;
}

async function loadPipelines() {
  const res = await fetch(withToken('/v1/pipelines'));
  if (!res.ok) throw new Error(`GET /v1/pipelines answered ${res.status}`);
  pipelines = (await res.json()).pipelines;
  const select = $('pipeline');
  for (const p of pipelines) select.add(new Option(p.name, p.name));
  const wanted = params.get('pipeline');
  if (wanted && pipelines.some((p) => p.name === wanted)) select.value = wanted;
  showDetails();
  setStatus(pipelines.length ? 'Ready. Press "Start microphone".' : 'This server serves no pipelines.');
}

function showDetails() {
  const p = pipelines.find((x) => x.name === $('pipeline').value);
  $('details').textContent = p ? describe(p) : '';
  showParams(p ? p.params || [] : []);
}

// One field per session param the pipeline allows (GET /v1/pipelines), prefilled with the
// manifest's value; only values changed from it are sent.
function showParams(list) {
  const box = $('param-fields');
  box.replaceChildren();
  $('params').hidden = list.length === 0;
  for (const spec of list) {
    const id = `param-${spec.name}`;
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = spec.name;
    let field;
    if (spec.values) {
      field = document.createElement('select');
      for (const v of spec.values) field.add(new Option(String(v), JSON.stringify(v)));
      field.value = JSON.stringify(spec.default);
    } else {
      field = document.createElement('input');
      if (spec.type === 'boolean') {
        field.type = 'checkbox';
        field.checked = spec.default === true;
      } else if (spec.type === 'string') {
        field.type = 'text';
        field.value = spec.default ?? '';
      } else {
        field.type = 'number';
        field.step = spec.type === 'integer' ? '1' : 'any';
        if (spec.minimum !== undefined) field.min = String(spec.minimum);
        if (spec.maximum !== undefined) field.max = String(spec.maximum);
        field.value = spec.default ?? '';
      }
    }
    field.id = id;
    field.dataset.param = spec.name;
    field.dataset.type = spec.values ? 'json' : spec.type;
    field.dataset.default = JSON.stringify(spec.default ?? null);
    const bounds = [spec.minimum !== undefined ? `min ${spec.minimum}` : '', spec.maximum !== undefined ? `max ${spec.maximum}` : '']
      .filter(Boolean).join(', ');
    box.append(label, field, span('hint', [spec.description || '', bounds].filter(Boolean).join(' · ')));
  }
}

function sessionParams() {
  const out = {};
  for (const f of $('param-fields').querySelectorAll('[data-param]')) {
    let v;
    if (f.dataset.type === 'json') v = JSON.parse(f.value);
    else if (f.dataset.type === 'boolean') v = f.checked;
    else if (f.dataset.type === 'string') v = f.value;
    else if (f.value === '') continue;
    else v = Number(f.value);
    if (JSON.stringify(v) !== f.dataset.default) out[f.dataset.param] = v;
  }
  return out;
}

function addOutput(node, timeUs, body, cls = '') {
  const li = document.createElement('li');
  if (cls) li.className = cls;
  li.dataset.node = node;
  if (timeUs !== null) li.dataset.timestampUs = String(timeUs);
  const n = document.createElement('span');
  n.className = 'node';
  n.textContent = node;
  const t = document.createElement('span');
  t.className = 'time';
  t.textContent = timeUs === null ? '' : `${(timeUs / 1e6).toFixed(2)} s`;
  li.append(n, t, body);
  $('outputs').append(li);
  $('count').textContent = String(++outputCount);
  li.scrollIntoView({ block: 'nearest' });
}

// A new session starts with an empty list: what is shown is this session's outputs only.
function clearOutputs() {
  $('outputs').replaceChildren();
  outputCount = 0;
  $('count').textContent = '0';
}

function span(cls, textContent) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = textContent;
  return s;
}

function showData(d) {
  if (d.type === 'text') return addOutput(d.stream, d.timestampUs, span('text', d.text));
  if (d.type === 'json') {
    // Transcripts (ASR nodes emit {"transcript": ..., "start_s", "end_s", ...}) show as text.
    const said = d.json && (typeof d.json.transcript === 'string' ? d.json.transcript : d.json.text);
    if (typeof said === 'string') return addOutput(d.stream, d.timestampUs, span('text', said));
    return addOutput(d.stream, d.timestampUs, span('meta', JSON.stringify(d.json)));
  }
  if (d.type === 'control') {
    return addOutput(d.stream, d.timestampUs, span('meta', `${d.control.kind} ${JSON.stringify(d.control.payload)}`));
  }
  if (d.type === 'audio') {
    const a = d.audio;
    const ms = (1000 * a.frames / a.sampleRate).toFixed(0);
    return addOutput(d.stream, d.timestampUs, span('meta', `audio · ${ms} ms · ${a.sampleRate} Hz × ${a.channels}`));
  }
  return addOutput(d.stream, d.timestampUs, span('meta', `${d.type} · ${d.bytes} bytes`));
}

// The session opens first; the microphone starts once every node is up (a first Docker image
// build can take minutes), so what is said from then on is streamed in full.
async function start() {
  const p = pipelines.find((x) => x.name === $('pipeline').value);
  if (!p) return;
  clearOutputs();
  $('start').disabled = true;
  $('pipeline').disabled = true;
  $('params').disabled = true;
  const rate = p.input_sample_rate;
  const input = p.inputs.length === 1 ? '' : p.inputs[0];
  const ws = new WebSocket(withToken(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/stream`));
  ws.binaryType = 'arraybuffer';
  session = { ws, ctx: null, stream: null, node: null, sent: 0 };
  const s = session;
  ws.onopen = () => {
    setStatus(`Starting ${p.name}…`);
    const start = { type: 'start', version: 1, pipeline: p.name };
    const chosen = sessionParams();
    if (Object.keys(chosen).length) start.params = chosen;
    ws.send(JSON.stringify(start));
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data !== 'string') { showData(decode(ev.data)); return; }
    const msg = JSON.parse(ev.data);
    if (msg.type === 'progress') setStatus(`Starting ${p.name}: ${msg.message}`);
    else if (msg.type === 'ready') {
      startMicrophone(s, rate, input, msg.session).catch((e) => {
        setStatus(`Could not start the microphone: ${e.message}`);
        ws.close();
      });
    } else if (msg.type === 'error') addOutput(msg.node || 'server', null, span('text', msg.message), 'error');
    else if (msg.type === 'done') setStatus(`Done: ${msg.frames_in} chunks sent, ${msg.frames_out} outputs.`);
  };
  ws.onclose = (ev) => {
    if (ev.code !== 1000) setStatus(`Session closed (${ev.code}): ${ev.reason || 'connection lost'}`);
    teardown();
  };
}

async function startMicrophone(s, rate, input, id) {
  s.stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  s.ctx = new AudioContext();
  await s.ctx.audioWorklet.addModule('capture-worklet.js');
  s.node = new AudioWorkletNode(s.ctx, 'capture', {
    processorOptions: { targetRate: rate, chunkFrames: Math.round(rate / 50) },  // 20 ms chunks
  });
  s.node.port.onmessage = (ev) => {
    if (s.ws.readyState !== WebSocket.OPEN) return;
    const ts = Math.round(s.sent * 1e6 / rate);
    s.sent += ev.data.length;
    s.ws.send(encodeAudio(input, ts, ev.data, rate));
  };
  s.ctx.createMediaStreamSource(s.stream).connect(s.node);
  setStatus(`Streaming to the pipeline at ${rate} Hz (session ${id}). Speak now.`);
  $('stop').disabled = false;
  document.body.dataset.streaming = '1';
}

function stop() {
  if (!session) return;
  $('stop').disabled = true;
  setStatus('Finishing: waiting for the last outputs…');
  if (session.stream) session.stream.getTracks().forEach((t) => t.stop());
  if (session.node) session.node.port.onmessage = null;
  if (session.ws.readyState === WebSocket.OPEN) session.ws.send(JSON.stringify({ type: 'end' }));
}

function teardown() {
  if (!session) return;
  if (session.stream) session.stream.getTracks().forEach((t) => t.stop());
  if (session.ctx) session.ctx.close();
  session = null;
  delete document.body.dataset.streaming;
  $('start').disabled = false;
  $('stop').disabled = true;
  $('pipeline').disabled = false;
  $('params').disabled = false;
}

$('pipeline').addEventListener('change', showDetails);
$('start').addEventListener('click', () => start().catch((e) => { setStatus(`Could not start: ${e.message}`); teardown(); }));
$('stop').addEventListener('click', stop);
loadPipelines().catch((e) => setStatus(`Could not load pipelines: ${e.message}`));
