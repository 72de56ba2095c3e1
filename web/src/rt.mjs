// The live dashboard at /rt: the server's real-time sessions and the watched one's charts, kept
// current over the feed's WebSocket (`/api/v1/rt/live`). The state and its rules are in
// rtfeed.mjs; this file only connects, reconnects and draws. The state is exposed as
// `window.neuralstream.rt` and every chart canvas carries `data-points` (points drawn), so the
// browser test (tests/rt_e2e.mjs) reads exactly what the page shows.

import { TimeChart } from './charts.mjs';
import {
  applyMessage, chartSeries, createState, feedDropped, feedUrl, fmtKbps, isStale, reconnectDelayMs, watchSession,
} from './rtfeed.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = createState(params.get('watch'));
globalThis.neuralstream = { rt: state };

/** Seconds of session time the charts show. */
const WINDOW_S = 60;

const charts = {
  rate: new TimeChart($('c-rate'), { title: 'Rate', unit: 'kbit/s', minYMax: 500, windowS: WINDOW_S }),
  delay: new TimeChart($('c-delay'), { title: 'Delay', unit: 'ms', minYMax: 50, windowS: WINDOW_S }),
  fps: new TimeChart($('c-fps'), { title: 'Frame rate', unit: 'fps', minYMax: 60, windowS: WINDOW_S }),
  height: new TimeChart($('c-height'), { title: 'Resolution', unit: 'lines', minYMax: 1080, windowS: WINDOW_S }),
};
const lines = {
  estimate: charts.rate.addSeries({ name: 'capacity estimate (controller)', color: '#16a34a' }),
  receive: charts.rate.addSeries({ name: 'receive rate', color: '#2563eb', dash: [4, 3] }),
  target: charts.rate.addSeries({ name: 'target', color: '#dc2626', step: true }),
  frameDelay: charts.delay.addSeries({ name: 'frame delay (capture to display)', color: '#db2777' }),
  delay: charts.delay.addSeries({ name: 'largest packet delay', color: '#7c3aed' }),
  rtt: charts.delay.addSeries({ name: 'RTT', color: '#059669', dash: [4, 3] }),
  fps: charts.fps.addSeries({ name: 'fps', color: '#d97706', step: true }),
  height: charts.height.addSeries({ name: 'height', color: '#0891b2', step: true }),
};
for (const r of [480, 720, 1080]) charts.height.rules.push({ y: r, label: `${r}p` });

let socket = null;
let attempt = 0;
let reconnectTimer = null;
let drawPending = false;

function send(obj) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(obj));
}

function setMessage(text, isError = false) {
  const m = $('message');
  m.textContent = text;
  m.className = isError ? 'error' : '';
}

/** Redraws on the next frame (many messages in one frame draw once). */
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; draw(); });
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function drawList() {
  const rows = state.sessions.map((s) => {
    const tr = document.createElement('tr');
    const p = s.last || {};
    tr.dataset.session = s.id;
    if (s.id === state.watch) tr.className = 'selected';
    tr.append(
      cell(s.id), cell(s.controller), cell(String(s.reports)),
      cell(Number.isFinite(p.target_kbps) ? String(Math.round(p.target_kbps)) : '-'),
      cell(Number.isFinite(p.receive_kbps) ? String(Math.round(p.receive_kbps)) : '-'),
      cell(Number.isFinite(p.delay_ms) ? p.delay_ms.toFixed(0) : '-'),
      cell(p.height ? `${p.height}p${p.fps}` : '-'),
    );
    tr.addEventListener('click', () => {
      const id = watchSession(state, s.id, true);
      send({ watch: id });
      scheduleDraw();
    });
    return tr;
  });
  $('sessions').tBodies[0].replaceChildren(...rows);
  $('sessions').dataset.rows = String(rows.length);
  $('empty').hidden = state.status !== 'live' || state.total > 0;
}

function draw() {
  $('t-feed').textContent = state.status;
  $('t-live').textContent = state.status === 'live' ? (state.total > state.sessions.length ? `${state.total} (${state.sessions.length} listed)` : String(state.total)) : '-';
  $('t-watch').textContent = state.watch ? `${state.watch}${state.live ? '' : ' (not live)'}` : '-';
  const summary = state.sessions.find((s) => s.id === state.watch);
  $('t-controller').textContent = summary ? summary.controller : '-';
  const last = state.points[state.points.length - 1];
  $('t-receive').textContent = last ? fmtKbps(last.receive_kbps) : '-';
  $('t-target').textContent = last ? fmtKbps(last.target_kbps) : '-';
  $('t-estimate').textContent = last ? fmtKbps(last.estimate_kbps ?? NaN) : '-';
  $('t-frame-delay').textContent = last && Number.isFinite(last.frame_delay_ms) ? `${last.frame_delay_ms.toFixed(0)} ms` : '-';
  $('t-delay').textContent = last && Number.isFinite(last.delay_ms) ? `${last.delay_ms.toFixed(0)} ms` : '-';
  $('t-picture').textContent = last ? `${last.height}p${last.fps}` : '-';
  if (state.message) setMessage(state.message, state.status !== 'live');
  else if (state.status === 'live' && state.total === 0) setMessage('no real-time session is live');
  else setMessage('');
  drawList();
  const series = chartSeries(state.points);
  lines.estimate.points = series.estimateKbps;
  lines.receive.points = series.receiveKbps;
  lines.target.points = series.targetKbps;
  lines.frameDelay.points = series.frameDelayMs;
  lines.delay.points = series.delayMs;
  lines.rtt.points = series.rttMs;
  lines.fps.points = series.fps;
  lines.height.points = series.height;
  const nowS = last ? last.t_s : 0;
  for (const c of Object.values(charts)) {
    c.nowS = nowS;
    c.draw();
    c.canvas.dataset.points = String(state.points.length);
    c.canvas.dataset.lastT = String(nowS);
  }
}

function scheduleReconnect(why) {
  if (reconnectTimer) return;
  feedDropped(state, why);
  scheduleDraw();
  const delay = reconnectDelayMs(attempt++);
  reconnectTimer = setTimeout(() => { reconnectTimer = null; connect(); }, delay);
}

function connect() {
  state.connects += 1;
  const ws = new WebSocket(feedUrl(location, state.watch));
  socket = ws;
  let greeted = false;
  ws.onmessage = (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    if (msg.type === 'hello') { attempt = 0; greeted = true; }
    const ask = applyMessage(state, msg, Date.now());
    if (ask) send({ watch: ask });
    scheduleDraw();
  };
  ws.onclose = async (e) => {
    if (socket !== ws) return;
    socket = null;
    let why = e.code === 1013 || e.code === 4001 ? `the server closed the feed (${e.code}: ${e.reason})` : 'the feed dropped';
    if (!greeted) {
      // Refused before it started: the JSON snapshot says why (e.g. real-time sessions are off).
      try {
        const r = await fetch('/api/v1/rt/sessions');
        if (!r.ok) why = `${(await r.json()).error || `the feed is refused (HTTP ${r.status})`}`;
      } catch { /* the server is unreachable: keep the generic reason */ }
    }
    scheduleReconnect(why);
  };
  ws.onerror = () => { /* onclose follows */ };
}

// A feed that stays silent (a proxy that swallowed the close) counts as dropped.
setInterval(() => {
  if (isStale(state, Date.now()) && socket) {
    const ws = socket;
    socket = null;
    ws.close();
    scheduleReconnect('the feed went silent');
  }
}, 1000);
addEventListener('resize', scheduleDraw);

connect();
draw();
