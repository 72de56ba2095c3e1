import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyMessage, chartSeries, createState, feedDropped, feedUrl, isStale, mergePoints, reconnectDelayMs, watchSession,
} from '../../src/rtfeed.mjs';

const point = (i, extra = {}) => ({ i, t_s: i * 0.25, receive_kbps: 900, estimate_kbps: 1100, target_kbps: 1000, delay_ms: 30, frame_delay_ms: 80, loss_pct: 0, rtt_ms: 60, fps: 30, height: 720, ...extra });
const summary = (id, key) => ({ key, id, controller: 'gcc', source_fps: 60, started_unix_ms: 1, reports: 5, points: 1, last: point(0) });
const hello = { type: 'hello', v: 1, bin_ms: 250, tick_ms: 250, points_per_session: 4, max_listed: 100 };

test('points are kept once each, in order, up to the cap', () => {
  const p = [];
  mergePoints(p, [point(0), point(1)], 3);
  mergePoints(p, [point(1), point(2), point(3), { i: 'x' }], 3);
  assert.deepEqual(p.map((x) => x.i), [1, 2, 3]);
  mergePoints(p, [point(2)], 3);
  assert.deepEqual(p.map((x) => x.i), [1, 2, 3]);
});

test('with nothing asked for, the newest live session is watched; its series grows', () => {
  const s = createState();
  assert.equal(applyMessage(s, hello, 1), null);
  assert.equal(s.status, 'live');
  assert.equal(applyMessage(s, { type: 'sessions', v: 1, total: 2, sessions: [summary('a', 1), summary('b', 2)], ended: [] }, 2), 'b');
  assert.equal(s.watch, 'b');
  applyMessage(s, { type: 'series', v: 1, id: 'b', key: 2, live: true, reset: true, points: [point(0), point(1)] }, 3);
  applyMessage(s, { type: 'series', v: 1, id: 'b', key: 2, live: true, reset: false, points: [point(1), point(2)] }, 4);
  assert.deepEqual(s.points.map((x) => x.i), [0, 1, 2]);
  // Another session's points are not this one's.
  applyMessage(s, { type: 'series', v: 1, id: 'a', key: 1, live: true, reset: false, points: [point(9)] }, 5);
  assert.equal(s.points.length, 3);
  // The server's ring size bounds the page too (hello's points_per_session = 4).
  applyMessage(s, { type: 'series', v: 1, id: 'b', key: 2, live: true, reset: false, points: [3, 4, 5, 6].map((i) => point(i)) }, 6);
  assert.deepEqual(s.points.map((x) => x.i), [3, 4, 5, 6]);
});

test('when the watched session ends the next live one is watched, and with none the charts clear', () => {
  const s = createState();
  applyMessage(s, hello);
  applyMessage(s, { type: 'sessions', v: 1, total: 2, sessions: [summary('a', 1), summary('b', 2)], ended: [] });
  applyMessage(s, { type: 'series', v: 1, id: 'b', key: 2, live: true, reset: true, points: [point(0)] });
  assert.equal(applyMessage(s, { type: 'sessions', v: 1, total: 1, sessions: [summary('a', 1)], ended: [2] }), 'a');
  assert.deepEqual(s.points, []);
  applyMessage(s, { type: 'series', v: 1, id: 'a', key: 1, live: true, reset: true, points: [point(0)] });
  assert.equal(applyMessage(s, { type: 'sessions', v: 1, total: 0, sessions: [], ended: [1] }), null);
  assert.equal(s.watch, null);
  assert.deepEqual(s.points, []);
  assert.equal(s.live, false);
});

test('a session asked for is waited for, kept while listed, and a new key restarts its charts', () => {
  const s = createState('mine');
  applyMessage(s, hello);
  applyMessage(s, { type: 'series', v: 1, id: 'mine', key: null, live: false, reset: true, points: [] });
  assert.equal(applyMessage(s, { type: 'sessions', v: 1, total: 1, sessions: [summary('other', 1)], ended: [] }), null);
  assert.equal(s.watch, 'mine');
  applyMessage(s, { type: 'sessions', v: 1, total: 2, sessions: [summary('other', 1), summary('mine', 2)], ended: [] });
  applyMessage(s, { type: 'series', v: 1, id: 'mine', key: 2, live: true, reset: false, points: [point(0), point(1)] });
  assert.equal(s.points.length, 2);
  // The same id, a new session (key 3): its points replace the old ones.
  applyMessage(s, { type: 'series', v: 1, id: 'mine', key: 3, live: true, reset: false, points: [point(0)] });
  assert.deepEqual([s.watchKey, s.points.length], [3, 1]);
  // Clicking another session pins it and clears the charts.
  assert.equal(watchSession(s, 'other'), 'other');
  assert.deepEqual([s.watch, s.watchPinned, s.points.length], ['other', true, 0]);
});

test('a dropped feed clears what is shown, keeps what is watched, and reconnects with backoff', () => {
  const s = createState();
  applyMessage(s, hello, 1000);
  applyMessage(s, { type: 'sessions', v: 1, total: 1, sessions: [summary('a', 1)], ended: [] }, 1000);
  applyMessage(s, { type: 'series', v: 1, id: 'a', key: 1, live: true, reset: true, points: [point(0)] }, 1000);
  assert.equal(isStale(s, 2000), false);
  assert.equal(isStale(s, 1000 + 4 * 250 + 3001), true);
  feedDropped(s);
  assert.deepEqual([s.status, s.sessions.length, s.total, s.points.length, s.watch, s.drops], ['reconnecting', 0, 0, 0, 'a', 1]);
  assert.match(s.message, /reconnecting/);
  assert.equal(isStale(s, 1e9), false, 'not live: the reconnect timer is in charge');
  assert.deepEqual([0, 1, 2, 5, 50].map(reconnectDelayMs), [500, 1000, 2000, 10000, 10000]);
  assert.equal(feedUrl({ protocol: 'https:', host: 'h:1' }, 'a b'), 'wss://h:1/api/v1/rt/live?watch=a%20b');
  assert.equal(feedUrl({ protocol: 'http:', host: 'h:1' }), 'ws://h:1/api/v1/rt/live');
});

test('a feed of another version is named, and chart series carry gaps as NaN', () => {
  const s = createState();
  applyMessage(s, { type: 'hello', v: 2 });
  assert.match(s.message, /version 2/);
  assert.equal(s.status, 'connecting');
  const c = chartSeries([point(0), point(1, { delay_ms: null, rtt_ms: null, estimate_kbps: null, frame_delay_ms: undefined })]);
  assert.deepEqual(c.targetKbps, [[0, 1000], [0.25, 1000]]);
  assert.ok(Number.isNaN(c.delayMs[1][1]) && Number.isNaN(c.rttMs[1][1]));
  assert.deepEqual([c.estimateKbps[0], c.frameDelayMs[0]], [[0, 1100], [0, 80]]);
  assert.ok(Number.isNaN(c.estimateKbps[1][1]) && Number.isNaN(c.frameDelayMs[1][1]));
  assert.deepEqual(c.height.map((p) => p[1]), [720, 720]);
});
