import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kbpsAt, phaseOf, readCookedTrace } from '../e2e.mjs';

test('cooked traces (time_s Mbit/s) become steps from time 0', () => {
  const s = readCookedTrace('# comment\n100 8\n110 0.6\n\n126 8\n');
  assert.deepEqual(s, [{ atS: 0, kbps: 8000 }, { atS: 10, kbps: 600 }, { atS: 26, kbps: 8000 }]);
  assert.throws(() => readCookedTrace('1 x\n', 't.txt'), /t\.txt:1/);
  assert.throws(() => readCookedTrace('0 1\n1 2 junk\n', 't.txt'), /t\.txt:2: expected two columns/);
  assert.throws(() => readCookedTrace('0 1\n1 0\n', 't.txt'), /cannot express 0/);
  assert.throws(() => readCookedTrace('', 't.txt'), /no samples/);
  assert.equal(kbpsAt(s, 9.9), 8000);
  assert.equal(kbpsAt(s, 10), 600);
  assert.equal(kbpsAt(s, 1e6), 8000);
  assert.deepEqual([0, 12, 30].map((t) => phaseOf(s, t, 2000)), ['high1', 'low', 'high2']);
});
