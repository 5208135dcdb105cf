/**
 * A `ByteCache` over a folder (Node): one file per name, written atomically (temporary file and
 * rename), so an interrupted download never leaves a partial file under the real name.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '@forgetless/core/node';
import type { ByteCache } from './fetch-cache.js';

export function directoryCache(dir: string): ByteCache & { readonly dir: string } {
  const path = (file: string) => {
    if (basename(file) !== file || file === '..' || file === '.') throw new Error(`directoryCache: '${file}' is not a plain file name`);
    return join(dir, file);
  };
  return {
    dir,
    async get(file) {
      try {
        return new Uint8Array(await readFile(path(file)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    async put(file, bytes) {
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(path(file), bytes);
    },
    async delete(file) {
      await rm(path(file), { force: true });
    },
  };
}
