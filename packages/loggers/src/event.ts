/**
 * TensorBoard event records: TensorFlow's `Event` (tensorflow/core/util/event.proto) carrying a
 * `Summary` (tensorflow/core/framework/summary.proto), each framed as a TFRecord. A TensorBoard
 * event file is the `fileVersionRecord` followed by scalar and histogram records. Field numbers:
 * Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5 },
 * Summary { repeated Value value = 1 }, Value { string tag = 1; float simple_value = 2;
 * HistogramProto histo = 5 }, HistogramProto { double min = 1, max = 2, num = 3, sum = 4,
 * sum_squares = 5; repeated double bucket_limit = 6, bucket = 7 (packed) }.
 */
import type { Histogram } from './histogram.js';
import { ProtoWriter } from './protobuf.js';
import { tfRecord } from './tfrecord.js';

/** The version string TensorBoard expects in a file's first event. */
export const FILE_VERSION = 'brain.Event:2';

function checkStep(step: number): void {
  if (!Number.isSafeInteger(step) || step < 0) throw new Error(`tensorboard: step must be a non-negative integer, got ${step}`);
}

function event(wallTime: number, step: number, fill: (w: ProtoWriter) => void): Uint8Array {
  checkStep(step);
  const w = new ProtoWriter().double(1, wallTime);
  if (step !== 0) w.int64(2, step);
  fill(w);
  return tfRecord(w.bytes());
}

/** The first record of every event file: Event { wall_time, file_version: "brain.Event:2" }. */
export function fileVersionRecord(wallTime: number): Uint8Array {
  return event(wallTime, 0, (w) => w.string(3, FILE_VERSION));
}

/** A scalar: Summary.Value { tag, simple_value } (a float32, as TensorBoard stores it) at `step`; `wallTime` in seconds. */
export function scalarRecord(tag: string, value: number, step: number, wallTime: number): Uint8Array {
  const v = new ProtoWriter().string(1, tag).float(2, value).bytes();
  return event(wallTime, step, (w) => w.bytesField(5, new ProtoWriter().bytesField(1, v).bytes()));
}

/** A histogram: Summary.Value { tag, histo: HistogramProto } at `step`; `wallTime` in seconds. */
export function histogramRecord(tag: string, h: Histogram, step: number, wallTime: number): Uint8Array {
  if (h.bucket.length !== h.bucketLimit.length) throw new Error(`tensorboard: histogram '${tag}' has ${h.bucket.length} buckets but ${h.bucketLimit.length} limits`);
  const histo = new ProtoWriter()
    .double(1, h.min)
    .double(2, h.max)
    .double(3, h.num)
    .double(4, h.sum)
    .double(5, h.sumSquares)
    .packedDoubles(6, h.bucketLimit)
    .packedDoubles(7, h.bucket)
    .bytes();
  const v = new ProtoWriter().string(1, tag).bytesField(5, histo).bytes();
  return event(wallTime, step, (w) => w.bytesField(5, new ProtoWriter().bytesField(1, v).bytes()));
}
