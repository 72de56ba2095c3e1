import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DASHJS_DEFAULT, normalizeAlgorithms, normalizeVideos } from '../../src/api.mjs';
import { chooseVideo, codecFamily, playability } from '../../src/codecs.mjs';
import { niceTicks } from '../../src/charts.mjs';
import { BUILTIN_RULES, ladderLevelOf, levelToIndex, playerSettings, representationFor } from '../../src/rule.mjs';

test('algorithm lists in the server shape and simpler shapes', () => {
  const a = normalizeAlgorithms({ default: 'bb', algorithms: [{ name: 'robustmpc', description: 'MPC' }, { name: 'bb', description: 'BBA' }] });
  assert.deepEqual(a.algorithms.map((x) => x.name), ['robustmpc', 'bb']);
  assert.equal(a.default, 'bb');
  assert.equal(normalizeAlgorithms(['x', 'y']).default, 'x');
  assert.equal(normalizeAlgorithms({ default: 'gone', algorithms: ['x'] }).default, 'x');
  assert.deepEqual(normalizeAlgorithms(null), { algorithms: [], default: null });
  assert.notEqual(DASHJS_DEFAULT, 'bb');
});

test('videos without a DASH manifest are left out', () => {
  const v = normalizeVideos([
    { name: 'clip', mpd: '/media/clip/manifest.mpd', levels: [300, 750], chunks: 24, chunk_duration_s: 2 },
    { name: 'hls-only', mpd: null, levels: [1] },
  ]);
  assert.deepEqual(v, [{ name: 'clip', mpd: '/media/clip/manifest.mpd', levelsKbps: [300, 750], chunks: 24, chunkDurationS: 2 }]);
});

test('HEVC on a browser without HEVC says why and what to do', () => {
  const reps = [{ id: '0', mimeType: 'video/mp4', codecs: 'hvc1', bandwidth: 1, width: 1, height: 1 }];
  const p = playability(reps, (t) => !t.includes('hvc1'));
  assert.equal(p.playable, false);
  assert.match(p.message, /HEVC/);
  assert.match(p.message, /H\.264, VP9 or AV1/);
  const ok = playability([{ ...reps[0], codecs: 'avc1.640028' }, reps[0]], (t) => t.includes('avc1'));
  assert.equal(ok.playable, true);
  assert.match(ok.message, /1 of 2/);
  assert.equal(playability([], () => true).playable, false);
  const two = playability([{ ...reps[0], codecs: 'hvc1.1.6.L60.90' }, { ...reps[0], codecs: 'hvc1.1.6.L63.90' }], () => false);
  assert.match(two.message, /HEVC \(hvc1\.1\.6\.L60\.90, hvc1\.1\.6\.L63\.90\)/);
  assert.equal(codecFamily('av01.0.08M.08'), 'AV1');
  assert.equal(codecFamily('vp09.00.40.08'), 'VP9');
});

test('server mode switches every built-in rule off except abandonment', () => {
  const s = playerSettings('server', 20);
  assert.equal(s.streaming.buffer.fastSwitchEnabled, false);
  assert.equal(s.streaming.buffer.bufferTimeDefault, 20);
  for (const r of BUILTIN_RULES) assert.equal(s.streaming.abr.rules[r].active, r === 'abandonRequestsRule', r);
  assert.equal(playerSettings('dashjs', 20).streaming.abr.rules, undefined);
  assert.equal(levelToIndex(7, 4), 3);
  assert.equal(levelToIndex(-1, 4), 0);
  assert.equal(levelToIndex(0, 0), -1);
});

test('nice ticks', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0, 3300, 4), [0, 1000, 2000, 3000]);
  assert.deepEqual(niceTicks(NaN, 1), []);
});

test('the page starts with a playable package and says when none is', () => {
  const videos = [{ name: 'hevc' }, { name: 'h264' }, { name: 'av1' }];
  const checks = new Map([['hevc', { playable: false }], ['h264', { playable: true }], ['av1', { playable: true }]]);
  assert.equal(chooseVideo(videos, checks).name, 'h264');
  assert.equal(chooseVideo(videos, checks, 'av1').name, 'av1');
  const sub = chooseVideo(videos, checks, 'hevc');
  assert.equal(sub.name, 'h264');
  assert.match(sub.reason, /hevc cannot play/);
  const none = chooseVideo([{ name: 'hevc' }], new Map([['hevc', { playable: false }]]));
  assert.match(none.reason, /no video is playable/);
  assert.equal(chooseVideo([], new Map()).name, null);
});

test('server levels map to browser representations, also when some are unplayable', () => {
  const reps = [{ id: 'a', bandwidth: 300e3 }, { id: 'b', bandwidth: 750e3 }, { id: 'c', bandwidth: 3000e3 }];
  // same ladder: rank = level
  assert.equal(representationFor(reps, { level: 1, bitrate_kbps: 750 }, [300, 750, 3000]).id, 'b');
  assert.equal(ladderLevelOf(reps[2], reps, [300, 750, 3000]), 2);
  // the server's 1500 kbps level has no playable representation here: take the one below
  const ladder = [300, 750, 1500, 3000];
  assert.equal(representationFor(reps, { level: 2, bitrate_kbps: 1500 }, ladder).id, 'b');
  assert.equal(representationFor(reps, { level: 3, bitrate_kbps: 3000 }, ladder).id, 'c');
  assert.equal(representationFor(reps, { level: 0, bitrate_kbps: 100 }, ladder).id, 'a');
  assert.equal(ladderLevelOf(reps[2], reps, ladder), 3);
  assert.equal(ladderLevelOf(reps[1], reps, ladder), 1);
  assert.equal(ladderLevelOf(null, reps, ladder), -1);
  assert.equal(representationFor([], { level: 0 }, ladder), null);
  // no ladder known: rank
  assert.equal(representationFor(reps, { level: 9 }, []).id, 'c');
});
