import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecisionClient, decisionRequest, newSessionId } from '../../src/decision.mjs';

test('session ids match the server rule [A-Za-z0-9_.-]{1,128}', () => {
  for (let i = 0; i < 50; i++) assert.match(newSessionId(), /^[A-Za-z0-9_.-]{1,128}$/);
  assert.match(newSessionId(() => 0.999999), /^web-/);
});

test('requests follow crates/protocol: nested last_chunk, next_chunk, cumulative rebuffer', () => {
  const first = decisionRequest({ video: 'clip', algorithm: 'bb', lastChunk: null, bufferS: 0, totalRebufferS: 0 });
  assert.deepEqual(first, { buffer_s: 0, total_rebuffer_s: 0, video: 'clip', algorithm: 'bb', next_chunk: 0 });
  const r = decisionRequest({
    video: 'clip', lastChunk: { index: 4, level: 2, sizeBytes: 1234.6, startMs: 100, endMs: 90 }, bufferS: NaN, totalRebufferS: 1.5,
  });
  assert.equal(r.buffer_s, 0, 'NaN buffer (stalled) is sent as 0');
  assert.equal(r.next_chunk, 5);
  assert.deepEqual(r.last_chunk, { index: 4, level: 2, size_bytes: 1235, request_start_ms: 100, request_finish_ms: 100 });
  assert.equal(r.total_rebuffer_s, 1.5);
  assert.equal(r.algorithm, undefined);
});

function fakeFetch(answers) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, body: JSON.parse(init.body) });
    const a = answers.shift();
    if (a instanceof Error) throw a;
    return { ok: a.status === 200, status: a.status, text: async () => JSON.stringify(a.body) };
  };
  return { fn, calls };
}

test('the client keeps the answer for the latest chunk and logs every exchange', async () => {
  const f = fakeFetch([
    { status: 200, body: { session: 's', algorithm: 'bb', chunk: 3, level: 2, bitrate_kbps: 1200, reasons: {}, qoe_so_far: 1, decision_us: 5 } },
    { status: 200, body: { session: 's', algorithm: 'bb', chunk: 2, level: 0, bitrate_kbps: 300, reasons: {}, qoe_so_far: 1, decision_us: 5 } },
    { status: 400, body: { error: 'field `buffer_s`: must be >= 0' } },
    new Error('network down'),
  ]);
  const errors = [];
  const c = new DecisionClient({ sessionId: 's', video: 'clip', algorithm: 'bb', fetch: f.fn, onError: (e) => errors.push(e.error) });
  assert.equal(c.url, '/api/v1/sessions/s/decision');
  await c.report({ lastChunk: { index: 2, level: 1, sizeBytes: 10, startMs: 0, endMs: 1 }, bufferS: 4, totalRebufferS: 0 });
  await c.report({ lastChunk: { index: 1, level: 1, sizeBytes: 10, startMs: 0, endMs: 1 }, bufferS: 4, totalRebufferS: 0 });
  assert.equal(c.latest.chunk, 3, 'an older answer arriving late does not replace a newer one');
  assert.equal(await c.report({ lastChunk: null, bufferS: 0, totalRebufferS: 0 }), null);
  assert.equal(await c.report({ lastChunk: null, bufferS: 0, totalRebufferS: 0 }), null);
  assert.deepEqual(errors, ['field `buffer_s`: must be >= 0', 'network down']);
  assert.equal(c.log.length, 4);
  assert.equal(c.inFlight, 0);
  assert.equal(f.calls[0].body.video, 'clip');
});

test('a session the server lost is started again at the same chunk, once', async () => {
  const answer = { session: 's', algorithm: 'bb', chunk: 5, level: 1, bitrate_kbps: 750, reasons: {}, qoe_so_far: 0, decision_us: 5 };
  const f = fakeFetch([
    { status: 404, body: { error: "unknown session 's': it never started on this server" } },
    { status: 200, body: answer },
    { status: 404, body: { error: 'no such route' } },
  ]);
  const errors = [];
  const c = new DecisionClient({ sessionId: 's', video: 'clip', algorithm: 'bb', fetch: f.fn, onError: (e) => errors.push(e.error) });
  const r = await c.report({ lastChunk: { index: 4, level: 2, sizeBytes: 10, startMs: 0, endMs: 1 }, bufferS: 6, totalRebufferS: 0 });
  assert.equal(r.chunk, 5);
  assert.equal(f.calls.length, 2);
  assert.equal(f.calls[1].body.last_chunk, undefined, 'the restart carries no last_chunk');
  assert.equal(f.calls[1].body.next_chunk, 5);
  assert.equal(c.log[0].restarted, true);
  // A first request (no last_chunk) that gets a 404 is not retried.
  assert.equal(await c.report({ lastChunk: null, bufferS: 0, totalRebufferS: 0 }), null);
  assert.equal(f.calls.length, 3);
  assert.deepEqual(errors, ['no such route']);
});
