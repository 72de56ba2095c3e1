import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkExchange, segmentOf } from '../pensieve_e2e.mjs';

test('NeuralStream segment URLs give their level and 0-based chunk index', () => {
  assert.deepEqual(segmentOf('http://localhost:8333/chunk-4-00001.m4s'), { level: 4, index: 0 });
  assert.deepEqual(segmentOf('http://localhost:8333/chunk-0-00012.m4s?x=1'), { level: 0, index: 11 });
  assert.equal(segmentOf('http://localhost:8333/init-4.m4s'), null);
  assert.equal(segmentOf('http://localhost:8333/Manifest.mpd'), null);
});

/** Reports of chunks 0..answers.length-1, each answered as given, `lastquality` the level fetched. */
function exchange(answers, startLevel = 1) {
  const segments = [{ index: 0, level: startLevel }];
  const reports = answers.map((answer, i) => {
    const r = { body: { lastRequest: i, lastquality: segments[i] ? segments[i].level : 0 }, status: 200, answer };
    if (/^\d+$/.test(answer)) segments.push({ index: i + 1, level: Number(answer) });
    return r;
  });
  return { reports, segments };
}

test('a clean exchange passes: every answer requested, REFRESH once at the end', () => {
  const { reports, segments } = exchange(['4', '5', '3', 'REFRESH']);
  assert.deepEqual(checkExchange(reports, segments), []);
});

test('each way the server and the client can disagree is a failure', () => {
  const has = (failures, re) => assert.ok(failures.some((f) => re.test(f)), failures.join('\n'));
  let { reports, segments } = exchange(['4', '5', '3', 'REFRESH']);
  segments[2] = { index: 2, level: 1 }; // the client fetched another level than answered
  has(checkExchange(reports, segments), /chunk 2: the server answered level 5, the client requested level 1/);
  ({ reports, segments } = exchange(['4', '5', '3', '2']));
  has(checkExchange(reports, segments), /expected REFRESH/);
  has(checkExchange(reports, segments), /REFRESH answered 0 times/);
  ({ reports, segments } = exchange(['4', 'REFRESH', '3', 'REFRESH']));
  has(checkExchange(reports, segments), /REFRESH answered 2 times/);
  ({ reports, segments } = exchange(['4', '5', '3', 'REFRESH']));
  reports[1].status = 422;
  has(checkExchange(reports, segments), /report 1 .* answered 422/);
  reports[1].status = 200;
  reports[2].body.lastRequest = 7;
  has(checkExchange(reports, segments), /report 2 names chunk 7, expected 2/);
  ({ reports, segments } = exchange(['4', '5', '3', 'REFRESH']));
  segments.pop();
  has(checkExchange(reports, segments), /chunk 3 was never requested/);
  assert.deepEqual(checkExchange([], []), ['the client posted no report']);
});
