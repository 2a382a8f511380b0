/**
 * Host API admission at soak size: 5,000 idle unauthenticated WebSockets from 250 addresses
 * and 2,000 silent TCP sockets are held while the platform drops and reconnects ten times;
 * it authenticates every time while the world clock stands still (no deadline waited for).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { idleTcpSockets, idleWebSockets, platformGetsIn, releaseAll } from './idle-sockets.ts';
import { HotRig } from './rig.ts';

let rig: HotRig | undefined;
afterEach(async () => {
  releaseAll();
  await rig?.close();
  rig = undefined;
});

describe('host API admission under a flood', () => {
  it('the platform reconnects without waiting for any deadline, 10 times, while 5,000 idle WebSockets and 2,000 silent TCP sockets are held', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const addresses = Array.from({ length: 250 }, (_, i) => `127.0.${1 + Math.floor(i / 200)}.${(i % 200) + 2}`);
    for (let round = 0; round < 10; round++) {
      await idleWebSockets(r.url, 500, addresses);
      await idleTcpSockets(Number(new URL(r.url).port), 200);
      const platform = await platformGetsIn(r.url, r.clock);
      expect((await platform.op('device_status', {})).msg, `round ${round}`).toBe('ack');
      platform.drop();
    }
  }, 600_000);
});
