import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readEventFile, readRecords } from '../test/tensorboard-reader.js';
import { crc32c, maskedCrc32c } from './crc32c.js';
import { fileVersionRecord, histogramRecord, scalarRecord } from './event.js';
import { histogram } from './histogram.js';
import { tensorboardSink } from './node.js';

const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'forgetless-tb-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('crc32c', () => {
  it('matches the CRC-32C check value and TFRecord masking', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    const c = 0xe3069283;
    expect(maskedCrc32c(new TextEncoder().encode('123456789'))).toBe((((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0);
  });
});

describe('histogram', () => {
  it('counts values into equal-width buckets, right edges closed, max in the last', () => {
    const h = histogram([0, 1, 2, 3, 4, Number.NaN], 4);
    expect(h).toEqual({ min: 0, max: 4, num: 5, sum: 10, sumSquares: 30, bucketLimit: [1, 2, 3, 4], bucket: [2, 1, 1, 1] });
    expect(histogram([2, 2]).bucket).toEqual([2]);
    expect(histogram([]).num).toBe(0);
  });
});

describe('TensorBoard event file, read back by an independent reader (crc-32 + protobufjs)', () => {
  it('holds the file version, the scalars and a histogram exactly as logged', async () => {
    const dir = scratch();
    const wallTime = 1_700_000_000.25;
    const sink = tensorboardSink(dir, { wallTime, flushMs: 10 });
    expect(sink.file).toBe(join(dir, `events.out.tfevents.1700000000.${hostname()}`));
    const losses = [2.25, 1.5, 0.123456789, 1e-7, 3.4e38];
    losses.forEach((value, k) => sink.write({ type: 'scalar', tag: 'loss', step: 10 * (k + 1), value, wallTime: wallTime + k }));
    sink.write({ type: 'scalar', tag: 'accuracy/task_1', step: 50, value: 0.875, wallTime: wallTime + 9 });
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) ** 2 * 1e-3);
    const h = histogram(values, 30);
    sink.write({ type: 'histogram', tag: 'importance/dense_0/kernel', step: 50, histogram: h, wallTime: wallTime + 10 });
    sink.write({ type: 'progress', wallTime, event: { kind: 'step', taskIndex: 0, taskName: 't', epoch: 0, step: 1, taskStep: 1, stepsInTask: 1, elapsedMs: 1 } });
    await sink.close();

    const events = readEventFile(sink.file);
    expect(events[0]).toMatchObject({ wall_time: wallTime, step: 0, file_version: 'brain.Event:2' });
    const scalars = events.filter((e) => e.summary?.value[0]?.simple_value !== undefined && e.summary.value[0].tag === 'loss');
    expect(scalars.map((e) => e.step)).toEqual([10, 20, 30, 40, 50]);
    expect(scalars.map((e) => e.wall_time)).toEqual(losses.map((_, k) => wallTime + k));
    expect(scalars.map((e) => e.summary?.value[0]?.simple_value)).toEqual(losses.map((x) => Math.fround(x)));
    const acc = events.find((e) => e.summary?.value[0]?.tag === 'accuracy/task_1');
    expect(acc?.summary?.value[0]?.simple_value).toBe(0.875);
    const histo = events.find((e) => e.summary?.value[0]?.histo)?.summary?.value[0];
    expect(histo?.tag).toBe('importance/dense_0/kernel');
    expect(histo?.histo).toEqual({
      min: h.min,
      max: h.max,
      num: 1000,
      sum: h.sum,
      sum_squares: h.sumSquares,
      bucket_limit: h.bucketLimit,
      bucket: h.bucket,
    });
    expect(h.bucket.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(events).toHaveLength(1 + 5 + 1 + 1); // progress entries are not TensorBoard's
  });

  it('a corrupted byte fails the reader’s CRC check; a second sink in the same second gets its own file', () => {
    const bytes = new Uint8Array([...fileVersionRecord(1), ...scalarRecord('x', 1, 1, 2), ...histogramRecord('h', histogram([1, 2, 3]), 3, 4)]);
    expect(readRecords(bytes)).toHaveLength(3);
    const bad = bytes.slice();
    bad[20] = (bad[20] as number) ^ 1;
    expect(() => readRecords(bad)).toThrow(/CRC/);
    const dir = scratch();
    writeFileSync(join(dir, `events.out.tfevents.5.${hostname()}`), '');
    const s = tensorboardSink(dir, { wallTime: 5 });
    expect(s.file.endsWith('.1')).toBe(true);
    return s.close().then(() => {
      expect(readdirSync(dir)).toHaveLength(2);
      expect(readFileSync(s.file).length).toBeGreaterThan(0);
    });
  });
});
