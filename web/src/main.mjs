// The NeuralStream web player: wires dash.js, the server-decided ABR rule, the live charts and the
// session summary. State lives in one object, exposed as `window.neuralstream` so the browser
// end-to-end test (tests/e2e.mjs) reads exactly what the page shows.

import { DASHJS_DEFAULT, getJson, normalizeAlgorithms, normalizeVideos } from './api.mjs';
import { chooseVideo, playability, videoRepresentations } from './codecs.mjs';
import { TimeChart } from './charts.mjs';
import { DecisionClient, newSessionId } from './decision.mjs';
import { qoeLin, summarize, throughputKbps } from './qoe.mjs';
import { ladderLevelOf, makeServerRule, playerSettings } from './rule.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const dashjs = globalThis.dashjs;

/** Everything the page knows about the current session. */
const state = {
  status: 'idle', message: '', error: null,
  videos: [], algorithms: [], defaultAlgorithm: null,
  sessionId: null, video: null, algorithm: null, mode: null, bufferS: 20,
  playability: null, codecChecks: {}, libraryNote: '', t0: 0, startupDelayS: null,
  requests: [], chunks: [], stalls: [], rendered: [], bufferSamples: [], failedRequests: 0,
  decisions: [], summary: null, decodedFrames: 0, droppedFrames: 0, currentTimeS: 0,
  dashjsVersion: dashjs ? dashjs.Version || (dashjs.MediaPlayer && dashjs.MediaPlayer().create().getVersion()) : null,
};
globalThis.neuralstream = { state };

let player = null;
let client = null;
// The ladder the server rule maps levels onto. Module-level like `client`: dash.js caches a custom
// rule's factory by name, so the hooks of the first registration serve every later video.
let ruleLadderKbps = [];
let reps = []; // dash.js video representations sorted by bandwidth: index = ladder level
let charts = null;
let pollTimer = null;
let stallOpen = null;
let stallTotalS = 0;
let stallAtLastChunkS = 0;

const nowS = () => (performance.now() - state.t0) / 1000;
const fmtKbps = (k) => (Number.isFinite(k) ? (k >= 1000 ? `${(k / 1000).toFixed(2)} Mbit/s` : `${Math.round(k)} kbit/s`) : '-');

function setMessage(text, isError = false) {
  state.message = text;
  const m = $('message');
  m.textContent = text;
  m.className = isError ? 'error' : '';
}

function setStatus(s) {
  state.status = s;
  $('t-status').textContent = s;
}

async function loadLists() {
  const [videosJson, algosJson] = await Promise.all([getJson('/api/v1/videos'), getJson('/api/v1/algorithms')]);
  state.videos = normalizeVideos(videosJson);
  const a = normalizeAlgorithms(algosJson);
  state.algorithms = a.algorithms;
  state.defaultAlgorithm = a.default;
  if (!state.videos.length) throw new Error('the server lists no videos; start it with `neuralstream serve --media DIR` (a folder made by `neuralstream package`)');
  // Which packages can this browser decode? (dash.js would silently play audio only for HEVC.)
  const checks = new Map();
  await Promise.all(state.videos.map(async (v) => {
    try {
      checks.set(v.name, await checkCodecs(v.mpd));
    } catch (e) {
      checks.set(v.name, { playable: false, supported: [], unsupported: [], message: `cannot read ${v.mpd}: ${e.message}` });
    }
  }));
  state.codecChecks = Object.fromEntries([...checks].map(([k, c]) => [k, { playable: c.playable, message: c.message, codecs: [...new Set(c.supported.concat(c.unsupported).map((r) => r.family))] }]));
  const vSel = $('video');
  vSel.replaceChildren(...state.videos.map((v) => {
    const c = state.codecChecks[v.name];
    const codecs = c && c.codecs.length ? `${c.codecs.join('+')}, ` : '';
    const label = `${v.name} (${codecs}${v.levelsKbps.length} levels${v.chunks ? `, ${v.chunks} chunks` : ''})${c && !c.playable ? ' - not playable here' : ''}`;
    return new Option(label, v.name);
  }));
  const pick = chooseVideo(state.videos, checks, params.get('video'));
  if (pick.name) vSel.value = pick.name;
  const unplayable = state.videos.filter((v) => !checks.get(v.name).playable);
  if (unplayable.length) {
    const why = unplayable.map((v) => `${v.name}: ${checks.get(v.name).message}`).join(' ');
    state.libraryNote = `${why} (${pick.reason}.)`;
    setMessage(state.libraryNote, unplayable.length === state.videos.length);
  }
  const aSel = $('algorithm');
  const options = state.algorithms.map((x) => {
    const o = new Option(x.name + (x.name === a.default ? ' (server default)' : ''), x.name);
    o.title = x.description;
    return o;
  });
  if (!state.algorithms.some((x) => x.name.startsWith('learned'))) {
    // Shown so the choice is visible; the server enables one with --abr ...,learned:PATH.
    const o = new Option('learned (not enabled)', 'learned');
    o.title = 'train a policy with `neuralstream train`, then serve it with --abr ...,learned:out/train/policy.safetensors (neuralstream demo adds it when that file exists)';
    o.disabled = true;
    options.push(o);
  }
  options.push(new Option('dash.js default (its own rules)', DASHJS_DEFAULT));
  aSel.replaceChildren(...options);
  const wantedAbr = params.get('abr');
  aSel.value = wantedAbr && [...aSel.options].some((o) => o.value === wantedAbr && !o.disabled) ? wantedAbr : a.default || DASHJS_DEFAULT;
  if (params.get('buffer')) $('buffer').value = params.get('buffer');
}

