// The live dashboard's view of the server's feed (`/api/v1/rt/live`, docs/rt_dashboard.md), as
// pure functions over one state object: what each message changes, which session to watch, what
// a dropped feed clears, how long to wait before reconnecting. No DOM and no socket here, so the
// unit tests (tests/unit/rt.test.mjs) run it under node; rt.mjs wires it to the page.

/** Feed schema version this page reads. */
export const FEED_VERSION = 1;
/** Points kept per watched session when the server does not say (its ring is the real bound). */
export const DEFAULT_MAX_POINTS = 1200;
/** Silence after which the feed counts as dropped, ms, on top of a few ticks. */
export const STALE_GRACE_MS = 3000;

/** A fresh state: not connected, nothing watched. `watch` is the session id asked for, if any. */
export function createState(watch = null) {
  return {
    status: 'connecting', // connecting | live | reconnecting
    message: '',
    hello: null,
    sessions: [], // summaries from the newest list message, oldest first
    total: 0,
    watch, // session id watched (kept across reconnects)
    watchPinned: Boolean(watch), // asked for by the user (URL or click), not picked automatically
    watchKey: null, // the watched session's key (a new key: same id, new session)
    live: false, // the watched session is live
    points: [], // the watched session's points, by increasing index
    messages: 0,
    lastMessageMs: 0,
    connects: 0,
    drops: 0,
  };
}

/** Keeps `points` the newest `max` by index, appending only indices above the last one. */
export function mergePoints(points, incoming, max = DEFAULT_MAX_POINTS) {
  let last = points.length ? points[points.length - 1].i : -1;
  for (const p of incoming || []) {
    if (!p || !Number.isFinite(p.i) || p.i <= last) continue;
    points.push(p);
    last = p.i;
  }
  if (points.length > max) points.splice(0, points.length - max);
  return points;
}

/**
 * Applies one feed message (parsed JSON) received at `nowMs`. Returns the session id the page
 * should ask the server to watch now, or null when nothing changes.
 */
export function applyMessage(state, msg, nowMs = Date.now()) {
  state.messages += 1;
  state.lastMessageMs = nowMs;
  if (!msg || typeof msg !== 'object') return null;
  if (msg.v !== undefined && msg.v !== FEED_VERSION) {
    state.message = `the server's feed speaks version ${msg.v}; this page reads version ${FEED_VERSION} (rebuild web/)`;
    return null;
  }
  switch (msg.type) {
    case 'hello':
      state.hello = msg;
      state.status = 'live';
      state.message = '';
      return null;
    case 'sessions': {
      state.sessions = Array.isArray(msg.sessions) ? msg.sessions : [];
      state.total = Number.isFinite(msg.total) ? msg.total : state.sessions.length;
      const ended = Array.isArray(msg.ended) ? msg.ended : [];
      if (state.watchKey !== null && ended.includes(state.watchKey)) state.live = false;
      return pickWatch(state);
    }
    case 'series': {
      if (msg.id !== state.watch) return null;
      if (msg.reset || msg.key !== state.watchKey) {
        state.points = [];
        state.watchKey = msg.key ?? null;
      }
      state.live = Boolean(msg.live);
      const max = (state.hello && state.hello.points_per_session) || DEFAULT_MAX_POINTS;
      mergePoints(state.points, msg.points, max);
      return null;
    }
    default:
      return null;
  }
}

/**
 * Which session to watch: the watched one while it is listed (or, asked for by the user, until it
 * starts), else the newest live one; with none live, nothing (the charts are cleared). Returns
 * the id to ask the server for when it changes, or null.
 */
export function pickWatch(state) {
  const listed = (id) => state.sessions.some((s) => s.id === id);
  if (state.watch && listed(state.watch)) return null;
  if (state.watch && state.watchPinned && state.watchKey === null) return null;
  const newest = state.sessions.length ? state.sessions[state.sessions.length - 1].id : null;
  if (newest) return watchSession(state, newest, false);
  state.watch = null;
  state.watchPinned = false;
  state.watchKey = null;
  state.live = false;
  state.points = [];
  return null;
}

/** Starts watching `id` (clears the charts); returns `id` for the page to send. */
export function watchSession(state, id, pinned = true) {
  state.watch = id;
  state.watchPinned = pinned;
  state.watchKey = null;
  state.live = false;
  state.points = [];
  return id;
}

/** The feed dropped: nothing shown is current any more. The watched id is kept to ask again. */
export function feedDropped(state, why = 'the feed dropped') {
  state.status = 'reconnecting';
  state.message = `${why}; reconnecting`;
  state.drops += 1;
  state.sessions = [];
  state.total = 0;
  state.points = [];
  state.watchKey = null;
  state.live = false;
}

/** True when the feed has been silent for longer than a few ticks. */
export function isStale(state, nowMs) {
  if (state.status !== 'live') return false;
  const tick = (state.hello && state.hello.tick_ms) || 250;
  return nowMs - state.lastMessageMs > 4 * tick + STALE_GRACE_MS;
}

/** Wait before reconnect attempt `attempt` (0, 1, ...), ms: 0.5 s doubling up to 10 s. */
export function reconnectDelayMs(attempt) {
  return Math.min(10000, 500 * 2 ** Math.max(0, Math.min(attempt, 10)));
}

/** The feed's URL for a page at `loc` (`ws:` under http, `wss:` under https). */
export function feedUrl(loc, watch = null) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = watch ? `?watch=${encodeURIComponent(watch)}` : '';
  return `${scheme}//${loc.host}/api/v1/rt/live${q}`;
}

/** The chart series of a session's points: [t_s, value] pairs per quantity. */
export function chartSeries(points) {
  const pick = (f) => points.map((p) => [p.t_s, f(p)]);
  const num = (v) => (v === null || v === undefined ? NaN : v);
  return {
    receiveKbps: pick((p) => p.receive_kbps),
    estimateKbps: pick((p) => num(p.estimate_kbps)),
    targetKbps: pick((p) => p.target_kbps),
    delayMs: pick((p) => num(p.delay_ms)),
    frameDelayMs: pick((p) => num(p.frame_delay_ms)),
    rttMs: pick((p) => num(p.rtt_ms)),
    lossPct: pick((p) => p.loss_pct),
    fps: pick((p) => p.fps),
    height: pick((p) => p.height),
  };
}

/** `1234` -> `1.23 Mbit/s`, `800` -> `800 kbit/s`. */
export function fmtKbps(k) {
  if (!Number.isFinite(k)) return '-';
  return k >= 1000 ? `${(k / 1000).toFixed(2)} Mbit/s` : `${Math.round(k)} kbit/s`;
}
