/**
 * Weight-shard paths of a manifest may not leave the model's folder: no absolute paths, no drive
 * letters, no URL schemes, no `..` segments (also when percent-encoded), no backslashes or NUL.
 * Checked before anything is read, for files and for URLs alike.
 */

/** Returns `p` if it is a safe relative shard path; otherwise throws naming the manifest and the path. */
export function checkShardPath(p: unknown, source: string): string {
  if (typeof p !== 'string' || p.length === 0) throw new Error(`${source}: a weight-shard path is not a non-empty string (${JSON.stringify(p)})`);
  const why = unsafeReason(p);
  if (why) throw new Error(`${source}: weight-shard path '${p}' ${why}; shards must stay in the model's folder`);
  return p;
}

function unsafeReason(p: string): string | undefined {
  if (p.includes('\0')) return 'contains a NUL character';
  if (p.includes('\\')) return 'contains a backslash';
  if (p.startsWith('/')) return 'is absolute';
  if (/^[A-Za-z]:/.test(p)) return 'starts with a drive letter';
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(p)) return 'is a URL with a scheme';
  let decoded = p;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    return 'has invalid percent-encoding';
  }
  for (const form of [p, decoded]) {
    if (form.split('/').some((seg) => seg === '..')) return "leaves the folder ('..')";
    if (form.startsWith('/') || form.includes('\\')) return 'is absolute once decoded';
  }
  return undefined;
}

/** The URL of shard `p` beside `modelUrl`, checked to stay under the model's folder. */
export function shardUrl(modelUrl: URL, p: string, source: string): URL {
  checkShardPath(p, source);
  const folder = new URL('.', modelUrl);
  const url = new URL(p, folder);
  if (url.origin !== folder.origin || !url.pathname.startsWith(folder.pathname)) {
    throw new Error(`${source}: weight-shard path '${p}' resolves to ${url.href}, outside the model's folder ${folder.href}`);
  }
  return url;
}