/** Checks the MPD's codecs against MediaSource before handing it to dash.js. */
async function checkCodecs(mpdUrl) {
  const res = await fetch(mpdUrl);
  if (!res.ok) throw new Error(`${mpdUrl} answered HTTP ${res.status}`);
  const doc = new DOMParser().parseFromString(await res.text(), 'application/xml');
  const isSupported = (t) => globalThis.MediaSource && MediaSource.isTypeSupported(t);
  return playability(videoRepresentations(doc), isSupported);
}

function makeCharts(levelsKbps) {
  // Throughput on a fast link dwarfs the ladder; the axis stops at 2.5x the top level and higher
  // samples are drawn on the top edge with their value.
  const top = levelsKbps.length ? Math.max(...levelsKbps) : 0;
  const rate = new TimeChart($('c-rate'), { title: 'Bitrate and throughput', unit: 'kbit/s', minYMax: 500, yCap: top ? 2.5 * top : undefined });
  const buf = new TimeChart($('c-buffer'), { title: 'Buffer (red: stalls)', unit: 's', minYMax: 5 });
  const res = new TimeChart($('c-res'), { title: 'Rendered resolution', unit: 'px height', minYMax: 240 });
  rate.rules = levelsKbps.map((k, i) => ({ y: k, label: `L${i} ${Math.round(k)}` }));
  buf.bands = state.stalls.map((s) => s); // live references, see onStall
  return {
    all: [rate, buf, res],
    rate, buf, res,
    chosen: rate.addSeries({ name: 'chosen bitrate', color: '#2563eb', step: true }),
    measured: rate.addSeries({ name: 'measured throughput', color: '#16a34a', dots: true }),
    predicted: rate.addSeries({ name: 'predicted (server)', color: '#f59e0b', dash: [5, 3], step: true }),
    buffer: buf.addSeries({ name: 'buffer', color: '#7c3aed' }),
    target: buf.addSeries({ name: 'buffer target (server)', color: '#f59e0b', dash: [5, 3], step: true }),
    height: res.addSeries({ name: 'height', color: '#0891b2', step: true }),
  };
}

/** dash.js's video representations by bandwidth (read lazily: the first segment requests can
 * come before STREAM_INITIALIZED). */
function ensureReps() {
  if (!reps.length && player && player.getRepresentationsByType) {
    try {
      reps = (player.getRepresentationsByType('video') || []).slice().sort((a, b) => a.bandwidth - b.bandwidth);
    } catch { /* not ready yet */ }
  }
  return reps;
}

/** Server ladder level of a representation (see rule.mjs `ladderLevelOf`). */
function levelOf(rep) {
  const v = state.videos.find((x) => x.name === state.video);
  return ladderLevelOf(rep, ensureReps(), v ? v.levelsKbps : []);
}

function repById(id) {
  return ensureReps().find((r) => String(r.id) === String(id)) || null;
}

function currentBufferS() {
  const b = player ? player.getDashMetrics().getCurrentBufferLevel('video') : NaN;
  return Number.isFinite(b) ? b : 0;
}

function onFragmentStarted(e) {
  const r = e.request;
  if (!r || r.mediaType !== 'video' || r.type !== 'MediaSegment') return;
  const rep = r.representation || repById(r.representationId);
  state.requests.push({
    index: r.index, level: levelOf(rep), tS: nowS(),
    appliedDecisionChunk: client && client.latest ? client.latest.chunk : null,
  });
}

