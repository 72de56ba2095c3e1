// Session accounting for the web player: per-chunk records in, QoE and a summary out.
//
// Pure functions only (no DOM, no dash.js), so `node --test tests/unit` checks them.
// The QoE model is Pensieve's QoE_lin, the project's default (`crates/core` QoeModel::lin):
// per chunk, bitrate in Mbit/s minus 4.3 x stall seconds minus |bitrate change| in Mbit/s,
// summed from chunk 1 on as the server's `qoe_so_far` and `bench` score it (chunk 0's level is
// fixed and its stall is the start-up delay), so the page's figure and the server's agree when
// the server runs `--qoe lin`.

/** Pensieve's linear QoE constants. */
export const QOE_LIN = Object.freeze({ rebufferPenalty: 4.3, smoothnessPenalty: 1.0 });

/** Chunks at the start of a session that are not scored (the server's and `bench`'s default). */
export const SKIP_CHUNKS = 1;

/**
 * Scores a session from chunk `skip` on (chunk `skip`'s change from the chunk before it counts).
 * @param {Array<{bitrateKbps:number, rebufferS:number}>} chunks in playback order
 * @param {{rebufferPenalty:number, smoothnessPenalty:number}} [model]
 * @param {number} [skip] chunks not scored at the start
 * @returns {{qoe:number, bitrateMbpsSum:number, rebufferPenalty:number, smoothnessPenalty:number}}
 */
export function qoeLin(chunks, model = QOE_LIN, skip = SKIP_CHUNKS) {
  let bitrateMbpsSum = 0;
  let rebufferS = 0;
  let smoothMbps = 0;
  let prev = null;
  chunks.forEach((c, i) => {
    const mbps = c.bitrateKbps / 1000;
    if (i >= skip) {
      bitrateMbpsSum += mbps;
      rebufferS += c.rebufferS || 0;
      if (prev !== null) smoothMbps += Math.abs(mbps - prev);
    }
    prev = mbps;
  });
  const rebufferPenalty = model.rebufferPenalty * rebufferS;
  const smoothnessPenalty = model.smoothnessPenalty * smoothMbps;
  return { qoe: bitrateMbpsSum - rebufferPenalty - smoothnessPenalty, bitrateMbpsSum, rebufferPenalty, smoothnessPenalty };
}

/**
 * Throughput of one download, kbit/s; null when the times are unusable.
 * @param {number} sizeBytes
 * @param {number} startMs
 * @param {number} endMs
 */
export function throughputKbps(sizeBytes, startMs, endMs) {
  const ms = endMs - startMs;
  if (!(ms > 0) || !(sizeBytes >= 0)) return null;
  return (sizeBytes * 8) / ms; // bits per ms = kbit/s
}

/**
 * Summary of a finished (or stopped) session.
 * @param {{chunks:Array<{level:number,bitrateKbps:number,rebufferS:number,sizeBytes:number,throughputKbps:number|null}>,
 *          stalls:Array<{startS:number,endS:number|null}>, startupDelayS:number|null}} s
 */
export function summarize(s) {
  const chunks = s.chunks;
  const n = chunks.length;
  const q = qoeLin(chunks);
  let switches = 0;
  for (let i = 1; i < n; i++) if (chunks[i].level !== chunks[i - 1].level) switches++;
  const tputs = chunks.map((c) => c.throughputKbps).filter((t) => t !== null && Number.isFinite(t));
  const stallS = s.stalls.reduce((acc, st) => acc + ((st.endS ?? st.startS) - st.startS), 0);
  return {
    chunks: n,
    qoe: q.qoe,
    qoePerChunk: n ? q.qoe / n : 0,
    meanBitrateKbps: n ? chunks.reduce((a, c) => a + c.bitrateKbps, 0) / n : 0,
    rebufferS: chunks.reduce((a, c) => a + (c.rebufferS || 0), 0),
    stalls: s.stalls.length,
    stallS,
    longestStallS: s.stalls.reduce((m, st) => Math.max(m, (st.endS ?? st.startS) - st.startS), 0),
    switches,
    startupDelayS: s.startupDelayS,
    meanThroughputKbps: tputs.length ? tputs.reduce((a, t) => a + t, 0) / tputs.length : null,
    megabytes: chunks.reduce((a, c) => a + c.sizeBytes, 0) / 1e6,
  };
}
