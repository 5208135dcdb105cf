import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadImageArrays, loadNpyFile } from './folder-node.js';
import { encodeNpy, parseNpy } from './npy.js';

const PYTHON = '/usr/bin/python3';
const hasNumpy = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasNumpy) console.warn(`npy.test.ts: ${PYTHON} with numpy not found; the tests against files written by numpy are skipped`);

const dir = mkdtempSync(join(tmpdir(), 'forgetless-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs Python with numpy as np in the temp folder. */
function numpy(code: string): void {
  execFileSync(PYTHON, ['-c', `import numpy as np, os\nos.chdir(${JSON.stringify(dir)})\n${code}`], { stdio: 'pipe' });
}

describe.skipIf(!hasNumpy)('parseNpy against files written by numpy', () => {
  it('reads uint8, float32, float64, int64 labels, big-endian >f4 and a version 2.0 header to the same values and shapes', async () => {
    numpy(`
x = (np.arange(2*3*4*3) * 7 % 256).astype(np.uint8).reshape(2, 3, 4, 3)
np.save('u8.npy', x)
np.save('f4.npy', (np.arange(6, dtype=np.float32) / 3 - 1).reshape(2, 3))
np.save('f8.npy', np.array([[1e-300, -2.5], [6.02214076e23, 1e300]]))
np.save('i8.npy', np.array([0, 1, 2, 1, 0, 4], dtype=np.int64))
np.save('be.npy', np.array([1.5, -2.25, 1e-3, 65504], dtype='>f4'))
np.save('scalar.npy', np.float32(0.5))
np.save('f2.npy', np.array([1, -0.5, 65504, 6e-8], dtype=np.float16))
from numpy.lib import format as f
with open('v2.npy', 'wb') as fh:
    f.write_array(fh, np.arange(5, dtype='<i2'), version=(2, 0))
with open('v3.npy', 'wb') as fh:
    f.write_array(fh, np.arange(3, dtype='<u2'), version=(3, 0))
`);
    const read = (name: string) => parseNpy(new Uint8Array(readFileSync(join(dir, name))), name);
    const u8 = read('u8.npy');
    expect(u8.dtype).toBe('uint8');
    expect(u8.shape).toEqual([2, 3, 4, 3]);
    expect(u8.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(u8.data)).toEqual(Array.from({ length: 72 }, (_, i) => (i * 7) % 256));
    const f4 = read('f4.npy');
    expect([f4.dtype, f4.shape]).toEqual(['float32', [2, 3]]);
    expect(Array.from(f4.data)).toEqual([0, 1, 2, 3, 4, 5].map((i) => Math.fround(Math.fround(i / 3) - 1)));
    const f8 = read('f8.npy');
    expect(f8.data).toBeInstanceOf(Float64Array);
    expect(Array.from(f8.data)).toEqual([1e-300, -2.5, 6.02214076e23, 1e300]);
    const i8 = read('i8.npy');
    expect([i8.dtype, i8.shape]).toEqual(['int64', [6]]);
    expect(i8.data).toBeInstanceOf(Int32Array);
    expect(Array.from(i8.data)).toEqual([0, 1, 2, 1, 0, 4]);
    const be = read('be.npy');
    expect(be.data).toBeInstanceOf(Float32Array);
    expect(Array.from(be.data)).toEqual([1.5, -2.25, Math.fround(1e-3), 65504]);
    expect(read('scalar.npy')).toMatchObject({ shape: [], dtype: 'float32' });
    expect(Array.from(read('f2.npy').data)).toEqual([1, -0.5, 65504, 2 ** -24]);
    const v2 = read('v2.npy');
    expect(readFileSync(join(dir, 'v2.npy'))[6]).toBe(2);
    expect([v2.dtype, Array.from(v2.data)]).toEqual(['int16', [0, 1, 2, 3, 4]]);
    expect(Array.from(read('v3.npy').data)).toEqual([0, 1, 2]);
    // the Node helpers: a pair of files → an image set
    numpy(`np.save('y.npy', np.array([1, 0], dtype=np.int64))`);
    const set = await loadImageArrays(join(dir, 'u8.npy'), join(dir, 'y.npy'), ['cat', 'dog']);
    expect(set.exampleShape).toEqual([3, 4, 3]);
    expect(Array.from(set.y)).toEqual([1, 0]);
    expect(set.x).toBeInstanceOf(Uint8Array);
    await expect(loadImageArrays(join(dir, 'u8.npy'), join(dir, 'i8.npy'))).rejects.toThrow(/i8\.npy: 6 labels but .*u8\.npy has 2 images/);
    const f = await loadImageArrays(join(dir, 'f4.npy'), join(dir, 'y.npy')).catch((e: Error) => e);
    expect(String(f)).toMatch(/f4\.npy: images must have shape \[N, H, W, C\] or \[N, H, W\], got \[2,3\]/);
  });

  it('numpy reads what encodeNpy writes', () => {
    const data = Float32Array.from([0.5, -1, 2, 3.25, 4, 5]);
    writeFileSync(join(dir, 'ours.npy'), encodeNpy(data, [2, 3]));
    writeFileSync(join(dir, 'ours-u8.npy'), encodeNpy(Uint8Array.from([1, 2, 3]), [3]));
    numpy(`
a = np.load('ours.npy')
assert a.dtype == np.float32 and a.shape == (2, 3), (a.dtype, a.shape)
assert (a == np.array([[0.5, -1, 2], [3.25, 4, 5]], dtype=np.float32)).all()
b = np.load('ours-u8.npy')
assert b.dtype == np.uint8 and b.shape == (3,) and list(b) == [1, 2, 3]
`);
  });
});

describe('parseNpy refusals', () => {
  const good = encodeNpy(Float32Array.from([1, 2, 3, 4]), [2, 2]);
  const withHeader = (dict: string, data = new Uint8Array(0)) => {
    const header = `${dict}\n`;
    const out = new Uint8Array(10 + header.length + data.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(out.buffer).setUint16(8, header.length, true);
    for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
    out.set(data, 10 + header.length);
    return out;
  };

  it('round-trips its own files and refuses truncated, oversized, Fortran-order, object and non-npy bytes, naming the source', () => {
    const back = parseNpy(good, 'good.npy');
    expect([back.shape, Array.from(back.data)]).toEqual([
      [2, 2],
      [1, 2, 3, 4],
    ]);
    expect(() => parseNpy(good.subarray(0, good.length - 3), 'x.npy')).toThrow(/x\.npy: truncated: header says \(2, 2\) float32 = 16 bytes of data, file has 13/);
    expect(() => parseNpy(good.subarray(0, 20), 'h.npy')).toThrow(/h\.npy: truncated in the header/);
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    expect(() => parseNpy(longer, 'o.npy')).toThrow(/o\.npy: oversized: .*\(4 extra\)/);
    expect(() => parseNpy(withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new Uint8Array(4)), 'f.npy')).toThrow(
      /f\.npy: fortran_order arrays are not supported/,
    );
    expect(() => parseNpy(withHeader("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 'obj.npy')).toThrow(/obj\.npy: object arrays/);
    expect(() => parseNpy(withHeader("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }"), 's.npy')).toThrow(/s\.npy: structured dtypes/);
    expect(() => parseNpy(withHeader("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }"), 'u.npy')).toThrow(/u\.npy: unsupported dtype '<U3'/);
    expect(() => parseNpy(new TextEncoder().encode('PK\x03\x04 a zip file, e.g. an .npz'), 'a.npz')).toThrow(/a\.npz: not a \.npy file/);
    expect(() => parseNpy(withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }"), 'big.npy')).toThrow(
      /big\.npy: header declares \(100000, 100000\) float64 = 80000000000 bytes, more than the cap/,
    );
    const wide = withHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0]));
    expect(() => parseNpy(wide, 'w.npy')).toThrow(/w\.npy: value 4294967296 at element 0 does not fit in int32/);
  });

  it('loadNpyFile refuses a truncated file by path', async () => {
    const path = join(dir, 'cut.npy');
    writeFileSync(path, good.subarray(0, good.length - 1));
    await expect(loadNpyFile(path)).rejects.toThrow(/cut\.npy: truncated/);
    await expect(loadNpyFile(join(dir, 'missing.npy'))).rejects.toThrow(/missing\.npy: cannot read/);
  });
});
