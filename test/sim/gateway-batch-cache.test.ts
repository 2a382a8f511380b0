/**
 * The gateway's cache of address batches (each a thousand addresses from HSM-Hot) is bounded:
 * asking for ever new batch numbers does not grow it past its size; the least recently used
 * batch is the one forgotten, and is asked from HSM-Hot again when wanted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_BATCH_CACHE } from '../../hw-profiles/sim/host/gateway.ts';
import type { Rig } from '../../hw-profiles/sim/rig.ts';
import { openApi, testRig } from './rig-helpers.ts';

const BASE = 100;
let rig: Rig;
beforeAll(async () => {
  rig = await testRig({ seed: 'batch-cache' });
}, 120_000);
afterAll(async () => {
  await rig?.stop();
});

describe('platform gateway: the address-batch cache', () => {
  const asked = GATEWAY_BATCH_CACHE + 8;
  it(`holds at most ${GATEWAY_BATCH_CACHE} batches and forgets the least recently used (${asked} distinct batches asked)`, async () => {
    const fromHot: number[] = [];
    const query = rig.hotClient.query.bind(rig.hotClient);
    rig.hotClient.query = async (op, params) => {
      if (op === 'address_batch') fromHot.push(Number(params?.batch_no) - BASE);
      return query(op, params);
    };
    // Batch numbers the rig itself never asks for (its V-Device checks batch 0).
    const batch = async (n: number): Promise<void> => {
      const response = await rig.settle(openApi(rig, `/address/batch/${BASE + n}`), `batch ${BASE + n}`);
      expect(response.status, `batch ${BASE + n}`).toBe(200);
      expect(response.body[0].index).toBe((BASE + n) * 1000);
    };
    await batch(0);
    for (let n = 1; n < asked; n++) {
      await batch(n);
      await batch(0); // kept in use: never the least recently used
    }
    expect(rig.gateway.cachedBatches).toBe(GATEWAY_BATCH_CACHE);
    expect(fromHot).toEqual(Array.from({ length: asked }, (_, n) => n));
    await batch(1); // long unused: forgotten, asked again
    await batch(asked - 1); // recent: from the cache
    expect(fromHot.slice(asked)).toEqual([1]);
    expect(rig.gateway.cachedBatches).toBe(GATEWAY_BATCH_CACHE);
  }, 300_000);
});
