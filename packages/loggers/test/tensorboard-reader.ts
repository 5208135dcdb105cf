// An event-file reader independent of the writer, for the tests: TFRecord framing checked with the
// `crc-32` package's CRC-32C (its masked form per TensorFlow's record_writer.cc), and each record
// decoded with protobufjs from the text of TensorFlow's event.proto / summary.proto (the fields the
// loggers write). Nothing here comes from src/.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const CRC32C = require('crc-32/crc32c') as { buf(data: Uint8Array, seed?: number): number };

/** TensorFlow's messages, as in tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto (subset). */
export const EVENT_PROTO = `
syntax = "proto3";
package tensorflow;
message HistogramProto {
  double min = 1;
  double max = 2;
  double num = 3;
  double sum = 4;
  double sum_squares = 5;
  repeated double bucket_limit = 6 [packed = true];
  repeated double bucket = 7 [packed = true];
}
message Summary {
  message Value {
    string node_name = 7;
    string tag = 1;
    oneof value {
      float simple_value = 2;
      bytes obsolete_old_style_histogram = 3;
      HistogramProto histo = 5;
    }
  }
  repeated Value value = 1;
}
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    bytes graph_def = 4;
    Summary summary = 5;
  }
}
`;

const Event = protobuf.parse(EVENT_PROTO, { keepCase: true }).root.lookupType('tensorflow.Event');

function masked(data: Uint8Array): number {
  const crc = CRC32C.buf(data) >>> 0;
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** The records of a TFRecord file; throws on a bad length or data CRC, or a truncated record. */
export function readRecords(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw new Error(`truncated header at ${at}`);
    const length = Number(view.getBigUint64(at, true));
    if (view.getUint32(at + 8, true) !== masked(bytes.subarray(at, at + 8))) throw new Error(`bad length CRC at ${at}`);
    const data = bytes.subarray(at + 12, at + 12 + length);
    if (data.length !== length || at + 16 + length > bytes.length) throw new Error(`truncated record at ${at}`);
    if (view.getUint32(at + 12 + length, true) !== masked(data)) throw new Error(`bad data CRC at ${at}`);
    out.push(data);
    at += 16 + length;
  }
  return out;
}

export interface DecodedEvent {
  wall_time: number;
  step: number;
  file_version?: string;
  summary?: {
    value: {
      tag: string;
      simple_value?: number;
      histo?: { min: number; max: number; num: number; sum: number; sum_squares: number; bucket_limit: number[]; bucket: number[] };
    }[];
  };
}

/** The events of an event file, decoded by protobufjs. */
export function readEventFile(file: string): DecodedEvent[] {
  return readRecords(new Uint8Array(readFileSync(file))).map((r) => Event.toObject(Event.decode(r), { longs: Number, defaults: true, oneofs: false }) as unknown as DecodedEvent);
}
