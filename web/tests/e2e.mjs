#!/usr/bin/env node
// Browser end-to-end test of the NeuralStream web player.
//
// Plays a packaged clip from a running `neuralstream serve` in Debian's headless Chromium (driven by
// playwright-core with executablePath /usr/bin/chromium; no browser is ever downloaded), throttles
// the network through the DevTools protocol following a trace (high, low, high by default), and
// checks what a viewer would: playback advanced, the server decided for this browser session,
// quality went down under the throttle and back up after, no long stall after start-up, frames
// were decoded. Writes into --out: screenshot.png (end), screenshot-low.png (end of the low
// phase), decisions.json (the page's full log), chunks.csv, trace.txt (the trace followed, Pensieve
// cooked format: time_s Mbit/s), console.log and result.json. Exit status 0 only if all checks pass.
//
// Usage: node web/tests/e2e.mjs BASE_URL [--out DIR] [--abr ALGO] [--video NAME] [--trace FILE]
//        [--high-kbps N] [--low-kbps N] [--high-s S] [--low-s S] [--buffer-s S] [--rate X]
//        [--min-play-s S] [--max-stall-s S] [--timeout-s S] [--chromium PATH] [--headed]
//        [--expect-unplayable NAME]
// --video NAME: the package to play (default: the server's first). --expect-unplayable NAME: a
// package this browser cannot decode (e.g. HEVC); the page is then opened without naming a video
// and must flag NAME as unplayable, say why, and pick the --video package by itself.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage',
];

function parseArgs(argv) {
  const o = {
    url: null, out: 'target/browser-e2e', abr: null, video: null, trace: null,
    highKbps: null, lowKbps: null, highS: 8, lowS: 12, bufferS: 12, rate: 1,
    minPlayS: null, maxStallS: 4, timeoutS: 150, chromium: '/usr/bin/chromium', headed: false,
    expectUnplayable: null,
  };
  const num = (k, v) => { const n = Number(v); if (!Number.isFinite(n)) throw new Error(`--${k} needs a number, got ${v}`); return n; };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    switch (a) {
      case '--out': o.out = next(); break;
      case '--abr': o.abr = next(); break;
      case '--video': o.video = next(); break;
      case '--trace': o.trace = next(); break;
      case '--high-kbps': o.highKbps = num('high-kbps', next()); break;
      case '--low-kbps': o.lowKbps = num('low-kbps', next()); break;
      case '--high-s': o.highS = num('high-s', next()); break;
      case '--low-s': o.lowS = num('low-s', next()); break;
      case '--buffer-s': o.bufferS = num('buffer-s', next()); break;
      case '--rate': o.rate = num('rate', next()); break;
      case '--min-play-s': o.minPlayS = num('min-play-s', next()); break;
      case '--max-stall-s': o.maxStallS = num('max-stall-s', next()); break;
      case '--timeout-s': o.timeoutS = num('timeout-s', next()); break;
      case '--chromium': o.chromium = next(); break;
      case '--headed': o.headed = true; break;
      case '--expect-unplayable': o.expectUnplayable = next(); break;
      case '-h': case '--help':
        console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n'));
        process.exit(0);
        break;
      default:
        if (a.startsWith('-') || o.url) throw new Error(`unknown argument ${a}; see --help`);
        o.url = a;
    }
  }
  if (!o.url) throw new Error('usage: node web/tests/e2e.mjs BASE_URL (e.g. https://127.0.0.1:8443/) [--out DIR] ...; see --help');
  if (!o.url.endsWith('/')) o.url += '/';
  return o;
}

/**
 * Reads a Pensieve cooked trace (`time_s Mbit/s` per line) into steps [{atS, kbps}].
 *
 * The browser is throttled as a step function: each line's rate holds from its time until the
 * next line's. (`neuralstream play --trace` and the simulator read the same file as Pensieve
 * does, each line's rate covering the interval that *ends* at its time, so a phase change lands
 * one sample earlier there.) 0 Mbit/s is refused: DevTools' network emulation reads 0 as
 * "not throttled".
 */
export function readCookedTrace(text, file = 'trace') {
  const steps = [];
  text.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    const cols = t.split(/\s+/);
    const [a, b] = cols.map(Number);
    if (cols.length !== 2 || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) throw new Error(`${file}:${i + 1}: expected two columns "time_s Mbit/s" with Mbit/s > 0 (browser throttling cannot express 0), got "${t}"`);
    steps.push({ atS: a, kbps: b * 1000 });
  });
  if (!steps.length) throw new Error(`${file}: no samples`);
  const t0 = steps[0].atS;
  return steps.map((s) => ({ atS: s.atS - t0, kbps: s.kbps }));
}

