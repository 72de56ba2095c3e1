#!/usr/bin/env node
// One browser viewer for `neuralstream emulate --client chromium`: opens the web page of a running
// `neuralstream serve` in Debian's headless Chromium (playwright-core, the same flags as e2e.mjs)
// and plays one video to the end with decisions from the server. Nothing is throttled here: the
// emulator runs this script inside a network namespace whose link `tc` shapes, so the network
// itself is the trace. Writes into --out: result.json (the page's summary: QoE, stalls, chunks,
// decisions) and chunks.csv. Exit status 0 only if the video played to the end without a page
// error.
//
// Usage: node web/tests/emulate_page.mjs BASE_URL --video NAME [--abr ALGO] [--out DIR]
//        [--buffer-s S] [--timeout-s S] [--chromium PATH]

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM_ARGS } from './e2e.mjs';

function parseArgs(argv) {
  const o = { url: null, out: 'out/emulate-page', abr: null, video: null, bufferS: 60, timeoutS: 600, chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    const num = () => { const v = next(); const n = Number(v); if (!Number.isFinite(n) || n <= 0) throw new Error(`${a} needs a number > 0, got ${v}`); return n; };
    switch (a) {
      case '--out': o.out = next(); break;
      case '--abr': o.abr = next(); break;
      case '--video': o.video = next(); break;
      case '--buffer-s': o.bufferS = num(); break;
      case '--timeout-s': o.timeoutS = num(); break;
      case '--chromium': o.chromium = next(); break;
      default:
        if (a.startsWith('-') || o.url) throw new Error(`unknown argument ${a}; see the usage at the top of this file`);
        o.url = a;
    }
  }
  if (!o.url || !o.video) throw new Error('usage: node web/tests/emulate_page.mjs BASE_URL --video NAME [--abr ALGO] [--out DIR]');
  if (!o.url.endsWith('/')) o.url += '/';
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'neuralstream-emulate-'));
  const started = Date.now();
  const { chromium } = await import('playwright-core');
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: o.chromium, headless: true, ignoreHTTPSErrors: true, args: CHROMIUM_ARGS,
    viewport: { width: 960, height: 640 },
  });
  const failures = [];
  let result = {};
  try {
    const page = ctx.pages()[0] || (await ctx.newPage());
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const q = new URLSearchParams({ autoplay: '1', buffer: String(o.bufferS), video: o.video });
    if (o.abr) q.set('abr', o.abr);
    await page.goto(`${o.url}?${q}`);
    let s = null;
    for (;;) {
      s = await page.evaluate(() => { const st = globalThis.neuralstream && globalThis.neuralstream.state; return st ? { status: st.status, currentTimeS: st.currentTimeS } : null; });
      if (s && ['ended', 'error', 'cannot play', 'stopped'].includes(s.status)) break;
      if ((Date.now() - started) / 1000 > o.timeoutS) { failures.push(`timed out after ${o.timeoutS} s (status ${s && s.status})`); break; }
      await sleep(250);
    }
    const full = await page.evaluate(() => JSON.parse(JSON.stringify(globalThis.neuralstream.state)));
    if (s && s.status !== 'ended') failures.push(`the page ended in status '${s.status}': ${full.message || full.error || ''}`);
    if (full.error) failures.push(`page error: ${full.error}`);
    failures.push(...errors.map((e) => `pageerror: ${e}`));
    const cols = ['index', 'level', 'bitrateKbps', 'sizeBytes', 'downloadMs', 'throughputKbps', 'bufferS', 'rebufferS', 'tS'];
    writeFileSync(join(out, 'chunks.csv'), [cols.join(','), ...full.chunks.map((c) => cols.map((k) => c[k] ?? '').join(','))].join('\n') + '\n');
    result = { session: full.sessionId, algorithm: full.algorithm, video: full.video, status: full.status, summary: full.summary, chunks: full.chunks.length, wallS: (Date.now() - started) / 1000 };
  } catch (e) {
    failures.push(`harness error: ${e.stack || e}`);
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
  result.ok = failures.length === 0;
  result.failures = failures;
  writeFileSync(join(out, 'result.json'), JSON.stringify(result, null, 2));
  if (failures.length) { console.error(`emulate_page FAILED:\n - ${failures.join('\n - ')}`); process.exit(1); }
  console.log(`played ${result.chunks} chunks: QoE ${result.summary && result.summary.qoe}`);
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(2); });
