// The IPC envelope (docs/ipc.md, docs/streaming.md) for the page: encoding audio and decoding
// every type the server sends. Same byte layout as ipc/envelope.hpp and the Python SDK.
//   type:u8 | stream_len:u16 | stream | timestamp_us:u64 | payload_len:u32 | payload
const TYPES = { 1: 'audio', 2: 'video', 3: 'text', 4: 'tensor', 5: 'control', 6: 'numpy', 7: 'file',
  8: 'end_of_stream', 9: 'json', 10: 'binary' };
const utf8 = new TextEncoder();
const text = new TextDecoder('utf-8', { fatal: true });

// An audio envelope for f32 samples; the meta JSON is space-padded so the samples start at a
// multiple of 4 bytes from the envelope start.
export function encodeAudio(stream, timestampUs, samples, sampleRate, channels = 1) {
  const name = utf8.encode(stream);
  const head = 15 + name.length;
  let meta = '{}';
  while ((head + 10 + meta.length) % 4 !== 0) meta += ' ';
  const payloadLen = 10 + meta.length + samples.length * 4;
  const buf = new ArrayBuffer(head + payloadLen);
  const v = new DataView(buf);
  v.setUint8(0, 1);
  v.setUint16(1, name.length, true);
  new Uint8Array(buf, 3, name.length).set(name);
  v.setBigUint64(3 + name.length, BigInt(timestampUs), true);
  v.setUint32(11 + name.length, payloadLen, true);
  v.setUint32(head, sampleRate, true);
  v.setUint16(head + 4, channels, true);
  v.setUint32(head + 6, meta.length, true);
  new Uint8Array(buf, head + 10, meta.length).set(utf8.encode(meta));
  const at = head + 10 + meta.length;
  for (let i = 0; i < samples.length; i++) v.setFloat32(at + 4 * i, samples[i], true);
  return buf;
}

// { stream, type, timestampUs, text?, json?, control?, audio?: {sampleRate, channels, frames},
//   bytes? } or throws naming what is wrong.
export function decode(buf) {
  const v = new DataView(buf);
  const need = (off, n, what) => {
    if (off + n > buf.byteLength) throw new Error(`envelope truncated: ${what} at offset ${off}`);
  };
  need(0, 3, 'header');
  const type = TYPES[v.getUint8(0)];
  if (!type) throw new Error(`unknown envelope type ${v.getUint8(0)}`);
  const slen = v.getUint16(1, true);
  need(3, slen + 12, 'stream name');
  const stream = text.decode(new Uint8Array(buf, 3, slen));
  const timestampUs = Number(v.getBigUint64(3 + slen, true));
  const plen = v.getUint32(11 + slen, true);
  const at = 15 + slen;
  need(at, plen, 'payload');
  const payload = new Uint8Array(buf, at, plen);
  const out = { stream, type, timestampUs };
  if (type === 'text') out.text = text.decode(payload);
  else if (type === 'json') out.json = JSON.parse(text.decode(payload));
  else if (type === 'control') out.control = JSON.parse(text.decode(payload));
  else if (type === 'audio') {
    const metaLen = v.getUint32(at + 6, true);
    const channels = v.getUint16(at + 4, true);
    const samples = (plen - 10 - metaLen) / 4;
    out.audio = { sampleRate: v.getUint32(at, true), channels, frames: samples / Math.max(1, channels) };
  } else out.bytes = plen;
  return out;
}
