import { describe, expect, it } from 'vitest';
import { cellJobId, queueConnection, sweepJobId } from './queue.js';

describe('--queue', () => {
  it('takes redis:// and rediss:// URLs with an optional numeric database', () => {
    expect(queueConnection('redis://127.0.0.1:6390/0')).toMatchObject({ url: 'redis://127.0.0.1:6390/0', maxRetriesPerRequest: null });
    expect(queueConnection('rediss://:secret@host:6390')).toMatchObject({ url: 'rediss://:secret@host:6390' });
  });

  it.each([
    ['localhost:6379', /--queue: expected a redis:\/\/ or rediss:\/\/ URL, got 'localhost:6379'/],
    ['http://127.0.0.1:6379/0', /--queue: expected a redis:\/\/ or rediss:\/\/ URL/],
    ['redis://127.0.0.1:6379/zero', /--queue: the database of 'redis:\/\/127.0.0.1:6379\/zero' is 'zero': expected a number/],
    ['not a url', /--queue: expected a Redis URL like redis:\/\/127.0.0.1:6379\/0, got 'not a url'/],
  ])('refuses %s, naming the flag', (url, message) => {
    expect(() => queueConnection(url)).toThrow(message);
  });

  it('job ids hold no colon (BullMQ refuses them) and tell sweeps and cells apart', () => {
    const sweep = 'ab'.repeat(32);
    const ids = [sweepJobId(sweep), cellJobId(sweep, { index: 3, id: 'cd'.repeat(32) }), cellJobId(sweep, { index: 4, id: 'ef'.repeat(32) })];
    for (const id of ids) expect(id).not.toContain(':');
    expect(new Set(ids).size).toBe(3);
  });
});
