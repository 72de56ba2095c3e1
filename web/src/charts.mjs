// Hand-drawn time-series charts on <canvas> (no charting library: three small charts do not earn
// a dependency). `niceTicks` is pure and unit-tested; `TimeChart` draws lines, step lines, dashed
// overlays, shaded intervals (stalls) and labelled horizontal rules (the bitrate ladder).

/**
 * "Nice" axis ticks (1, 2, 5 x 10^k steps) covering [min, max].
 * @returns {number[]}
 */
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max <= min) max = min + 1;
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

/** One chart: time (s) on x, one y axis. */
export class TimeChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{title:string, unit:string, minYMax?:number, yCap?:number, windowS?:number}} opts
   *        `yCap`: the y axis never goes above this; larger values are marked on the top edge.
   *        `windowS`: show only the last this many seconds (the live dashboard); default all
   */
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.opts = opts;
    /** @type {Array<{name:string, color:string, dash?:number[], step?:boolean, dots?:boolean, points:Array<[number, number]>}>} */
    this.series = [];
    /** Shaded x intervals, e.g. stalls: {start, end|null, color}. */
    this.bands = [];
    /** Horizontal rules: {y, label, color}. */
    this.rules = [];
    /** Current time (s); the x axis runs to here. */
    this.nowS = 0;
  }

  /** Adds a series and returns it (push points into `.points`). */
  addSeries(s) {
    const series = { points: [], ...s };
    this.series.push(series);
    return series;
  }

  /** Redraws everything. */
  draw() {
    const c = this.canvas;
    const dpr = globalThis.devicePixelRatio || 1;
    const w = c.clientWidth || 600;
    const h = c.clientHeight || 180;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const pad = { l: 52, r: 10, t: 22, b: 22 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    let xMax = Math.max(10, this.nowS);
    for (const s of this.series) for (const [t] of s.points) xMax = Math.max(xMax, t);
    const xMin = this.opts.windowS > 0 ? Math.max(0, xMax - this.opts.windowS) : 0;
    let yMax = this.opts.minYMax || 1;
    for (const s of this.series) for (const [t, y] of s.points) {
      if (Number.isFinite(y) && t >= xMin) yMax = Math.max(yMax, y);
    }
    for (const r of this.rules) yMax = Math.max(yMax, r.y);
    const capped = Number.isFinite(this.opts.yCap) && yMax > this.opts.yCap;
    if (capped) yMax = this.opts.yCap;
    yMax *= 1.08;
    const X = (t) => pad.l + ((t - xMin) / (xMax - xMin)) * pw;
    const Y = (v) => pad.t + ph - (Math.min(v, yMax) / yMax) * ph;

    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#222';
    g.fillText(`${this.opts.title} (${this.opts.unit})`, pad.l, 14);
    // bands
    for (const b of this.bands) {
      g.fillStyle = b.color || 'rgba(220,40,40,0.18)';
      const x0 = X(b.start);
      const x1 = X(b.end ?? this.nowS);
      g.fillRect(x0, pad.t, Math.max(2, x1 - x0), ph);
    }
    // grid + axes
    g.strokeStyle = '#e3e3e3';
    g.fillStyle = '#555';
    g.lineWidth = 1;
    for (const v of niceTicks(0, yMax, 4)) {
      g.beginPath(); g.moveTo(pad.l, Y(v)); g.lineTo(pad.l + pw, Y(v)); g.stroke();
      g.fillText(String(v), 4, Y(v) + 4);
    }
    for (const t of niceTicks(xMin, xMax, 8)) {
      g.fillText(`${t}s`, X(t) - 8, h - 6);
    }
    let lastLabelY = Infinity;
    for (const r of [...this.rules].sort((p, q) => p.y - q.y)) {
      g.strokeStyle = r.color || '#bbb';
      g.setLineDash([2, 4]);
      g.beginPath(); g.moveTo(pad.l, Y(r.y)); g.lineTo(pad.l + pw, Y(r.y)); g.stroke();
      g.setLineDash([]);
      g.fillStyle = '#888';
      // Labels closer than a text line to the one below are left out (the rule is still drawn).
      if (r.label && lastLabelY - Y(r.y) >= 11) {
        g.fillText(r.label, pad.l + pw - g.measureText(r.label).width - 2, Y(r.y) - 2);
        lastLabelY = Y(r.y);
      }
    }
    g.strokeStyle = '#999';
    g.strokeRect(pad.l, pad.t, pw, ph);
    // series (clipped to the plot: a window leaves older points to its left)
    g.save();
    g.beginPath(); g.rect(pad.l, 0, pw, h); g.clip();
    let legendX = pad.l + 200;
    for (const s of this.series) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.lineWidth = 1.8;
      g.setLineDash(s.dash || []);
      g.beginPath();
      let prev = null;
      for (const [t, y] of s.points) {
        if (!Number.isFinite(y)) { prev = null; continue; }
        if (prev === null) g.moveTo(X(t), Y(y));
        else if (s.step) { g.lineTo(X(t), Y(prev)); g.lineTo(X(t), Y(y)); }
        else g.lineTo(X(t), Y(y));
        prev = y;
      }
      if (s.step && prev !== null) g.lineTo(X(this.nowS), Y(prev));
      g.stroke();
      g.setLineDash([]);
      if (s.dots) for (const [t, y] of s.points) if (Number.isFinite(y)) { g.beginPath(); g.arc(X(t), Y(y), 2.2, 0, 7); g.fill(); }
      if (capped) {
        // Values above the axis: a small triangle on the top edge with the value (thinned out).
        let lastX = -Infinity;
        for (const [t, y] of s.points) {
          if (!(y > yMax) || X(t) - lastX < 46) continue;
          lastX = X(t);
          g.fillStyle = s.color;
          g.beginPath(); g.moveTo(X(t) - 4, pad.t + 6); g.lineTo(X(t) + 4, pad.t + 6); g.lineTo(X(t), pad.t); g.fill();
          // Only sampled series (dots) get the value, so two series' labels never overlap.
          if (s.dots) g.fillText(y >= 1000 ? `${(y / 1000).toFixed(1)}M` : String(Math.round(y)), X(t) + 5, pad.t + 10);
        }
      }
      g.fillRect(legendX, 8, 10, 3);
      g.fillStyle = '#333';
      g.fillText(s.name, legendX + 13, 13);
      legendX += 20 + g.measureText(s.name).width;
    }
    g.restore();
  }
}
