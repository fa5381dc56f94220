// Gateway cost of the GPU view's data: /api/v1/gpus/{id}/series of one GPU with 10 metrics x
// 10,000 points, 30 requests one after the other; prints the gateway's process CPU time
// (utime + stime from /proc) per request and the median wall time.
//   RM_BINARY_DIR=build node bench/dashboard/series_cpu.mjs [api-gateway binary ...]
import { readFileSync } from 'node:fs';
import { startStack, startGateway, binaries } from '../../tests/browser/dashboard/stack.mjs';

const gateways = process.argv.slice(2).length ? process.argv.slice(2) : [binaries.gateway];
const stack = await startStack({ points: 10000, stepMs: 1000, gpus: 1, maxEntries: 200000 });
try {
  for (const bin of gateways) {
    binaries.gateway = bin;
    const gw = await startGateway(stack.dataDir, { maxEntries: 200000 });
    try {
      const held = async () => (await (await fetch(`${gw.url}/api/v1/fleet`)).json()).gpus[0]?.samples;
      while ((await held()) !== stack.seeded.samples) await new Promise((r) => setTimeout(r, 100));
      const id = (await (await fetch(`${gw.url}/api/v1/fleet`)).json()).gpus[0].id;
      const url = `${gw.url}/api/v1/gpus/${encodeURIComponent(id)}/series`;
      const cpuMs = () => {
        const f = readFileSync(`/proc/${gw.process.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return (Number(f[11]) + Number(f[12])) * 10;  // clock ticks of 10 ms
      };
      await (await fetch(url)).text();
      const c0 = cpuMs();
      const walls = [];
      let body = '';
      for (let i = 0; i < 30; i++) {
        const t = performance.now();
        body = await (await fetch(url)).text();
        walls.push(performance.now() - t);
      }
      walls.sort((a, b) => a - b);
      console.log(`${bin}: gateway CPU ${((cpuMs() - c0) / 30).toFixed(1)} ms/request, wall median ${walls[15].toFixed(1)} ms, ${body.length} bytes`);
    } finally {
      await gw.stop();
    }
  }
} finally {
  await stack.stop();
}
