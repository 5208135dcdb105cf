/** Reading a fetch `Response` without letting it grow past a cap (model shards, dataset downloads). */

export interface BodyErrors {
  /** The Content-Length header declares more than the cap. */
  declared: (bytes: number) => Error;
  /** The body runs past the cap (`bytes`: its size, when read whole because it had no stream). */
  runsPast: (bytes?: number) => Error;
  /** Reading the stream failed. */
  failed: (e: unknown) => Error;
}

/**
 * A response's body, refused by its Content-Length or as soon as it runs past `max` bytes (the
 * stream is cancelled then); `max` undefined reads it whole.
 */
export async function readResponseBody(r: Response, max: number | undefined, errors: BodyErrors): Promise<Uint8Array> {
  if (max === undefined) return new Uint8Array(await r.arrayBuffer());
  const length = r.headers.get('content-length');
  if (length !== null && Number(length) > max) {
    await r.body?.cancel().catch(() => undefined);
    throw errors.declared(Number(length));
  }
  if (!r.body) {
    const bytes = new Uint8Array(await r.arrayBuffer());
    if (bytes.byteLength > max) throw errors.runsPast(bytes.byteLength);
    return bytes;
  }
  const reader = r.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (e) {
      throw errors.failed(e);
    }
    if (next.done) break;
    total += next.value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw errors.runsPast();
    }
    parts.push(next.value);
  }
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
