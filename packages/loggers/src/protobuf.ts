/**
 * The few protobuf wire-format writes TensorBoard's Event and Summary messages need (varints,
 * little-endian doubles and floats, length-delimited fields, packed doubles). Written by hand: it is
 * some sixty lines against a protobuf library and its generated code in every bundle. Tests decode
 * the output with protobufjs, not with this.
 */

/** Grows as fields are appended; `bytes()` returns what was written. */
export class ProtoWriter {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** An unsigned varint of a non-negative integer below 2⁵³. */
  varint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`protobuf: a varint must be a non-negative safe integer, got ${value}`);
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
    return this;
  }

  private tag(field: number, wireType: 0 | 1 | 2 | 5): this {
    return this.varint(field * 8 + wireType);
  }

  /** An int64 field (non-negative values). */
  int64(field: number, value: number): this {
    return this.tag(field, 0).varint(value);
  }

  double(field: number, value: number): this {
    this.tag(field, 1).reserve(8);
    this.view.setFloat64(this.len, value, true);
    this.len += 8;
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5).reserve(4);
    this.view.setFloat32(this.len, value, true);
    this.len += 4;
    return this;
  }

  bytesField(field: number, bytes: Uint8Array): this {
    this.tag(field, 2).varint(bytes.length).reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  string(field: number, text: string): this {
    return this.bytesField(field, new TextEncoder().encode(text));
  }

  /** A packed `repeated double` field. */
  packedDoubles(field: number, values: ArrayLike<number>): this {
    const body = new ProtoWriter();
    body.reserve(8 * values.length);
    for (let i = 0; i < values.length; i++) {
      body.view.setFloat64(body.len, values[i] as number, true);
      body.len += 8;
    }
    return this.bytesField(field, body.bytes());
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