function onFragmentCompleted(e) {
  const r = e.request;
  if (!r || r.mediaType !== 'video' || r.type !== 'MediaSegment') return;
  // dash.js fires this event for failed downloads too (error set, no response): not a chunk.
  if (e.error || (r.bytesLoaded || r.bytesTotal || 0) <= 0) {
    state.failedRequests += 1;
    setMessage(`segment ${r.index} failed to download (${e.error && e.error.message ? e.error.message : 'no data'}); dash.js retries it`, true);
    return;
  }
  const rep = r.representation || repById(r.representationId);
  const level = levelOf(rep);
  const startMs = r.startDate ? new Date(r.startDate).getTime() : NaN;
  const endMs = r.endDate ? new Date(r.endDate).getTime() : (r.requestEndDate ? new Date(r.requestEndDate).getTime() : Date.now());
  const sizeBytes = r.bytesLoaded || r.bytesTotal || 0;
  const tput = throughputKbps(sizeBytes, startMs, endMs);
  const durationS = Number.isFinite(r.duration) ? r.duration : 0;
  // Reported buffer = level after this chunk is appended (dash.js fires this event before the append).
  const bufferS = currentBufferS() + durationS;
  const stallNow = stallTotalS + (stallOpen ? nowS() - stallOpen.startS : 0);
  const rebufferS = Math.max(0, stallNow - stallAtLastChunkS);
  stallAtLastChunkS = stallNow;
  const req = [...state.requests].reverse().find((q) => q.index === r.index);
  const chunk = {
    index: r.index, level, representationId: rep ? rep.id : r.representationId,
    height: rep ? rep.height : null, bitrateKbps: rep ? rep.bandwidth / 1000 : NaN,
    sizeBytes, startMs, endMs, downloadMs: endMs - startMs, throughputKbps: tput,
    bufferS, rebufferS, tS: nowS(), appliedDecisionChunk: req ? req.appliedDecisionChunk : null,
  };
  // A chunk downloaded again (a retry, or a replacement) replaces the earlier record, as on the server.
  const last = state.chunks[state.chunks.length - 1];
  if (last && last.index === chunk.index) state.chunks[state.chunks.length - 1] = chunk;
  else state.chunks.push(chunk);
  if (charts) {
    charts.chosen.points.push([req ? req.tS : chunk.tS, chunk.bitrateKbps]);
    if (tput !== null) charts.measured.points.push([chunk.tS, tput]);
  }
  if (client && level >= 0) {
    client.report({
      lastChunk: { index: r.index, level, sizeBytes, startMs, endMs },
      bufferS, totalRebufferS: stallNow,
    });
  } else if (client) {
    setMessage(`segment ${r.index} came from a representation that is not in the ladder; not reported`, true);
  }
}

