#!/usr/bin/env node
// Browser end-to-end test of `neuralstream serve --pensieve-compat` behind Pensieve's own client.
//
// Opens BASE_URL/myindex_RL.html (Pensieve's page and dash.all.min.js, served by the server from
// ../shared, never copied into the repository) in Debian's headless Chromium (playwright-core,
// executablePath /usr/bin/chromium), throttles the network to --kbps through the DevTools protocol,
// plays the video at --rate, and records every report the client posts to http://localhost:8333/
// with the server's answer, and every segment it requests. The client reloads the page when it is
// answered REFRESH; this script lets that reload's request be seen and aborts it (net::ERR_ABORTED
// keeps the current document), so the video can be watched to its end.
//
// Checks (browser side; the server's own logs are checked by crates/cli/tests/pensieve_browser.rs):
// the video plays to its end; every report is answered 200; the reports name chunks 0..N-1 in
// order; every answer but the last is a level, and the next chunk is requested at that level;
// the last answer is REFRESH, and the page asked to reload exactly once.
//
// Writes into --out: reports.json (each body and answer), segments.json (each segment request),
// console.log, screenshot.png and result.json. Exit status 0 only if all checks pass.
//
// Usage: node web/tests/pensieve_e2e.mjs BASE_URL [--out DIR] [--kbps N] [--rate X]
//        [--timeout-s S] [--chromium PATH]

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM_ARGS } from './e2e.mjs';

/** The page of the client's server-driven rule (abr_id 4). */
const PAGE = 'myindex_RL.html';

/** Level and 0-based chunk index of a NeuralStream segment URL (`chunk-LEVEL-NNNNN.m4s`, numbered from 1). */
export function segmentOf(url) {
  const m = /\/chunk-(\d+)-(\d+)\.m4s$/.exec(new URL(url).pathname);
  return m ? { level: Number(m[1]), index: Number(m[2]) - 1 } : null;
}

/**
 * Checks the client's reports and answers against the segments it requested; returns the
 * failures. `reports`: [{ body, status, answer }] in order; `segments`: [{ level, index }] in order.
 */
export function checkExchange(reports, segments) {
  const failures = [];
  if (!reports.length) return ['the client posted no report'];
  reports.forEach((r, i) => {
    if (r.status !== 200) failures.push(`report ${i} (lastRequest ${r.body && r.body.lastRequest}) answered ${r.status}: ${r.answer}`);
    if (!r.body || r.body.lastRequest !== i) failures.push(`report ${i} names chunk ${r.body && r.body.lastRequest}, expected ${i}`);
  });
  const chunks = reports.length;
  const last = reports[chunks - 1];
  if (last.answer !== 'REFRESH') failures.push(`the report of the last chunk (${chunks - 1}) was answered ${JSON.stringify(last.answer)}, expected REFRESH`);
  const refreshes = reports.filter((r) => r.answer === 'REFRESH').length;
  if (refreshes !== 1) failures.push(`REFRESH answered ${refreshes} times, expected once`);
  const firstRequest = new Map();
  for (const s of segments) if (!firstRequest.has(s.index)) firstRequest.set(s.index, s.level);
  for (let k = 0; k < chunks; k++) if (!firstRequest.has(k)) failures.push(`chunk ${k} was never requested`);
  if (firstRequest.size !== chunks) failures.push(`the client requested ${firstRequest.size} distinct chunks but reported ${chunks}`);
  reports.slice(0, -1).forEach((r, k) => {
    if (!/^\d+$/.test(r.answer || '')) { failures.push(`report of chunk ${k} answered ${JSON.stringify(r.answer)}, expected a level`); return; }
    const asked = Number(r.answer);
    const got = firstRequest.get(k + 1);
    if (got !== asked) failures.push(`chunk ${k + 1}: the server answered level ${asked}, the client requested level ${got}`);
    const reported = reports[k + 1] && reports[k + 1].body.lastquality;
    if (reported !== undefined && reported !== asked) failures.push(`chunk ${k + 1}: answered level ${asked}, reported as lastquality ${reported}`);
  });
  return failures;
}

