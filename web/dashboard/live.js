// Series kept current while the window ends at now. Each refresh re-reads the last `overlap`
// seconds before the newest point and replaces that tail (samples of different producers can
// become visible slightly out of order), appends what is new and, for a sliding window, drops
// what fell out of it. The result is always exactly what the API returns for
// [startISO, newest] -- the browser tests check that.

function lowerBound(ts, x) {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

export class LiveSeries {
  // fetch(startISO|null, endISO|null) -> Promise<{key: {t: [...], v: [...]}}>
  constructor(fetch, { span = null, start = null, end = null, overlap = 30 } = {}) {
    this.fetch = fetch;
    this.span = span;           // seconds, sliding window; null = fixed start
    this.fixedStart = start;    // ISO or null
    this.end = end;             // ISO or null (open)
    this.overlap = overlap;
    this.columns = {};
    this.startISO = null;
  }

  currentStart() {
    if (this.span === null) return this.fixedStart;
    return new Date(Date.now() - this.span * 1000).toISOString();
  }

  // `start` overrides the window's start for this first read (a request already under way).
  async load(start = undefined) {
    this.startISO = start === undefined ? this.currentStart() : start;
    this.columns = await this.fetch(this.startISO, this.end);
    return this.columns;
  }

  newest() {
    let t = -Infinity;
    for (const c of Object.values(this.columns)) if (c.t.length) t = Math.max(t, c.t[c.t.length - 1]);
    return t;
  }

  async refresh() {
    const start = this.currentStart();
    const newest = this.newest();
    let from = Number.isFinite(newest) ? newest - this.overlap : null;
    const startSec = start ? Date.parse(start) / 1000 : null;
    if (from === null || (startSec !== null && from < startSec)) from = startSec;
    const fromISO = from === null ? null : new Date(Math.floor(from * 1000)).toISOString();
    const fresh = await this.fetch(fromISO, this.end);
    const cut = fromISO === null ? -Infinity : Date.parse(fromISO) / 1000;
    for (const [key, col] of Object.entries(fresh)) {
      const old = this.columns[key] || { t: [], v: [] };
      const i = lowerBound(old.t, cut);
      this.columns[key] = { t: old.t.slice(0, i).concat(col.t), v: old.v.slice(0, i).concat(col.v) };
    }
    // Keys with nothing new keep their points before `cut`, and lose any after it.
    for (const [key, col] of Object.entries(this.columns)) {
      if (key in fresh) continue;
      const i = lowerBound(col.t, cut);
      this.columns[key] = { t: col.t.slice(0, i), v: col.v.slice(0, i) };
    }
    if (startSec !== null) {
      for (const [key, col] of Object.entries(this.columns)) {
        const i = lowerBound(col.t, startSec);
        if (i > 0) this.columns[key] = { t: col.t.slice(i), v: col.v.slice(i) };
      }
    }
    this.startISO = start;
    return this.columns;
  }
}
