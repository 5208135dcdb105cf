/** SHA-256 digests as lowercase hex, through Web Crypto (browsers, Node ≥ 20, workers). */

/** SHA-256 of `bytes` (lowercase hex), via `crypto.subtle`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new Error('sha256Hex: crypto.subtle is unavailable (a browser needs a secure context: https or localhost)');
  const digest = await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return toHex(new Uint8Array(digest));
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