function onDecision(entry) {
  const d = entry.response;
  state.decisions.push({ ...entry, tS: nowS() });
  if (charts) {
    const t = nowS();
    if (d.reasons && Number.isFinite(d.reasons.predicted_throughput_kbps)) charts.predicted.points.push([t, d.reasons.predicted_throughput_kbps]);
    if (d.reasons && Number.isFinite(d.reasons.buffer_target_s)) charts.target.points.push([t, d.reasons.buffer_target_s]);
  }
  const row = document.createElement('tr');
  const cell = (v, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
  for (const v of [
    String(d.chunk), String(d.level), cell(d.bitrate_kbps), cell(d.reasons && d.reasons.predicted_throughput_kbps),
    cell(d.reasons && d.reasons.buffer_target_s, 1), cell(d.decision_us, 1), cell(entry.rttMs, 1),
  ]) {
    const td = document.createElement('td');
    td.textContent = v;
    row.appendChild(td);
  }
  $('decisions').tBodies[0].prepend(row);
  $('t-decisions').textContent = String(state.decisions.filter((x) => x.response).length);
}

function onDecisionError(entry) {
  state.decisions.push({ ...entry, tS: nowS() });
  setMessage(`decision request failed: ${entry.error}`, true);
}

function onWaiting() {
  if (state.startupDelayS === null || stallOpen || state.status === 'ended') return;
  stallOpen = { startS: nowS(), endS: null, color: 'rgba(220,40,40,0.25)' };
  state.stalls.push(stallOpen);
}

function onPlaying() {
  if (state.startupDelayS === null) {
    state.startupDelayS = nowS();
    setStatus('playing');
    const rate = Number(params.get('rate') || 1);
    if (rate > 0 && rate !== 1) $('player').playbackRate = rate;
  }
  closeStall();
}

function closeStall() {
  if (!stallOpen) return;
  stallOpen.endS = nowS();
  stallTotalS += stallOpen.endS - stallOpen.startS;
  stallOpen = null;
}

function poll() {
  if (!player) return;
  const t = nowS();
  const video = $('player');
  const b = player.getDashMetrics().getCurrentBufferLevel('video');
  if (Number.isFinite(b)) state.bufferSamples.push([t, b]);
  const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
  if (q) { state.decodedFrames = q.totalVideoFrames; state.droppedFrames = q.droppedVideoFrames; }
  state.currentTimeS = video.currentTime;
  // A stall also shows as time not advancing while playing; 'waiting' catches it in Chromium.
  const rep = player.getCurrentRepresentationForType ? player.getCurrentRepresentationForType('video') : null;
  const avg = player.getAverageThroughput ? player.getAverageThroughput('video') : NaN;
  $('t-buffer').textContent = Number.isFinite(b) ? `${b.toFixed(1)} s` : '-';
  $('t-throughput').textContent = fmtKbps(avg);
  // What is on screen (last rendered switch), not what is being downloaded ahead.
  const shown = state.rendered.length ? repById(state.rendered[state.rendered.length - 1].id) : rep;
  $('t-rendition').textContent = shown ? `${shown.width}x${shown.height} ${fmtKbps(shown.bandwidth / 1000)}` : '-';
  const stallS = stallTotalS + (stallOpen ? t - stallOpen.startS : 0);
  $('t-stalls').textContent = `${state.stalls.length} (${stallS.toFixed(1)} s)`;
  const serverQoe = client && client.latest ? client.latest.qoe_so_far : null;
  const local = qoeLin(state.chunks).qoe;
  $('t-qoe').textContent = serverQoe !== null ? `${serverQoe.toFixed(1)} (server)` : `${local.toFixed(1)} (page)`;
  if (charts) {
    charts.buffer.points.push([t, Number.isFinite(b) ? b : 0]);
    for (const c of charts.all) { c.nowS = t; c.bands = c === charts.buf ? state.stalls : c.bands; c.draw(); }
  }
}

function onQualityRendered(e) {
  if (e.mediaType !== 'video') return;
  const rep = e.newRepresentation;
  const entry = { tS: nowS(), id: rep ? rep.id : null, level: levelOf(rep), height: rep ? rep.height : null, bitrateKbps: rep ? rep.bandwidth / 1000 : NaN };
  state.rendered.push(entry);
  if (charts && rep) charts.height.points.push([entry.tS, rep.height]);
}

function finish(status) {
  closeStall();
  poll();
  state.summary = {
    sessionId: state.sessionId, algorithm: state.algorithm, video: state.video,
    ...summarize({ chunks: state.chunks, stalls: state.stalls, startupDelayS: state.startupDelayS }),
    serverQoe: client && client.latest ? client.latest.qoe_so_far : null,
    decisions: state.decisions.filter((d) => d.response).length,
    decodedFrames: state.decodedFrames, droppedFrames: state.droppedFrames,
  };
  renderSummary(state.summary);
  setStatus(status);
  clearInterval(pollTimer);
  pollTimer = null;
  $('stop').disabled = true;
  $('play').disabled = false;
}

function renderSummary(s) {
  const rows = [
    ['session', s.sessionId], ['algorithm', s.algorithm], ['video', s.video], ['chunks', s.chunks],
    ['QoE_lin (page, chunks 1..)', s.qoe.toFixed(2)], ['QoE (server, its --qoe)', s.serverQoe === null ? '-' : s.serverQoe.toFixed(2)],
    ['QoE per chunk', s.qoePerChunk.toFixed(3)], ['mean bitrate', fmtKbps(s.meanBitrateKbps)],
    ['mean throughput', fmtKbps(s.meanThroughputKbps)], ['start-up delay', s.startupDelayS === null ? '-' : `${s.startupDelayS.toFixed(2)} s`],
    ['stalls', `${s.stalls} (${s.stallS.toFixed(2)} s, longest ${s.longestStallS.toFixed(2)} s)`],
    ['switches', s.switches], ['downloaded', `${s.megabytes.toFixed(2)} MB`], ['decisions', s.decisions],
    ['frames decoded / dropped', `${s.decodedFrames} / ${s.droppedFrames}`],
  ];
  $('summary-table').replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th'); th.textContent = k;
    const td = document.createElement('td'); td.textContent = String(v);
    tr.append(th, td);
    return tr;
  }));
  $('summary').hidden = false;
}