function parseArgs(argv) {
  const o = { url: null, out: 'target/pensieve-e2e', kbps: 8000, rate: 2, timeoutS: 120, chromium: '/usr/bin/chromium' };
  const num = (k, v) => { const n = Number(v); if (!Number.isFinite(n) || n <= 0) throw new Error(`--${k} needs a positive number, got ${v}`); return n; };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    switch (a) {
      case '--out': o.out = next(); break;
      case '--kbps': o.kbps = num('kbps', next()); break;
      case '--rate': o.rate = num('rate', next()); break;
      case '--timeout-s': o.timeoutS = num('timeout-s', next()); break;
      case '--chromium': o.chromium = next(); break;
      default:
        if (a.startsWith('-') || o.url) throw new Error(`unknown argument ${a}; see the usage at the top of this file`);
        o.url = a;
    }
  }
  if (!o.url) throw new Error('usage: node web/tests/pensieve_e2e.mjs http://localhost:8333/ [--out DIR] [--kbps N] [--rate X]');
  if (!o.url.endsWith('/')) o.url += '/';
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'neuralstream-pensieve-'));
  const started = Date.now();
  const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${a.join(' ')}`);
  const { chromium } = await import('playwright-core');
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: o.chromium, headless: true, args: CHROMIUM_ARGS, viewport: { width: 800, height: 600 },
  });
  const failures = [];
  const reports = [];
  const segments = [];
  const consoleLines = [];
  let pageLoads = 0;
  let reloadsAsked = 0;
  let video = null;
  try {
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    // The first load goes through; a later one is the client acting on REFRESH: seen, then aborted.
    await page.route((u) => u.pathname === `/${PAGE}`, async (route) => {
      if (pageLoads++ === 0) return route.continue();
      reloadsAsked += 1;
      log('the client asked to reload the page (REFRESH); aborting the reload to watch the video to its end');
      return route.abort('aborted');
    });
    page.on('request', (r) => {
      const s = segmentOf(r.url());
      if (s) segments.push({ ...s, tS: (Date.now() - started) / 1000 });
    });
    page.on('requestfinished', async (r) => {
      if (r.method() !== 'POST') return;
      const entry = { body: null, status: 0, answer: null };
      reports.push(entry);
      try { entry.body = JSON.parse(r.postData() || 'null'); } catch { entry.body = r.postData(); }
      const res = await r.response();
      entry.status = res ? res.status() : 0;
      try { entry.answer = res ? await res.text() : null; } catch { entry.answer = null; }
    });
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 20, downloadThroughput: (o.kbps * 1000) / 8, uploadThroughput: (o.kbps * 1000) / 8,
    });
    log(`opening ${o.url}${PAGE} at ${o.kbps} kbit/s, playback rate ${o.rate}`);
    await page.goto(`${o.url}${PAGE}`);
    for (;;) {
      video = await page.evaluate((rate) => {
        const v = document.querySelector('video');
        if (!v) return null;
        if (v.playbackRate !== rate) v.playbackRate = rate;
        const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
        return { currentTimeS: v.currentTime, durationS: v.duration, ended: v.ended, error: v.error && v.error.message, decodedFrames: q.totalVideoFrames || 0 };
      }, o.rate);
      if (video && (video.ended || video.error)) break;
      if ((Date.now() - started) / 1000 > o.timeoutS) { failures.push(`timed out after ${o.timeoutS} s at ${video ? video.currentTimeS.toFixed(1) : '?'} s of media`); break; }
      await sleep(250);
    }
    await sleep(500); // the last report's answer may still be in flight when the video ends
    await page.screenshot({ path: join(out, 'screenshot.png') });
    log(`video: ${JSON.stringify(video)}`);
  } catch (e) {
    failures.push(`harness error: ${e.stack || e}`);
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
  if (!video || !video.ended) failures.push(`the video did not play to its end: ${JSON.stringify(video)}`);
  else if (!(video.decodedFrames > 0)) failures.push('no video frame decoded');
  if (video && video.error) failures.push(`video element error: ${video.error}`);
  if (reloadsAsked !== 1) failures.push(`the page asked to reload ${reloadsAsked} times, expected once (on REFRESH)`);
  failures.push(...checkExchange(reports, segments));
  const result = {
    ok: failures.length === 0, failures, video, reports: reports.length, segments: segments.length,
    answers: reports.map((r) => r.answer), levelsRequested: segments.map((s) => s.level), reloadsAsked,
    wallS: (Date.now() - started) / 1000,
  };
  writeFileSync(join(out, 'reports.json'), JSON.stringify(reports, null, 1));
  writeFileSync(join(out, 'segments.json'), JSON.stringify(segments, null, 1));
  writeFileSync(join(out, 'console.log'), consoleLines.join('\n') + '\n');
  writeFileSync(join(out, 'result.json'), JSON.stringify(result, null, 2));
  log(`answers ${JSON.stringify(result.answers)}; levels requested ${JSON.stringify(result.levelsRequested)}`);
  if (failures.length) {
    console.error(`PENSIEVE E2E FAILED:\n - ${failures.join('\n - ')}`);
    process.exit(1);
  }
  log(`PENSIEVE E2E PASSED; outputs in ${out}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => { console.error(e.stack || String(e)); process.exit(2); });
}
