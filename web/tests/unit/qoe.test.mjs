import assert from 'node:assert/strict';
import { test } from 'node:test';
import { qoeLin, summarize, throughputKbps } from '../../src/qoe.mjs';

test('QoE_lin is bitrate minus rebuffer and smoothness penalties, from chunk 1 on as the server scores', () => {
  const chunks = [
    { bitrateKbps: 300, rebufferS: 2 },
    { bitrateKbps: 1200, rebufferS: 0.5 },
    { bitrateKbps: 750, rebufferS: 0 },
  ];
  // Chunk 0 (level fixed, start-up stall) is not scored; chunk 1's change from it is:
  // 1.2 + 0.75 - 4.3*0.5 - (0.9 + 0.45)
  const q = qoeLin(chunks);
  assert.ok(Math.abs(q.qoe - (1.95 - 2.15 - 1.35)) < 1e-9, String(q.qoe));
  // Every chunk: 0.3 + 1.2 + 0.75 - 4.3*2.5 - (0.9 + 0.45)
  const all = qoeLin(chunks, undefined, 0);
  assert.ok(Math.abs(all.qoe - (2.25 - 10.75 - 1.35)) < 1e-9, String(all.qoe));
  assert.equal(qoeLin([]).qoe, 0);
  assert.equal(qoeLin([{ bitrateKbps: 300, rebufferS: 1 }]).qoe, 0);
});

test('throughput is bits per millisecond = kbit/s, null for unusable times', () => {
  assert.equal(throughputKbps(125000, 1000, 2000), 1000);
  assert.equal(throughputKbps(10, 5, 5), null);
  assert.equal(throughputKbps(10, NaN, 5), null);
});

test('summary counts switches, stalls and bytes', () => {
  const chunks = [
    { level: 0, bitrateKbps: 300, rebufferS: 0, sizeBytes: 1e5, throughputKbps: 2000 },
    { level: 2, bitrateKbps: 1500, rebufferS: 0, sizeBytes: 4e5, throughputKbps: null },
    { level: 2, bitrateKbps: 1500, rebufferS: 1, sizeBytes: 4e5, throughputKbps: 1000 },
  ];
  const s = summarize({ chunks, stalls: [{ startS: 3, endS: 4 }, { startS: 9, endS: null }], startupDelayS: 0.4 });
  assert.equal(s.chunks, 3);
  assert.equal(s.switches, 1);
  assert.equal(s.stalls, 2);
  assert.equal(s.stallS, 1);
  assert.equal(s.longestStallS, 1);
  assert.equal(s.meanThroughputKbps, 1500);
  assert.ok(Math.abs(s.megabytes - 0.9) < 1e-12);
  assert.equal(s.startupDelayS, 0.4);
});