function stop() {
  if (player) { player.reset(); player = null; }
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = null;
}

async function start() {
  stop();
  const name = $('video').value;
  const v = state.videos.find((x) => x.name === name);
  if (!v) { setMessage('choose a video', true); return; }
  const choice = $('algorithm').value;
  Object.assign(state, {
    video: v.name, mode: choice === DASHJS_DEFAULT ? 'dashjs' : 'server', algorithm: choice,
    bufferS: Math.max(4, Number($('buffer').value) || 20), sessionId: newSessionId(), error: null,
    requests: [], chunks: [], stalls: [], rendered: [], bufferSamples: [], decisions: [], summary: null,
    startupDelayS: null, decodedFrames: 0, droppedFrames: 0, failedRequests: 0,
  });
  stallOpen = null; stallTotalS = 0; stallAtLastChunkS = 0; reps = [];
  $('summary').hidden = true;
  $('decisions').tBodies[0].replaceChildren();
  $('t-algorithm').textContent = choice === DASHJS_DEFAULT ? 'dash.js' : choice;
  setStatus('checking codecs');
  state.playability = await checkCodecs(v.mpd);
  if (!state.playability.playable) {
    setStatus('cannot play');
    setMessage(state.playability.message, true);
    return;
  }
  setMessage(state.libraryNote ? `${state.playability.message} Other packages: ${state.libraryNote}` : state.playability.message);
  client = null;
  state.t0 = performance.now();
  if (state.mode === 'server') {
    client = new DecisionClient({ sessionId: state.sessionId, video: v.name, algorithm: choice, onDecision, onError: onDecisionError });
    state.decisions = [];
    setStatus('asking the first decision');
    const first = await client.report({ lastChunk: null, bufferS: 0, totalRebufferS: 0 });
    if (!first) { setStatus('error'); return; }
  }
  charts = makeCharts(v.levelsKbps);
  player = dashjs.MediaPlayer().create();
  player.updateSettings(playerSettings(state.mode, state.bufferS));
  if (state.mode === 'server') {
    ruleLadderKbps = v.levelsKbps;
    player.addABRCustomRule('qualitySwitchRules', 'NeuralStreamRule', makeServerRule(dashjs, { client: () => client, ladderKbps: () => ruleLadderKbps }));
  }
  const ev = dashjs.MediaPlayer.events;
  player.on(ev.STREAM_INITIALIZED, () => {
    reps = player.getRepresentationsByType('video').slice().sort((a, b) => a.bandwidth - b.bandwidth);
    if (!v.levelsKbps.length && charts) charts.rate.rules = reps.map((r, i) => ({ y: r.bandwidth / 1000, label: `L${i}` }));
  });
  player.on(ev.FRAGMENT_LOADING_STARTED, onFragmentStarted);
  player.on(ev.FRAGMENT_LOADING_COMPLETED, onFragmentCompleted);
  player.on(ev.QUALITY_CHANGE_RENDERED, onQualityRendered);
  player.on(ev.PLAYBACK_ENDED, () => finish('ended'));
  player.on(ev.ERROR, (e) => {
    state.error = e && e.error ? `${e.error.code}: ${e.error.message}` : JSON.stringify(e);
    setMessage(`dash.js error ${state.error}`, true);
  });
  const video = $('player');
  video.onwaiting = onWaiting;
  video.onplaying = onPlaying;
  setStatus('starting');
  player.initialize(video, v.mpd, true);
  pollTimer = setInterval(poll, 250);
  $('stop').disabled = false;
}

async function main() {
  if (!dashjs) { setMessage('dash.js did not load (vendor/dash.all.min.js); rebuild the page: cd web && npm ci && npm run build', true); return; }
  $('footer').textContent = `dash.js ${state.dashjsVersion || '?'}; decisions from POST /api/v1/sessions/{id}/decision; page QoE = Pensieve QoE_lin from chunk 1 on (the server's uses its --qoe; they agree under lin).`;
  try {
    await loadLists();
  } catch (e) {
    state.error = e.message;
    setStatus('error');
    setMessage(e.message, true);
    return;
  }
  $('controls').addEventListener('submit', (e) => { e.preventDefault(); start().catch(fail); });
  $('stop').addEventListener('click', () => { stop(); finish('stopped'); });
  if (params.get('autoplay') === '1') start().catch(fail);
}

function fail(e) {
  state.error = String(e && e.message ? e.message : e);
  setStatus('error');
  setMessage(state.error, true);
}

main();
