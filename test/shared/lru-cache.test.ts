import { describe, expect, it } from 'vitest';
import { LruCache } from '../../shared/lru-cache.ts';

describe('LruCache', () => {
  it('keeps at most its capacity and forgets the least recently used first (1,000 keys through 8 slots)', () => {
    const cache = new LruCache<number, string>(8);
    for (let k = 0; k < 1_000; k++) {
      cache.set(k, `v${k}`);
      expect(cache.get(0), `after ${k}`).toBe('v0'); // used every time: never the one forgotten
      expect(cache.size).toBeLessThanOrEqual(8);
    }
    expect(cache.size).toBe(8);
    // 0 and the seven newest stay.
    expect(cache.get(993)).toBe('v993');
    expect(cache.get(992)).toBeUndefined();
    cache.set(993, 'again');
    expect(cache.get(993)).toBe('again');
    expect(cache.size).toBe(8);
  });

  it('refuses a capacity below one', () => {
    expect(() => new LruCache(0)).toThrow(/at least one/);
  });
});