/** Bandwidth of the trace at time t (step function; the last sample holds). */
export function kbpsAt(steps, tS) {
  let k = steps[0].kbps;
  for (const s of steps) { if (s.atS <= tS) k = s.kbps; else break; }
  return k;
}

/** Splits chunk requests into the trace's phases: 'high1', 'low', 'high2' by the bandwidth at request time. */
export function phaseOf(steps, tS, lowThresholdKbps) {
  const lowStart = steps.find((s) => s.kbps < lowThresholdKbps);
  if (!lowStart) return 'high1';
  if (tS < lowStart.atS) return 'high1';
  const highAgain = steps.find((s) => s.atS > lowStart.atS && s.kbps >= lowThresholdKbps);
  if (!highAgain || tS < highAgain.atS) return 'low';
  return 'high2';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'neuralstream-chromium-'));
  const started = Date.now();
  const logLines = [];
  const log = (...a) => { const l = `[${((Date.now() - started) / 1000).toFixed(1)}s] ${a.join(' ')}`; logLines.push(l); console.log(l); };

  // Imported here, not at the top, so the unit tests can load this file's helpers without npm ci.
  const { chromium } = await import('playwright-core');
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: o.chromium, headless: !o.headed, ignoreHTTPSErrors: true, args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 820 },
  });
  const failures = [];
  let result = {};
  try {
    // The ladder decides the default trace: high = 4x the top level, low = 2x the lowest level.
    const videosRes = await ctx.request.get(new URL('api/v1/videos', o.url).href);
    if (!videosRes.ok()) throw new Error(`GET /api/v1/videos answered ${videosRes.status()}`);
    const videosJson = await videosRes.json();
    const videos = Array.isArray(videosJson) ? videosJson : videosJson.videos || [];
    const video = o.video ? videos.find((v) => v.name === o.video) : videos[0];
    if (!video) throw new Error(`no video ${o.video || ''} in /api/v1/videos: ${JSON.stringify(videosJson).slice(0, 300)}`);
    const levels = (video.levels || []).map(Number).sort((a, b) => a - b);
    if (levels.length < 2) throw new Error(`video ${video.name} needs at least 2 levels to test adaptation, has ${JSON.stringify(levels)}`);
    const highKbps = o.highKbps || Math.max(4 * levels[levels.length - 1], 4000);
    const lowKbps = o.lowKbps || Math.max(2 * levels[0], 250);
    const steps = o.trace
      ? readCookedTrace(readFileSync(o.trace, 'utf8'), o.trace)
      : [{ atS: 0, kbps: highKbps }, { atS: o.highS, kbps: lowKbps }, { atS: o.highS + o.lowS, kbps: highKbps }];
    const lowThreshold = Math.sqrt(Math.min(...steps.map((s) => s.kbps)) * Math.max(...steps.map((s) => s.kbps)));
    writeFileSync(join(out, 'trace.txt'), steps.map((s) => `${s.atS} ${s.kbps / 1000}`).join('\n') + '\n');
    log(`video ${video.name}, levels ${levels.join('/')} kbps; trace ${steps.map((s) => `${s.atS}s:${s.kbps}kbps`).join(' ')}`);

    const page = ctx.pages()[0] || (await ctx.newPage());
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    const decisionResponses = [];
    page.on('response', async (r) => {
      const m = /\/api\/v1\/sessions\/([^/]+)\/decision$/.exec(new URL(r.url()).pathname);
      if (!m) return;
      const entry = { session: decodeURIComponent(m[1]), status: r.status(), body: null };
      decisionResponses.push(entry);
      try { entry.body = await r.json(); } catch { /* body unavailable */ }
    });
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    let appliedKbps = null;
    const throttle = async (kbps) => {
      if (kbps === appliedKbps) return;
      appliedKbps = kbps;
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false, latency: 20, downloadThroughput: (kbps * 1000) / 8, uploadThroughput: (kbps * 1000) / 8,
      });
    };
    await throttle(steps[0].kbps);

    const q = new URLSearchParams({ autoplay: '1', buffer: String(o.bufferS), rate: String(o.rate) });
    if (!o.expectUnplayable) q.set('video', video.name);
    if (o.abr) q.set('abr', o.abr);
    await page.goto(`${o.url}?${q}`);
    const read = () => page.evaluate(() => {
      const s = globalThis.neuralstream && globalThis.neuralstream.state;
      return s ? JSON.parse(JSON.stringify({
        status: s.status, message: s.message, error: s.error, sessionId: s.sessionId, algorithm: s.algorithm,
        startupDelayS: s.startupDelayS, currentTimeS: s.currentTimeS, decodedFrames: s.decodedFrames,
        chunks: s.chunks.length, playable: s.playability && s.playability.playable,
      })) : null;
    });

    // Follow the trace from the moment playback starts; before that, the first step holds.
    let playStartMs = null;
    let lowShot = false;
    let s = null;
    const lowEnd = steps.find((x, i) => i > 0 && x.kbps >= lowThreshold && steps[i - 1].kbps < lowThreshold);
    for (;;) {
      s = await read();
      const elapsed = (Date.now() - started) / 1000;
      if (s && s.status === 'playing' && playStartMs === null) { playStartMs = Date.now(); log(`playing after ${s.startupDelayS.toFixed(2)} s (algorithm ${s.algorithm}, session ${s.sessionId})`); }
      if (playStartMs !== null) {
        const t = (Date.now() - playStartMs) / 1000;
        const k = kbpsAt(steps, t);
        if (k !== appliedKbps) { log(`throttle -> ${k} kbit/s at trace time ${t.toFixed(1)} s`); await throttle(k); }
        if (!lowShot && lowEnd && t >= lowEnd.atS - 0.5) { lowShot = true; await page.screenshot({ path: join(out, 'screenshot-low.png') }); }
      }
      if (!s || ['ended', 'error', 'cannot play', 'stopped'].includes(s.status)) break;
      if (elapsed > o.timeoutS) { failures.push(`timed out after ${o.timeoutS} s (status ${s.status}, at ${s.currentTimeS.toFixed(1)} s of media)`); break; }
      await sleep(250);
    }
    await sleep(300);
    await page.screenshot({ path: join(out, 'screenshot.png') });
    const full = await page.evaluate(() => JSON.parse(JSON.stringify(globalThis.neuralstream.state)));
    let metrics = null;
    try {
      const mr = await ctx.request.get(new URL('metrics', o.url).href);
      if (mr.ok()) metrics = (await mr.text()).split('\n').filter((l) => /decision|session/i.test(l) && !l.startsWith('#'));
    } catch { /* metrics are informational */ }
    writeFileSync(join(out, 'decisions.json'), JSON.stringify({ state: full, decisionResponses, metrics }, null, 1));
    writeFileSync(join(out, 'console.log'), consoleLines.join('\n') + '\n');
    const cols = ['index', 'level', 'representationId', 'height', 'bitrateKbps', 'sizeBytes', 'downloadMs', 'throughputKbps', 'bufferS', 'rebufferS', 'tS', 'appliedDecisionChunk'];
    writeFileSync(join(out, 'chunks.csv'), [cols.join(','), ...full.chunks.map((c) => cols.map((k) => c[k] ?? '').join(','))].join('\n') + '\n');

    // ---- checks ----
    if (s && s.status === 'cannot play') failures.push(`page cannot play: ${s.message}`);
    if (full.video !== video.name) failures.push(`the page played ${full.video}, expected ${video.name}`);
    const checks = full.codecChecks || {};
    if (o.expectUnplayable) {
      const c = checks[o.expectUnplayable];
      if (!c) failures.push(`the page did not check the codecs of ${o.expectUnplayable} (checked: ${Object.keys(checks).join(', ')})`);
      else if (c.playable) failures.push(`the page thinks ${o.expectUnplayable} (${c.codecs.join('+')}) is playable`);
      else if (!/cannot decode/.test(c.message)) failures.push(`no reason given for ${o.expectUnplayable}: ${c.message}`);
    }
    if (checks[video.name] && !checks[video.name].playable) failures.push(`the page thinks ${video.name} is unplayable: ${checks[video.name].message}`);
    if (full.error) failures.push(`page error: ${full.error}`);
    const duration = (video.chunks || 0) * (video.chunk_duration_s || 2);
    const minPlayS = o.minPlayS ?? Math.max(10, 0.8 * (duration || 30));
    if (!(full.currentTimeS >= minPlayS || full.status === 'ended')) failures.push(`playback reached ${full.currentTimeS.toFixed(1)} s, wanted >= ${minPlayS} s or the end`);
    if (!(full.decodedFrames > 0)) failures.push(`no video frame decoded (decodedFrames ${full.decodedFrames})`);

    const mine = decisionResponses.filter((d) => d.session === full.sessionId);
    const ok = mine.filter((d) => d.status === 200 && d.body && d.body.session === full.sessionId);
    const serverMode = full.mode === 'server';
    if (serverMode) {
      if (ok.length < Math.max(3, full.chunks.length - 1)) failures.push(`server answered ${ok.length} decisions for session ${full.sessionId}, expected about one per chunk (${full.chunks.length} chunks); non-200: ${mine.filter((d) => d.status !== 200).map((d) => d.status).join(',') || 'none'}`);
    }
    // Phases by the trace bandwidth at the time each chunk was *requested* (the ABR's choice).
    const t0 = full.startupDelayS ?? 0; // page time when playback started = trace time 0
    const byPhase = { high1: [], low: [], high2: [] };
    for (const r of full.requests) byPhase[phaseOf(steps, r.tS - t0, lowThreshold)].push(r.level);
    const max = (a) => (a.length ? Math.max(...a) : NaN);
    const min = (a) => (a.length ? Math.min(...a) : NaN);
    const lastLow = byPhase.low.length ? byPhase.low[byPhase.low.length - 1] : NaN;
    if (!(byPhase.low.length && lastLow < max(byPhase.high1))) failures.push(`quality did not go down under the throttle: levels high1 ${JSON.stringify(byPhase.high1)}, low ${JSON.stringify(byPhase.low)}`);
    if (!(max(byPhase.high2) > min(byPhase.low))) failures.push(`quality did not come back up after the throttle: levels low ${JSON.stringify(byPhase.low)}, high2 ${JSON.stringify(byPhase.high2)}`);
    const longStalls = full.stalls.filter((st) => (st.endS ?? st.startS) - st.startS > o.maxStallS);
    if (longStalls.length) failures.push(`stalls longer than ${o.maxStallS} s after start-up: ${longStalls.map((st) => `${((st.endS ?? st.startS) - st.startS).toFixed(2)} s at ${st.startS.toFixed(1)} s`).join(', ')}`);

    const stale = full.requests.filter((r) => r.appliedDecisionChunk !== null).map((r) => r.index - r.appliedDecisionChunk);
    result = {
      ok: failures.length === 0, failures, codecChecks: checks, session: full.sessionId, algorithm: full.algorithm, video: video.name,
      status: full.status, mediaTimeS: full.currentTimeS, decodedFrames: full.decodedFrames, droppedFrames: full.droppedFrames,
      startupDelayS: full.startupDelayS, chunks: full.chunks.length, decisionsAnswered: ok.length,
      levelsByPhase: byPhase, stalls: full.stalls, summary: full.summary,
      decisionStaleness: { requests: stale.length, fresh: stale.filter((x) => x === 0).length, oneChunkOld: stale.filter((x) => x === 1).length, older: stale.filter((x) => x > 1).length },
      metrics, trace: steps, wallS: (Date.now() - started) / 1000,
    };
  } catch (e) {
    failures.push(`harness error: ${e.stack || e}`);
    result = { ok: false, failures };
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
  // The page scores QoE_lin from chunk 1 on as the server does (`serve` runs --qoe lin here).
  const sm = result.summary;
  if (sm && typeof sm.serverQoe === 'number' && Math.abs(sm.qoe - sm.serverQoe) > 0.01) {
    failures.push(`the page's QoE ${sm.qoe} differs from the server's ${sm.serverQoe}`);
  }
  result.ok = failures.length === 0;
  result.failures = failures;
  writeFileSync(join(out, 'result.json'), JSON.stringify(result, null, 2));
  writeFileSync(join(out, 'harness.log'), logLines.join('\n') + '\n');
  if (result.levelsByPhase) log(`levels requested by phase: ${JSON.stringify(result.levelsByPhase)}`);
  if (result.decisionStaleness) log(`decision staleness (chunks): ${JSON.stringify(result.decisionStaleness)}`);
  if (result.summary) log(`summary: QoE ${result.summary.qoe.toFixed(2)} (server ${result.summary.serverQoe}), ${result.summary.chunks} chunks, stalls ${result.summary.stalls} (${result.summary.stallS.toFixed(2)} s), frames ${result.decodedFrames}`);
  log(`outputs in ${out} (screenshot.png, decisions.json, chunks.csv, result.json)`);
  if (failures.length) {
    console.error(`E2E FAILED:\n - ${failures.join('\n - ')}`);
    process.exit(1);
  }
  log('E2E PASSED');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => { console.error(e.stack || String(e)); process.exit(2); });
}
