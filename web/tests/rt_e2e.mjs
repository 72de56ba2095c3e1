#!/usr/bin/env node
// Browser test of the live dashboard (/rt) of a running `neuralstream serve --rt-controllers ...`.
//
// Opens BASE_URL/rt in Debian's headless Chromium (playwright-core, executablePath
// /usr/bin/chromium; no browser is ever downloaded), prints `page ready` once the feed is live
// (the caller starts its `rt client`s then), and checks what a viewer would: the session list
// shows at least --sessions sessions, the server's /api/v1/rt/sessions lists the same ids, the
// watched session's charts gain points between two reads --gap-s apart while the clients stream,
// after the feed is dropped (a routed WebSocket closed under the page) the page reconnects and
// shows the sessions again, and once every session has ended the page says none is live and its charts are empty. Writes
// into --out: rt_dashboard.png (while streaming), rt_dashboard_empty.png (after), console.log and
// result.json. Exit status 0 only if all checks pass.
//
// Usage: node web/tests/rt_e2e.mjs BASE_URL [--out DIR] [--sessions N] [--gap-s S]
//        [--timeout-s S] [--chromium PATH] [--headed]

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM_ARGS } from './e2e.mjs';

function parseArgs(argv) {
  const o = { url: null, out: 'target/rt-dashboard-e2e', sessions: 1, gapS: 2, timeoutS: 120, chromium: '/usr/bin/chromium', headed: false };
  const num = (k, v) => { const n = Number(v); if (!Number.isFinite(n) || n <= 0) throw new Error(`--${k} needs a positive number, got ${v}`); return n; };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    switch (a) {
      case '--out': o.out = next(); break;
      case '--sessions': o.sessions = num('sessions', next()); break;
      case '--gap-s': o.gapS = num('gap-s', next()); break;
      case '--timeout-s': o.timeoutS = num('timeout-s', next()); break;
      case '--chromium': o.chromium = next(); break;
      case '--headed': o.headed = true; break;
      case '-h': case '--help':
        console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n'));
        process.exit(0);
        break;
      default:
        if (a.startsWith('-') || o.url) throw new Error(`unknown argument ${a}; see --help`);
        o.url = a;
    }
  }
  if (!o.url) throw new Error('usage: node web/tests/rt_e2e.mjs BASE_URL (e.g. https://127.0.0.1:8443/) [--sessions N] [--out DIR]; see --help');
  if (!o.url.endsWith('/')) o.url += '/';
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'neuralstream-chromium-'));
  const started = Date.now();
  const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${a.join(' ')}`);
  const { chromium } = await import('playwright-core');
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: o.chromium, headless: !o.headed, ignoreHTTPSErrors: true, args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 820 },
  });
  const failures = [];
  const check = (ok, what) => { if (!ok) failures.push(what); log(`${ok ? 'ok' : 'FAILED'}: ${what}`); };
  const result = { reads: {} };
  const consoleLines = [];
  try {
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    // Every feed connection goes through a route that forwards it to the server untouched, so the
    // test can drop one as a network would.
    const feedRoutes = [];
    await page.routeWebSocket(/\/api\/v1\/rt\/live/, (ws) => { ws.connectToServer(); feedRoutes.push(ws); });
    await page.goto(new URL('rt', o.url).href);
    const read = () => page.evaluate(() => {
      const s = globalThis.neuralstream && globalThis.neuralstream.rt;
      const c = document.getElementById('c-rate');
      const rows = [...document.querySelectorAll('#sessions tbody tr')].map((tr) => tr.dataset.session);
      return s ? {
        status: s.status, total: s.total, connects: s.connects, drops: s.drops, watch: s.watch, live: s.live, points: s.points.length,
        canvasPoints: Number(c.dataset.points || 0), canvasLastT: Number(c.dataset.lastT || 0), rows,
        message: document.getElementById('message').textContent, emptyShown: !document.getElementById('empty').hidden,
      } : null;
    });
    const waitFor = async (what, pred) => {
      const deadline = Date.now() + o.timeoutS * 1000;
      for (;;) {
        const r = await read();
        if (r && pred(r)) return r;
        if (Date.now() > deadline) throw new Error(`timed out after ${o.timeoutS} s waiting for ${what}; last read ${JSON.stringify(r)}`);
        await sleep(200);
      }
    };
    result.reads.ready = await waitFor('the feed to be live', (r) => r.status === 'live');
    console.log('page ready');
    result.reads.listed = await waitFor(`${o.sessions} live sessions in the list and points on the charts`, (r) => r.rows.length >= o.sessions && r.canvasPoints > 0);
    log(`listed: ${result.reads.listed.rows.join(', ')}; watching ${result.reads.listed.watch}`);
    const apiRes = await ctx.request.get(new URL('api/v1/rt/sessions', o.url).href);
    const api = await apiRes.json();
    const apiIds = (api.sessions || []).map((s) => s.id);
    result.api = api;
    check(result.reads.listed.rows.every((id) => apiIds.includes(id)) || apiIds.length === 0, `the page lists what GET /api/v1/rt/sessions lists (${apiIds.join(', ')})`);
    const a = await read();
    await sleep(o.gapS * 1000);
    const b = await read();
    result.reads.a = a;
    result.reads.b = b;
    const sameSession = a.watch === b.watch;
    check(sameSession && b.live, `still watching ${a.watch}, live`);
    check(b.canvasPoints > a.canvasPoints || (b.canvasPoints === a.canvasPoints && b.canvasLastT > a.canvasLastT),
      `the charts update while the clients stream: ${a.canvasPoints} -> ${b.canvasPoints} points, last at ${a.canvasLastT} -> ${b.canvasLastT} s`);
    check(b.rows.length >= o.sessions, `the session list shows ${b.rows.length} >= ${o.sessions} sessions`);
    await page.screenshot({ path: join(out, 'rt_dashboard.png') });
    // The feed drops: the page reconnects by itself and shows the sessions again.
    await feedRoutes[feedRoutes.length - 1].close({ code: 4002, reason: 'test: the feed drops' });
    result.reads.reconnected = await waitFor('the page to reconnect after the feed dropped',
      (r) => r.drops >= 1 && r.connects >= 2 && r.status === 'live' && r.rows.length > 0 && r.canvasPoints > 0);
    const rc = result.reads.reconnected;
    check(true, `after the feed dropped the page reconnected (${rc.connects} connections, ${rc.drops} drop) and shows ${rc.rows.length} sessions and ${rc.canvasPoints} points again`);
    result.reads.empty = await waitFor('every session to end', (r) => r.status === 'live' && r.total === 0);
    const e = result.reads.empty;
    check(e.points === 0 && e.canvasPoints === 0 && e.rows.length === 0, 'with no session live, the list and the charts are empty');
    check(e.emptyShown && /no real-time session is live/.test(e.message), `the page says no session is live ("${e.message}")`);
    await page.screenshot({ path: join(out, 'rt_dashboard_empty.png') });
  } catch (err) {
    failures.push(String(err && err.stack ? err.stack : err));
    log(`error: ${err && err.message}`);
  } finally {
    result.failures = failures;
    writeFileSync(join(out, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(out, 'console.log'), `${consoleLines.join('\n')}\n`);
    await ctx.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
  if (failures.length) {
    console.error(`rt dashboard e2e FAILED:\n- ${failures.join('\n- ')}`);
    process.exit(1);
  }
  log(`rt dashboard e2e passed; screenshots in ${out}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
